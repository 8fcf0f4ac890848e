"""`quantum-grpc`: run the core (`serve`) and the shipped back-ends (`plugin sim`)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import math
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import grpc
from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from quantum_grpc import children, extensions, logs
from quantum_grpc.auth.cli import add_auth_flags, add_token_parser, auth_options, run_token
from quantum_grpc.config import (
    DEFAULT_INTERNAL_LISTEN,
    DEFAULT_LISTEN,
    DEFAULT_MAX_CONCURRENT_STREAMS,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
    DEFAULT_MAX_WATCHES_PER_TENANT,
    MESH_DEFAULTS,
    BackendTarget,
    Settings,
    TlsFiles,
    default_data_dir,
)
from quantum_grpc.service.status_rules import Readiness
from quantum_grpc.startup import StartupError, ensure_free, split_host_port
from quantum_grpc.store.engine import is_sqlite
from quantum_grpc.supervisor import PluginSupervisor

log = logging.getLogger("quantum_grpc")
DRAIN_DELAY_VARIABLE = "QUANTUM_DRAIN_DELAY"

EXAMPLES = """\
examples:
  quantum-grpc serve                                  # SQLite + sim (mixed), 127.0.0.1:9696
  quantum-grpc serve --sim-profile async --readiness reject
  quantum-grpc serve --database-url postgresql://postgres@127.0.0.1/test \\
                     --backend sim=127.0.0.1:9697
  quantum-grpc plugin sim --listen 127.0.0.1:9697 --profile faulty --failure-rate 0.3
  quantum-grpc plugin linuxbridge --listen 127.0.0.1:9698
  quantum-grpc agent linuxbridge --host hv1 --backend 127.0.0.1:9698
  quantum-grpc serve --backend linuxbridge=127.0.0.1:9698
  quantum-grpc conformance --backend 127.0.0.1:9697
"""


def _backend(value: str) -> BackendTarget:
    name, sep, target = value.partition("=")
    if not sep or not name or not target:
        raise argparse.ArgumentTypeError(f"expected NAME=HOST:PORT, got {value!r}")
    return BackendTarget(name, target)


def _address(value: str) -> str:
    try:
        split_host_port(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {value!r}") from None
    if not 0 <= seconds < math.inf:
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {value!r}")
    return seconds


def _count(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {number}")
        return number

    return parse


def _database_url(value: str) -> str:
    try:
        make_url(value).get_dialect()
    except (ArgumentError, NoSuchModuleError) as exc:
        raise argparse.ArgumentTypeError(f"not a usable database URL {value!r}: {exc}") from None
    return value


def _log_level(value: str) -> str:
    if value.upper() not in logging.getLevelNamesMapping():
        raise argparse.ArgumentTypeError(f"expected DEBUG, INFO, WARNING or ERROR, got {value!r}")
    return value.upper()


def _add_limits(serve: argparse.ArgumentParser) -> None:
    """The limits of docs/operations.md ("Limits"), one flag each."""
    limits = serve.add_argument_group("limits (docs/operations.md)")
    limits.add_argument(
        "--max-concurrent-streams",
        type=_count(1),
        default=DEFAULT_MAX_CONCURRENT_STREAMS,
        metavar="N",
        help="calls one connection may have open at once "
        f"(default {DEFAULT_MAX_CONCURRENT_STREAMS})",
    )
    limits.add_argument(
        "--max-receive-message-bytes",
        type=_count(1024),
        default=DEFAULT_MAX_RECEIVE_MESSAGE_BYTES,
        metavar="BYTES",
        help="largest request accepted, back-ends' reports included "
        f"(default {DEFAULT_MAX_RECEIVE_MESSAGE_BYTES}, 8 MiB)",
    )
    limits.add_argument(
        "--max-watches-per-tenant",
        type=_count(1),
        default=DEFAULT_MAX_WATCHES_PER_TENANT,
        metavar="N",
        help="open WatchStatus + WaitForStatus calls per tenant "
        f"(default {DEFAULT_MAX_WATCHES_PER_TENANT})",
    )
    limits.add_argument(
        "--max-connections",
        type=_count(0),
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help=f"client connections open at once; 0: no cap (default {DEFAULT_MAX_CONNECTIONS})",
    )


def _add_mesh(serve: argparse.ArgumentParser) -> None:
    """Drain, connections and metrics (docs/operations.md, "Behind a proxy or mesh")."""
    mesh = serve.add_argument_group("behind a proxy or mesh (docs/operations.md)")
    for flag, what in (
        (
            "--drain-delay",
            "after SIGTERM, serve on this long while health says NOT_SERVING "
            f"(${DRAIN_DELAY_VARIABLE} sets the default)",
        ),
        ("--keepalive-time", "keepalive ping interval on client connections"),
        ("--keepalive-timeout", "close a connection whose ping is unanswered this long"),
        ("--min-ping-interval", "the most often a client may ping (closed if more often)"),
        ("--max-connection-age", "close connections this old, +-10%% jitter (0: never)"),
        ("--max-connection-age-grace", "what calls in flight get when a connection ages out"),
    ):
        default: float | str = MESH_DEFAULTS[flag.removeprefix("--").replace("-", "_")]
        shown = f"{default:g}"
        if flag == "--drain-delay" and os.environ.get(DRAIN_DELAY_VARIABLE):
            # A string default goes through `type` too: a bad value is a usage error.
            default = shown = os.environ[DRAIN_DELAY_VARIABLE]
        mesh.add_argument(
            flag,
            type=_seconds,
            default=default,
            metavar="SECONDS",
            help=f"{what} (default {shown})",
        )
    mesh.add_argument(
        "--metrics-listen",
        type=_address,
        default=None,
        metavar="HOST:PORT",
        help="serve Prometheus metrics over HTTP at http://HOST:PORT/metrics (default: off)",
    )


def _add_tls(serve: argparse.ArgumentParser) -> None:
    """The internal listener and the TLS of both listeners (docs/security.md)."""
    internal = serve.add_argument_group("back-ends and TLS (docs/security.md)")
    internal.add_argument(
        "--internal-listen",
        type=_address,
        default=DEFAULT_INTERNAL_LISTEN,
        metavar="HOST:PORT",
        help="where back-ends call the core (StatusReporterService); the client port "
        "does not serve it (default 127.0.0.1:0, any free loopback port: back-ends are "
        "told it; set e.g. 0.0.0.0:9695 for back-ends on other hosts)",
    )
    for flag, what in (
        (
            "--internal-tls-cert",
            "the core's certificate chain (PEM) on the internal listener and towards back-ends",
        ),
        ("--internal-tls-key", "its private key (PEM)"),
        (
            "--internal-tls-ca",
            "CA (PEM) back-ends' certificates must be signed by: mTLS both "
            "ways; a back-end is who its certificate says",
        ),
        ("--tls-cert", "certificate chain (PEM) of the client listener: TLS for clients"),
        ("--tls-key", "its private key (PEM)"),
        ("--tls-client-ca", "CA (PEM): clients must present a certificate it signed"),
    ):
        internal.add_argument(flag, type=Path, default=None, metavar="FILE", help=what)


def _tls_files(args: argparse.Namespace) -> tuple[TlsFiles | None, TlsFiles | None]:
    """The client and internal listeners' TLS from the flags; SystemExit (2) if partial."""
    internal_given = (args.internal_tls_cert, args.internal_tls_key, args.internal_tls_ca)
    if any(internal_given) and not all(internal_given):
        _usage_error("--internal-tls-cert, --internal-tls-key and --internal-tls-ca go together")
    if bool(args.tls_cert) != bool(args.tls_key) or (args.tls_client_ca and not args.tls_cert):
        _usage_error("--tls-cert and --tls-key go together (and --tls-client-ca needs them)")
    if all(internal_given) and not args.backend:
        # The sim serve starts by itself has no certificate of its own to present.
        _usage_error(
            "--internal-tls-* needs --backend NAME=HOST:PORT (a back-end started with TLS)"
        )
    internal = TlsFiles(*internal_given) if all(internal_given) else None
    client = TlsFiles(args.tls_cert, args.tls_key, args.tls_client_ca) if args.tls_cert else None
    return client, internal


def _usage_error(message: str) -> None:
    print(f"quantum-grpc serve: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quantum-grpc",
        description="The Quantum network API over gRPC.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level", type=_log_level, default="INFO", help="logging level (default INFO)"
    )
    parser.add_argument(
        "--log-format",
        choices=logs.LOG_FORMATS,
        default=os.environ.get(logs.FORMAT_VARIABLE) or "text",
        help=f"text lines, or one JSON object per line (default ${logs.FORMAT_VARIABLE}, "
        "else text)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the core",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--listen",
        type=_address,
        default=DEFAULT_LISTEN,
        help=f"host:port (default {DEFAULT_LISTEN}; port 0: any free port)",
    )
    serve.add_argument(
        "--data-dir",
        default=None,
        help="where the SQLite file lives "
        "(default $QUANTUM_DATA_DIR or ~/.local/share/quantum-grpc)",
    )
    serve.add_argument(
        "--database-url",
        type=_database_url,
        default=None,
        help="any SQLAlchemy URL (default: sqlite in --data-dir)",
    )
    serve.add_argument(
        "--backend",
        action="append",
        type=_backend,
        default=[],
        metavar="NAME=HOST:PORT",
        help="a back-end to dispatch to (repeatable; the first gets new networks); "
        "without one, a sim back-end is started alongside",
    )
    serve.add_argument(
        "--sim-profile",
        default=None,
        choices=["sync", "async", "mixed", "faulty"],
        help="profile of the sim started when no --backend is given (default mixed)",
    )
    serve.add_argument(
        "--readiness",
        default="accept",
        choices=[r.value for r in Readiness],
        help="changes to resources not yet ready: accept (queue them) or reject",
    )
    serve.add_argument(
        "--sync-wait",
        type=_seconds,
        default=2.0,
        help="seconds a mutation waits for its back-end's answer (default 2)",
    )
    serve.add_argument("--grace", type=_seconds, default=5.0, help="shutdown grace in seconds")
    serve.add_argument(
        "--advertise",
        type=_address,
        default=None,
        metavar="HOST:PORT",
        help="address back-ends push status reports to (default: the --internal-listen "
        "address; set it when back-ends run on other hosts or it is a wildcard)",
    )
    serve.add_argument(
        "--event-poll-interval",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="how often to read the event log for changes other replicas committed "
        "(default 0.5 on PostgreSQL, 0 on SQLite)",
    )
    _add_tls(serve)
    add_auth_flags(serve)
    _add_limits(serve)
    _add_mesh(serve)

    conformance = commands.add_parser(
        "conformance",
        help="run the conformance suite against a back-end",
        description="Start a private core that dispatches to the back-end at --backend, run "
        "every user-level scenario through it, print a pass/fail table, and exit 1 if any "
        "scenario failed. The back-end must not be serving another core meanwhile.",
    )
    conformance.add_argument("--backend", required=True, metavar="HOST:PORT")
    conformance.add_argument(
        "--scenario", action="append", default=None, help="run only this scenario (repeatable)"
    )
    conformance.add_argument(
        "--timeout", type=float, default=30.0, help="seconds a single wait may take"
    )
    conformance.add_argument("--output", choices=["table", "json"], default="table")
    conformance.add_argument(
        "--database-url",
        type=_database_url,
        default=None,
        help="where the suite's cores keep their state (default: a throwaway SQLite file); "
        "point it at an empty PostgreSQL database or schema to check the back-end there",
    )

    extensions.add_parser(commands, "plugin", "run a back-end")
    extensions.add_parser(commands, "agent", "run a host agent")
    add_token_parser(commands)
    return parser


GC_THRESHOLDS = (50_000, 50, 100)


def tune_garbage_collector() -> None:
    """Collect less often than CPython's default (700, 10, 10).

    Every watch keeps a coroutine, a task and a gRPC call alive; under fan-out each change
    allocates per watcher, and with the default thresholds CPython re-walks all of them in
    a full collection every few changes: over half the server's time at 10,000 watchers
    (bench/README.md, "Fan-out"). Freezing what start-up built and raising the thresholds
    halved the CPU per change there. Memory is still reclaimed: reference counting frees
    almost everything; only cycles wait longer. ``QUANTUM_GC_THRESHOLD=T0,T1,T2`` sets
    other thresholds (``700,10,10`` is CPython's default).
    """
    explicit = os.environ.get("QUANTUM_GC_THRESHOLD", "")
    thresholds = tuple(int(t) for t in explicit.split(",")) if explicit else GC_THRESHOLDS
    gc.freeze()
    gc.set_threshold(*thresholds)


async def _serve(args: argparse.Namespace) -> int:
    # Handle SIGTERM/SIGINT from the first moment, so a stop during start-up is clean too.
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    data_dir = args.data_dir or default_data_dir()
    database_url = args.database_url or f"sqlite:///{data_dir}/quantum.db"
    backends = list(args.backend)
    if backends and args.sim_profile:
        log.warning("--sim-profile is ignored: --backend names the back-ends to use")
    profile = args.sim_profile or "mixed"
    client_tls, internal_tls = _tls_files(args)
    auth = auth_options(args, (args.listen, args.internal_listen))  # before any child starts
    ensure_free(args.listen)  # before starting a sim child for nothing
    ensure_free(args.internal_listen)
    sim = None
    if not backends:
        sim = PluginSupervisor("sim", ["sim", "--profile", profile], log_level=args.log_level)
        try:
            await sim.start()
        except RuntimeError as exc:
            raise StartupError(f"the sim back-end did not start: {exc}") from None
        backends = [BackendTarget("sim", sim.target)]
    poll = args.event_poll_interval
    if poll is None:  # other replicas' commits only show up in the shared log
        poll = 0.0 if is_sqlite(database_url) else 0.5
    try:
        settings = Settings(
            database_url=database_url,
            backends=tuple(backends),
            listen=args.listen,
            readiness=Readiness(args.readiness),
            sync_wait=args.sync_wait,
            grace=args.grace,
            reporter_target=args.advertise or "",
            internal_listen=args.internal_listen,
            client_tls=client_tls,
            internal_tls=internal_tls,
            **auth,
            event_poll_interval=poll,
            max_concurrent_streams=args.max_concurrent_streams,
            max_receive_message_bytes=args.max_receive_message_bytes,
            max_watches_per_tenant=args.max_watches_per_tenant,
            max_connections=args.max_connections,
            **{name: getattr(args, name) for name in MESH_DEFAULTS},
            metrics_listen=args.metrics_listen or "",
        )
        if stopping.is_set():
            return 0
        # Imported here: `plugin` and `agent` commands start without the core's modules.
        from quantum_grpc.server import build_server

        app = await build_server(settings)
        tune_garbage_collector()
        described = ", ".join(f"{b.name} at {b.target}" for b in backends)
        log.info(
            "quantum-grpc listening on %s%s, back-ends on %s%s (database %s; back-end %s%s; "
            "readiness %s)",
            app.address,
            " (TLS)" if client_tls else "",
            app.internal_address,
            " (mTLS)" if internal_tls else "",
            make_url(database_url).render_as_string(hide_password=True),
            described,
            f", profile {profile}" if sim else "",
            settings.readiness.value,
        )
        await stopping.wait()
        log.info("shutting down")
        hurry = asyncio.Event()  # a second signal ends the drain at once
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, hurry.set)
        await app.stop(hurry=hurry)
    finally:
        if sim is not None:
            await sim.stop()
    return 0


async def _conformance(args: argparse.Namespace) -> int:
    from rich.console import Console

    from quantum_plugins.conformance.report import print_results
    from quantum_plugins.conformance.runner import run_conformance

    console = Console()
    try:
        results = await run_conformance(
            args.backend,
            scenarios=args.scenario,
            timeout=args.timeout,
            database_url=args.database_url,
        )
    except ValueError as exc:
        console.print(f"error: {exc}", highlight=False)
        return 2
    except TimeoutError:
        console.print(f"error: the back-end at {args.backend} never became ready", highlight=False)
        return 2
    except grpc.aio.AioRpcError as exc:
        console.print(
            f"error: no back-end answers at {args.backend}: {exc.code().name}", highlight=False
        )
        return 2
    print_results(results, args.backend, args.output, console)
    return 0 if all(r.passed for r in results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `quantum-grpc` command."""
    children.follow_parent()
    args = _parser().parse_args(argv)
    logs.configure(args.log_level, args.log_format)
    os.environ[logs.FORMAT_VARIABLE] = args.log_format  # the sim child logs alike
    if args.command == "serve":
        try:
            return asyncio.run(_serve(args))
        except StartupError as exc:  # the environment, not a bug: one line, no traceback
            print(f"quantum-grpc: error: {exc}", file=sys.stderr)
            return 1
    if args.command == "token":
        return run_token(args)
    if args.command == "conformance":
        return asyncio.run(_conformance(args))
    return extensions.run(args.command, args.name, args.options)


if __name__ == "__main__":
    sys.exit(main())
