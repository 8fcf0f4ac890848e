"""The API on PostgreSQL: the same behaviour as on SQLite, with concurrent writers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from quantum_api.v1 import network_pb2, network_service_pb2 as net_pb, port_pb2
from tests.helpers import eventually
from tests.helpers.postgres import pg_schema

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url() -> Iterator[str]:
    """PostgreSQL only: concurrent writers serialise on the server, not in the process."""
    with pg_schema() as url:
        yield url


async def test_lifecycle_and_concurrent_creates_on_postgresql(stack_factory) -> None:
    # A loaded machine may take more than the default 2 s to answer 20 creates at once;
    # this test is about the answers, not their speed (bench/ measures that).
    stack = await stack_factory("mixed", core={"sync_wait": 30.0}, step_delay=0.01)
    api = stack.api
    nets = await asyncio.gather(*(api.create_network(f"n{i}") for i in range(20)))
    assert all(n.status == network_pb2.NETWORK_STATUS_AVAILABLE for n in nets)
    revisions = sorted(n.revision for n in nets)
    assert len(set(revisions)) == 20  # one global revision per change, never shared
    port = await api.create_port(nets[0].id)
    await api.plug(port.id, "vif-pg")
    await eventually(
        lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_ACTIVE
    )
    # Two plugs of one interface racing on two ports: exactly one wins.
    other = await api.create_port(nets[1].id)
    third = await api.create_port(nets[2].id)
    results = await asyncio.gather(
        api.plug(other.id, "vif-race"), api.plug(third.id, "vif-race"), return_exceptions=True
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    listed = await api.networks.ListNetworks(
        net_pb.ListNetworksRequest(page_size=1000), metadata=api.md
    )
    assert len(listed.networks) == 20
