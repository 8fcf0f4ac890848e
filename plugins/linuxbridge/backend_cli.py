"""Command line of the linuxbridge back-end: ``quantum-grpc plugin linuxbridge [options]``."""

from __future__ import annotations

import argparse
import asyncio
import logging

from quantum_plugins.common.cli import (
    add_serving_options,
    configure_logging,
    non_negative,
    positive,
    serve_backend,
)
from quantum_plugins.linuxbridge.server import build_linuxbridge_server

__all__ = ["add_arguments", "run"]

_LOG = logging.getLogger("quantum_plugins.linuxbridge")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the linuxbridge back-end's options to ``parser``."""
    add_serving_options(
        parser,
        listen="127.0.0.1:9698",
        listen_help="HOST:PORT for the core and the host agents (port 0: any free; default "
        "127.0.0.1:9698; agents on other machines need an address they can reach)",
        name="linuxbridge",
    )
    parser.add_argument(
        "--grace-period",
        type=non_negative,
        default=5.0,
        help="seconds a plugged interface's tap may take to appear on a host before the "
        'port goes link DOWN "interface-id not found" (default: 5)',
    )
    parser.add_argument(
        "--heartbeat-timeout",
        type=positive,
        default=None,
        help='seconds of agent silence before its ports go link DOWN "agent not running" '
        "(default: three of the agent's heartbeat intervals)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT, then shut down gracefully; returns the exit code."""
    configure_logging()
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    return await serve_backend(
        _LOG,
        "linuxbridge back-end",
        args,
        lambda tls: build_linuxbridge_server(
            listen=args.listen,
            server_credentials=tls.server,
            reporter_credentials=tls.reporter,
            name=args.name,
            grace_period=args.grace_period,
            heartbeat_timeout=args.heartbeat_timeout,
            reassert_interval=args.reassert_interval,
        ),
    )
