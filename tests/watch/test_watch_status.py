"""WatchStatus: initial state, live changes, filters, tenancy, resume and compaction."""

from __future__ import annotations

import asyncio

import grpc

from quantum_api.v1 import port_pb2, watch_service_pb2 as pb
from tests.helpers import rpc_error
from tests.helpers.watch import Follower, key, log_events


def _types(events: list[pb.WatchEvent]) -> list[int]:
    return [e.type for e in events]


async def test_initial_state_then_synced_then_live_changes(stack_factory) -> None:
    stack = await stack_factory("sync")
    api = stack.api
    net = await api.create_network("n")
    port = await api.create_port(net.id)

    follower = Follower(api, pb.WatchStatusRequest()).start()
    events = await follower.until(lambda ev: pb.EVENT_TYPE_SYNCED in _types(ev))
    initial = events[: _types(events).index(pb.EVENT_TYPE_SYNCED)]
    assert {e.type for e in initial} == {pb.EVENT_TYPE_ADDED}
    assert {e.resource.network.id or e.resource.port.id for e in initial} == {net.id, port.id}
    synced = events[len(initial)]
    assert synced.revision == (await api.get_port(port.id)).revision

    plugged = await api.plug(port.id, "vif-1")
    events = await follower.until(
        lambda ev: any(e.resource.port.status == port_pb2.PORT_STATUS_ACTIVE for e in ev)
    )
    live = events[len(initial) + 1 :]
    assert [e.revision for e in live] == sorted(e.revision for e in live)
    assert all(e.revision > synced.revision for e in live)
    assert live[-1].revision == plugged.port.revision
    # What the stream said is what the log holds, event for event.
    logged = [(row[0], row[2], row[3]) for row in log_events(stack.app.core.settings.database_url)]
    assert [key(e) for e in live] == [r for r in logged if r[0] > synced.revision]
    await follower.cancel()


async def test_another_tenants_events_never_arrive(stack_factory) -> None:
    stack = await stack_factory("sync")
    alice, bob = stack.api, stack.api.as_tenant("bob")
    watching = Follower(alice, pb.WatchStatusRequest()).start()
    await watching.until(lambda ev: pb.EVENT_TYPE_SYNCED in _types(ev))
    await bob.create_network("bobs")
    mine = await alice.create_network("alices")
    events = await watching.until(lambda ev: any(e.resource.network.id == mine.id for e in ev))
    assert all(e.resource.network.tenant_id in ("", "tenant-a") for e in events)
    assert all(e.resource.port.tenant_id in ("", "tenant-a") for e in events)
    # An administrator sees both.
    admin = Follower(alice.as_tenant("ops", admin=True), pb.WatchStatusRequest()).start()
    events = await admin.until(lambda ev: pb.EVENT_TYPE_SYNCED in _types(ev))
    assert {e.resource.network.tenant_id for e in events if e.resource.network.id} == {
        "tenant-a",
        "bob",
    }
    await watching.cancel()
    await admin.cancel()


async def test_filters_return_exactly_what_they_name(stack_factory) -> None:
    stack = await stack_factory("sync")
    api = stack.api
    a, b = await api.create_network("a"), await api.create_network("b")
    port_a, port_b = await api.create_port(a.id), await api.create_port(b.id)
    requests = {
        "kind": pb.WatchStatusRequest(kinds=[pb.RESOURCE_KIND_PORT]),
        "id": pb.WatchStatusRequest(resource_ids=[port_a.id]),
        "network": pb.WatchStatusRequest(network_id=b.id),
        "status": pb.WatchStatusRequest(
            port_statuses=[port_pb2.PORT_STATUS_ACTIVE], kinds=[pb.RESOURCE_KIND_PORT]
        ),
    }
    followers = {name: Follower(api, request).start() for name, request in requests.items()}
    for follower in followers.values():
        await follower.until(lambda ev: pb.EVENT_TYPE_SYNCED in _types(ev))
    await api.plug(port_a.id, "vif-a")
    await api.plug(port_b.id, "vif-b")
    last = (await api.get_port(port_b.id)).revision
    for follower in followers.values():
        await follower.until(
            lambda ev: pb.EVENT_TYPE_PROGRESS in _types(ev) or ev[-1].revision >= last, timeout=8
        )

    def ids(name: str) -> set[str]:
        return {
            getattr(e.resource, e.resource.WhichOneof("kind")).id for e in followers[name].changes
        }

    assert ids("kind") == {port_a.id, port_b.id}
    attachment_a = (await api.get_attachment(port_a.id)).id
    assert ids("id") == {port_a.id, attachment_a}  # an attachment matches its port's id
    attachment_b = (await api.get_attachment(port_b.id)).id
    assert ids("network") == {b.id, port_b.id, attachment_b}
    assert ids("status") == {port_a.id, port_b.id}
    assert all(
        e.resource.port.status == port_pb2.PORT_STATUS_ACTIVE for e in followers["status"].changes
    )
    for follower in followers.values():
        await follower.cancel()


async def test_resume_sends_exactly_the_events_after_the_revision(stack_factory) -> None:
    stack = await stack_factory("sync")
    api = stack.api
    net = await api.create_network("n")
    ports = [await api.create_port(net.id) for _ in range(3)]
    middle = ports[0].revision
    for port in ports:
        await api.plug(port.id, f"vif-{port.id[:8]}")
    head = (await api.get_port(ports[-1].id)).revision

    follower = Follower(api, pb.WatchStatusRequest(start_revision=middle)).start()
    events = await follower.until(lambda ev: ev and ev[-1].revision >= head)
    logged = [
        (r[0], r[2], r[3])
        for r in log_events(stack.app.core.settings.database_url)
        if r[0] > middle
    ]
    assert [key(e) for e in events] == logged
    await follower.cancel()


async def test_compacted_revision_is_out_of_range_with_the_oldest_revision(stack_factory) -> None:
    stack = await stack_factory("sync", core={"event_retention": 3, "event_retention_seconds": 0})
    api = stack.api
    net = await api.create_network("n")
    for _ in range(5):
        await api.create_port(net.id)
    floor = await stack.app.hub.compact()
    assert floor > net.revision

    follower = Follower(api, pb.WatchStatusRequest(start_revision=net.revision)).start()
    await follower.ended.wait()
    assert follower.error is not None
    assert follower.error.code == grpc.StatusCode.OUT_OF_RANGE
    assert follower.error.reason == "REVISION_COMPACTED"
    assert int(follower.error.metadata["oldest_revision"]) == floor

    # The client re-lists (a watch without start_revision) and continues from its marker.
    relist = Follower(api, pb.WatchStatusRequest()).start()
    events = await relist.until(lambda ev: pb.EVENT_TYPE_SYNCED in _types(ev))
    assert len([e for e in events if e.resource.port.id]) == 5
    synced = events[-1].revision
    await relist.cancel()
    resumed = Follower(api, pb.WatchStatusRequest(start_revision=synced)).start()
    added = await api.create_port(net.id)
    events = await resumed.until(lambda ev: any(e.resource.port.id == added.id for e in ev))
    ports_seen = [e for e in events if e.resource.port.id]
    assert {e.resource.port.id for e in ports_seen} == {added.id}
    assert ports_seen[0].type == pb.EVENT_TYPE_ADDED
    await resumed.cancel()


async def test_bad_watch_requests_are_refused(stack_factory) -> None:
    from tests.helpers.watch import watch_stub

    stack = await stack_factory("sync")
    api = stack.api
    stub = watch_stub(api)

    async def first(request: pb.WatchStatusRequest) -> object:
        call = stub.WatchStatus(request, metadata=api.md)
        return await call.read()

    cases = {
        "resource_ids": pb.WatchStatusRequest(resource_ids=["nope"]),
        "kinds": pb.WatchStatusRequest(kinds=[42]),  # type: ignore[list-item]
        "port_statuses": pb.WatchStatusRequest(port_statuses=[0]),  # type: ignore[list-item]
        "start_revision": pb.WatchStatusRequest(start_revision=-1),
    }
    for field, request in cases.items():
        error = await rpc_error(first(request))
        assert (error.code, error.field) == (grpc.StatusCode.INVALID_ARGUMENT, field)


async def test_a_revision_from_the_future_is_out_of_range(stack_factory) -> None:
    stack = await stack_factory("sync")
    api = stack.api
    net = await api.create_network("n")
    # The revision a change returned is always resumable at once, even before the hub
    # has read it.
    at_once = Follower(api, pb.WatchStatusRequest(start_revision=net.revision)).start()
    await at_once.until(lambda ev: True, timeout=2)
    await asyncio.sleep(0.2)
    assert at_once.error is None
    await at_once.cancel()
    ahead = Follower(api, pb.WatchStatusRequest(start_revision=net.revision + 1000)).start()
    await ahead.ended.wait()
    assert ahead.error is not None
    assert (ahead.error.code, ahead.error.reason) == (
        grpc.StatusCode.OUT_OF_RANGE,
        "REVISION_AHEAD",
    )
    assert int(ahead.error.metadata["head_revision"]) == net.revision
