"""Watches stay exact across replicas: cut and resumed anywhere, a stream is the log.

Three real `serve` processes on one PostgreSQL schema; writers on each; watchers that are
cut at random moments and resume on a random replica from their last revision. Each
watcher's changes, concatenated over its resumes, must equal the event log for its filter.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

import grpc
import pytest

from quantum_api.errors import QuantumError
from quantum_api.v1 import watch_service_pb2 as pb
from tests.helpers import Api, eventually
from tests.helpers.watch import Follower, key, log_events
from tests.replicas.group import Group, Replica

pytestmark = pytest.mark.postgres
WRITE_FOR = 4.0  # seconds of writes without restarts
ENOUGH_WITHIN = 60.0  # the longest the writes go on for every watcher to have enough
TENANTS = ("tenant-a", "tenant-b")


async def _write(api: Api, network_id: str, stop: asyncio.Event) -> None:
    """Ports, plugs and deletes as one tenant, until ``stop``."""
    ports: list[str] = []
    while not stop.is_set():
        try:
            port = await api.create_port(network_id)
            ports.append(port.id)
            if len(ports) % 3 == 0:
                await api.plug(port.id, f"vif-{port.id[:8]}")
            if len(ports) % 4 == 0:
                await api.delete_port(ports.pop(0))
        except (QuantumError, grpc.aio.AioRpcError):  # refused, or the replica restarting
            await asyncio.sleep(0.05)


class _Watcher:
    """One logical watch of ``tenant``, served by whichever replica each time."""

    def __init__(self, tenant: str, request: pb.WatchStatusRequest, rng: random.Random) -> None:
        self.tenant = tenant
        self.request = request
        self.rng = rng
        self.revision = request.start_revision
        self.changes: list[pb.WatchEvent] = []
        self.resumes = 0
        self.unavailable = 0

    def _next(self) -> pb.WatchStatusRequest:
        request = pb.WatchStatusRequest()
        request.CopyFrom(self.request)
        request.start_revision = self.revision
        return request

    async def _session(self, replica: Replica, upto: int = 0) -> None:
        """Watch on ``replica`` for a random while, or until revision ``upto``."""
        follower = Follower(replica.api(self.tenant), self._next()).start()
        try:
            if upto:
                await follower.until(lambda ev: bool(ev) and ev[-1].revision >= upto, 20)
            else:
                await asyncio.sleep(self.rng.uniform(0.1, 0.8))
        finally:
            await follower.cancel()
        error = follower.error
        if error is not None and error.code != grpc.StatusCode.UNAVAILABLE:
            raise AssertionError(f"watch on {replica.name} ended with {error!r}")
        self.unavailable += error is not None  # a replica draining or down: resume elsewhere
        self.changes += follower.changes
        self.revision = max(self.revision, follower.last_revision)
        self.resumes += 1

    def enough(self) -> bool:
        """Cut and resumed, and seen changes, often enough to make the comparison count."""
        return self.resumes >= 3 and len(self.changes) >= 20

    async def run(self, replicas: list[Replica], stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._session(self.rng.choice(replicas))

    async def finish(self, replicas: list[Replica], head: int) -> None:
        await self._session(self.rng.choice(replicas), head)


def _expected(pg_url: str, tenant: str, start: int, ports_only: bool) -> list[tuple[int, str, str]]:
    return [
        (revision, kind, resource_id)
        for revision, owner, kind, resource_id, _event in log_events(pg_url)
        if revision > start and owner == tenant and (kind == "PORT" or not ports_only)
    ]


async def _exact_watches(
    group: Group, pg_url: str, disturb: Callable[[list[Replica]], Awaitable[None]]
) -> list[_Watcher]:
    """Writers and cut/resumed watchers on every replica while ``disturb`` runs; then every
    watcher's changes must be the log for its filter."""
    replicas = await group.start(3)
    start = (await replicas[0].api().create_network("before")).revision
    rng = random.Random(12)
    watchers = [
        _Watcher(tenant, pb.WatchStatusRequest(start_revision=start, kinds=kinds), rng)
        for tenant in TENANTS
        for kinds in ([], [pb.RESOURCE_KIND_PORT])
    ]
    stop = asyncio.Event()

    async def disturbed() -> None:
        await disturb(replicas)

        # However loaded the machine, write on until every watcher was cut and resumed, and
        # saw changes, often enough for the comparison to mean something (bounded).
        async def every_watcher_has_enough() -> bool:
            return all(w.enough() for w in watchers)

        with contextlib.suppress(AssertionError):  # the checks below say what is missing
            await eventually(every_watcher_has_enough, bool, timeout=ENOUGH_WITHIN, every=0.1)
        stop.set()

    apis = [replica.api(tenant) for replica in replicas for tenant in TENANTS]
    nets = [await api.create_network("w") for api in apis]
    writers = [_write(api, net.id, stop) for api, net in zip(apis, nets, strict=True)]
    await asyncio.gather(*writers, *(w.run(replicas, stop) for w in watchers), disturbed())

    # A last port per tenant: every watcher's filter matches it, so each knows it is done.
    last = {}
    for tenant in TENANTS:
        api = replicas[0].api(tenant)
        last[tenant] = (await api.create_port((await api.create_network("last")).id)).revision
    await asyncio.gather(*(w.finish(replicas, last[w.tenant]) for w in watchers))
    for watcher in watchers:
        ports_only = bool(watcher.request.kinds)
        assert [key(e) for e in watcher.changes] == _expected(
            pg_url, watcher.tenant, start, ports_only
        ), f"{watcher.tenant} {'ports' if ports_only else 'all'} after {watcher.resumes} resumes"
        assert watcher.enough(), f"{watcher.resumes} resumes, {len(watcher.changes)} changes"
    return watchers


async def _wait(_replicas: list[Replica]) -> None:
    await asyncio.sleep(WRITE_FOR)


async def test_watchers_resumed_on_random_replicas_see_exactly_the_log(
    group: Group, pg_url: str
) -> None:
    await _exact_watches(group, pg_url, _wait)


async def test_a_rolling_restart_loses_no_event_and_needs_no_new_snapshot(
    group: Group, pg_url: str
) -> None:
    """Every replica restarted in turn (SIGTERM, drain, start) while watched and written
    to: watchers resume from their last revision (a snapshot would fail the comparison)."""

    async def roll(replicas: list[Replica]) -> None:
        for replica in replicas:
            await asyncio.sleep(1.0)
            await group.restart(replica)
        await asyncio.sleep(1.0)

    watchers = await _exact_watches(group, pg_url, roll)
    assert sum(w.unavailable for w in watchers) >= 1  # some stream was really ended by a drain
