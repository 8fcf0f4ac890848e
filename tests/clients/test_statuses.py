"""The SDK's named enums (quantum_client.PortStatus.ACTIVE, ...) are the contract's."""

from __future__ import annotations

import pytest
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

import quantum_client
from quantum_api.v1 import attachment_pb2, network_pb2, port_pb2, watch_service_pb2
from quantum_client.statuses import ProtoEnum
from tests.conftest import CoreFactory, SimFactory

PAIRS = [
    (quantum_client.NetworkStatus, network_pb2.NetworkStatus),
    (quantum_client.PortStatus, port_pb2.PortStatus),
    (quantum_client.AttachmentStatus, attachment_pb2.AttachmentStatus),
    (quantum_client.LinkStatus, port_pb2.LinkStatus),
    (quantum_client.EventType, watch_service_pb2.EventType),
]


@pytest.mark.parametrize(("named", "proto"), PAIRS, ids=[p[1].DESCRIPTOR.name for p in PAIRS])
def test_each_named_enum_has_exactly_the_protos_values(
    named: type[ProtoEnum], proto: EnumTypeWrapper
) -> None:
    declared = {v.name: v.number for v in proto.DESCRIPTOR.values}
    assert {named.Name(m): int(m) for m in named} == declared
    for full, number in declared.items():
        assert named.Value(full) == number and proto.Name(named(number)) == full


async def test_a_port_status_from_the_server_compares_to_its_name(
    core_factory: CoreFactory, sim_factory: SimFactory
) -> None:
    sim = await sim_factory("sync")
    app = await core_factory(sim.target)
    async with quantum_client.AsyncClient(app.address, tenant="t") as client:
        port = await client.create_port((await client.create_network("web")).id)
        await client.plug(port.id, "vif-1")
        port = await client.wait_for(port, quantum_client.PortStatus.ACTIVE, timeout=30)
    status = quantum_client.PortStatus(port.status)
    assert status is quantum_client.PortStatus.ACTIVE and str(status) == "ACTIVE"
    assert int(port.status) == quantum_client.PortStatus.ACTIVE  # an int as well
