"""What every back-end command shares: value types, the serving options, the run loop.

A back-end's ``add_arguments`` adds its own options and calls :func:`add_serving_options`;
its ``run`` builds its server inside :func:`serve_backend` (docs/plugin-guide.md,
"Installing a back-end as a command").
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from quantum_plugins.common.segments import parse_range
from quantum_plugins.common.serving import serve_until_signal
from quantum_plugins.common.tls import add_tls_options, tls_from_args

# Seconds that in-flight calls and undelivered reports get on SIGTERM before exit.
SHUTDOWN_GRACE = 5.0
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _bounded(kind: type[float] | type[int], low: float, strict: bool, wording: str) -> Any:
    def parse(text: str) -> float | int:
        value = kind(text)
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(wording)
        return value

    return parse


positive = _bounded(float, 0, True, "must be positive")
non_negative = _bounded(float, 0, False, "must not be negative")
positive_int = _bounded(int, 1, False, "must be at least 1")


def add_serving_options(
    parser: argparse.ArgumentParser, *, listen: str, listen_help: str, name: str
) -> None:
    """--listen, --name, --reassert-interval, --port-file and the --tls-* flags."""
    parser.add_argument("--listen", default=listen, help=listen_help)
    parser.add_argument("--name", default=name, help=f"back-end name in reports (default: {name})")
    parser.add_argument(
        "--reassert-interval",
        type=non_negative,
        default=10.0,
        help="seconds between re-assertions of every status; 0 disables (default: 10)",
    )
    parser.add_argument(
        "--port-file", type=Path, default=None, help="write the bound port to this file"
    )
    add_tls_options(
        parser,
        role="to serve BackendService with and to report to the core's internal listener",
    )


def add_agent_backend_options(parser: argparse.ArgumentParser) -> None:
    """--grace-period and --heartbeat-timeout, for a back-end whose host agents wire ports."""
    parser.add_argument(
        "--grace-period",
        type=non_negative,
        default=5.0,
        help="seconds a plugged interface may take to appear on a host before the "
        'port goes link DOWN "interface-id not found" (default: 5)',
    )
    parser.add_argument(
        "--heartbeat-timeout",
        type=positive,
        default=None,
        help='seconds of agent silence before its ports go link DOWN "agent not running" '
        "(default: three of the agent's heartbeat intervals)",
    )


def add_segment_options(
    parser: argparse.ArgumentParser,
    *,
    what: str,
    default: tuple[int, int],
    highest: int,
    flag: str,
    state_file: Path | None,
) -> None:
    """``flag`` (LOW:HIGH, the segmentation ids networks get: ``what``) and --state-file
    (the SQLite file keeping them across restarts; None: kept in memory by default)."""

    def parse(text: str) -> tuple[int, int]:
        try:
            return parse_range(text, highest)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    low, high = default
    parser.add_argument(
        flag,
        type=parse,
        default=default,
        help=f"LOW:HIGH, the {what} networks get (default: {low}:{high})",
    )
    kept = f"{state_file} in the working directory" if state_file else "none, kept in memory"
    parser.add_argument(
        "--state-file",
        type=Path,
        default=state_file,
        help=f"SQLite file keeping each network's {what[:-1]} across restarts (default: {kept})",
    )


@dataclass(frozen=True)
class BackendCredentials:
    """A back-end's TLS: what it serves with, and what it reports to the core with."""

    server: grpc.ServerCredentials | None = None
    reporter: grpc.ChannelCredentials | None = None


def backend_credentials(args: argparse.Namespace) -> BackendCredentials:
    """The credentials the --tls-* flags ask for (none without them); ValueError or
    OSError when they are incomplete or unreadable."""
    files = tls_from_args(args)
    if files is None:
        return BackendCredentials()
    return BackendCredentials(files.server_credentials(), files.channel_credentials())


async def serve_backend(
    log: logging.Logger,
    what: str,
    args: argparse.Namespace,
    build: Callable[[BackendCredentials], Awaitable[tuple[Any, int, Any]]],
) -> int:
    """Build the server (``build(credentials)`` -> (server, port, backend)), serve until a
    signal, stop the back-end gracefully; 1 when it cannot listen, 2 on bad TLS flags."""
    try:
        credentials = backend_credentials(args)
    except (ValueError, OSError) as exc:
        log.error("%s", exc)
        return 2
    try:
        _server, port, backend = await build(credentials)
    except RuntimeError as exc:
        log.error("cannot listen on %s: %s", args.listen, exc)
        return 1
    if credentials.server is not None:
        what += " (mTLS)"
    return await serve_until_signal(
        log, what, args.listen, port, args.port_file, lambda: backend.stop(SHUTDOWN_GRACE)
    )


def add_agent_backend_arguments(
    parser: argparse.ArgumentParser,
    *,
    name: str,
    listen: str,
    segments: str,
    segment_range: tuple[int, int],
    highest: int,
    range_flag: str,
    state_file: Path | None,
) -> None:
    """Every option of a back-end with host agents (linuxbridge, ovs): serving, agents,
    and its segmentation ids (see :func:`add_segment_options`)."""
    add_serving_options(
        parser,
        listen=listen,
        listen_help=f"HOST:PORT for the core and the host agents (port 0: any free; default "
        f"{listen}; agents on other machines need an address they can reach)",
        name=name,
    )
    add_agent_backend_options(parser)
    add_segment_options(
        parser,
        what=segments,
        default=segment_range,
        highest=highest,
        flag=range_flag,
        state_file=state_file,
    )


def agent_backend_settings(args: argparse.Namespace, tls: BackendCredentials) -> dict[str, Any]:
    """What :func:`add_agent_backend_arguments` parsed, as a build_*_server's keywords (all
    but the segment range, whose name is the back-end's)."""
    return {
        "listen": args.listen,
        "server_credentials": tls.server,
        "reporter_credentials": tls.reporter,
        "name": args.name,
        "grace_period": args.grace_period,
        "heartbeat_timeout": args.heartbeat_timeout,
        "reassert_interval": args.reassert_interval,
    }


def run_backend(
    log: logging.Logger,
    what: str,
    args: argparse.Namespace,
    build: Callable[[BackendCredentials], Awaitable[tuple[Any, int, Any]]],
) -> int:
    """Log to stderr and :func:`serve_backend` until SIGTERM or SIGINT; the exit code."""
    configure_logging()
    return asyncio.run(serve_backend(log, what, args, build))


def configure_logging() -> None:
    """INFO and above to stderr, one line per record."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
