"""Benchmark WatchStatus against polling, on real servers over loopback.

    .venv/bin/python -m bench.watch [--quick] [--out bench/out]

Starts a sim back-end and a core as separate processes (``python -m quantum_grpc plugin
sim`` / ``serve``, SQLite in a scratch directory), fresh for every measurement, and
measures from client processes:

1. notification latency: the benchmark reports a port's link going DOWN/UP as the
   back-end (``StatusReporterService/ReportStatus``), one report in flight, and times
   until a watcher receives the event;
2. the same change observed by polling GetPort every 100 ms and every 1 s;
3. fan-out: 100, 1,000 and 10,000 idle watchers of one port on one server, the time for
   one change to reach every one of them, and the server's resident memory per watcher;
4. 1,000 ports created and plugged on the ``async`` sim profile, awaited ACTIVE by one
   watch or by polling GetPort every 1 s: RPCs needed, and how long after each port
   became ACTIVE it was seen;
5. CreatePort per second on the ``sync`` profile, one client in sequence and 32 at once,
   on SQLite, then on PostgreSQL (``QUANTUM_BENCH_PG_URL``; left out when unreachable);
6. GetPort: latency in sequence and throughput from 32 clients, beside the floor (a health
   ``Check`` round trip to the same core).

Then it compares every figure with the previous run's JSON (``--previous``, by default
``bench/results/watch.json``): the ratio this run / that one (bench/compare.py).

Prints one JSON document and writes it, with a PNG plot, to ``--out``. ``--quick`` is a
scaled-down run (under a minute) for the smoke test. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc

from bench import compare, pg, sections, stack
from bench.plot import plot


@dataclass(frozen=True)
class Scale:
    """How much of each measurement to do."""

    latency_events: int = 2000
    poll_samples: int = 2000
    poll_ports_100ms: int = 10
    poll_ports_1s: int = 50
    fanout_sizes: tuple[int, ...] = (100, 1000, 10000)
    fanout_changes: int = 50
    watchers_per_connection: int = 100
    ports: int = 1000
    port_networks: int = 50
    mutation_concurrency: int = 32
    sequential_creates: int = 1000
    create_clients: int = 32
    creates_per_client: int = 100
    sequential_gets: int = 2000
    gets_per_client: int = 200


FULL = Scale()
QUICK = Scale(
    latency_events=200,
    poll_samples=200,
    poll_ports_100ms=10,
    poll_ports_1s=50,
    fanout_sizes=(100, 300),
    fanout_changes=20,
    ports=100,
    port_networks=10,
    sequential_creates=200,
    creates_per_client=5,
    sequential_gets=200,
    gets_per_client=10,
)


def _log(message: str) -> None:
    print(f"[bench.watch {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _git(*args: str) -> str:
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        ).stdout.strip()
    return ""


def _ratio(slow: float, fast: float) -> float:
    return round(slow / fast, 1) if fast > 0 else float("inf")


def _target(
    name: str, measured: float | None, limit: float, *, at_least: bool = False
) -> dict[str, Any]:
    met = None if measured is None else (measured >= limit if at_least else measured <= limit)
    return {"target": name, "limit": limit, "measured": measured, "met": met}


# bench.grpc_floor's RSS per idle bare grpc.aio stream on this machine (bench/README.md).
GRPC_FLOOR_KIB_PER_STREAM = 22.8


def _figure(document: dict[str, Any], *path: str) -> float | None:
    value: Any = document
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value)


def targets(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issues 3 and 14 against what was measured (``met`` None: not measured)."""
    runs = {r["watchers"]: r for r in document["fanout"]["runs"]}
    largest = runs[max(runs)]
    active = document["ports_active"]
    latency = document["notification_latency"]
    return [
        _target("notification latency p50 (ms)", latency["p50_ms"], 1),
        _target("notification latency p99 (ms)", latency["p99_ms"], 2),
        _target(
            "one change to 1,000 watchers, p99 (ms)",
            runs[1000]["reach_all"]["p99_ms"] if 1000 in runs else None,
            30,
        ),
        _target(
            "one change to 10,000 watchers, p99 (ms)",
            runs[10000]["reach_all"]["p99_ms"] if 10000 in runs else None,
            300,
        ),
        _target(
            f"server RSS per idle watcher at {largest['watchers']} watchers (KiB)",
            largest["rss_per_watcher_kib"],
            GRPC_FLOOR_KIB_PER_STREAM + 2,
        ),
        _target(
            "RPCs to await ACTIVE: polling 1 s / watch (x)", active["rpc_ratio"], 10, at_least=True
        ),
        _target(
            "seen ACTIVE after it happened, polling / watch, p50 (x)",
            active["seen_after_active_ratio_p50"],
            10,
            at_least=True,
        ),
        _target(
            "seen ACTIVE after it happened, polling / watch, mean (x)",
            active["seen_after_active_ratio_mean"],
            10,
            at_least=True,
        ),
        _target(
            "CreatePort/s on SQLite, 1 client",
            _figure(document, "creates", "sequential", "per_second"),
            500,
            at_least=True,
        ),
        _target(
            "CreatePort/s on SQLite, 32 clients",
            _figure(document, "creates", "concurrent", "per_second"),
            1500,
            at_least=True,
        ),
        _target(
            "CreatePort/s on PostgreSQL, 1 client",
            _figure(document, "creates_postgresql", "sequential", "per_second"),
            300,
            at_least=True,
        ),
        _target(
            "CreatePort/s on PostgreSQL, 32 clients",
            _figure(document, "creates_postgresql", "concurrent", "per_second"),
            1000,
            at_least=True,
        ),
        _target(
            "GetPort p99 (ms)", _figure(document, "get_port", "sequential", "latency", "p99_ms"), 1
        ),
        _target(
            "GetPort/s, 32 clients",
            _figure(document, "get_port", "concurrent", "per_second"),
            3000,
            at_least=True,
        ),
    ]


async def run(scale: Scale, quick: bool, workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every measurement, in order; the JSON document and the raw samples for the plot."""
    started = time.monotonic()
    document: dict[str, Any] = {
        "meta": {
            "command": " ".join([Path(sys.executable).name, "-m", "bench.watch", *sys.argv[1:]]),
            "quick": quick,
            "started_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(),
            "loadavg_at_start": list(os.getloadavg()),
            "python": platform.python_version(),
            "grpcio": grpc.__version__,
            "git_commit": _git("rev-parse", "--short", "HEAD"),
            # Uncommitted changes to the server code the figures were measured on.
            "server_changes": _git(
                "status", "--porcelain", "--", "quantum_grpc", "quantum_plugins"
            ).splitlines(),
            "scale": asdict(scale),
            "core_gc_threshold": stack.CORE_GC_THRESHOLD,
        }
    }
    raw: dict[str, Any] = {}

    _log(f"1. notification latency, {scale.latency_events} events")
    document["notification_latency"], raw["latency"] = await sections.notification_latency(
        workdir / "latency", scale.latency_events
    )

    _log(f"2. polling GetPort every 100 ms and 1 s, {scale.poll_samples} changes each")
    document["polling"] = {}
    for key, interval, ports in (
        ("every_100ms", 0.1, scale.poll_ports_100ms),
        ("every_1s", 1.0, scale.poll_ports_1s),
    ):
        figures, samples = await sections.polling_latency(
            workdir / f"poll-{key}", interval, scale.poll_samples, ports
        )
        document["polling"][key] = figures
        raw["poll_100ms" if interval < 1 else "poll_1s"] = samples

    runs = []
    for watchers in scale.fanout_sizes:
        processes = sections.fanout_processes(watchers)
        _log(f"3. fan-out to {watchers} watchers ({processes} client processes)")
        figures, _ = await sections.fanout(
            workdir / f"fanout-{watchers}",
            watchers,
            scale.fanout_changes,
            processes=processes,
            per_channel=scale.watchers_per_connection,
        )
        runs.append(figures)
    document["fanout"] = {"runs": runs}

    raw["ports"] = {}
    active: dict[str, Any] = {}
    for mode in ("watch", "poll"):
        _log(f"4. {scale.ports} ports to ACTIVE by {mode}")
        active[mode], raw["ports"][mode] = await sections.ports_to_active(
            workdir / f"ports-{mode}",
            mode,
            scale.ports,
            scale.port_networks,
            scale.mutation_concurrency,
            poll_interval=1.0,
        )
    watch_lag, poll_lag = active["watch"]["seen_after_active"], active["poll"]["seen_after_active"]
    active["rpc_ratio"] = _ratio(active["poll"]["await_rpcs"], active["watch"]["await_rpcs"])
    active["seen_after_active_ratio_p50"] = _ratio(poll_lag["p50_ms"], watch_lag["p50_ms"])
    active["seen_after_active_ratio_mean"] = _ratio(poll_lag["mean_ms"], watch_lag["mean_ms"])
    document["ports_active"] = active

    _log("5. creates per second")
    document["creates"] = await sections.creates(
        workdir / "creates",
        scale.sequential_creates,
        scale.create_clients,
        scale.creates_per_client,
    )

    if pg.reachable():
        _log("5b. creates per second on PostgreSQL")
        with pg.pg_schema() as url:
            document["creates_postgresql"] = await sections.creates(
                workdir / "creates-pg",
                scale.sequential_creates,
                scale.create_clients,
                scale.creates_per_client,
                database_url=url,
            )
    else:
        _log(f"5b. left out: PostgreSQL at {pg.PG_URL} is not reachable")

    _log("6. GetPort")
    document["get_port"] = await sections.get_ports(
        workdir / "gets", scale.sequential_gets, scale.create_clients, scale.gets_per_client
    )

    document["targets"] = targets(document)
    document["meta"]["loadavg_at_end"] = list(os.getloadavg())
    document["meta"]["duration_s"] = round(time.monotonic() - started, 1)
    return document, raw


def _thresholds(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split(",")]
    if len(parts) != 3 or min(parts) < 1:
        raise argparse.ArgumentTypeError("expected three positive integers, as 50000,50,100")
    return parts[0], parts[1], parts[2]


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m bench.watch``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.watch", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="scaled-down run (under a minute)")
    parser.add_argument("--out", type=Path, default=Path("bench/out"), help="output directory")
    parser.add_argument(
        "--previous",
        type=Path,
        default=Path("bench/results/watch.json"),
        help="the run to compare with (default: bench/results/watch.json; skipped if absent)",
    )
    parser.add_argument(
        "--keep-workdir",
        action="store_true",
        help="keep the scratch directory with the servers' databases and logs",
    )
    parser.add_argument(
        "--core-gc-threshold",
        type=_thresholds,
        default=None,
        metavar="T0,T1,T2",
        help="run the core with these GC thresholds (QUANTUM_GC_THRESHOLD): a what-if for "
        "the cost of Python's garbage collector; 700,10,10 is CPython's default "
        "(default: serve's own setting)",
    )
    args = parser.parse_args(argv)
    stack.CORE_GC_THRESHOLD = args.core_gc_threshold
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    try:
        document, raw = asyncio.run(run(QUICK if args.quick else FULL, args.quick, workdir))
    finally:
        if args.keep_workdir:
            _log(f"servers' files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.previous.exists():
        document["comparison"] = compare.compare(json.loads(args.previous.read_text()), document)
        _log("compared with the previous run:\n" + compare.render(document["comparison"]))
    text = json.dumps(document, indent=2)
    (args.out / "watch.json").write_text(text + "\n")
    plot(document, raw, args.out / "watch.png")
    _log(f"wrote {args.out / 'watch.json'} and {args.out / 'watch.png'}")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
