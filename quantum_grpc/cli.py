"""`quantum-grpc`: run the core (`serve`) and the shipped back-ends (`plugin sim`)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence

import grpc
from sqlalchemy import make_url

from quantum_grpc import children
from quantum_grpc.config import DEFAULT_LISTEN, BackendTarget, Settings, default_data_dir
from quantum_grpc.server import build_server
from quantum_grpc.service.status_rules import Readiness
from quantum_grpc.store.engine import is_sqlite

log = logging.getLogger("quantum_grpc")

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quantum-grpc",
        description="The Quantum network API over gRPC.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the core",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--listen", default=DEFAULT_LISTEN, help=f"host:port (default {DEFAULT_LISTEN})"
    )
    serve.add_argument(
        "--data-dir",
        default=None,
        help="where the SQLite file lives "
        "(default $QUANTUM_DATA_DIR or ~/.local/share/quantum-grpc)",
    )
    serve.add_argument(
        "--database-url", default=None, help="any SQLAlchemy URL (default: sqlite in --data-dir)"
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
        type=float,
        default=2.0,
        help="seconds a mutation waits for its back-end's answer (default 2)",
    )
    serve.add_argument("--grace", type=float, default=5.0, help="shutdown grace in seconds")
    serve.add_argument(
        "--advertise",
        default="",
        metavar="HOST:PORT",
        help="address back-ends push status reports to (default: the --listen address; "
        "set it when back-ends run on other hosts or --listen is a wildcard)",
    )
    serve.add_argument(
        "--event-poll-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how often to read the event log for changes other replicas committed "
        "(default 0.5 on PostgreSQL, 0 on SQLite)",
    )

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

    plugin = commands.add_parser("plugin", help="run a back-end")
    plugins = plugin.add_subparsers(dest="plugin", required=True)
    from quantum_plugins.sim import cli as sim_cli

    sim_cli.add_arguments(plugins.add_parser("sim", help="the simulated back-end"))
    from quantum_plugins.linuxbridge import agent_cli as lb_agent_cli, backend_cli as lb_backend_cli

    lb_backend_cli.add_arguments(
        plugins.add_parser(
            "linuxbridge", help="the Linux bridge back-end (host agents do the wiring)"
        )
    )
    agent = commands.add_parser("agent", help="run a host agent")
    agents = agent.add_subparsers(dest="agent", required=True)
    lb_agent_cli.add_arguments(
        agents.add_parser("linuxbridge", help="the linuxbridge host agent (root or CAP_NET_ADMIN)")
    )
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
    child = None
    if not backends:
        sim_args = ["sim", "--listen", "127.0.0.1:0", "--profile", profile]
        child, port = await children.spawn_plugin(sim_args, log_level=args.log_level)
        backends = [BackendTarget("sim", f"127.0.0.1:{port}")]
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
            reporter_target=args.advertise,
            event_poll_interval=poll,
        )
        if stopping.is_set():
            return 0
        app = await build_server(settings)
        tune_garbage_collector()
        described = ", ".join(f"{b.name} at {b.target}" for b in backends)
        log.info(
            "quantum-grpc listening on %s (database %s; back-end %s%s)",
            app.address,
            make_url(database_url).render_as_string(hide_password=True),
            described,
            f", profile {profile}" if child else "",
        )
        await stopping.wait()
        log.info("shutting down")
        await app.stop()
    finally:
        if child is not None:
            await asyncio.to_thread(children.stop, child)
    return 0


async def _conformance(args: argparse.Namespace) -> int:
    from rich.console import Console

    from quantum_grpc.conformance.report import print_results
    from quantum_grpc.conformance.runner import run_conformance

    console = Console()
    try:
        results = await run_conformance(args.backend, scenarios=args.scenario, timeout=args.timeout)
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
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "serve":
        return asyncio.run(_serve(args))
    if args.command == "conformance":
        return asyncio.run(_conformance(args))
    if args.command == "agent":
        from quantum_plugins.linuxbridge import agent_cli

        return agent_cli.run(args)
    if args.plugin == "linuxbridge":
        from quantum_plugins.linuxbridge import backend_cli

        return backend_cli.run(args)
    from quantum_plugins.sim import cli as sim_cli

    return sim_cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
