"""The ovs back-end without a datapath (no root): VLAN allocation, its store, bindings.

The back-end runs for real on 127.0.0.1; the test is the core (BackendService) and a
scripted agent (AgentService).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from quantum_api.linuxbridge.v1 import agent_service_pb2 as apb, agent_service_pb2_grpc, binding_pb2
from quantum_api.plugin.v1 import backend_pb2, backend_pb2_grpc, resource_status_pb2 as rs
from quantum_plugins.common.segments import MAX_VLAN, SegmentsExhausted, SegmentStore, parse_range
from quantum_plugins.ovs import OvsBackend, build_ovs_server
from quantum_plugins.ovs.backend import NO_VLAN_CODE

NETWORK, PORT = rs.RESOURCE_KIND_NETWORK, rs.RESOURCE_KIND_PORT
CREATE, DELETE = backend_pb2.CHANGE_ACTION_CREATE, backend_pb2.CHANGE_ACTION_DELETE
PLUG = backend_pb2.CHANGE_ACTION_PLUG


def test_the_store_gives_the_lowest_free_vlan_and_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "vlans.sqlite"
    store = SegmentStore(path, (10, 12))
    assert [store.allocate(n) for n in ("a", "b", "a")] == [10, 11, 10]
    store.release("a")
    assert store.allocate("c") == 10
    assert store.allocate("d") == 12
    with pytest.raises(SegmentsExhausted):
        store.allocate("e")
    store.close()
    reopened = SegmentStore(path, (10, 12))
    assert reopened.all() == {"b": 11, "c": 10, "d": 12}
    assert reopened.keep_only({"b"}) == ["c", "d"]
    reopened.close()
    assert SegmentStore(path, (10, 12)).all() == {"b": 11}


@pytest.mark.parametrize("text", ["0:10", "5", "10:5", "4000:4095"])
def test_a_vlan_range_stays_within_1_to_4094(text: str) -> None:
    with pytest.raises(ValueError):
        parse_range(text, MAX_VLAN)
    assert parse_range("1:4094", MAX_VLAN) == (1, 4094)


class Rig:
    """A running ovs back-end and stubs for the core's and an agent's side."""

    def __init__(self, backend: OvsBackend, port: int) -> None:
        self.backend = backend
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        self.core = backend_pb2_grpc.BackendServiceStub(self.channel)
        self.agent = agent_service_pb2_grpc.AgentServiceStub(self.channel)

    async def network(self, action: int, network_id: str, generation: int = 1) -> Any:
        return await self.core.ApplyChange(
            backend_pb2.ApplyChangeRequest(
                operation_id=str(uuid.uuid4()),
                kind=NETWORK,
                action=action,
                generation=generation,
                network=backend_pb2.NetworkSpec(id=network_id, tenant_id="t"),
            )
        )


@pytest.fixture
async def rig_factory(tmp_path: Path) -> AsyncIterator[Any]:
    started: list[Rig] = []

    async def start(vlans: tuple[int, int] = (100, 101)) -> Rig:
        _server, port, backend = await build_ovs_server(
            state_file=tmp_path / "ovs.sqlite", vlans=vlans, settle=0.05, reassert_interval=0
        )
        rig = Rig(backend, port)
        started.append(rig)
        return rig

    yield start
    for rig in started:
        await rig.channel.close()
        await rig.backend.stop(0)


async def test_network_create_allocates_a_vlan_and_a_full_range_refuses(rig_factory: Any) -> None:
    rig = await rig_factory()
    a, b, c = (str(uuid.uuid4()) for _ in range(3))
    for network_id in (a, b):
        answer = await rig.network(CREATE, network_id)
        assert answer.outcome == backend_pb2.APPLY_OUTCOME_DONE
        assert answer.status.state == rs.OBSERVED_STATE_READY
    assert rig.backend.store.all() == {a: 100, b: 101}
    refused = await rig.network(CREATE, c)
    assert refused.status.state == rs.OBSERVED_STATE_ERROR
    assert refused.status.error.code == NO_VLAN_CODE
    # A deleted network's VLAN goes to the next one.
    await rig.network(DELETE, a, generation=2)
    assert (await rig.network(CREATE, c, generation=2)).status.state == rs.OBSERVED_STATE_READY
    assert rig.backend.store.get(c) == 100


async def test_a_restarted_backend_keeps_vlans_and_binds_with_them(rig_factory: Any) -> None:
    first = await rig_factory()
    kept, dropped = str(uuid.uuid4()), str(uuid.uuid4())
    await first.network(CREATE, dropped)
    await first.network(CREATE, kept)
    vlan = first.backend.store.get(kept)
    await first.backend.stop(0)

    # The new instance is refilled by the core's resync: only `kept` still exists.
    rig = await rig_factory()
    await rig.core.ListStatus(backend_pb2.ListStatusRequest())
    await rig.network(backend_pb2.CHANGE_ACTION_ENSURE, kept)
    await asyncio.wait_for(rig.backend.primed.wait(), 5)
    assert rig.backend.store.all() == {kept: vlan}  # same VLAN; the gone network's freed

    # An agent that sees the interface is streamed a binding carrying the VLAN.
    interface_id, agent_id = str(uuid.uuid4()), str(uuid.uuid4())
    await rig.agent.ReportTaps(
        apb.ReportTapsRequest(
            host="hv1",
            agent_id=agent_id,
            full=True,
            taps=[binding_pb2.Tap(name=interface_id, oper_up=True, oper_state="up")],
        )
    )
    port = backend_pb2.PortSpec(
        id=str(uuid.uuid4()),
        tenant_id="t",
        network_id=kept,
        admin_state_up=True,
        interface_id=interface_id,
    )
    answer = await rig.core.ApplyChange(
        backend_pb2.ApplyChangeRequest(
            operation_id=str(uuid.uuid4()), kind=PORT, action=PLUG, generation=1, port=port
        )
    )
    assert answer.outcome == backend_pb2.APPLY_OUTCOME_ACCEPTED
    stream = rig.agent.WatchBindings(apb.WatchBindingsRequest(host="hv1", agent_id=agent_id))
    first_response = await asyncio.wait_for(stream.read(), 5)
    stream.cancel()
    assert first_response.snapshot
    [event] = first_response.events
    assert (event.binding.tap, event.binding.segmentation_id) == (interface_id, vlan)
