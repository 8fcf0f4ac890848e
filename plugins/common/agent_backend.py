"""A back-end whose ports are wired by host agents: desired state, bindings, liveness.

Shared by linuxbridge and Open vSwitch (docs/linuxbridge.md, docs/ovs.md); both speak the
agent protocol of ``protos/quantum/linuxbridge/v1``. The core applies changes through
``BackendService``; this module keeps the desired state (a restarted back-end is refilled by
the core's resync), decides which host each plugged interface lands on (the host whose agent
reports it), publishes what each host must wire to that host's agent
(``AgentService.WatchBindings``), and turns what agents report (interfaces,
acknowledgements, heartbeats) into status reports for the core.

Networks, port creates and deletes touch no datapath and answer DONE; plugs, unplugs,
updates and resync ENSUREs of ports answer ACCEPTED and are reported when the agent has
wired them, or when it is clear it cannot (no agent sees the interface after the grace
period, the agent is not running). A subclass names how a host knows an interface
(:meth:`AgentBackend.interface_key`) and where a host wires it (:meth:`AgentBackend.wiring`).
With a segment store each network gets a segmentation id (a VLAN, a VXLAN VNI), and each
binding names the tunnel addresses of the other hosts with ports of its network.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import grpc

from quantum_api.linuxbridge.v1 import agent_service_pb2, binding_pb2
from quantum_api.plugin.v1 import backend_pb2, resource_status_pb2 as rs
from quantum_api.v1 import backend_error_pb2, port_pb2
from quantum_plugins.common import reasons
from quantum_plugins.common.base import BackendBase
from quantum_plugins.common.changes import change_label, log_change, validate_change
from quantum_plugins.common.hosts import Ack, Host, Revisions
from quantum_plugins.common.identity import check_host, refuse_agents
from quantum_plugins.common.reporter import StatusSender
from quantum_plugins.common.segments import SegmentsExhausted, SegmentStore

__all__ = ["SYNCHRONOUS_CHANGES", "AgentBackend", "NetworkRefused", "Wiring"]

_LOG = logging.getLogger(__name__)

NETWORK, PORT = rs.RESOURCE_KIND_NETWORK, rs.RESOURCE_KIND_PORT
_CREATE, _DELETE = backend_pb2.CHANGE_ACTION_CREATE, backend_pb2.CHANGE_ACTION_DELETE
_READY, _ERROR = rs.OBSERVED_STATE_READY, rs.OBSERVED_STATE_ERROR
_PENDING, _DELETED = rs.OBSERVED_STATE_PENDING, rs.OBSERVED_STATE_DELETED
_UP, _DOWN = port_pb2.LINK_STATUS_UP, port_pb2.LINK_STATUS_DOWN
_BOUND = binding_pb2.BINDING_EVENT_TYPE_BOUND
_APPLIED, _REMOVED = binding_pb2.BINDING_OUTCOME_APPLIED, binding_pb2.BINDING_OUTCOME_REMOVED
_FAILED = binding_pb2.BINDING_OUTCOME_FAILED

#: Changes answered DONE: everything that touches no host. Plugs, unplugs, port updates
#: and port ENSUREs wait for an agent and are reported later.
SYNCHRONOUS_CHANGES: frozenset[tuple[int, int]] = frozenset(
    [(NETWORK, a) for a in (_CREATE, backend_pb2.CHANGE_ACTION_UPDATE, _DELETE)]
    + [(NETWORK, backend_pb2.CHANGE_ACTION_ENSURE), (PORT, _CREATE), (PORT, _DELETE)]
)


@dataclass(frozen=True)
class Wiring:
    """What a binding carries besides the port: where the host wires it."""

    #: The host's name for the interface (linuxbridge: the tap; OVS: the iface-id).
    tap: str
    #: The network's bridge on the host ("" when the agent has one bridge for all).
    bridge: str = ""


class NetworkRefused(Exception):
    """A network the back-end cannot carry; the network goes ERROR with this code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Port:
    """A port's desired state and where it is wired."""

    spec: backend_pb2.PortSpec
    generation: int
    #: When the current interface was plugged (the grace period runs from here).
    plugged_at: float = 0.0
    #: The host the port is bound to, if any.
    host: str | None = None
    #: (host, revision) of an UNBOUND the agent has not acknowledged yet, and since when.
    unbinding: tuple[str, int] | None = None
    unbinding_since: float = 0.0
    #: The last status sent, to send only changes.
    last: tuple[Any, ...] | None = None


class AgentBackend(BackendBase):
    """Servicer of ``quantum.plugin.v1.BackendService`` and ``AgentService``, and the state."""

    #: The BackendError code of a binding an agent could not wire.
    agent_failure_code = "AGENT_FAILED"
    #: What DescribeBackend says the datapath is.
    datapath = "host agents"
    #: The BackendError code of a network created when every segmentation id is taken.
    no_segment_code = "NO_FREE_SEGMENT"

    def __init__(
        self,
        *,
        name: str,
        grace_period: float = 5.0,
        heartbeat_timeout: float | None = None,
        reassert_interval: float = 10.0,
        progress_interval: float = 5.0,
        tick: float = 0.2,
        settle: float = 1.0,
        sender: StatusSender | None = None,
        memory: int = 100_000,
        segments: SegmentStore | None = None,
    ) -> None:
        """Create the back-end.

        Args:
            name: the back-end name in DescribeBackend and every report.
            grace_period: seconds a plugged interface's tap may take to appear on a host
                (and an agent to acknowledge an unplug) before the port is reported anyway.
            heartbeat_timeout: seconds of agent silence meaning "agent not running";
                None means three of the agent's own heartbeat intervals.
            reassert_interval: seconds between re-assertions of every status (0: never).
            progress_interval: seconds between progress markers on idle binding streams.
            tick: seconds between checks of agent liveness and grace periods.
            settle: seconds without changes, after the core's first ListStatus, before
                the desired state counts as complete and agents get their snapshots.
            sender: where reports go (a new StatusSender by default).
            memory: how many operation ids and tombstones are remembered.
            segments: where each network's segmentation id (VLAN, VNI) is allocated and
                kept; None gives networks none.
        """
        super().__init__(name, reassert_interval=reassert_interval, sender=sender)
        self._grace = grace_period
        self._heartbeat_timeout = heartbeat_timeout
        self._progress_interval = progress_interval
        self._tick = tick
        self._settle = settle
        # Set once the core has refilled this (memory-only) back-end: until then a snapshot
        # would tell agents to tear down everything they wired.
        self.primed = asyncio.Event()
        self._priming: asyncio.TimerHandle | None = None
        self._memory = memory
        self.epoch = str(uuid.uuid4())
        self._revisions = Revisions()
        self._networks: dict[str, tuple[backend_pb2.NetworkSpec, int]] = {}
        self._ports: dict[str, _Port] = {}
        self._hosts: dict[str, Host] = {}
        # Generation of each deleted resource, so a late change cannot resurrect it.
        self._tombstones: collections.OrderedDict[str, int] = collections.OrderedDict()
        # operation id -> the answer given, so a retry gets the same one.
        self._operations: collections.OrderedDict[str, Any] = collections.OrderedDict()
        # port id -> when its status may become known without anything else happening.
        self._due: dict[str, float] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._segments = segments

    def held_networks(self) -> list[str]:
        """The ids of the networks held."""
        return list(self._networks)

    def host(self, name: str) -> Host | None:
        """What the back-end knows of host ``name``, if anything."""
        return self._hosts.get(name)

    def start(self) -> None:
        """Start the sender, re-assertion and the liveness/grace ticker."""
        super().start()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._ticker(), name=f"{self._name}-ticker"))

    async def _close_own(self) -> None:
        if self._priming is not None:
            self._priming.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._segments is not None:
            self._segments.close()

    # --- BackendService -------------------------------------------------------------------

    async def DescribeBackend(self, request: Any, context: Any) -> Any:
        """Remember where to report; say who we are and what is synchronous."""
        await refuse_agents(context)
        self.follow_reporter(request)
        return backend_pb2.DescribeBackendResponse(
            name=self._name,
            description=f"{self.datapath}, wired by host agents ({len(self._hosts)} host(s) known)",
            synchronous_changes=sorted(change_label(k, a) for k, a in SYNCHRONOUS_CHANGES),
        )

    async def ApplyChange(self, request: Any, context: Any) -> Any:
        """Apply one change at once; DONE for what touches no host, else ACCEPTED."""
        await refuse_agents(context)
        problem = validate_change(request)
        if problem is not None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        log_change(_LOG, request, context)
        if self._priming is not None:
            self._prime_later()  # the resync is still pouring in: wait for it to end
        known = self._operations.get(request.operation_id)
        if known is not None:
            return known  # a retry: the same answer, applied once
        status = self._apply(request)
        if (request.kind, request.action) in SYNCHRONOUS_CHANGES:
            answer = backend_pb2.ApplyChangeResponse(
                outcome=backend_pb2.APPLY_OUTCOME_DONE, status=status
            )
        else:
            answer = backend_pb2.ApplyChangeResponse(outcome=backend_pb2.APPLY_OUTCOME_ACCEPTED)
        self._remember(self._operations, request.operation_id, answer)
        return answer

    async def ListStatus(self, request: Any, context: Any) -> Any:
        """The status of every network and port held (PENDING while an agent works)."""
        await refuse_agents(context)
        if not self.primed.is_set() and self._priming is None:
            self._prime_later()
        statuses = [
            rs.ResourceStatus(kind=NETWORK, resource_id=spec.id, generation=gen, state=_READY)
            for spec, gen in self._networks.values()
        ]
        statuses.extend(self._status(port) for port in self._ports.values())
        return backend_pb2.ListStatusResponse(statuses=statuses)

    # --- AgentService ---------------------------------------------------------------------

    async def ReportTaps(self, request: Any, context: Any) -> Any:
        """Register an agent (full report) or take a change of its host's taps.

        A second agent instance claiming a host whose agent is live is refused
        (FAILED_PRECONDITION), never preferred: it would evict the real one.
        """
        host = await self._agent_host(request.host, context)
        if request.full:
            if host.claimed_by_other(request.agent_id):
                _LOG.warning(
                    "agent %s refused: host %s already has live agent %s",
                    request.agent_id,
                    host.name,
                    host.agent_id,
                )
                await context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"host {host.name!r} already has a live agent ({host.agent_id}); stop it "
                    "first, or wait until it is declared not running",
                )
            interval = request.heartbeat_interval_ms / 1000.0 or None
            host.tunnel_ip = request.tunnel_ip
            if host.register(request.agent_id, list(request.taps), interval):
                _LOG.info("agent %s registered for host %s", request.agent_id, host.name)
            self._rebind_all()
            self._publish_all()
        elif request.agent_id != host.agent_id:
            return agent_service_pb2.ReportTapsResponse(registered=False, backend_epoch=self.epoch)
        else:
            self._heard_from(host)
            for tap in request.taps:
                host.taps[tap.name] = tap
            for gone in request.removed:
                host.taps.pop(gone, None)
            changed = {tap.name for tap in request.taps} | set(request.removed)
            for port in list(self._ports.values()):
                if port.spec.interface_id and self.interface_key(port.spec.interface_id) in changed:
                    self._rebind(port)
                    self._publish(port)
        return agent_service_pb2.ReportTapsResponse(registered=True, backend_epoch=self.epoch)

    async def WatchBindings(self, request: Any, context: Any) -> Any:
        """Stream the host's bindings: a snapshot unless resumable, then changes."""
        host = await self._agent_host(request.host, context)
        host.stream_opened(request.agent_id)
        try:
            async for response in self._bindings(host, request):
                yield response
        finally:
            host.stream_closed(request.agent_id)

    async def _bindings(self, host: Host, request: Any) -> Any:
        await self.primed.wait()
        cursor = request.start_revision
        resumable = request.backend_epoch == self.epoch and cursor > 0
        if not resumable or host.events_after(cursor) is None:
            cursor = self._revisions.current
            yield self._snapshot(host, cursor)
        while True:
            woken = host.changed
            events = host.events_after(cursor)
            if events is None:  # fell behind what the host keeps: start over
                cursor = self._revisions.current
                yield self._snapshot(host, cursor)
                continue
            if events:
                cursor = events[-1].binding.revision
                yield agent_service_pb2.WatchBindingsResponse(
                    backend_epoch=self.epoch, revision=cursor, events=events
                )
                continue
            try:
                await asyncio.wait_for(woken.wait(), self._progress_interval)
            except TimeoutError:
                # Nothing for this host up to the current revision: the agent may resume there.
                cursor = max(cursor, self._revisions.current)
                yield agent_service_pb2.WatchBindingsResponse(
                    backend_epoch=self.epoch, revision=cursor
                )

    async def ReportBindings(self, request: Any, context: Any) -> Any:
        """Take an agent's acknowledgements of binding events; PERMISSION_DENIED for a
        port the host was never told to wire."""
        host = await self._agent_host(request.host, context)
        if request.agent_id != host.agent_id:
            return agent_service_pb2.ReportBindingsResponse(registered=False)
        known = host.known_ports()
        strangers = sorted({r.port_id for r in request.results} - known)
        if strangers:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"port(s) {', '.join(strangers)} are not bound to host {host.name!r}",
            )
        self._heard_from(host)
        if request.backend_epoch != self.epoch:
            return agent_service_pb2.ReportBindingsResponse(registered=True)
        for result in request.results:
            if result.tap.name:
                host.taps[result.tap.name] = result.tap
            ack = host.acks.get(result.port_id)
            if ack is None or result.revision >= ack.revision:
                host.acks[result.port_id] = Ack(result.revision, result.outcome, result.error)
            port = self._ports.get(result.port_id)
            if port is None:
                continue
            if (
                result.outcome == _REMOVED
                and port.unbinding is not None
                and port.unbinding[0] == host.name
                and result.revision >= port.unbinding[1]
            ):
                port.unbinding = None
            self._publish(port)
        return agent_service_pb2.ReportBindingsResponse(registered=True)

    async def Heartbeat(self, request: Any, context: Any) -> Any:
        """Note that an agent is alive; a returning agent's ports are re-evaluated."""
        host = await self._agent_host(request.host, context)
        if request.agent_id != host.agent_id:
            return agent_service_pb2.HeartbeatResponse(registered=False, backend_epoch=self.epoch)
        self._heard_from(host, request.interval_ms / 1000.0 if request.interval_ms else None)
        return agent_service_pb2.HeartbeatResponse(registered=True, backend_epoch=self.epoch)

    def _heard_from(self, host: Host, interval: float | None = None) -> None:
        """The registered agent of ``host`` spoke; if it was taken for dead, it is back."""
        was_alive = host.alive
        host.seen(interval)
        if not was_alive:
            _LOG.info("agent of host %s is back", host.name)
            self._rebind_all()
            self._publish_all()

    def _prime_later(self) -> None:
        if self._priming is not None:
            self._priming.cancel()
        self._priming = asyncio.get_running_loop().call_later(self._settle, self._prime)

    def _prime(self) -> None:
        self._priming = None
        if not self.primed.is_set():
            _LOG.info("resynchronised by the core; serving bindings to agents")
            self.resynchronised()
            self.primed.set()

    # --- applying changes -----------------------------------------------------------------

    def _apply(self, request: Any) -> Any:
        """Apply a change to the state; the resulting status (None: not known yet)."""
        kind = request.kind
        spec = request.network if kind == NETWORK else request.port
        stale = self._stale_status(request, spec)
        if stale is not None:
            return stale
        if kind == NETWORK:
            return self._apply_network(request.action, spec, request.generation)
        return self._apply_port(request.action, spec, request.generation)

    def _stale_status(self, request: Any, spec: Any) -> Any | None:
        """The current status if ``request`` is older than what is held, else None."""
        deleted = self._tombstones.get(spec.id)
        if deleted is not None and (
            request.generation < deleted
            or (request.generation == deleted and request.action != _DELETE)
        ):
            return rs.ResourceStatus(
                kind=request.kind, resource_id=spec.id, generation=deleted, state=_DELETED
            )
        if request.kind == NETWORK:
            held = self._networks.get(spec.id)
            if held is not None and request.generation < held[1]:
                return rs.ResourceStatus(
                    kind=NETWORK, resource_id=spec.id, generation=held[1], state=_READY
                )
            return None
        port = self._ports.get(spec.id)
        if port is not None and request.generation < port.generation:
            return self._status(port)
        return None

    def _apply_network(self, action: int, spec: Any, generation: int) -> Any:
        if action == _DELETE:
            self._networks.pop(spec.id, None)
            for port in [p for p in self._ports.values() if p.spec.network_id == spec.id]:
                self._drop_port(port)
            self.network_removed(spec.id)
            self._remember(self._tombstones, spec.id, generation)
            return rs.ResourceStatus(
                kind=NETWORK, resource_id=spec.id, generation=generation, state=_DELETED
            )
        self._tombstones.pop(spec.id, None)
        try:
            self.network_added(spec)
        except NetworkRefused as refused:
            return rs.ResourceStatus(
                kind=NETWORK,
                resource_id=spec.id,
                generation=generation,
                state=_ERROR,
                error=backend_error_pb2.BackendError(code=refused.code, message=refused.message),
            )
        copy = backend_pb2.NetworkSpec()
        copy.CopyFrom(spec)
        self._networks[spec.id] = (copy, generation)
        return rs.ResourceStatus(
            kind=NETWORK, resource_id=spec.id, generation=generation, state=_READY
        )

    def _apply_port(self, action: int, spec: Any, generation: int) -> Any:
        if action == _DELETE:
            port = self._ports.get(spec.id)
            if port is not None:
                self._drop_port(port)
            self._remember(self._tombstones, spec.id, generation)
            return rs.ResourceStatus(
                kind=PORT, resource_id=spec.id, generation=generation, state=_DELETED
            )
        self._tombstones.pop(spec.id, None)
        copy = backend_pb2.PortSpec()
        copy.CopyFrom(spec)
        port = self._ports.get(spec.id)
        if port is None:
            port = self._ports[spec.id] = _Port(copy, generation)
            if copy.interface_id:
                port.plugged_at = time.monotonic()
        else:
            if copy.interface_id != port.spec.interface_id:
                port.plugged_at = time.monotonic()
            port.spec, port.generation = copy, generation
        self._rebind(port)
        if (PORT, action) in SYNCHRONOUS_CHANGES:
            # The answer carries the status: remember it as sent rather than reporting it too.
            status = self._status(port)
            port.last = _key(status)
            return status
        self._publish(port)
        return None

    def _drop_port(self, port: _Port) -> None:
        if port.host is not None:
            host = self._hosts.get(port.host)
            if host is not None and port.spec.id in host.bindings:
                host.unbind(port.spec.id, self._revisions)
        self._ports.pop(port.spec.id, None)
        self._due.pop(port.spec.id, None)
        if port.host is not None:
            self._refresh_peers(port.spec.network_id)

    # --- bindings -------------------------------------------------------------------------

    async def _agent_host(self, name: str, context: Any) -> Host:
        """The host an AgentService call speaks for, once the caller may (docs/security.md)."""
        await check_host(context, name)
        return self._host(name)

    def _host(self, name: str) -> Host:
        host = self._hosts.get(name)
        if host is None:
            host = self._hosts[name] = Host(name)
        return host

    def _rebind_all(self) -> None:
        for port in list(self._ports.values()):
            self._rebind(port)

    def _locate(self, port: _Port) -> str | None:
        """The host to wire ``port`` on: one whose agent reports its tap, alive ones first."""
        if not port.spec.interface_id:
            return None
        tap = self.interface_key(port.spec.interface_id)
        seen = [h for h in self._hosts.values() if tap in h.taps]
        alive = [h.name for h in seen if h.alive]
        if port.host is not None and port.host in alive:
            return port.host  # stay put while the current host is fine
        if alive:
            return alive[0]
        if port.host is not None and any(h.name == port.host for h in seen):
            return port.host
        return seen[0].name if seen else None

    def _rebind(self, port: _Port) -> None:
        """Move ``port``'s binding to where it belongs now, emitting the events needed."""
        target = self._locate(port)
        moved = port.host != target
        if port.host is not None and port.host != target:
            old = self._hosts.get(port.host)
            if old is not None and port.spec.id in old.bindings:
                tap = old.bindings[port.spec.id].tap
                revision = old.unbind(port.spec.id, self._revisions)
                # Wait for the agent's word only if it is alive and the tap is still there
                # to unwire; a vanished tap or a dead agent has nothing to confirm.
                if old.alive and tap in old.taps:
                    port.unbinding, port.unbinding_since = (old.name, revision), time.monotonic()
            port.host = None
        if target is not None:
            host = self._hosts[target]
            self._bind(host, self._binding(port, target))
            port.host = target
            port.unbinding = None
        if moved:
            self._refresh_peers(port.spec.network_id)

    def _bind(self, host: Host, desired: binding_pb2.Binding) -> None:
        current = host.bindings.get(desired.port_id)
        if current is None or not _same(current, desired):
            host.bind(desired, self._revisions)

    def _refresh_peers(self, network_id: str) -> None:
        """The hosts of a network changed: its other ports' bindings name their peers."""
        for port in list(self._ports.values()):
            if port.spec.network_id == network_id and port.host is not None:
                host = self._hosts[port.host]
                if port.spec.id in host.bindings:
                    self._bind(host, self._binding(port, port.host))

    def _peers(self, network_id: str, host: str) -> list[str]:
        """The tunnel addresses of the other hosts with a port of ``network_id``."""
        hosts = {
            p.host
            for p in self._ports.values()
            if p.spec.network_id == network_id and p.host is not None and p.host != host
        }
        return sorted({self._hosts[h].tunnel_ip for h in hosts if self._hosts[h].tunnel_ip})

    # --- what a subclass decides -------------------------------------------------------------

    def interface_key(self, interface_id: str) -> str:
        """The name under which agents report the interface ``interface_id``."""
        return interface_id

    def wiring(self, port: backend_pb2.PortSpec) -> Wiring:
        """Where a host wires ``port`` (its interface's name and bridge)."""
        return Wiring(tap=self.interface_key(port.interface_id))

    # --- segmentation ids -------------------------------------------------------------------

    @property
    def segments(self) -> SegmentStore | None:
        """The network -> segmentation id store, if this back-end segments networks."""
        return self._segments

    def network_added(self, spec: backend_pb2.NetworkSpec) -> None:
        """A network is created or updated (also by a resync ENSURE): give it its
        segmentation id (the one it had, after a restart); NetworkRefused if none is free."""
        if self._segments is None:
            return
        try:
            segment = self._segments.allocate(spec.id)
        except SegmentsExhausted as exc:
            raise NetworkRefused(self.no_segment_code, str(exc)) from exc
        _LOG.info("network %s: segmentation id %d", spec.id, segment)

    def network_removed(self, network_id: str) -> None:
        """A network and its ports are gone: its segmentation id is free again."""
        if self._segments is not None:
            self._segments.release(network_id)

    def resynchronised(self) -> None:
        """The core has refilled the desired state after a start: networks deleted while
        the back-end was away leave their segmentation ids, which are freed."""
        if self._segments is None:
            return
        for network_id in self._segments.keep_only(set(self._networks)):
            _LOG.info("network %s is gone: segmentation id released", network_id)

    def _binding(self, port: _Port, host: str) -> binding_pb2.Binding:
        spec = port.spec
        wiring = self.wiring(spec)
        segment = self._segments.get(spec.network_id) if self._segments is not None else None
        return binding_pb2.Binding(
            port_id=spec.id,
            network_id=spec.network_id,
            interface_id=spec.interface_id,
            tap=wiring.tap,
            bridge=wiring.bridge,
            segmentation_id=segment or 0,
            tunnel_peers=self._peers(spec.network_id, host),
            admin_state_up=spec.admin_state_up,
            qos_rate_kbps=spec.qos_rate_kbps,
            qos_burst_kbytes=spec.qos_burst_kbytes,
            generation=port.generation,
        )

    def _snapshot(self, host: Host, revision: int) -> Any:
        return agent_service_pb2.WatchBindingsResponse(
            backend_epoch=self.epoch, revision=revision, snapshot=True, events=host.snapshot()
        )

    # --- status ---------------------------------------------------------------------------

    def _evaluate(self, port: _Port) -> Any | None:
        """The port's status now, or None while it is not known yet (an agent is at work)."""
        now = time.monotonic()
        spec = port.spec
        if not spec.interface_id:
            if port.unbinding is not None:
                host = self._hosts.get(port.unbinding[0])
                due = port.unbinding_since + self._grace
                if host is not None and host.alive and now < due:
                    self._due[spec.id] = due
                    return None
                port.unbinding = None
            return self._ready(port, _DOWN, reasons.REASON_NO_ATTACHMENT)
        if port.host is None:
            due = port.plugged_at + self._grace
            if now < due:
                self._due[spec.id] = due
                return None
            return self._ready(port, _DOWN, reasons.REASON_NOT_FOUND)
        host = self._hosts[port.host]
        if not host.alive:
            return self._ready(port, _DOWN, reasons.REASON_AGENT_NOT_RUNNING)
        binding = host.bindings[spec.id]
        ack = host.acks.get(spec.id)
        if (
            ack is None
            or ack.revision < binding.revision
            or ack.outcome
            not in (
                _APPLIED,
                _FAILED,
            )
        ):
            return None  # the agent has not wired this version yet
        if ack.outcome == _FAILED:
            return rs.ResourceStatus(
                kind=PORT,
                resource_id=spec.id,
                generation=port.generation,
                state=_ERROR,
                link_status=_DOWN,
                link_status_reason="backend error",
                error=backend_error_pb2.BackendError(
                    code=self.agent_failure_code,
                    message=f"agent of host {host.name} could not wire {binding.tap}: {ack.error}",
                ),
            )
        if not spec.admin_state_up:
            return self._ready(port, _DOWN, reasons.REASON_ADMIN_DOWN)
        tap = host.taps.get(binding.tap)
        if tap is None or not tap.oper_up:
            return self._ready(port, _DOWN, reasons.REASON_INTERFACE_DOWN)
        return self._ready(port, _UP, "")

    def _status(self, port: _Port) -> Any:
        """The port's status now, PENDING at its generation while not known yet."""
        status = self._evaluate(port)
        if status is None:
            status = rs.ResourceStatus(
                kind=PORT, resource_id=port.spec.id, generation=port.generation, state=_PENDING
            )
        return status

    @staticmethod
    def _ready(port: _Port, link: port_pb2.LinkStatus, reason: str) -> Any:
        return rs.ResourceStatus(
            kind=PORT,
            resource_id=port.spec.id,
            generation=port.generation,
            state=_READY,
            link_status=link,
            link_status_reason=reason,
        )

    def _publish(self, port: _Port, *, force: bool = False) -> None:
        """Send the port's status if it is known and differs from the last one sent."""
        status = self._evaluate(port)
        if status is None:
            return
        self._due.pop(port.spec.id, None)
        key = _key(status)
        if key == port.last and not force:
            return
        if key != port.last:
            _LOG.info(
                "port %s generation %d: %s, link %s %s",
                port.spec.id,
                status.generation,
                rs.ObservedState.Name(status.state),
                port_pb2.LinkStatus.Name(status.link_status),
                status.link_status_reason,
            )
        port.last = key
        self._sender.send(status)

    def _publish_all(self) -> None:
        for port in list(self._ports.values()):
            self._publish(port)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self._tick)
            try:
                self._check()
            except Exception:  # a bug here must not stop liveness checks for good
                _LOG.exception("liveness check failed")

    def _check(self) -> None:
        for host in self._hosts.values():
            if host.alive and host.silent_for(self._heartbeat_timeout):
                host.alive = False
                _LOG.warning("agent of host %s is not running (no heartbeat)", host.name)
                self._rebind_all()
                self._publish_all()
        now = time.monotonic()
        for port_id, due in list(self._due.items()):
            if due <= now:
                del self._due[port_id]
                port = self._ports.get(port_id)
                if port is not None:
                    self._publish(port)

    def reassert(self) -> None:
        """Send every network's and every confirmed port's status again."""
        for spec, generation in list(self._networks.values()):
            self._sender.send(
                rs.ResourceStatus(
                    kind=NETWORK, resource_id=spec.id, generation=generation, state=_READY
                )
            )
        for port in list(self._ports.values()):
            if port.last is not None and port.last[0] == port.generation:
                self._publish(port, force=True)

    def _remember(self, table: collections.OrderedDict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        while len(table) > self._memory:
            table.popitem(last=False)


def _key(status: Any) -> tuple[Any, ...]:
    """What makes two port statuses different reports."""
    return (
        status.generation,
        status.state,
        status.link_status,
        status.link_status_reason,
        status.error.code,
        status.error.message,
    )


def _same(a: binding_pb2.Binding, b: binding_pb2.Binding) -> bool:
    """Whether two bindings ask the host for the same wiring (generation and revision aside)."""
    return (
        a.network_id,
        a.interface_id,
        a.tap,
        a.bridge,
        a.segmentation_id,
        list(a.tunnel_peers),
        a.admin_state_up,
        a.qos_rate_kbps,
        a.qos_burst_kbytes,
    ) == (
        b.network_id,
        b.interface_id,
        b.tap,
        b.bridge,
        b.segmentation_id,
        list(b.tunnel_peers),
        b.admin_state_up,
        b.qos_rate_kbps,
        b.qos_burst_kbytes,
    )
