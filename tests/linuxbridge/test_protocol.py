"""The back-end's side of the agent protocol, in-process with a scripted agent (no root).

The back-end runs for real on 127.0.0.1 and reports to a real StatusReporterService stand-in;
the "agent" is this test calling AgentService, so every rule can be driven step by step:
snapshots and resumable streams, acknowledgements, grace period, heartbeats, reasons.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool

from quantum_api.linuxbridge.v1 import (
    agent_service_pb2 as apb,
    agent_service_pb2_grpc,
    binding_pb2,
)
from quantum_api.plugin.v1 import (
    backend_pb2,
    backend_pb2_grpc,
    resource_status_pb2 as rs,
)
from quantum_api.v1 import port_pb2
from quantum_plugins.linuxbridge import LinuxBridgeBackend, build_linuxbridge_server
from quantum_plugins.linuxbridge.names import (
    REASON_ADMIN_DOWN,
    REASON_AGENT_NOT_RUNNING,
    REASON_INTERFACE_DOWN,
    REASON_NO_ATTACHMENT,
    REASON_NOT_FOUND,
    bridge_name,
    tap_name,
)
from tests.plugins import ReportCollector

NETWORK, PORT = rs.RESOURCE_KIND_NETWORK, rs.RESOURCE_KIND_PORT
CREATE, UPDATE = backend_pb2.CHANGE_ACTION_CREATE, backend_pb2.CHANGE_ACTION_UPDATE
PLUG, UNPLUG = backend_pb2.CHANGE_ACTION_PLUG, backend_pb2.CHANGE_ACTION_UNPLUG
DONE, ACCEPTED = backend_pb2.APPLY_OUTCOME_DONE, backend_pb2.APPLY_OUTCOME_ACCEPTED
READY = rs.OBSERVED_STATE_READY
UP, DOWN = port_pb2.LINK_STATUS_UP, port_pb2.LINK_STATUS_DOWN
BOUND, UNBOUND = binding_pb2.BINDING_EVENT_TYPE_BOUND, binding_pb2.BINDING_EVENT_TYPE_UNBOUND
APPLIED, REMOVED = binding_pb2.BINDING_OUTCOME_APPLIED, binding_pb2.BINDING_OUTCOME_REMOVED
HOST = "hv1"


class Rig:
    """A back-end, a report collector, stubs for both services, and a port's desired state."""

    def __init__(self, backend: LinuxBridgeBackend, port: int, collector: ReportCollector):
        self.backend = backend
        self.collector = collector
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        self.core = backend_pb2_grpc.BackendServiceStub(self.channel)
        self.agent = agent_service_pb2_grpc.AgentServiceStub(self.channel)
        self.agent_id = str(uuid.uuid4())
        self.network_id = str(uuid.uuid4())
        self.spec = backend_pb2.PortSpec(
            id=str(uuid.uuid4()), tenant_id="t", network_id=self.network_id, admin_state_up=True
        )
        self.generation = 0
        self.mark = 0

    async def change(self, action: backend_pb2.ChangeAction, **fields: Any) -> Any:
        """Apply a change of the port (its generation grows) and return the answer."""
        for name, value in fields.items():
            setattr(self.spec, name, value)
        self.generation += 1
        return await self.core.ApplyChange(
            backend_pb2.ApplyChangeRequest(
                operation_id=str(uuid.uuid4()),
                kind=PORT,
                action=action,
                generation=self.generation,
                port=self.spec,
            )
        )

    async def register(self, *taps: binding_pb2.Tap, agent_id: str | None = None) -> Any:
        return await self.agent.ReportTaps(
            apb.ReportTapsRequest(
                host=HOST,
                agent_id=agent_id or self.agent_id,
                full=True,
                taps=taps,
                heartbeat_interval_ms=200,
            )
        )

    async def ack(
        self, binding: Any, outcome: binding_pb2.BindingOutcome = APPLIED, oper_up: bool = True
    ) -> None:
        answer = await self.agent.ReportBindings(
            apb.ReportBindingsRequest(
                host=HOST,
                agent_id=self.agent_id,
                backend_epoch=self.backend.epoch,
                results=[
                    binding_pb2.BindingResult(
                        port_id=binding.port_id,
                        revision=binding.revision,
                        outcome=outcome,
                        tap=binding_pb2.Tap(name=binding.tap, oper_up=oper_up),
                    )
                ],
            )
        )
        assert answer.registered

    async def report(self, reason: str | None, link: int = DOWN, timeout: float = 5.0) -> Any:
        """Wait for a READY report of the port at its current generation with this link."""

        def matches(report: Any) -> bool:
            return (
                report.resource_id == self.spec.id
                and report.generation == self.generation
                and report.state == READY
                and report.link_status == link
                and (reason is None or report.link_status_reason == reason)
            )

        def found(reports: list[Any]) -> int | None:
            fresh = range(self.mark, len(reports))
            return next((i for i in fresh if matches(reports[i])), None)

        reports = await self.collector.wait_for(lambda r: found(r) is not None, timeout)
        index = found(reports)
        assert index is not None
        self.mark = index + 1  # the next wait looks only at what came after this one
        return reports[index]

    def reports_now(self) -> list[Any]:
        return [r for r in self.collector.about(self.spec.id) if r.generation == self.generation]


def tap(interface_id: str, oper_up: bool = True) -> binding_pb2.Tap:
    return binding_pb2.Tap(name=tap_name(interface_id), oper_up=oper_up)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    collector = ReportCollector()
    await collector.start()
    _server, port, backend = await build_linuxbridge_server(
        grace_period=0.3, tick=0.05, settle=0.05, reassert_interval=0
    )
    made = Rig(backend, port, collector)
    try:
        await made.core.DescribeBackend(
            backend_pb2.DescribeBackendRequest(reporter_target=collector.target, core_id="test")
        )
        await made.core.ListStatus(backend_pb2.ListStatusRequest())
        answer = await made.core.ApplyChange(
            backend_pb2.ApplyChangeRequest(
                operation_id=str(uuid.uuid4()),
                kind=NETWORK,
                action=CREATE,
                generation=1,
                network=backend_pb2.NetworkSpec(id=made.network_id, tenant_id="t", name="n"),
            )
        )
        assert answer.outcome == DONE and answer.status.state == READY
        yield made
    finally:
        await made.channel.close()
        await backend.stop(0)
        await collector.stop()


async def next_response(stream: Any, timeout: float = 5.0) -> Any:
    return await asyncio.wait_for(stream.read(), timeout)


async def test_describe_says_what_is_synchronous(rig: Rig) -> None:
    described = await rig.core.DescribeBackend(backend_pb2.DescribeBackendRequest())
    assert described.name == "linuxbridge"
    assert "PORT/CREATE" in described.synchronous_changes
    assert "PORT/PLUG" not in described.synchronous_changes
    created = await rig.change(CREATE)
    assert created.outcome == DONE
    assert created.status.link_status_reason == REASON_NO_ATTACHMENT


async def test_snapshot_changes_and_resume(rig: Rig) -> None:
    interface = str(uuid.uuid4())
    await rig.change(CREATE)
    assert (await rig.change(PLUG, interface_id=interface)).outcome == ACCEPTED
    await rig.register(tap(interface))

    stream = rig.agent.WatchBindings(apb.WatchBindingsRequest(host=HOST, agent_id=rig.agent_id))
    snapshot = await next_response(stream)
    assert snapshot.snapshot and len(snapshot.events) == 1
    binding = snapshot.events[0].binding
    assert (binding.tap, binding.bridge) == (tap_name(interface), bridge_name(rig.network_id))
    assert not rig.reports_now()  # nothing is said until the agent has wired it
    await rig.ack(binding)
    await rig.report("", UP)

    await rig.change(UPDATE, admin_state_up=False)
    change = await next_response(stream)
    assert not change.snapshot and [e.type for e in change.events] == [BOUND]
    assert change.events[0].binding.admin_state_up is False
    await rig.ack(change.events[0].binding, oper_up=False)
    await rig.report(REASON_ADMIN_DOWN)
    stream.cancel()

    # Resuming with the same epoch and the last revision gets exactly what came after.
    await rig.change(UPDATE, admin_state_up=True, qos_rate_kbps=1000)
    resumed = rig.agent.WatchBindings(
        apb.WatchBindingsRequest(
            host=HOST,
            agent_id=rig.agent_id,
            backend_epoch=change.backend_epoch,
            start_revision=change.revision,
        )
    )
    missed = await next_response(resumed)
    assert not missed.snapshot
    assert [e.binding.qos_rate_kbps for e in missed.events] == [1000]
    resumed.cancel()

    # Another epoch (a restarted back-end) means a snapshot.
    other = rig.agent.WatchBindings(
        apb.WatchBindingsRequest(
            host=HOST, agent_id=rig.agent_id, backend_epoch="elsewhere", start_revision=1
        )
    )
    assert (await next_response(other)).snapshot
    other.cancel()


async def test_reasons_grace_heartbeats_and_unplug(rig: Rig) -> None:
    interface = str(uuid.uuid4())
    await rig.register()
    stream = rig.agent.WatchBindings(apb.WatchBindingsRequest(host=HOST, agent_id=rig.agent_id))
    assert (await next_response(stream)).snapshot
    await rig.change(CREATE)
    await rig.change(PLUG, interface_id=interface)
    # No agent has the tap: after the grace period, "interface-id not found".
    await rig.report(REASON_NOT_FOUND)

    # The tap appears, down at first.
    await rig.agent.ReportTaps(
        apb.ReportTapsRequest(host=HOST, agent_id=rig.agent_id, taps=[tap(interface, False)])
    )
    bound = (await next_response(stream)).events[0].binding
    await rig.ack(bound, oper_up=False)
    await rig.report(REASON_INTERFACE_DOWN)
    await rig.agent.ReportTaps(
        apb.ReportTapsRequest(host=HOST, agent_id=rig.agent_id, taps=[tap(interface)])
    )
    await rig.report("", UP)

    # Silence: three heartbeat intervals (0.2 s each) later, "agent not running".
    await rig.report(REASON_AGENT_NOT_RUNNING, timeout=3)
    # The same instance comes back: what it acknowledged still holds.
    beat = await rig.agent.Heartbeat(
        apb.HeartbeatRequest(host=HOST, agent_id=rig.agent_id, interval_ms=200)
    )
    assert beat.registered
    await rig.report("", UP)

    # An unknown instance is told to register; a new one starts from nothing acknowledged.
    assert not (
        await rig.agent.Heartbeat(apb.HeartbeatRequest(host=HOST, agent_id="stranger"))
    ).registered
    rig.agent_id = str(uuid.uuid4())
    await rig.register(tap(interface))
    restarted = rig.agent.WatchBindings(apb.WatchBindingsRequest(host=HOST, agent_id=rig.agent_id))
    snapshot = await next_response(restarted)
    assert [e.binding.port_id for e in snapshot.events] == [rig.spec.id]

    keepalive = asyncio.create_task(heartbeats(rig))
    try:
        # Unplug: nothing is reported until the agent confirms it unwired the tap.
        await rig.change(UNPLUG, interface_id="")
        event = (await next_response(restarted)).events[0]
        assert event.type == UNBOUND
        await asyncio.sleep(0.1)
        assert not rig.reports_now()  # a new generation: nothing about it yet
        await rig.ack(event.binding, REMOVED)
        await rig.report(REASON_NO_ATTACHMENT)
    finally:
        keepalive.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keepalive
    stream.cancel()
    restarted.cancel()


async def heartbeats(rig: Rig) -> None:
    while True:
        await rig.agent.Heartbeat(
            apb.HeartbeatRequest(host=HOST, agent_id=rig.agent_id, interval_ms=200)
        )
        await asyncio.sleep(0.1)


async def test_no_snapshot_before_the_core_resynchronised() -> None:
    collector = ReportCollector()
    await collector.start()
    _server, port, backend = await build_linuxbridge_server(settle=0.05, reassert_interval=0)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            agent = agent_service_pb2_grpc.AgentServiceStub(channel)
            stream = agent.WatchBindings(apb.WatchBindingsRequest(host=HOST, agent_id="a"))
            first = asyncio.create_task(stream.read())
            done, _ = await asyncio.wait({first}, timeout=0.3)
            assert not done  # an empty back-end must not tell agents to tear down
            core = backend_pb2_grpc.BackendServiceStub(channel)
            await core.ListStatus(backend_pb2.ListStatusRequest())
            assert (await asyncio.wait_for(first, 5)).snapshot
            stream.cancel()
    finally:
        await backend.stop(0)
        await collector.stop()


@pytest.mark.parametrize(
    "service_name", ["quantum.plugin.v1.BackendService", "quantum.linuxbridge.v1.AgentService"]
)
def test_every_rpc_is_implemented(service_name: str) -> None:
    service = descriptor_pool.Default().FindServiceByName(service_name)
    for method in service.methods:
        assert callable(getattr(LinuxBridgeBackend, method.name, None)), method.name
