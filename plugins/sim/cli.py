"""Command line of the sim back-end: ``quantum-grpc plugin sim [options]``."""

from __future__ import annotations

import argparse
import asyncio
import logging

from quantum_plugins.common.cli import (
    add_serving_options,
    configure_logging,
    non_negative,
    positive_int,
    serve_backend,
)
from quantum_plugins.sim.profiles import PROFILE_NAMES, Profile, make_profile
from quantum_plugins.sim.server import build_sim_server

__all__ = ["add_arguments", "run"]

_LOG = logging.getLogger("quantum_plugins.sim")


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sim back-end's options to ``parser``."""
    add_serving_options(
        parser,
        listen="127.0.0.1:9697",
        listen_help="HOST:PORT to serve on (port 0: any free)",
        name="sim",
    )
    parser.add_argument(
        "--profile", choices=PROFILE_NAMES, default="mixed", help="behaviour (default: mixed)"
    )
    parser.add_argument(
        "--step-delay", type=non_negative, default=0.05, help="seconds per asynchronous step"
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="steps per asynchronous change (default: 3 for async/faulty, 1 for mixed)",
    )
    parser.add_argument(
        "--failure-rate",
        type=_rate,
        default=0.2,
        help="faulty profile: share of create/update/plug/ensure that fail (default: 0.2)",
    )
    parser.add_argument("--seed", type=int, default=None, help="faulty profile: random seed")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully; returns the exit code."""
    configure_logging()
    try:
        profile = make_profile(
            args.profile,
            steps=args.steps,
            step_delay=args.step_delay,
            failure_rate=args.failure_rate,
            seed=args.seed,
        )
    except ValueError as exc:
        _LOG.error("%s", exc)
        return 2
    return asyncio.run(_serve(args, profile))


async def _serve(args: argparse.Namespace, profile: Profile) -> int:
    return await serve_backend(
        _LOG,
        f"sim back-end (profile {profile.name})",
        args,
        lambda tls: build_sim_server(
            profile,
            name=args.name,
            listen=args.listen,
            reassert_interval=args.reassert_interval,
            server_credentials=tls.server,
            reporter_credentials=tls.reporter,
        ),
    )
