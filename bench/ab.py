"""A/B: an earlier copy of the server code against the working tree, in one run.

    cp -r quantum_grpc /tmp/before/               # before a change
    ... change the code ...
    .venv/bin/python -m bench.ab --before /tmp/before [--sections latency creates get]

The shared machine's speed moves between runs by 2x or more, so a step is judged by a
ratio measured in one run: each section runs for ``before`` then the working tree, again
``--rounds`` times alternating, and the best figure of each is kept. The servers of
``before`` import ``quantum_grpc`` from that directory (``bench.stack.CORE_PATH``). Prints
one JSON document: per section the two figures and after/before (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import pg, sections, stack

Figures = dict[str, Any]
REPO = str(Path(__file__).resolve().parent.parent)
# section -> (figure name, path into the section's figures, higher is better); a path
# "a", "b", "/", "c", "n" is figures[a][b] * 1000 / figures[c][n] (CPU ms per operation: less
# disturbed by other load on the machine than wall time).
PICKS: dict[str, list[tuple[str, tuple[str, ...], bool]]] = {
    "latency": [
        ("report→watcher p50 ms", ("p50_ms",), False),
        ("report→watcher p99 ms", ("p99_ms",), False),
        ("ReportStatus rpc p50 ms", ("report_rpc", "p50_ms"), False),
        ("core CPU ms/report", ("meter", "core_cpu_s", "/", "count"), False),
    ],
    "creates": [
        ("creates/s 1 client", ("sequential", "per_second"), True),
        ("creates/s 32 clients", ("concurrent", "per_second"), True),
        ("create p50 ms 1 client", ("sequential", "latency", "p50_ms"), False),
        (
            "core CPU ms/create 1 client",
            ("sequential", "meter", "core_cpu_s", "/", "sequential", "creates"),
            False,
        ),
        (
            "core CPU ms/create 32 clients",
            ("concurrent", "meter", "core_cpu_s", "/", "concurrent", "creates"),
            False,
        ),
    ],
    "creates_pg": [
        ("PG creates/s 1 client", ("sequential", "per_second"), True),
        ("PG creates/s 32 clients", ("concurrent", "per_second"), True),
        (
            "PG core CPU ms/create 1 client",
            ("sequential", "meter", "core_cpu_s", "/", "sequential", "creates"),
            False,
        ),
    ],
    "statements": [
        (f"{operation}: {what}", (operation, what), False)
        for operation in (
            "create_port (no dispatch)",
            "create_port (whole, sync sim)",
            "report (link toggle)",
            "get_port",
        )
        for what in ("sessions", "statements")
    ],
    "fanout": [
        (f"{size} watchers: {label}", (size, *path), False)
        for size in ("1000", "5000")
        for label, path in (
            ("reach all p50 ms", ("reach_all", "p50_ms")),
            ("reach all p99 ms", ("reach_all", "p99_ms")),
            ("core CPU ms/change", ("core_cpu_ms_per_change",)),
            ("RSS KiB/watcher", ("rss_per_watcher_kib",)),
        )
    ],
    "get": [
        ("GetPort p50 ms", ("sequential", "latency", "p50_ms"), False),
        ("GetPort p99 ms", ("sequential", "latency", "p99_ms"), False),
        ("GetPort/s 32 clients", ("concurrent", "per_second"), True),
        (
            "core CPU ms/GetPort 32 clients",
            ("concurrent", "meter", "core_cpu_s", "/", "concurrent", "gets"),
            False,
        ),
        ("floor: health Check p50 ms", ("floor_health_check", "p50_ms"), False),
        (
            "floor: health Checks/s 32 clients",
            ("floor_health_check_concurrent", "per_second"),
            True,
        ),
    ],
}


def _log(message: str) -> None:
    print(f"[bench.ab {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _dig(figures: Figures, path: tuple[str, ...]) -> float:
    if "/" in path:
        at = path.index("/")
        count = _dig(figures, path[at + 1 :])
        return round(_dig(figures, path[:at]) * 1000 / count, 3)
    value: Any = figures
    for key in path:
        value = value[key]
    return float(value)


async def _creates_pg(workdir: Path, args: argparse.Namespace) -> Figures:
    with pg.pg_schema() as url:
        return await sections.creates(
            workdir, args.creates, args.clients, args.per_client, database_url=url
        )


async def _statements(n: int) -> Figures:
    """bench.statements in a process of its own, importing the code under test."""
    env = dict(os.environ)
    repo = REPO
    env["PYTHONPATH"] = os.pathsep.join(p for p in (stack.CORE_PATH, repo) if p)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.statements",
        "--n",
        str(n),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        # `python -m` puts the working directory first on sys.path, before PYTHONPATH.
        cwd=stack.CORE_PATH or REPO,
    )
    out, _ = await process.communicate()
    if process.returncode:
        raise RuntimeError(f"bench.statements exited with {process.returncode}")
    figures: Figures = json.loads(out)
    return figures


def _runners(args: argparse.Namespace) -> dict[str, Callable[[Path], Awaitable[Figures]]]:
    async def latency(workdir: Path) -> Figures:
        return (await sections.notification_latency(workdir, args.events))[0]

    async def creates(workdir: Path) -> Figures:
        return await sections.creates(workdir, args.creates, args.clients, args.per_client)

    async def creates_pg(workdir: Path) -> Figures:
        return await _creates_pg(workdir, args)

    async def statements(workdir: Path) -> Figures:
        return await _statements(args.n)

    async def fanout(workdir: Path) -> Figures:
        found: Figures = {}
        for size in (1000, 5000):
            found[str(size)], _ = await sections.fanout(
                workdir / str(size),
                size,
                args.changes,
                processes=sections.fanout_processes(size),
                per_channel=100,
            )
        return found

    async def get(workdir: Path) -> Figures:
        return await sections.get_ports(workdir, args.gets, args.clients, args.per_client * 5)

    return {
        "latency": latency,
        "creates": creates,
        "creates_pg": creates_pg,
        "statements": statements,
        "fanout": fanout,
        "get": get,
    }


def _best(values: list[float], higher: bool) -> float:
    return max(values) if higher else min(values)


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Every chosen section, before and after, alternating; the comparison."""
    runners = _runners(args)
    after = str(args.after.resolve()) if args.after else None
    trees = {"before": str(args.before.resolve()), "after": after}
    found: dict[str, dict[str, list[float]]] = {}
    for section in args.sections:
        for round_ in range(args.rounds):
            for name, path in trees.items():
                _log(f"{section}, {name}, round {round_ + 1}")
                stack.CORE_PATH = path
                figures = await runners[section](workdir / f"{section}-{name}-{round_}")
                for label, keys, _ in PICKS[section]:
                    found.setdefault(label, {}).setdefault(name, []).append(_dig(figures, keys))
    stack.CORE_PATH = None
    table = []
    for section in args.sections:
        for label, _, higher in PICKS[section]:
            before = _best(found[label]["before"], higher)
            after = _best(found[label]["after"], higher)
            table.append(
                {
                    "figure": label,
                    "before": before,
                    "after": after,
                    "after/before": round(after / before, 2) if before else None,
                    "runs": found[label],
                }
            )
    return {"loadavg": list(os.getloadavg()), "comparison": table}


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m bench.ab``."""
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="dir holding quantum_grpc/")
    parser.add_argument("--after", type=Path, help="dir holding quantum_grpc/ (default: this tree)")
    parser.add_argument(
        "--sections", nargs="+", choices=sorted(PICKS), default=["latency", "creates", "get"]
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--events", type=int, default=500, help="latency reports")
    parser.add_argument("--creates", type=int, default=300, help="sequential creates")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--per-client", type=int, default=20, help="creates per client")
    parser.add_argument("--gets", type=int, default=1000, help="sequential GetPorts")
    parser.add_argument("--changes", type=int, default=30, help="changes per fan-out size")
    parser.add_argument("--n", type=int, default=50, help="operations counted (statements)")
    args = parser.parse_args(argv)
    for tree in (args.before, args.after):
        if tree is not None and not (tree / "quantum_grpc" / "__init__.py").exists():
            parser.error(f"{tree} holds no quantum_grpc package")
    if "creates_pg" in args.sections and not pg.reachable():
        parser.error(f"PostgreSQL at {pg.PG_URL} is not reachable")
    workdir = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    try:
        document = asyncio.run(run(args, workdir))
    except Exception:
        _log(f"failed; the servers' files are kept in {workdir}")
        raise
    shutil.rmtree(workdir, ignore_errors=True)
    for row in document["comparison"]:
        print(
            f"{row['figure']:32} before {row['before']:>10.2f}  after {row['after']:>10.2f}"
            f"  after/before {row['after/before']}",
            file=sys.stderr,
        )
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
