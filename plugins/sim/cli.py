"""Command line of the sim back-end: ``quantum-grpc plugin sim [options]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from quantum_plugins.common.serving import serve_until_signal
from quantum_plugins.sim.profiles import PROFILE_NAMES, Profile, make_profile
from quantum_plugins.sim.server import build_sim_server

__all__ = ["add_arguments", "run"]

_LOG = logging.getLogger("quantum_plugins.sim")

# Seconds that in-flight calls and undelivered reports get on SIGTERM before exit.
_SHUTDOWN_GRACE = 5.0


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sim back-end's options to ``parser``."""
    parser.add_argument(
        "--listen", default="127.0.0.1:9697", help="HOST:PORT to serve on (port 0: any free)"
    )
    parser.add_argument(
        "--profile", choices=PROFILE_NAMES, default="mixed", help="behaviour (default: mixed)"
    )
    parser.add_argument("--name", default="sim", help="back-end name in reports (default: sim)")
    parser.add_argument(
        "--step-delay", type=_non_negative, default=0.05, help="seconds per asynchronous step"
    )
    parser.add_argument(
        "--steps",
        type=_positive_int,
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
    parser.add_argument(
        "--reassert-interval",
        type=_non_negative,
        default=10.0,
        help="seconds between re-assertions of every status; 0 disables (default: 10)",
    )
    parser.add_argument(
        "--port-file", type=Path, default=None, help="write the bound port to this file"
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully; returns the exit code."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
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
    try:
        _server, port, backend = await build_sim_server(
            profile,
            name=args.name,
            listen=args.listen,
            reassert_interval=args.reassert_interval,
        )
    except RuntimeError as exc:
        _LOG.error("cannot listen on %s: %s", args.listen, exc)
        return 1
    return await serve_until_signal(
        _LOG,
        f"sim back-end (profile {profile.name})",
        args.listen,
        port,
        args.port_file,
        lambda: backend.stop(_SHUTDOWN_GRACE),
    )
