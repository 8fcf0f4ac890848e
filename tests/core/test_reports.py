"""Back-end reports: ownership, generations, re-assertions (docs/status-model.md, "Generations")."""

from __future__ import annotations

import grpc

from quantum_api.plugin.v1 import (
    resource_status_pb2 as rs,
    status_reporter_pb2 as sr,
    status_reporter_pb2_grpc,
)
from quantum_api.v1 import network_service_pb2 as net_pb, port_pb2
from tests.conftest import Sim
from tests.helpers import Api, eventually, rpc_error
from tests.helpers.database import query


def _port_report(
    port_id: str, generation: int, link: int = port_pb2.LINK_STATUS_UP
) -> rs.ResourceStatus:
    return rs.ResourceStatus(
        kind=rs.RESOURCE_KIND_PORT,
        resource_id=port_id,
        generation=generation,
        state=rs.OBSERVED_STATE_READY,
        link_status=link,
    )


async def _two_backends(
    sim_factory, core_factory, channel_factory
) -> tuple[Api, Sim, status_reporter_pb2_grpc.StatusReporterServiceStub]:
    first = await sim_factory("sync", name="sim-a")
    second = await sim_factory("sync", name="sim-b")
    app = await core_factory(first.target, second.target)
    for name in ("sim-a", "sim-b"):
        link = app.links.get(name)
        assert link is not None
        await link.ready.wait()
    reporter = status_reporter_pb2_grpc.StatusReporterServiceStub(
        channel_factory(app.internal_address)
    )
    return Api(channel_factory(app.address)), first, reporter


async def test_reports_only_count_from_the_owner_and_for_the_current_generation(
    sim_factory, core_factory, channel_factory
) -> None:
    api, _owner, reporter = await _two_backends(sim_factory, core_factory, channel_factory)
    net = await api.create_network("n")
    assert net.backend == "sim-a"  # new networks go to the first back-end
    port = await api.create_port(net.id)
    active = (await api.plug(port.id, "vif-1")).port
    assert active.status == port_pb2.PORT_STATUS_ACTIVE
    generation = 2  # create, then plug

    # Another back-end cannot touch it: the whole report is refused, nothing applied.
    error = await rpc_error(
        reporter.ReportStatus(
            sr.ReportStatusRequest(
                backend="sim-b",
                statuses=[_port_report(port.id, generation, port_pb2.LINK_STATUS_DOWN)],
            )
        )
    )
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert error.reason == "BACKEND_NOT_OWNER" and error.field == "statuses[0].resource_id"
    assert (await api.get_port(port.id)).revision == active.revision

    # A re-assertion of what the core already shows changes nothing, not even the revision.
    answer = await reporter.ReportStatus(
        sr.ReportStatusRequest(backend="sim-a", statuses=[_port_report(port.id, generation)])
    )
    assert (answer.applied, answer.ignored) == (0, 1)
    assert (await api.get_port(port.id)).revision == active.revision

    # Admin down: a late "link UP" for the old generation is stale, and even one for the
    # current generation never makes an admin-down port ACTIVE.
    down = await api.update_port(port.id, admin_state_up=False)
    assert down.status == port_pb2.PORT_STATUS_DOWN
    answer = await reporter.ReportStatus(
        sr.ReportStatusRequest(backend="sim-a", statuses=[_port_report(port.id, generation)])
    )
    assert answer.ignored == 1
    await reporter.ReportStatus(
        sr.ReportStatusRequest(backend="sim-a", statuses=[_port_report(port.id, generation + 1)])
    )
    assert (await api.get_port(port.id)).status == port_pb2.PORT_STATUS_DOWN

    # A generation the core never issued is impossible.
    answer = await reporter.ReportStatus(
        sr.ReportStatusRequest(backend="sim-a", statuses=[_port_report(port.id, 99)])
    )
    assert answer.rejected == 1

    # A link drop reported by the owner is status: DOWN with its reason, then back.
    up = await api.update_port(port.id, admin_state_up=True)
    await eventually(lambda: api.get_port(up.id), lambda p: p.status == port_pb2.PORT_STATUS_ACTIVE)
    drop = _port_report(port.id, generation + 2, port_pb2.LINK_STATUS_DOWN)
    drop.link_status_reason = "interface down"
    answer = await reporter.ReportStatus(sr.ReportStatusRequest(backend="sim-a", statuses=[drop]))
    assert answer.applied == 1
    dropped = await api.get_port(port.id)
    assert (
        dropped.status == port_pb2.PORT_STATUS_DOWN
        and dropped.link_status_reason == "interface down"
    )


async def test_reports_from_an_unknown_backend_are_refused(
    sim_factory, core_factory, channel_factory
) -> None:
    _api, _owner, reporter = await _two_backends(sim_factory, core_factory, channel_factory)
    error = await rpc_error(reporter.ReportStatus(sr.ReportStatusRequest(backend="ghost")))
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert error.reason == "BACKEND_NOT_OWNER" and error.field == "backend"


async def test_error_is_left_only_by_a_new_change(stack_factory, channel_factory) -> None:
    from quantum_api.v1 import network_pb2

    stack = await stack_factory("faulty", failure_rate=1.0, step_delay=0.01)
    api = stack.api
    reporter = status_reporter_pb2_grpc.StatusReporterServiceStub(
        channel_factory(stack.app.internal_address)
    )
    net = await api.create_network("n")
    failed = await eventually(
        lambda: api.get_network(net.id), lambda n: n.status == network_pb2.NETWORK_STATUS_ERROR
    )
    port = await api.create_port(net.id)
    failed_port = await eventually(
        lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_ERROR
    )

    # "Done" for the generation that failed is an impossible report: refused, nothing moves.
    late = [
        rs.ResourceStatus(
            kind=rs.RESOURCE_KIND_NETWORK,
            resource_id=net.id,
            generation=1,
            state=rs.OBSERVED_STATE_READY,
        ),
        _port_report(port.id, 1),
    ]
    answer = await reporter.ReportStatus(sr.ReportStatusRequest(backend="sim", statuses=late))
    assert (answer.applied, answer.rejected) == (0, 2)
    assert (await api.get_network(net.id)).revision == failed.revision
    assert (await api.get_port(port.id)).revision == failed_port.revision

    # A new change leaves ERROR (the back-end then reports on the new generation). The
    # faulty sim fails the new change too, maybe before the answer is read back, so the
    # change's own event in the log is what shows it.
    await api.networks.UpdateNetwork(
        net_pb.UpdateNetworkRequest(network_id=net.id, name="again"), metadata=api.md
    )
    [(snapshot,)] = query(
        stack.app.core.settings.database_url,
        "select snapshot from events where resource_id = :id and revision > :after"
        " order by revision limit 1",
        {"id": net.id, "after": failed.revision},
    )
    renamed = network_pb2.Network.FromString(bytes(snapshot))
    assert renamed.name == "again"
    assert renamed.status == network_pb2.NETWORK_STATUS_PROVISIONING
    assert not renamed.HasField("error")


async def test_a_change_to_the_port_retries_a_failed_plug(stack_factory, channel_factory) -> None:
    from quantum_api.v1 import attachment_pb2

    stack = await stack_factory("faulty", failure_rate=1.0, step_delay=0.01)
    api = stack.api
    reporter = status_reporter_pb2_grpc.StatusReporterServiceStub(
        channel_factory(stack.app.internal_address)
    )
    net = await api.create_network("n")
    port = await api.create_port(net.id)
    await api.plug(port.id, "vif-1")
    failed = await eventually(
        lambda: api.get_attachment(port.id),
        lambda a: a.status == attachment_pb2.ATTACHMENT_STATUS_ERROR,
    )
    assert failed.error.code == "SIM_INJECTED_FAULT"

    await stack.sim.backend.stop(0)  # from here on, this test is the back-end
    updated = await api.update_port(
        port.id, admin_state_up=True, qos=port_pb2.QosPolicy(rate_kbps=100)
    )
    retried = await api.get_attachment(port.id)
    assert retried.status == attachment_pb2.ATTACHMENT_STATUS_PROVISIONING and not retried.HasField(
        "error"
    )
    generation = 3  # create, plug, update
    answer = await reporter.ReportStatus(
        sr.ReportStatusRequest(backend="sim", statuses=[_port_report(port.id, generation)])
    )
    assert answer.applied == 1, "the confirmation of the new change must not be refused"
    assert (await api.get_attachment(port.id)).status == attachment_pb2.ATTACHMENT_STATUS_AVAILABLE
    assert (await api.get_port(port.id)).revision > updated.revision
