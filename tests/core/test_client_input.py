"""Client input beyond one bad request (the table is in test_bad_input.py): page tokens
across a restart and a key rotation, and request_id retries after the resource changed."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import grpc
from sqlalchemy import text

from quantum_api.v1 import network_service_pb2 as net_pb, port_pb2
from tests.helpers import Api, rpc_error
from tests.helpers.database import connect

NET_REQUEST = "3f0c2a1b-9d8e-4f7a-8b6c-5d4e3f2a1b0c"
PORT_REQUEST = "8e7d6c5b-4a39-4281-9f0e-1d2c3b4a5968"


async def _first_page_then_restart(
    stack_factory: Any,
    core_factory: Any,
    channel_factory: Callable[[str], grpc.aio.Channel],
    while_stopped: Callable[[], None] = lambda: None,
) -> tuple[str, Api]:
    """Networks a, b, c; the token after the first page; then (``while_stopped`` run
    meanwhile) a new core on the same database, and a client of it."""
    stack = await stack_factory("sync")
    for name in ("a", "b", "c"):
        await stack.api.create_network(name)
    first = await stack.api.networks.ListNetworks(
        net_pb.ListNetworksRequest(page_size=1), metadata=stack.api.md
    )
    assert [n.name for n in first.networks] == ["a"] and first.next_page_token
    await stack.app.stop(0)
    while_stopped()
    app = await core_factory(stack.sim.target)
    return first.next_page_token, Api(channel_factory(app.address))


async def _refused(api: Api, request: net_pb.ListNetworksRequest) -> None:
    error = await rpc_error(api.networks.ListNetworks(request, metadata=api.md))
    assert (error.code, error.reason, error.field) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_PAGE_TOKEN",
        "page_token",
    ), error


async def test_a_page_token_survives_a_restart_and_stays_bound_to_its_list(
    stack_factory: Any, core_factory: Any, channel_factory: Callable[[str], grpc.aio.Channel]
) -> None:
    """Tokens are signed with the database's key (docs/operations.md, "Page tokens"): a
    client paging across a restart goes on where it was; a token altered, sent with other
    filters or by another tenant is still refused."""
    token, api = await _first_page_then_restart(stack_factory, core_factory, channel_factory)
    rest = await api.networks.ListNetworks(
        net_pb.ListNetworksRequest(page_size=10, page_token=token), metadata=api.md
    )
    assert [n.name for n in rest.networks] == ["b", "c"] and not rest.next_page_token

    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[7] ^= 0x01  # the revision to continue after, one off
    await _refused(
        api, net_pb.ListNetworksRequest(page_token=base64.urlsafe_b64encode(raw).decode())
    )
    await _refused(api, net_pb.ListNetworksRequest(page_token=token, name="a"))
    await _refused(api.as_tenant("tenant-b"), net_pb.ListNetworksRequest(page_token=token))


async def test_deleting_the_key_rotates_it_at_the_next_start(
    stack_factory: Any,
    core_factory: Any,
    channel_factory: Callable[[str], grpc.aio.Channel],
    database_url: str,
) -> None:
    """The rotation docs/operations.md describes: delete the row, restart; tokens issued
    before are refused, and the client lists again from the start."""

    def delete_key() -> None:
        with connect(database_url) as connection:
            assert connection.execute(text("DELETE FROM page_token_key")).rowcount == 1
            connection.commit()

    token, api = await _first_page_then_restart(
        stack_factory, core_factory, channel_factory, delete_key
    )
    await _refused(api, net_pb.ListNetworksRequest(page_token=token))
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
