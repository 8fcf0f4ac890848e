"""Replicas share what must be shared: the compaction floor, the leadership, the reports.

In-process cores (real gRPC servers) on one PostgreSQL schema; docs/operations.md,
"Replicas".
"""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import make_url

from quantum_api.plugin.v1 import (
    resource_status_pb2 as rs,
    status_reporter_pb2,
    status_reporter_pb2_grpc,
)
from quantum_api.v1 import network_pb2, port_pb2, watch_service_pb2 as pb
from quantum_grpc.server import App
from tests.helpers import Api, eventually
from tests.helpers.watch import Follower
from tests.replicas.tcp import Relay

pytestmark = pytest.mark.postgres


async def _caught_up(app: App, head: int) -> None:
    await eventually(lambda: asyncio.sleep(0, app.hub.head), lambda seen: seen >= head)


async def _elected(app: App) -> App:
    """``app`` once it leads (the first replica of a schema does within one attempt)."""
    assert app.replica and app.replica.leadership
    await asyncio.wait_for(app.replica.leadership.elected.wait(), 10)
    return app


async def _resume_error(api: Api, revision: int) -> object:
    follower = Follower(api, pb.WatchStatusRequest(start_revision=revision)).start()
    try:
        await asyncio.wait_for(follower.ended.wait(), 10)
        return follower.error
    finally:
        await follower.cancel()


async def _resumes(api: Api, revision: int, upto: int) -> None:
    follower = Follower(api, pb.WatchStatusRequest(start_revision=revision)).start()
    try:
        await follower.until(lambda ev: bool(ev) and ev[-1].revision >= upto)
    finally:
        await follower.cancel()


async def test_compaction_on_one_replica_is_seen_by_every_replica(
    sim_factory, replica_factory, channel_factory
) -> None:
    sim = await sim_factory("sync")
    retention = {"event_retention": 3, "event_retention_seconds": 0}
    first = await replica_factory(sim.target, **retention)
    second = await replica_factory(sim.target, **retention)
    apis = [Api(channel_factory(app.address)) for app in (first, second)]
    net = await apis[0].create_network("n")
    ports = [await apis[1].create_port(net.id) for _ in range(5)]
    head = (await apis[0].get_port(ports[-1].id)).revision
    # Both rings now hold every event: only the shared floor can refuse an old resume.
    await asyncio.gather(_caught_up(first, head), _caught_up(second, head))

    floor = await first.hub.compact()
    assert net.revision < floor < head
    for api in apis:
        error = await _resume_error(api, net.revision)
        assert error is not None and error.reason == "REVISION_COMPACTED", error
        assert int(error.metadata["oldest_revision"]) == floor
        await _resumes(api, floor, head)

    # Compacting on the replica that does not lead moves the same floor.
    more = [await apis[0].create_port(net.id) for _ in range(4)]
    newest = (await apis[0].get_port(more[-1].id)).revision
    await asyncio.gather(_caught_up(first, newest), _caught_up(second, newest))
    raised = await second.hub.compact()
    assert raised > floor
    for api in apis:
        error = await _resume_error(api, floor)
        assert error is not None and error.reason == "REVISION_COMPACTED", error


def _report(port: port_pb2.Port, reason: str) -> status_reporter_pb2.ReportStatusRequest:
    status = rs.ResourceStatus(
        kind=rs.RESOURCE_KIND_PORT,
        resource_id=port.id,
        generation=port.generation,
        state=rs.OBSERVED_STATE_READY,
        link_status=port_pb2.LINK_STATUS_DOWN,
        link_status_reason=reason,
    )
    return status_reporter_pb2.ReportStatusRequest(backend="sim", statuses=[status])


async def test_reports_to_a_replica_that_does_not_lead_are_applied_and_watched(
    sim_factory, replica_factory, channel_factory
) -> None:
    sim = await sim_factory("sync")
    leader = await _elected(await replica_factory(sim.target))
    follower = await replica_factory(sim.target)
    assert follower.replica and follower.replica.leadership
    assert not follower.replica.leadership.leading
    on_leader = Api(channel_factory(leader.address))
    net = await on_leader.create_network("n")
    port = await on_leader.create_port(net.id)
    await on_leader.plug(port.id, "vif-1")
    port = await eventually(
        lambda: on_leader.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_ACTIVE
    )
    watcher = Follower(
        on_leader, pb.WatchStatusRequest(start_revision=port.revision, resource_ids=[port.id])
    ).start()
    async with grpc.aio.insecure_channel(follower.internal_address) as channel:
        stub = status_reporter_pb2_grpc.StatusReporterServiceStub(channel)
        answer = await stub.ReportStatus(_report(port, "carrier lost"))
    assert answer.applied == 1
    events = await watcher.until(
        lambda ev: any(e.resource.port.link_status_reason == "carrier lost" for e in ev)
    )
    assert events[-1].resource.port.status == port_pb2.PORT_STATUS_DOWN
    await watcher.cancel()


async def _health(address: str) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=1
        )
    return int(answer.status)


async def _until_health(address: str, status: int, timeout: float) -> None:
    await eventually(lambda: _health(address), lambda seen: seen == status, timeout=timeout)


async def test_a_replica_cut_from_the_database_is_not_serving_and_loses_the_leadership(
    relay: Relay, sim_factory, replica_factory, pg_url, channel_factory
) -> None:
    sim = await sim_factory("sync")
    url = make_url(pg_url)
    relayed = pg_url.replace(f":{url.port}/", f":{relay.port}/")
    cut = await _elected(await replica_factory(sim.target, url=relayed))
    other = await replica_factory(sim.target)
    assert cut.replica and cut.replica.leadership and other.replica
    assert other.replica.leadership and not other.replica.leadership.leading

    relay.cut()
    started = time.monotonic()
    await asyncio.wait_for(other.replica.leadership.elected.wait(), 5)
    takeover = time.monotonic() - started
    assert not cut.replica.leadership.leading
    await _until_health(cut.address, health_pb2.HealthCheckResponse.NOT_SERVING, 10)
    assert await _health(other.address) == health_pb2.HealthCheckResponse.SERVING
    # The new leader follows the back-end and dispatches: a new network gets AVAILABLE.
    api = Api(channel_factory(other.address))
    net = await api.create_network("after-the-cut")
    await eventually(
        lambda: api.get_network(net.id),
        lambda n: n.status == network_pb2.NETWORK_STATUS_AVAILABLE,
    )

    relay.restore()
    await _until_health(cut.address, health_pb2.HealthCheckResponse.SERVING, 15)
    assert not cut.replica.leadership.leading  # the lock stays where it went
    print(f"takeover after the leader's sessions were cut: {takeover:.2f}s")
