"""Client input beyond one bad request (the table is in test_bad_input.py): page tokens
across a restart, and request_id retries after the resource changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from quantum_api.v1 import network_service_pb2 as net_pb, port_pb2
from tests.helpers import Api, rpc_error

NET_REQUEST = "3f0c2a1b-9d8e-4f7a-8b6c-5d4e3f2a1b0c"
PORT_REQUEST = "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968"


async def test_a_page_token_from_before_a_restart_is_refused(
    stack_factory: Any, core_factory: Any, channel_factory: Callable[[str], grpc.aio.Channel]
) -> None:
    """Tokens are signed with a key of the server process (docs/architecture.md): after a
    restart a client is told to list again, never served a page it did not ask for."""
    stack = await stack_factory("sync")
    for name in ("a", "b", "c"):
        await stack.api.create_network(name)
    first = await stack.api.networks.ListNetworks(
        net_pb.ListNetworksRequest(page_size=1), metadata=stack.api.md
    )
    assert first.next_page_token
    await stack.app.stop(0)

    app = await core_factory(stack.sim.target)
    api = Api(channel_factory(app.address))
    stale = net_pb.ListNetworksRequest(page_size=1, page_token=first.next_page_token)
    error = await rpc_error(api.networks.ListNetworks(stale, metadata=api.md))
    assert (error.code, error.reason, error.field) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_PAGE_TOKEN",
        "page_token",
    ), error
    again = await api.networks.ListNetworks(
        net_pb.ListNetworksRequest(page_size=1), metadata=api.md
    )
    assert [n.name for n in again.networks] == ["a"] and again.next_page_token


async def test_a_retry_is_recognised_after_the_resource_changed(stack_factory: Any) -> None:
    """The first request is what a retry is compared with, not the resource as it is now."""
    api = (await stack_factory("sync")).api
    net = await api.create_network("blue", request_id=NET_REQUEST)
    renamed = await api.update_network(net.id, name="navy")
    port = await api.create_port(net.id, request_id=PORT_REQUEST)
    await api.update_port(port.id, qos=port_pb2.QosPolicy(rate_kbps=5000), admin_state_up=False)

    retried = await api.create_network("blue", request_id=NET_REQUEST)
    assert (retried.id, retried.name) == (net.id, "navy")
    retried_port = await api.create_port(net.id, request_id=PORT_REQUEST)
    assert retried_port.id == port.id
    assert (retried_port.qos.rate_kbps, retried_port.admin_state_up) == (5000, False)

    # The resource's current fields are not what the request_id was created with.
    reused = await rpc_error(api.create_network(renamed.name, request_id=NET_REQUEST))
    assert (reused.code, reused.reason, reused.field) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "REQUEST_ID_REUSED",
        "request_id",
    ), reused
    assert net.id in reused.message
    assert [n.id async for n in api.list_networks()] == [net.id]
