"""What a bare grpc.aio server costs per idle stream: the floor under WatchStatus.

    .venv/bin/python -m bench.grpc_floor [--watchers 1000 10000] [--changes 20]

Serves ``quantum.v1.WatchService/WatchStatus`` with the least a Python server can do: each
stream sends a SYNCED marker, then waits on one shared future per broadcast and writes the
pre-encoded event it carries. No database, no filters, no per-stream queue, event or
timer. The same client processes as ``bench.watch`` measure, for each number of streams,
the server's resident memory per idle stream and the time for one broadcast to reach
every stream. Whatever ``bench.watch`` measures above these figures is quantum-grpc's own
cost; below them, nothing built on one grpc.aio stream per watcher can go.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

import grpc

from bench import fanout_worker
from bench.stack import rss_kib
from bench.stats import summary_ms
from quantum_api.v1 import port_pb2, watch_service_pb2 as pb

PORT_ID = "00000000-0000-4000-8000-000000000000"


class _Broadcast:
    """A chain of futures: each resolves to (encoded event, the next future)."""

    def __init__(self) -> None:
        self.next: asyncio.Future[tuple[bytes, Any]] = asyncio.get_running_loop().create_future()

    def send(self, data: bytes) -> None:
        current = self.next
        self.next = asyncio.get_running_loop().create_future()
        current.set_result((data, self.next))


def _event(revision: int) -> bytes:
    port = port_pb2.Port(
        id=PORT_ID,
        tenant_id="bench-floor",
        network_id=PORT_ID,
        status=port_pb2.PORT_STATUS_ACTIVE,
        link_status=port_pb2.LINK_STATUS_UP,
        interface_id="vif-floor",
        revision=revision,
    )
    event = pb.WatchEvent(
        type=pb.EVENT_TYPE_MODIFIED, revision=revision, resource=pb.Resource(port=port)
    )
    return pb.WatchStatusResponse(events=[event]).SerializeToString()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _recv(conn: Connection) -> Any:
    if not await asyncio.to_thread(conn.poll, 300):
        raise TimeoutError("a client process did not answer")
    return conn.recv()


async def measure(watchers: int, changes: int) -> dict[str, Any]:
    """Serve ``watchers`` idle streams, then broadcast ``changes`` events to them."""
    broadcast = _Broadcast()
    synced = pb.WatchStatusResponse(
        events=[pb.WatchEvent(type=pb.EVENT_TYPE_SYNCED, revision=1)]
    ).SerializeToString()

    async def watch(request: pb.WatchStatusRequest, context: Any) -> None:
        await context.write(synced)
        following = broadcast.next
        while True:
            data, following = await following
            await context.write(data)

    server = grpc.aio.server()
    handler = grpc.unary_stream_rpc_method_handler(
        watch,
        request_deserializer=pb.WatchStatusRequest.FromString,
        response_serializer=lambda data: data,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("quantum.v1.WatchService", {"WatchStatus": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    context = multiprocessing.get_context("spawn")
    workers: list[tuple[Any, Connection]] = []
    try:
        await asyncio.sleep(0.5)
        gc.collect()
        before = rss_kib(os.getpid())
        processes = max(1, -(-watchers // 5000))
        for i in range(processes):
            ours, theirs = context.Pipe()
            share = watchers // processes + (i < watchers % processes)
            spec = fanout_worker.WorkerSpec(f"127.0.0.1:{port}", "floor", PORT_ID, share, 100)
            process = context.Process(target=fanout_worker.run, args=(spec, theirs))
            process.start()
            workers.append((process, ours))
        for _, conn in workers:
            await _recv(conn)
        await asyncio.sleep(2.0)
        after = rss_kib(os.getpid())
        reach: list[float] = []
        cpu_start = _cpu()
        for revision in range(2, changes + 2):
            data = _event(revision)
            start = time.monotonic()
            broadcast.send(data)
            done = [await _recv(conn) for _, conn in workers]
            reach.append(max(d[3] for d in done) - start)
            await asyncio.sleep(0.1)
        cpu = _cpu() - cpu_start
        for _, conn in workers:
            conn.send("stop")
            await _recv(conn)
    finally:
        for process, _ in workers:
            process.join(10)
            if process.is_alive():
                process.kill()
        await server.stop(0)
    return {
        "watchers": watchers,
        "rss_per_stream_kib": round((after - before) / watchers, 2),
        "reach_all": summary_ms(reach),
        "server_cpu_ms_per_broadcast": round(cpu * 1000 / changes, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m bench.grpc_floor``."""
    parser = argparse.ArgumentParser(prog="python -m bench.grpc_floor")
    parser.add_argument("--watchers", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument(
        "--gc-threshold",
        default="",
        metavar="T0,T1,T2",
        help="gc.set_threshold() for the server, as for bench.watch --core-gc-threshold",
    )
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        if args.gc_threshold:
            gc.set_threshold(*(int(t) for t in args.gc_threshold.split(",")))
        print(json.dumps(asyncio.run(measure(args.watchers[0], args.changes))))
        return 0
    # Each size in a fresh server process: RSS deltas are only meaningful on a new heap.
    results = []
    for watchers in args.watchers:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "bench.grpc_floor", "--one"),
                *("--watchers", str(watchers), "--changes", str(args.changes)),
                *(("--gc-threshold", args.gc_threshold) if args.gc_threshold else ()),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(done.stdout))
    document = {"grpcio": grpc.__version__, "gc_threshold": args.gc_threshold, "runs": results}
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
