"""A first walk through the API on each profile."""

from __future__ import annotations

from quantum_api.v1 import network_pb2, port_pb2


async def test_sync_profile_answers_in_the_response(stack_factory) -> None:
    stack = await stack_factory("sync")
    net = await stack.api.create_network("blue")
    assert net.status == network_pb2.NETWORK_STATUS_AVAILABLE
    port = await stack.api.create_port(net.id)
    assert port.status == port_pb2.PORT_STATUS_DOWN
    plugged = await stack.api.plug(port.id, "vif-1")
    assert plugged.port.status == port_pb2.PORT_STATUS_ACTIVE
