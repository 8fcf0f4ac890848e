"""Benchmark several core replicas on one PostgreSQL database.

    .venv/bin/python -m bench.replicas [--quick] [--pg-url URL]

Starts a sync sim back-end and up to three ``serve`` replicas (separate processes, a fresh
schema of the PostgreSQL server at ``--pg-url``, default ``$QUANTUM_TEST_PG_URL`` or
``postgresql://postgres@127.0.0.1:5432/test``; the schema is dropped afterwards) and
measures, printing one JSON document (nothing is asserted):

1. cross-replica notification latency: a port's link reported DOWN/UP through replica A's
   internal listener (as the back-end), timed until a watcher on replica B receives the
   event; the same with the watcher on A for comparison;
2. creates per second with 1, 2 and 3 replicas: ``clients`` clients spread round-robin
   over the replicas, each creating ports on its own network; with a sample, every 10 ms,
   of what the database sessions wait on (``pg_stat_activity.wait_event``): writers
   queued on the revision counter row show as ``Lock/transactionid`` or ``Lock/tuple``;
3. failover: SIGKILL the leader, time until another replica holds the advisory lock
   (``pg_locks``) and until a network created through a survivor is AVAILABLE.

See bench/README.md, "Replicas".
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg

from bench.stack import (
    BACKEND,
    Client,
    Stack,
    _spawn,
    _wait_port_file,
    _wait_serving,
    cpu_seconds,
    free_port,
)
from bench.stats import summary_ms
from quantum_api.v1 import network_pb2, port_pb2, watch_service_pb2 as pb
from quantum_grpc import children
from quantum_grpc.leader import LOCK_CLASS

PG_URL = os.environ.get("QUANTUM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Scale:
    latency_events: int = 1000
    clients: int = 12
    create_seconds: float = 10.0


FULL = Scale()
QUICK = Scale(latency_events=100, clients=6, create_seconds=3.0)


@dataclass
class Replica:
    process: Any
    address: str
    internal_address: str

    def stack(self, sim: Any, sim_address: str, workdir: Path, reports_to: str = "") -> Stack:
        """A bench Stack calling this replica, reporting to ``reports_to`` (default: it)."""
        return Stack(
            self.process,
            sim,
            self.address,
            sim_address,
            workdir,
            reports_to or self.internal_address,
        )


class Cluster:
    """A sim and replicas on one fresh schema."""

    def __init__(self, workdir: Path, pg_url: str) -> None:
        self.workdir = workdir
        self.schema = f"bench_{uuid.uuid4().hex[:10]}"
        self.admin_url = pg_url
        # The schema names the sessions too, so the wait sample counts only this run's.
        self.url = f"{pg_url}?application_name={self.schema}&options=-csearch_path%3D{self.schema}"
        self.replicas: list[Replica] = []
        self.sim: Any = None
        self.sim_address = ""

    async def start_sim(self) -> None:
        port_file = self.workdir / "sim.port"
        log = self.workdir / "sim.log"
        self.sim = _spawn(
            [
                "plugin",
                "sim",
                "--listen",
                "127.0.0.1:0",
                "--port-file",
                str(port_file),
                "--profile",
                "sync",
                "--reassert-interval",
                "0",
            ],
            log,
        )
        self.sim_address = f"127.0.0.1:{await _wait_port_file(port_file, self.sim, log)}"

    async def add(self) -> Replica:
        address, internal = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        log = self.workdir / f"replica-{len(self.replicas)}.log"
        process = _spawn(
            [
                "serve",
                "--listen",
                address,
                "--internal-listen",
                internal,
                "--database-url",
                self.url,
                "--backend",
                f"{BACKEND}={self.sim_address}",
                "--grace",
                "0",
            ],
            log,
        )
        await _wait_serving(address, process, log)
        replica = Replica(process, address, internal)
        self.replicas.append(replica)
        return replica

    def stack(self, replica: Replica, reports_to: Replica | None = None) -> Stack:
        target = "" if reports_to is None else reports_to.internal_address
        return replica.stack(self.sim, self.sim_address, self.workdir, target)

    async def leader_pid(self) -> int | None:
        """The database backend pid holding the leader's advisory lock, if any."""
        async with await psycopg.AsyncConnection.connect(self.admin_url, autocommit=True) as db:
            cursor = await db.execute(
                "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
                "AND l.classid = %s AND l.objid = hashtext(%s)::oid",
                (LOCK_CLASS, self.schema),
            )
            row = await cursor.fetchone()
        return None if row is None else int(row[0])

    async def close(self) -> None:
        for replica in self.replicas:
            if replica.process.poll() is None:
                await asyncio.to_thread(children.stop, replica.process)
        if self.sim is not None:
            await asyncio.to_thread(children.stop, self.sim)
        async with await psycopg.AsyncConnection.connect(self.admin_url, autocommit=True) as db:
            await db.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")


@contextlib.asynccontextmanager
async def cluster(workdir: Path, pg_url: str) -> AsyncIterator[Cluster]:
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    started = Cluster(workdir, pg_url)
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as db:
        await db.execute(f"CREATE SCHEMA {started.schema}")
    try:
        await started.start_sim()
        yield started
    finally:
        await started.close()


# -- 1. latency ----------------------------------------------------------------------------


async def latency(group: Cluster, writer: Replica, watcher: Replica, events: int) -> dict[str, Any]:
    """Report a link change through ``writer``; time until a watch on ``watcher`` has it."""
    async with Client(group.stack(watcher, reports_to=writer), "bench-latency") as client:
        network = await client.create_network("latency")
        await client.wait_for_status("network", network.id, "AVAILABLE", timeout=30)
        port = await client.active_port(network.id, f"vif-{uuid.uuid4().hex[:8]}")
        waiting: dict[int, asyncio.Future[float]] = {}
        request = pb.WatchStatusRequest(kinds=[pb.RESOURCE_KIND_PORT], resource_ids=[port.id])
        call = client.stubs.watch.WatchStatus(request, metadata=client.metadata)
        synced = asyncio.Event()

        async def read() -> None:
            async for response in call:
                now = time.monotonic()
                for event in response.events:
                    if event.type == pb.EVENT_TYPE_SYNCED:
                        synced.set()
                    future = waiting.get(event.resource.port.link_status)
                    if event.type == pb.EVENT_TYPE_MODIFIED and future and not future.done():
                        future.set_result(now)

        reader = asyncio.create_task(read())
        await asyncio.wait_for(synced.wait(), 30)
        samples: list[float] = []
        up = True
        for _ in range(events + 20):
            up = not up
            link = port_pb2.LINK_STATUS_UP if up else port_pb2.LINK_STATUS_DOWN
            waiting.clear()
            future = waiting[link] = asyncio.get_running_loop().create_future()
            start = time.monotonic()
            await client.report_link(port.id, port.generation, up)
            samples.append(await asyncio.wait_for(future, 10) - start)
        call.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    return summary_ms(samples[20:])


# -- 2. creates per second -----------------------------------------------------------------


async def _sample_waits(url: str, schema: str, stop: asyncio.Event) -> collections.Counter[str]:
    """What the bench schema's active sessions wait on, sampled every 10 ms."""
    seen: collections.Counter[str] = collections.Counter()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as db:
        while not stop.is_set():
            cursor = await db.execute(
                "SELECT coalesce(wait_event_type || '/' || wait_event, 'CPU'), count(*) "
                "FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
                "AND application_name = %s GROUP BY 1",
                (schema,),
            )
            for what, count in await cursor.fetchall():
                seen[str(what)] += int(count)
            seen["samples"] += 1
            await asyncio.sleep(0.01)
    return seen


async def creates(group: Cluster, clients: int, seconds: float) -> dict[str, Any]:
    """Creates/s with ``clients`` clients over every replica of ``group``."""
    stacks = [group.stack(group.replicas[i % len(group.replicas)]) for i in range(clients)]
    many = [Client(stack, "bench-creates") for stack in stacks]
    try:
        nets = [await c.create_network(f"c{i}") for i, c in enumerate(many)]
        for client, net in zip(many, nets, strict=True):
            await client.wait_for_status("network", net.id, "AVAILABLE", timeout=60)
        pids = [r.process.pid for r in group.replicas]
        cpu_before = [cpu_seconds(p) for p in pids]
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample_waits(group.admin_url, group.schema, stop))
        until = time.monotonic() + seconds
        latencies: list[float] = []

        async def loop(client: Client, network_id: str) -> int:
            done = 0
            while time.monotonic() < until:
                start = time.monotonic()
                port = await client.create_port(network_id)
                latencies.append(time.monotonic() - start)
                done += port.status == port_pb2.PORT_STATUS_DOWN
            return done

        started = time.monotonic()
        confirmed = await asyncio.gather(*(loop(c, n.id) for c, n in zip(many, nets, strict=True)))
        wall = time.monotonic() - started
        stop.set()
        waits = await sampler
    finally:
        for client in many:
            await client.close()
    samples = waits.pop("samples", 1)
    return {
        "replicas": len(group.replicas),
        "clients": clients,
        "creates": len(latencies),
        "per_second": round(len(latencies) / wall, 1),
        "confirmed_in_answer": sum(confirmed),
        "latency": summary_ms(latencies),
        "replica_cpu_share": [
            round((cpu_seconds(p) - b) / wall, 2) for p, b in zip(pids, cpu_before, strict=True)
        ],
        "db_sessions_by_wait": {k: round(v / samples, 2) for k, v in waits.most_common()},
    }


# -- 3. failover ---------------------------------------------------------------------------


async def failover(group: Cluster) -> dict[str, Any]:
    """SIGKILL the leader; time until another replica leads and a change is dispatched."""
    holder = await group.leader_pid()
    leader = None
    for replica in group.replicas:
        # The leader's lock session is the one whose client is that replica's process.
        if await _owns(group, replica, holder):
            leader = replica
    if leader is None:
        return {"error": "no leader found"}
    survivor = next(r for r in group.replicas if r is not leader)
    leader.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    await asyncio.to_thread(leader.process.wait)
    pid = await _new_leader(group, holder)
    locked = time.monotonic() - killed
    async with Client(group.stack(survivor), "bench-failover") as client:
        network = await client.create_network("after-failover")
        while network.status != network_pb2.NETWORK_STATUS_AVAILABLE:
            network = await client.get_network(network.id)
            await asyncio.sleep(0.01)
    dispatched = time.monotonic() - killed
    group.replicas.remove(leader)
    return {
        "new_leader_lock_s": round(locked, 3),
        "change_dispatched_s": round(dispatched, 3),
        "new_leader_backend_pid": pid,
    }


async def _new_leader(group: Cluster, old: int | None) -> int:
    """Poll pg_locks until a session other than ``old`` holds the leader's lock."""
    for _ in range(3000):  # 30 s
        pid = await group.leader_pid()
        if pid not in (None, old):
            return int(pid)  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
    raise RuntimeError("no new leader within 30 s")


async def _owns(group: Cluster, replica: Replica, backend_pid: int | None) -> bool:
    if backend_pid is None:
        return False
    async with await psycopg.AsyncConnection.connect(group.admin_url, autocommit=True) as db:
        cursor = await db.execute(
            "SELECT client_port FROM pg_stat_activity WHERE pid = %s", (backend_pid,)
        )
        row = await cursor.fetchone()
    if row is None or row[0] is None:
        return False
    return _local_port_of(replica.process.pid, int(row[0]))


def _local_port_of(pid: int, port: int) -> bool:
    """Whether process ``pid`` owns a TCP socket bound to local ``port`` (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                return True
    return False


async def run(scale: Scale, workdir: Path, pg_url: str) -> dict[str, Any]:
    results: dict[str, Any] = {
        "scale": scale.__dict__,
        "cpus": os.cpu_count(),
        "load_average_start": os.getloadavg(),
    }
    async with cluster(workdir, pg_url) as group:
        first = await group.add()
        results["creates"] = [await creates(group, scale.clients, scale.create_seconds)]
        second = await group.add()
        results["creates"].append(await creates(group, scale.clients, scale.create_seconds))
        await group.add()
        results["creates"].append(await creates(group, scale.clients, scale.create_seconds))
        results["latency_cross_replica"] = await latency(group, first, second, scale.latency_events)
        results["latency_same_replica"] = await latency(group, first, first, scale.latency_events)
        results["failover"] = await failover(group)
    results["load_average_end"] = os.getloadavg()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a scaled-down run")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--workdir", type=Path, default=Path("bench/out/replicas"))
    args = parser.parse_args()
    scale = QUICK if args.quick else FULL
    if args.clients:
        scale = replace(scale, clients=args.clients)
    print(json.dumps(asyncio.run(run(scale, args.workdir, args.pg_url)), indent=2))


if __name__ == "__main__":
    main()
