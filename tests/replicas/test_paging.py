"""A list paged through several replicas is the list: every replica honours the page
tokens any other issued (docs/operations.md, "Page tokens").

Real `serve` processes on one PostgreSQL schema, a sim back-end in the test process.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import grpc
import pytest

from quantum_api.v1 import network_service_pb2 as net_pb, port_service_pb2 as port_pb
from tests.helpers import Api
from tests.replicas.group import Group

pytestmark = pytest.mark.postgres
PAGE = 2
COUNT = 5  # three pages of PAGE: the token crosses replicas twice

Page = Callable[[Api, str], Awaitable[tuple[list[str], str]]]


async def _networks(api: Api, token: str) -> tuple[list[str], str]:
    reply = await api.networks.ListNetworks(
        net_pb.ListNetworksRequest(page_size=PAGE, page_token=token), metadata=api.md
    )
    return [f"{n.id} {n.name}" for n in reply.networks], reply.next_page_token


def _ports(network_id: str) -> Page:
    async def page(api: Api, token: str) -> tuple[list[str], str]:
        reply = await api.ports.ListPorts(
            port_pb.ListPortsRequest(network_id=network_id, page_size=PAGE, page_token=token),
            metadata=api.md,
        )
        return [p.id for p in reply.ports], reply.next_page_token

    return page


async def _alternating(apis: Sequence[Api], page: Page) -> list[str]:
    """Every item of a list, each page asked of the next replica with the last one's token."""
    items: list[str] = []
    token = ""
    for turn in range(100):
        found, token = await page(apis[turn % len(apis)], token)
        items += found
        if not token:
            assert turn >= len(apis), "the list never went through every replica"
            return items
    raise AssertionError("the list never ended")


async def test_a_list_paged_through_one_replica_goes_on_through_another(group: Group) -> None:
    first, second = await group.start(2)
    apis = [first.api(), second.api()]
    networks = [await apis[i % 2].create_network(f"net-{i}") for i in range(COUNT)]
    ports = [await apis[i % 2].create_port(networks[0].id) for i in range(COUNT)]

    whole = [f"{n.id} {n.name}" async for n in apis[0].list_networks()]
    assert whole == [f"{n.id} {n.name}" for n in networks]
    assert await _alternating(apis, _networks) == whole
    assert await _alternating(apis[::-1], _networks) == whole

    whole_ports = [p.id async for p in apis[1].list_ports(networks[0].id)]
    assert whole_ports == [p.id for p in ports]
    assert await _alternating(apis, _ports(networks[0].id)) == whole_ports

    # The SDK's own paging behind a balancer that spreads its calls over both replicas.
    balanced = grpc.aio.insecure_channel(
        f"ipv4:{first.address},{second.address}",
        options=[("grpc.lb_policy_name", "round_robin")],
    )
    try:
        sdk = Api(balanced)
        assert [f"{n.id} {n.name}" async for n in sdk.list_networks(page_size=1)] == whole
    finally:
        await balanced.close()
