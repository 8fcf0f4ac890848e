"""A client process holding many idle WatchStatus streams for the fan-out benchmark.

The parent starts one or more of these (``multiprocessing``, spawn), so that receiving
10,000 streams is not bounded by one Python process. Over its pipe a worker sends:

- ``("ready", opened, cpu, errors)`` once every stream it opened has sent its SYNCED
  marker (``cpu``: its CPU seconds so far);
- ``("change", revision, first, last)`` each time all of its watchers have received the
  event of one revision; ``first`` and ``last`` are ``time.monotonic()`` readings, which
  compare with the parent's because CLOCK_MONOTONIC is system-wide on Linux;
- ``("cpu", seconds, errors)`` in answer to ``"stop"``, just before it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import resource
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import grpc

from bench.stack import CHANNEL_OPTIONS
from quantum_api.v1 import watch_service_pb2 as pb
from quantum_client import AsyncClient

OPEN_CONCURRENCY = 200


@dataclass(frozen=True)
class WorkerSpec:
    """What one worker process does."""

    address: str
    tenant: str
    port_id: str
    watchers: int
    per_channel: int


@dataclass
class _Tally:
    """Receipts of each revision not yet received by every watcher of this worker."""

    watchers: int
    conn: Connection
    pending: dict[int, list[float]] = field(default_factory=dict)
    synced: int = 0
    all_synced: asyncio.Event = field(default_factory=asyncio.Event)
    errors: list[str] = field(default_factory=list)

    def received(self, revision: int, now: float) -> None:
        entry = self.pending.get(revision)
        if entry is None:
            self.pending[revision] = entry = [0.0, now, now]
        entry[0] += 1
        entry[2] = now
        if entry[0] >= self.watchers:
            del self.pending[revision]
            self.conn.send(("change", revision, entry[1], entry[2]))


async def _follow(
    client: AsyncClient, spec: WorkerSpec, tally: _Tally, opened: asyncio.Semaphore
) -> None:
    request = pb.WatchStatusRequest(kinds=[pb.RESOURCE_KIND_PORT], resource_ids=[spec.port_id])
    call = client.stubs.watch.WatchStatus(request, metadata=client.metadata)
    synced = False
    try:
        async for response in call:
            now = time.monotonic()
            for event in response.events:
                if event.type == pb.EVENT_TYPE_MODIFIED:
                    tally.received(event.revision, now)
                elif event.type == pb.EVENT_TYPE_SYNCED and not synced:
                    synced = True
                    opened.release()
                    tally.synced += 1
                    if tally.synced == tally.watchers:
                        tally.all_synced.set()
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.CANCELLED:
            tally.errors.append(f"{exc.code().name}: {exc.details()}")
    finally:
        if not synced:
            opened.release()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _main(spec: WorkerSpec, conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_reader(conn.fileno(), stop.set)
    tally = _Tally(spec.watchers, conn)
    channels = [
        grpc.aio.insecure_channel(spec.address, options=CHANNEL_OPTIONS)
        for _ in range(max(1, -(-spec.watchers // spec.per_channel)))
    ]
    clients = [AsyncClient(spec.address, spec.tenant, admin=False, channel=c) for c in channels]
    # Open at most OPEN_CONCURRENCY streams at a time: each costs the server a snapshot read.
    opening = asyncio.Semaphore(OPEN_CONCURRENCY)
    tasks = []
    for i in range(spec.watchers):
        await opening.acquire()
        tasks.append(asyncio.create_task(_follow(clients[i % len(clients)], spec, tally, opening)))
    waiter = asyncio.create_task(tally.all_synced.wait())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([waiter, stopper], timeout=600, return_when=asyncio.FIRST_COMPLETED)
    # Keep this client's own garbage collector out of the measurement: with thousands of
    # open streams a full collection takes long enough to show up as server latency.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    conn.send(("ready", tally.synced, _cpu(), tally.errors[:5]))
    await stop.wait()
    loop.remove_reader(conn.fileno())
    conn.recv()  # the "stop"
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    conn.send(("cpu", _cpu(), tally.errors[:5]))
    for channel in channels:
        with contextlib.suppress(Exception):
            await channel.close()


def run(spec: WorkerSpec, conn: Connection) -> None:
    """Process entry point."""
    asyncio.run(_main(spec, conn))
