"""Observed generation: a client that changes a port without waiting can see when the
back-end applied it (docs/status-model.md, "Generations")."""

from __future__ import annotations

import grpc

from quantum_api.plugin.v1 import (
    resource_status_pb2 as rs,
    status_reporter_pb2 as sr,
    status_reporter_pb2_grpc,
)
from quantum_api.v1 import network_pb2, port_pb2, watch_service_pb2 as pb
from quantum_client import AsyncClient
from tests.clients.test_cli import quantum
from tests.helpers import Api, rpc_error
from tests.helpers.watch import Follower, watch_stub

ACTIVE = port_pb2.PORT_STATUS_ACTIVE
APPLIED = pb.WAIT_CONDITION_APPLIED


def _wait_applied(kind: int, resource_id: str, **statuses: list[int]) -> pb.WaitForStatusRequest:
    return pb.WaitForStatusRequest(
        kind=kind,  # type: ignore[arg-type]
        resource_id=resource_id,
        condition=APPLIED,
        **statuses,  # type: ignore[arg-type]
    )


async def _active_port(api: Api) -> port_pb2.Port:
    """A plugged port, ACTIVE with its latest change applied."""
    net = await api.create_network("n")
    port = await api.create_port(net.id)
    await api.plug(port.id, "vif-1")
    answer = await watch_stub(api).WaitForStatus(
        _wait_applied(pb.RESOURCE_KIND_PORT, port.id, port_statuses=[ACTIVE]),
        metadata=api.md,
        timeout=10,
    )
    return answer.resource.port


async def test_a_qos_change_is_behind_until_the_backend_applies_it(stack_factory) -> None:
    api = (await stack_factory("async", step_delay=0.02)).api
    before = await _active_port(api)
    assert before.observed_generation == before.generation == 2  # create, plug

    follower = Follower(
        api,
        pb.WatchStatusRequest(resource_ids=[before.id], start_revision=before.revision),
    ).start()
    try:
        changed = await api.update_port(before.id, qos=port_pb2.QosPolicy(rate_kbps=1000))
        assert changed.generation == 3
        events = await follower.until(
            lambda seen: any(e.resource.port.observed_generation == 3 for e in seen)
        )
    finally:
        await follower.cancel()
    snapshots = [e.resource.port for e in events if e.resource.HasField("port")]
    # The change itself: desired state at generation 3, the back-end still at 2.
    assert (snapshots[0].generation, snapshots[0].observed_generation) == (3, 2)
    # Its confirmation changes nothing but observed_generation, and is an event all the same.
    assert (snapshots[-1].generation, snapshots[-1].observed_generation) == (3, 3)
    assert all(s.status == ACTIVE for s in snapshots)
    assert (await api.get_port(before.id)).observed_generation == 3


async def test_wait_for_applied_returns_once_applied_and_honours_its_deadline(
    stack_factory,
) -> None:
    # "mixed": networks and port creates are synchronous, a port's admin state and QoS go
    # through an agent that takes step_delay.
    api = (await stack_factory("mixed", step_delay=2.0)).api
    net = await api.create_network("n")
    assert net.observed_generation == net.generation == 1
    answer = await watch_stub(api).WaitForStatus(
        _wait_applied(pb.RESOURCE_KIND_NETWORK, net.id), metadata=api.md, timeout=5
    )
    assert answer.resource.network.status == network_pb2.NETWORK_STATUS_AVAILABLE
    port = await api.create_port(net.id)

    changed = await api.update_port(port.id, admin_state_up=False)
    assert changed.observed_generation < changed.generation
    error = await rpc_error(
        watch_stub(api).WaitForStatus(
            _wait_applied(pb.RESOURCE_KIND_PORT, port.id), metadata=api.md, timeout=0.2
        )
    )
    assert error.code == grpc.StatusCode.DEADLINE_EXCEEDED

    answer = await watch_stub(api).WaitForStatus(
        _wait_applied(pb.RESOURCE_KIND_PORT, port.id), metadata=api.md, timeout=10
    )
    applied = answer.resource.port
    assert applied.observed_generation == applied.generation == changed.generation
    assert applied.status == port_pb2.PORT_STATUS_DOWN
    assert not applied.admin_state_up


async def test_wait_for_applied_fails_when_the_change_fails(stack_factory) -> None:
    api = (await stack_factory("faulty", failure_rate=1.0, step_delay=0.02)).api
    net = await api.create_network("n")
    error = await rpc_error(
        watch_stub(api).WaitForStatus(
            _wait_applied(pb.RESOURCE_KIND_NETWORK, net.id), metadata=api.md, timeout=10
        )
    )
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "RESOURCE_FAILED"
    failed = await api.get_network(net.id)
    assert failed.observed_generation == failed.generation  # failed, but confirmed


async def test_applied_is_refused_for_attachments(stack_factory) -> None:
    api = (await stack_factory("sync")).api
    port = await _active_port(api)
    error = await rpc_error(
        watch_stub(api).WaitForStatus(
            _wait_applied(pb.RESOURCE_KIND_ATTACHMENT, port.id), metadata=api.md, timeout=5
        )
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.field == "condition"


async def test_a_stale_report_never_moves_observed_generation_backwards(
    stack_factory, channel_factory
) -> None:
    stack = await stack_factory("sync")
    api = stack.api
    port = await _active_port(api)
    changed = await api.update_port(port.id, qos=port_pb2.QosPolicy(rate_kbps=500))
    assert changed.observed_generation == changed.generation == 3
    reporter = status_reporter_pb2_grpc.StatusReporterServiceStub(
        channel_factory(stack.app.internal_address)
    )
    late = rs.ResourceStatus(
        kind=rs.RESOURCE_KIND_PORT,
        resource_id=port.id,
        generation=2,
        state=rs.OBSERVED_STATE_READY,
        link_status=port_pb2.LINK_STATUS_UP,
    )
    answer = await reporter.ReportStatus(
        sr.ReportStatusRequest(backend=stack.sim.backend.name, statuses=[late])
    )
    assert answer.ignored == 1
    after = await api.get_port(port.id)
    assert (after.generation, after.observed_generation) == (3, 3)
    assert after.revision == changed.revision


async def test_sdk_wait_for_applied(stack_factory) -> None:
    stack = await stack_factory("async", step_delay=0.02)
    port = await _active_port(stack.api)
    async with AsyncClient(stack.app.address, "tenant-a") as client:
        changed = await client.update_port(port.id, admin_state_up=False)
        applied = await client.wait_for(changed, "applied", timeout=10)
        assert applied.observed_generation == applied.generation == changed.generation
        served = await client.wait_for_status("port", port.id, ["DOWN", "APPLIED"], timeout=10)
        assert served.observed_generation == served.generation


async def test_cli_wait_for_applied_exits_0(stack_factory) -> None:
    stack = await stack_factory("async", step_delay=0.02)
    port = await _active_port(stack.api)
    await stack.api.update_port(port.id, qos=port_pb2.QosPolicy(rate_kbps=2000))
    done = await quantum(
        "wait", port.id, "--for", "applied", "--timeout", "20", address=stack.app.address
    )
    assert done.returncode == 0, done.stderr
    assert "generation 3 applied" in done.stdout
    assert (await stack.api.get_port(port.id)).observed_generation == 3
