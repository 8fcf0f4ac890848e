"""The whole life of a network, a port and an attachment on every sim profile.

One scenario, four profiles: what differs is only whether the answer is already in the
response (synchronous changes) or arrives later (asynchronous ones).
"""

from __future__ import annotations

import pytest

from quantum_api.v1 import (
    attachment_pb2,
    network_pb2,
    network_service_pb2 as net_pb,
    port_pb2,
    port_service_pb2 as port_pb,
)
from tests.helpers import eventually

AVAILABLE = network_pb2.NETWORK_STATUS_AVAILABLE
PROVISIONING = network_pb2.NETWORK_STATUS_PROVISIONING
ACTIVE = port_pb2.PORT_STATUS_ACTIVE
DOWN = port_pb2.PORT_STATUS_DOWN

# profile -> (network create answered at once, plug answered at once)
PROFILES = {"sync": (True, True), "async": (False, False), "mixed": (True, False)}


@pytest.mark.parametrize("profile", list(PROFILES))
async def test_create_plug_unplug_delete(stack_factory, profile: str) -> None:
    net_sync, plug_sync = PROFILES[profile]
    stack = await stack_factory(profile, step_delay=0.05)
    api, sim = stack.api, stack.sim.backend

    # Held: an asynchronous answer cannot overtake a reply, however loaded the machine.
    sim.hold()
    net = await api.create_network("blue")
    assert net.status == (AVAILABLE if net_sync else PROVISIONING)
    assert net.revision > 0 and net.tenant_id == "tenant-a" and net.backend == "sim"
    sim.release()
    net = await eventually(lambda: api.get_network(net.id), lambda n: n.status == AVAILABLE)
    assert not net.HasField("error")

    port = await api.create_port(net.id)
    port = await eventually(lambda: api.get_port(port.id), lambda p: p.status == DOWN)
    assert port.link_status == port_pb2.LINK_STATUS_DOWN
    assert port.link_status_reason == "no attachment"
    assert port.admin_state_up is True

    sim.hold()
    plugged = await api.plug(port.id, "vif-1")
    assert plugged.attachment.interface_id == "vif-1"
    assert plugged.port.interface_id == "vif-1"
    if plug_sync:
        assert plugged.port.status == ACTIVE
        assert plugged.attachment.status == attachment_pb2.ATTACHMENT_STATUS_AVAILABLE
    else:
        assert plugged.port.status == DOWN
        assert plugged.attachment.status == attachment_pb2.ATTACHMENT_STATUS_PROVISIONING
    sim.release()
    port = await eventually(lambda: api.get_port(port.id), lambda p: p.status == ACTIVE)
    assert port.link_status == port_pb2.LINK_STATUS_UP and port.link_status_reason == ""
    attachment = await api.get_attachment(port.id)
    assert attachment.status == attachment_pb2.ATTACHMENT_STATUS_AVAILABLE

    # Admin down is DOWN at once, whatever the back-end still says.
    down = await api.update_port(port.id, admin_state_up=False)
    assert down.status == DOWN and down.revision > port.revision
    up = await api.update_port(port.id, admin_state_up=True)
    await eventually(lambda: api.get_port(up.id), lambda p: p.status == ACTIVE)

    unplugged = await api.unplug(port.id)
    assert unplugged.port.status == DOWN
    await eventually(
        lambda: api.get_port(port.id),
        lambda p: p.link_status_reason == "no attachment" and p.interface_id == "",
    )
    deleted_port = await api.ports.DeletePort(
        port_pb.DeletePortRequest(port_id=port.id), metadata=api.md
    )
    assert deleted_port.port.id == port.id
    deleted = await api.networks.DeleteNetwork(
        net_pb.DeleteNetworkRequest(network_id=net.id), metadata=api.md
    )
    if net_sync:
        assert deleted.deleted
    else:
        assert deleted.network.deleting

    async def remaining() -> int:
        listed = await api.networks.ListNetworks(net_pb.ListNetworksRequest(), metadata=api.md)
        return len(listed.networks)

    await eventually(remaining, lambda n: n == 0)


async def test_faulty_backend_shows_its_error_detail(stack_factory) -> None:
    stack = await stack_factory("faulty", failure_rate=1.0, step_delay=0.01)
    api = stack.api
    net = await api.create_network("doomed")
    net = await eventually(
        lambda: api.get_network(net.id), lambda n: n.status == network_pb2.NETWORK_STATUS_ERROR
    )
    assert net.error.code == "SIM_INJECTED_FAULT"
    assert net.error.message
    port = await api.create_port(net.id)
    port = await eventually(
        lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_ERROR
    )
    assert port.error.code == "SIM_INJECTED_FAULT"
    # Under the accept policy a plug into a failed port is still sent; it fails too.
    await api.plug(port.id, "vif-err")
    attachment = await eventually(
        lambda: api.get_attachment(port.id),
        lambda a: a.status == attachment_pb2.ATTACHMENT_STATUS_ERROR,
    )
    assert attachment.error.code == "SIM_INJECTED_FAULT"
    # ERROR is left by unplug and delete: the faulty profile never fails those.
    await api.unplug(port.id)
    await eventually(lambda: api.get_port(port.id), lambda p: p.interface_id == "")
    await api.ports.DeletePort(port_pb.DeletePortRequest(port_id=port.id), metadata=api.md)
    await api.networks.DeleteNetwork(
        net_pb.DeleteNetworkRequest(network_id=net.id), metadata=api.md
    )

    async def count() -> int:
        return len(
            (
                await api.networks.ListNetworks(net_pb.ListNetworksRequest(), metadata=api.md)
            ).networks
        )

    await eventually(count, lambda n: n == 0)
