"""Where the core's time goes in one operation: a loop of it against a real core, sampled
with py-spy, summed by package.

    .venv/bin/pip install py-spy                       # not a dependency of the project
    .venv/bin/python -m bench.profile create           # or: get, report, check
    .venv/bin/python -m bench.profile create --database-url postgresql://...

Starts a ``sync`` sim and a core (``bench.stack``), runs the operation in a loop from one
client (``--clients N``: N at once, each on its own channel) for ``--seconds``, and
meanwhile records the core with ``py-spy record --gil -r 200 --format raw`` (only samples
where the core's thread holds the GIL: what bounds it). Prints the rate, the core's CPU
per operation, the share of GIL samples per package of the leaf frame (sqlalchemy, grpc,
asyncio, psycopg, ...; the loop running a C callback, grpc.aio's Cython mostly, apart), and the
share of the quantum_grpc functions on the stack (inclusive). ``--keep FILE`` keeps the
raw samples (for flamegraph tools). The figures of bench/README.md's "What bounds each
target now" come from it.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench import stack
from bench.stack import Client, running_stack

# Leaf-frame files are summed under the first of these names that a directory of their
# path starts with (quantum_grpc/ is ours, not grpc's).
PACKAGES = ("sqlalchemy", "psycopg", "grpc", "asyncio", "protobuf", "quantum")
_FRAME = re.compile(r"^(?P<name>.+) \((?P<file>[^:()]*):\d+\)$")


C_CALLBACKS = "loop callbacks in C (grpc Cython)"


def _package(path: str) -> str:
    directories = path.split("/")[:-1]
    return next((p for p in PACKAGES if any(d.startswith(p) for d in directories)), "other")


def summarise(raw: str, top: int = 20) -> dict[str, list[tuple[str, float]]]:
    """Shares of the samples in py-spy's raw format: by package of the leaf frame, and
    by quantum_grpc function anywhere on the stack."""
    packages: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_FRAME.match(frame) for frame in stack_text.split(";")]
        leaf = frames[-1]
        leaf_file = leaf["file"] if leaf else ""
        # The loop running a callback with no Python frame of its own: grpc.aio's Cython
        # (its call machinery, and the C-core calls it makes with the GIL held, sendmsg
        # among them) or asyncio's C tasks, not asyncio's Python code.
        in_c = leaf is not None and leaf["name"] == "Handle._run"
        packages[C_CALLBACKS if in_c else _package(leaf_file)] += count
        seen = {
            f"{m['name']} ({m['file'].split('quantum_grpc/')[-1]})"
            for m in frames
            if m and "quantum_grpc/" in m["file"]
        }
        for name in seen:
            ours[name] += count
    if not total:
        return {"packages": [], "ours": []}

    def shares(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(k, round(100 * v / total, 1)) for k, v in counter.most_common(top)]

    return {"packages": shares(packages), "ours": shares(ours)}


async def _loop(operation: str, client: Client, seconds: float, index: int) -> int:
    network = await client.create_network("profile")
    await client.wait_for_status("network", network.id, "AVAILABLE", timeout=30)
    port = await client.active_port(network.id, f"vif-profile-{index}")
    generation = port.generation
    done, up = 0, False
    check = health_pb2_grpc.HealthStub(client.channel).Check
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if operation == "check":
            await check(health_pb2.HealthCheckRequest())
        elif operation == "create":
            await client.create_port(network.id)
        elif operation == "get":
            await client.get_port(port.id)
        else:
            up = not up
            await client.report_link(port.id, generation, up)
        done += 1
    return done


async def run(args: argparse.Namespace, workdir: Path, raw_file: Path) -> str:
    """Start the stack and loop the operation under py-spy; the rate and CPU line."""
    async with running_stack(workdir, "sync", database_url=args.database_url) as running:
        clients = [Client(running, "bench-profile") for _ in range(args.clients)]
        try:
            spy = await asyncio.create_subprocess_exec(
                *(args.py_spy, "record", "--gil", "-r", "200", "--format", "raw"),
                *("-o", str(raw_file), "-d", str(int(args.seconds) + 2)),
                *("-p", str(running.core_pid)),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            cpu_before = stack.cpu_seconds(running.core_pid)
            began = time.monotonic()
            loops = (
                _loop(args.operation, client, args.seconds, index)
                for index, client in enumerate(clients)
            )
            done = sum(await asyncio.gather(*loops))
            wall = time.monotonic() - began
            cpu = stack.cpu_seconds(running.core_pid) - cpu_before
            await spy.wait()
        finally:
            for client in clients:
                await client.close()
    return f"{args.operation}: {done / wall:.1f}/s, core CPU {cpu * 1000 / done:.2f} ms each"


def _report(rate: str, raw: str) -> None:
    print(rate)
    found = summarise(raw)
    print("GIL samples by package of the leaf frame:")
    for name, share in found["packages"]:
        print(f"  {share:5.1f} %  {name}")
    print("quantum_grpc functions on the stack (inclusive):")
    for name, share in found["ours"]:
        print(f"  {share:5.1f} %  {name}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m bench.profile``."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    # check: a health Check, the floor of any call (the same server and interceptors).
    parser.add_argument("operation", choices=("create", "get", "report", "check"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--clients", type=int, default=1, help="clients looping at once, each on its own channel"
    )
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--keep", type=Path, help="keep py-spy's raw samples here")
    parser.add_argument(
        "--py-spy", default=shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    )
    args = parser.parse_args(argv)
    if not Path(args.py_spy).exists():
        parser.error("py-spy not found: .venv/bin/pip install py-spy (or pass --py-spy PATH)")
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch:
        raw_file = args.keep or Path(scratch) / "samples.raw"
        rate = asyncio.run(run(args, Path(scratch), raw_file))
        _report(rate, raw_file.read_text() if raw_file.exists() else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
