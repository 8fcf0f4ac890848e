"""Command line of the linuxbridge back-end: ``quantum-grpc plugin linuxbridge [options]``.

Also runnable on its own: ``python -m quantum_plugins.linuxbridge.backend_cli``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from quantum_plugins.common.serving import serve_until_signal
from quantum_plugins.linuxbridge.server import build_linuxbridge_server

__all__ = ["add_arguments", "run"]

_LOG = logging.getLogger("quantum_plugins.linuxbridge")

# Seconds that in-flight calls and undelivered reports get on SIGTERM before exit.
_SHUTDOWN_GRACE = 5.0


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the linuxbridge back-end's options to ``parser``."""
    parser.add_argument(
        "--listen",
        default="127.0.0.1:9698",
        help="HOST:PORT for the core and the host agents (port 0: any free; default "
        "127.0.0.1:9698; agents on other machines need an address they can reach)",
    )
    parser.add_argument(
        "--name", default="linuxbridge", help="back-end name in reports (default: linuxbridge)"
    )
    parser.add_argument(
        "--grace-period",
        type=_non_negative,
        default=5.0,
        help="seconds a plugged interface's tap may take to appear on a host before the "
        'port goes link DOWN "interface-id not found" (default: 5)',
    )
    parser.add_argument(
        "--heartbeat-timeout",
        type=_positive,
        default=None,
        help='seconds of agent silence before its ports go link DOWN "agent not running" '
        "(default: three of the agent's heartbeat intervals)",
    )
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
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    try:
        _server, port, backend = await build_linuxbridge_server(
            listen=args.listen,
            name=args.name,
            grace_period=args.grace_period,
            heartbeat_timeout=args.heartbeat_timeout,
            reassert_interval=args.reassert_interval,
        )
    except RuntimeError as exc:
        _LOG.error("cannot listen on %s: %s", args.listen, exc)
        return 1
    return await serve_until_signal(
        _LOG,
        "linuxbridge back-end",
        args.listen,
        port,
        args.port_file,
        lambda: backend.stop(_SHUTDOWN_GRACE),
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m quantum_plugins.linuxbridge.backend_cli [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m quantum_plugins.linuxbridge.backend_cli",
        description="The linuxbridge back-end of quantum-grpc.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
