"""The leader dies; another replica takes over, and nothing is dispatched twice or lost.

Real `serve` processes on one PostgreSQL schema, a sim back-end in the test process so the
test can see what reached it (docs/operations.md, "Replicas").
"""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from quantum_api.errors import QuantumError
from quantum_api.v1 import port_pb2
from quantum_plugins.sim.backend import SimBackend
from tests.helpers import eventually
from tests.helpers.database import query
from tests.replicas.group import Group, Replica

pytestmark = pytest.mark.postgres
TAKEOVER = 5.0  # the documented figure


async def _held(backend: SimBackend) -> set[str]:
    """The resources a sim back-end holds (its ListStatus)."""
    return {s.resource_id for s in (await backend.ListStatus(None, None)).statuses}


async def _writer(replica: Replica, network_id: str, acked: list[str], stop: asyncio.Event) -> None:
    """Create ports through ``replica`` until told to stop or the replica is gone."""
    api = replica.api()
    while not stop.is_set():
        try:
            port = await asyncio.wait_for(api.create_port(network_id), 10)
        except (QuantumError, grpc.aio.AioRpcError, TimeoutError):
            if replica.process.poll() is not None:
                return
            await asyncio.sleep(0.05)
            continue
        acked.append(port.id)


async def test_sigkilled_leader_is_replaced_and_every_change_is_applied_once(
    group: Group, pg_url: str
) -> None:
    replicas = await group.start(3)
    leader = await group.leader()
    api = replicas[0].api()
    nets = [await api.create_network(f"n{i}") for i in range(3)]
    acked: list[str] = []
    stop = asyncio.Event()
    writers = [
        asyncio.create_task(_writer(r, n.id, acked, stop))
        for r, n in zip(replicas, nets, strict=True)
    ]
    try:
        await eventually(lambda: asyncio.sleep(0, len(acked)), lambda n: n >= 15)
        leader.kill()
        killed = time.monotonic()
        survivors = [r for r in replicas if r is not leader]
        successor = await group.leader(survivors, timeout=TAKEOVER)
        takeover = time.monotonic() - killed
        before = len(acked)
        await eventually(lambda: asyncio.sleep(0, len(acked)), lambda n: n >= before + 15)
    finally:
        stop.set()
        await asyncio.gather(*writers)
    assert takeover <= TAKEOVER

    # Everything committed is dispatched, by whichever leader, and settles.
    await eventually(
        lambda: asyncio.sleep(0, query(pg_url, "select count(*) from outbox")),
        lambda rows: rows == [(0,)],
        timeout=20,
    )
    committed = {row[0] for row in query(pg_url, "select id from ports")}
    assert set(acked) <= committed
    stuck = query(pg_url, "select id from ports where status = 'PROVISIONING'")
    assert stuck == []
    sim = group.sim.backend
    assert committed <= await _held(sim)
    # One operation per change, applied once: the back-end saw as many operation ids as it
    # applied changes, and as many as the core recorded (networks + ports).
    assert sim.applied_changes == len(sim._operations) == len(committed) + len(nets)
    print(f"new leader {successor.name} {takeover:.2f}s after SIGKILL of {leader.name}")


async def test_backend_lost_while_the_leader_changes_is_marked_down_then_back(
    group: Group, sim_factory
) -> None:
    replicas = await group.start(2)
    leader = await group.leader()
    other = next(r for r in replicas if r is not leader)
    api = other.api()
    net = await api.create_network("n")
    port = await api.create_port(net.id)
    await api.plug(port.id, "vif-1")
    await eventually(
        lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_ACTIVE
    )

    sim = group.sim
    await sim.backend.stop(0)
    leader.kill()
    await group.leader([other], timeout=TAKEOVER)
    down = await eventually(
        lambda: api.get_port(port.id),
        lambda p: p.link_status_reason == "backend unavailable",
    )
    assert down.status == port_pb2.PORT_STATUS_DOWN

    # The back-end returns empty on its address: the new leader resyncs it.
    fresh = await sim_factory("sync", listen=f"127.0.0.1:{sim.port}")
    back = await eventually(
        lambda: api.get_port(port.id),
        lambda p: p.status == port_pb2.PORT_STATUS_ACTIVE,
        timeout=20,
    )
    assert back.link_status_reason == ""
    assert port.id in await _held(fresh.backend)
