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
from pathlib import Path
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
from tests.helpers import eventually
from tests.helpers.pki import Issued, channel_credentials, issue, make_ca
from tests.plugins import ReportCollector

from .certs import LabPki, files

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
    """A back-end, a report collector, stubs for both services, and a port's desired state.

    With ``pki`` everything is mTLS: the core's stub presents the core's certificate, the
    agent's stub the certificate of host ``HOST``.
    """

    def __init__(
        self,
        backend: LinuxBridgeBackend,
        port: int,
        collector: ReportCollector,
        pki: LabPki | None = None,
    ):
        self.backend = backend
        self.collector = collector
        self.address = f"127.0.0.1:{port}"
        self.pki = pki
        self.channels: list[grpc.aio.Channel] = []
        self.core = backend_pb2_grpc.BackendServiceStub(self.dial(pki and pki.core))
        self.agent = self.agent_stub(HOST)
        self.agent_id = str(uuid.uuid4())
        self.network_id = str(uuid.uuid4())
        self.spec = backend_pb2.PortSpec(
            id=str(uuid.uuid4()), tenant_id="t", network_id=self.network_id, admin_state_up=True
        )
        self.generation = 0
        self.mark = 0

    def dial(self, issued: Issued | None) -> grpc.aio.Channel:
        """A channel to the back-end presenting ``issued`` (plain text when None)."""
        if issued is None:
            channel = grpc.aio.insecure_channel(self.address)
        else:
            channel = grpc.aio.secure_channel(self.address, files(issued).channel_credentials())
        self.channels.append(channel)
        return channel

    def agent_stub(self, host: str) -> Any:
        """AgentService as the agent of ``host`` (its certificate, under mTLS)."""
        channel = self.dial(self.pki and self.pki.agent(host))
        return agent_service_pb2_grpc.AgentServiceStub(channel)

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()

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
    async with running_rig() as made:
        yield made


@pytest.fixture
async def tls_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with running_rig(LabPki(tmp_path)) as made:
        yield made


@contextlib.asynccontextmanager
async def running_rig(pki: LabPki | None = None) -> AsyncIterator[Rig]:
    """A primed back-end holding one network; mTLS everywhere with ``pki``."""
    collector = ReportCollector()
    tls: dict[str, Any] = {}
    if pki is not None:
        await collector.start(credentials=files(pki.core).server_credentials())
        tls = {
            "server_credentials": files(pki.backend).server_credentials(),
            "reporter_credentials": files(pki.backend).channel_credentials(),
        }
    else:
        await collector.start()
    _server, port, backend = await build_linuxbridge_server(
        grace_period=0.3, tick=0.05, settle=0.05, reassert_interval=0, **tls
    )
    made = Rig(backend, port, collector, pki)
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
        await made.close()
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
    # Nothing is said about the wiring until the agent has done it. (On a loaded machine
    # the agent may stay silent past three 0.2 s heartbeats before this point, and then
    # "agent not running" is rightly said: that is about the agent, not the wiring.)
    said = [r for r in rig.reports_now() if r.link_status_reason != REASON_AGENT_NOT_RUNNING]
    assert not said
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
    # The old instance stops (its binding stream ends): its claim on the host lapses.
    stream.cancel()
    rig.agent_id = str(uuid.uuid4())
    await eventually(lambda: registers(rig, tap(interface)), lambda code: code is None, timeout=5)
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
    restarted.cancel()


async def registers(rig: Rig, *taps: binding_pb2.Tap) -> grpc.StatusCode | None:
    """Register ``rig.agent_id``; None when accepted, else the refusal's code."""
    try:
        await rig.register(*taps)
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return None


async def heartbeats(rig: Rig) -> None:
    while True:
        await rig.agent.Heartbeat(
            apb.HeartbeatRequest(host=HOST, agent_id=rig.agent_id, interval_ms=200)
        )
        await asyncio.sleep(0.1)


async def test_a_second_live_agent_for_a_host_is_refused_not_preferred(rig: Rig) -> None:
    interface = str(uuid.uuid4())
    await rig.change(CREATE)
    await rig.change(PLUG, interface_id=interface)
    await rig.register(tap(interface))
    stream = rig.agent.WatchBindings(apb.WatchBindingsRequest(host=HOST, agent_id=rig.agent_id))
    binding = (await next_response(stream)).events[0].binding
    await rig.ack(binding)
    await rig.report("", UP)

    # An impostor (or a second agent started by mistake) claims the live host: refused.
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await rig.register(tap(interface), agent_id="impostor")
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "already has a live agent" in (refused.value.details() or "")
    # The real agent keeps the host: still registered, its port still up, its acks taken.
    beat = await rig.agent.Heartbeat(
        apb.HeartbeatRequest(host=HOST, agent_id=rig.agent_id, interval_ms=200)
    )
    assert beat.registered
    await rig.ack(binding)
    assert rig.reports_now()[-1].link_status == UP
    impostor_beat = await rig.agent.Heartbeat(apb.HeartbeatRequest(host=HOST, agent_id="impostor"))
    assert not impostor_beat.registered
    stream.cancel()


async def test_an_agent_reporting_a_port_of_another_host_is_denied(rig: Rig) -> None:
    interface = str(uuid.uuid4())
    await rig.change(CREATE)
    await rig.change(PLUG, interface_id=interface)
    other = apb.ReportTapsRequest(
        host="hv2", agent_id="hv2-agent", full=True, taps=[tap(interface)]
    )
    await rig.agent.ReportTaps(other)  # the tap is on hv2: the port is bound there
    await rig.register()
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await rig.ack(
            binding_pb2.Binding(port_id=rig.spec.id, revision=99, tap=tap_name(interface))
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert rig.spec.id in (denied.value.details() or "")
    # The refusal came before anything was recorded: the back-end's own state (what it
    # would report and re-assert) does not have the port UP, and nothing was reported.
    listing = await rig.core.ListStatus(backend_pb2.ListStatusRequest())
    assert all(s.link_status != UP for s in listing.statuses if s.resource_id == rig.spec.id)
    assert all(r.link_status != UP for r in rig.reports_now())


async def test_agent_and_backend_work_over_mtls(tls_rig: Rig) -> None:
    rig = tls_rig
    interface = str(uuid.uuid4())
    await rig.change(CREATE)
    await rig.change(PLUG, interface_id=interface)
    await rig.register(tap(interface))
    stream = rig.agent.WatchBindings(apb.WatchBindingsRequest(host=HOST, agent_id=rig.agent_id))
    snapshot = await next_response(stream)
    await rig.ack(snapshot.events[0].binding)
    # The report reached the collector, which takes only TLS with a certificate of the CA.
    await rig.report("", UP)
    stream.cancel()


async def test_an_mtls_agent_speaks_only_for_its_certificates_host(tls_rig: Rig) -> None:
    rig = tls_rig
    interface = str(uuid.uuid4())
    await rig.change(CREATE)
    await rig.change(PLUG, interface_id=interface)
    hv2 = rig.agent_stub("hv2")
    await hv2.ReportTaps(
        apb.ReportTapsRequest(host="hv2", agent_id="hv2-agent", full=True, taps=[tap(interface)])
    )
    await rig.register()
    claims = [
        rig.agent.ReportTaps(apb.ReportTapsRequest(host="hv2", agent_id=rig.agent_id, full=True)),
        rig.agent.Heartbeat(apb.HeartbeatRequest(host="hv2", agent_id="hv2-agent")),
        rig.agent.WatchBindings(apb.WatchBindingsRequest(host="hv2", agent_id="hv2-agent")).read(),
    ]
    for claim in claims:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await claim
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "not host 'hv2'" in (denied.value.details() or "")
    # Its own host name, but another host's port.
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await rig.ack(
            binding_pb2.Binding(port_id=rig.spec.id, revision=99, tap=tap_name(interface))
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_dns_san_names_the_agents_host(tls_rig: Rig) -> None:
    rig = tls_rig
    assert rig.pki is not None
    issued = issue(rig.pki.ca, "dns-agent", san_dns=[HOST.upper()], client=True)
    agent = agent_service_pb2_grpc.AgentServiceStub(rig.dial(issued))
    answer = await agent.ReportTaps(apb.ReportTapsRequest(host=HOST, agent_id="a", full=True))
    assert answer.registered
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await agent.ReportTaps(apb.ReportTapsRequest(host="hv2", agent_id="a", full=True))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_an_agent_certificate_may_not_call_backend_service(tls_rig: Rig) -> None:
    rig = tls_rig
    core_as_agent = backend_pb2_grpc.BackendServiceStub(rig.dial(rig.pki and rig.pki.agent(HOST)))
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await core_as_agent.ListStatus(backend_pb2.ListStatusRequest())
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_plain_text_and_foreign_agents_cannot_reach_an_mtls_backend(
    tls_rig: Rig, tmp_path: Path
) -> None:
    rig = tls_rig
    assert rig.pki is not None
    rogue = issue(make_ca(tmp_path / "rogue", "rogue"), "agent-hv1", client=True)
    foreign = grpc.aio.secure_channel(rig.address, channel_credentials(rig.pki.ca, rogue))
    rig.channels.append(foreign)
    for channel in (rig.dial(None), foreign):
        agent = agent_service_pb2_grpc.AgentServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await agent.ReportTaps(
                apb.ReportTapsRequest(host=HOST, agent_id="x", full=True), timeout=5
            )
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert rig.backend.host(HOST) is None  # no trace of either attempt


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
