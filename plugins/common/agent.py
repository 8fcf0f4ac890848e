"""The host agent's protocol side, shared by the linuxbridge and Open vSwitch agents.

One agent runs per hypervisor (a network namespace in tests). It

- registers with the back-end by reporting every VM interface of the host and its state
  (linuxbridge: ``tap*`` devices; OVS: Interface rows with an ``iface-id``), then reports
  changes as its datapath's events arrive;
- follows ``WatchBindings``, a resumable stream of what the host must wire: a snapshot
  first (reconciled against the host), then changes, each acknowledged with
  ``ReportBindings``;
- heartbeats, so the back-end can tell when it stops.

All datapath changes go through one lock, in stream order. Nothing is kept on disk: the
host itself and the back-end's snapshot are the state, so a SIGKILLed agent restarts into
a reconcile. A datapath-specific subclass of :class:`HostAgent` implements the methods
marked "datapath" below.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import grpc

from quantum_api.linuxbridge.v1 import (
    agent_service_pb2 as pb,
    agent_service_pb2_grpc,
    binding_pb2,
)

__all__ = ["DatapathError", "HostAgent"]

_LOG = logging.getLogger(__name__)

# Seconds link events are left to settle before tap changes are reported.
_DEBOUNCE = 0.05
# Seconds a session must last for the reconnection backoff to start over.
_STABLE = 5.0

# What the back-end answers when it will not take a call as it is: this host's identity
# does not allow it, or another agent instance holds the host (docs/security.md, "Agents").
_REFUSED = frozenset(
    {
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.UNAUTHENTICATED,
    }
)

_BOUND = binding_pb2.BINDING_EVENT_TYPE_BOUND
_UNBOUND = binding_pb2.BINDING_EVENT_TYPE_UNBOUND

# Keep gRPC's reconnect backoff short: an agent must find a restarted back-end quickly.
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
]


class DatapathError(Exception):
    """The datapath refused an operation (netlink, OVSDB)."""


@dataclass
class _Outgoing:
    """One report waiting to be delivered, in order."""

    method: str  # "ReportTaps" or "ReportBindings"
    request: Any
    delivered: asyncio.Future[Any] | None = None


class HostAgent:
    """The agent of one host, less its datapath."""

    def __init__(
        self,
        host: str,
        backend: str,
        *,
        heartbeat: float = 3.0,
        call_timeout: float = 5.0,
        max_backoff: float = 2.0,
        credentials: grpc.ChannelCredentials | None = None,
        tunnel_ip: str = "",
    ) -> None:
        """An agent for ``host`` talking to the back-end at ``backend`` (a gRPC target);
        over mTLS with ``credentials``, whose certificate must name ``host``
        (docs/security.md, "Agents"). ``tunnel_ip`` is the host's underlay address, where
        other hosts send its VXLAN traffic ("": the host joins no tunnel)."""
        self.host = host
        self.tunnel_ip = tunnel_ip
        self._credentials = credentials
        self.agent_id = str(uuid.uuid4())
        self._target = backend
        self._heartbeat = heartbeat
        self._call_timeout = call_timeout
        self._max_backoff = max_backoff
        self._channel: Any = None
        self._stub: Any = None
        self._lock = asyncio.Lock()
        self._desired: dict[str, binding_pb2.Binding] = {}
        self._taps: dict[str, binding_pb2.Tap] = {}
        self._outbox: collections.deque[_Outgoing] = collections.deque()
        self._outbox_ready = asyncio.Event()
        self._reconnect = asyncio.Event()
        self._registered = False
        self._epoch = ""
        self._cursor = 0
        self._need_snapshot = True
        self._checks: set[str] = set()
        self._sent: dict[str, binding_pb2.Tap] = {}  # tap states the back-end was told
        self._dirty: set[str] = set()
        self._dirty_ready = asyncio.Event()
        self._checks_ready = asyncio.Event()

    @property
    def desired(self) -> dict[str, binding_pb2.Binding]:
        """The bindings this host must wire, by port id."""
        return self._desired

    async def run(self) -> None:
        """Run until cancelled."""
        await self.open()
        if self._credentials is None:
            self._channel = grpc.aio.insecure_channel(self._target, options=_CHANNEL_OPTIONS)
        else:
            self._channel = grpc.aio.secure_channel(
                self._target, self._credentials, options=_CHANNEL_OPTIONS
            )
        self._stub = agent_service_pb2_grpc.AgentServiceStub(self._channel)
        _LOG.info(
            "agent %s for host %s (%s), back-end %s",
            self.agent_id,
            self.host,
            self.describe(),
            self._target,
        )
        tasks = [
            asyncio.create_task(self.monitor(), name="agent-monitor"),
            asyncio.create_task(self._deliver(), name="agent-deliver"),
            asyncio.create_task(self._heartbeats(), name="agent-heartbeat"),
            asyncio.create_task(self._check_worker(), name="agent-checks"),
            asyncio.create_task(self._report_taps(), name="agent-taps"),
            asyncio.create_task(self._sessions(), name="agent-session"),
        ]
        try:
            # Any task ending is a bug: surface it rather than limp along.
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._channel.close()
            self.close()

    # --- the session: register, follow the bindings ----------------------------------------

    async def _sessions(self) -> None:
        backoff = 0.1
        while True:
            self._reconnect.clear()
            try:
                await self._register()
                started = time.monotonic()
                await self._follow()
                if time.monotonic() - started > _STABLE:
                    backoff = 0.1  # a session that lasted was not a failing loop
            except grpc.aio.AioRpcError as exc:
                _LOG.warning("back-end %s: %s: %s", self._target, exc.code().name, exc.details())
            except DatapathError as exc:
                _LOG.error("datapath: %s; starting over", exc)
                self._need_snapshot = True
            self._registered = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _register(self) -> None:
        """Report every tap (which registers this instance); wait until it is delivered."""
        async with self._lock:
            self._taps = await self.scan()
            self._sent = dict(self._taps)
            self._dirty.clear()
            # A full report supersedes every tap change still queued.
            kept = [item for item in self._outbox if item.method != "ReportTaps"]
            self._outbox.clear()
            self._outbox.extend(kept)
            delivered = asyncio.get_running_loop().create_future()
            request = pb.ReportTapsRequest(
                host=self.host,
                agent_id=self.agent_id,
                full=True,
                taps=self._taps.values(),
                heartbeat_interval_ms=int(self._heartbeat * 1000),
                tunnel_ip=self.tunnel_ip,
            )
            self._enqueue(_Outgoing("ReportTaps", request, delivered))
        response = await delivered
        self._registered = True
        _LOG.info(
            "registered with back-end epoch %s (%d taps)", response.backend_epoch, len(self._taps)
        )

    async def _follow(self) -> None:
        start = 0 if self._need_snapshot else self._cursor
        call = self._stub.WatchBindings(
            pb.WatchBindingsRequest(
                host=self.host,
                agent_id=self.agent_id,
                backend_epoch=self._epoch,
                start_revision=start,
            )
        )

        async def read() -> None:
            async for response in call:
                # Shielded: a reconnect must not interrupt a half-applied change.
                await asyncio.shield(self._handle(response))

        reader = asyncio.create_task(read())
        interrupted = asyncio.create_task(self._reconnect.wait())
        try:
            await asyncio.wait({reader, interrupted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            interrupted.cancel()
            if not reader.done():
                call.cancel()
                reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader  # re-raises an AioRpcError of the stream
        if self._reconnect.is_set():
            _LOG.info("re-registering with the back-end")
        else:
            _LOG.warning("binding stream ended; reconnecting")

    async def _handle(self, response: Any) -> None:
        results: list[binding_pb2.BindingResult] = []
        async with self._lock:
            if response.snapshot:
                desired = {e.binding.port_id: e.binding for e in response.events}
                _LOG.info(
                    "snapshot of %d binding(s) at revision %d", len(desired), response.revision
                )
                results = await self.reconcile(desired)
                self._need_snapshot = False
            else:
                for event in response.events:
                    result = await self._on_event(event)
                    if result is not None:
                        results.append(result)
            self._epoch, self._cursor = response.backend_epoch, response.revision
        if results:
            self._enqueue(
                _Outgoing(
                    "ReportBindings",
                    pb.ReportBindingsRequest(
                        host=self.host,
                        agent_id=self.agent_id,
                        results=results,
                        backend_epoch=response.backend_epoch,
                    ),
                )
            )

    async def _on_event(self, event: Any) -> binding_pb2.BindingResult | None:
        binding = event.binding
        if event.type == _BOUND:
            self._desired[binding.port_id] = binding
            return await self.apply(binding)
        if event.type == _UNBOUND:
            current = self._desired.get(binding.port_id)
            if current is not None and current.revision < binding.revision:
                del self._desired[binding.port_id]
            return await self.remove(binding)
        return None

    # --- datapath (a subclass implements these) -----------------------------------------------

    def describe(self) -> str:
        """What the agent wires, for its start-up log line."""
        return "a datapath"

    async def open(self) -> None:
        """Connect to the datapath."""

    def close(self) -> None:
        """Disconnect from the datapath."""

    async def scan(self) -> dict[str, binding_pb2.Tap]:
        """Every VM interface of the host, by the name the back-end knows it by."""
        raise NotImplementedError

    async def monitor(self) -> None:
        """Follow the datapath's events forever, calling :meth:`interface_seen`,
        :meth:`interface_gone`, :meth:`schedule` and :meth:`resynchronise`."""
        raise NotImplementedError

    async def apply(self, binding: binding_pb2.Binding) -> binding_pb2.BindingResult | None:
        """Wire one binding; None if its interface is gone (the back-end will hear of it)."""
        raise NotImplementedError

    async def remove(self, binding: binding_pb2.Binding) -> binding_pb2.BindingResult:
        """Unwire one binding (best effort: the next reconcile finishes it)."""
        raise NotImplementedError

    async def reconcile(
        self, desired: dict[str, binding_pb2.Binding]
    ) -> list[binding_pb2.BindingResult]:
        """Make the host match ``desired`` exactly: remove the rest, add what is missing."""
        raise NotImplementedError

    async def wired(self, binding: binding_pb2.Binding) -> bool:
        """Whether ``binding`` is still wired as applied (or its interface is gone)."""
        raise NotImplementedError

    # --- datapath events ----------------------------------------------------------------------

    def interface_seen(self, tap: binding_pb2.Tap) -> None:
        """The datapath reports an interface's current state."""
        self._taps[tap.name] = tap
        self._mark_dirty(tap.name)

    def interface_gone(self, name: str) -> None:
        """The datapath reports an interface removed."""
        self._tap_gone(name)

    def resynchronise(self) -> None:
        """Events were lost: register again and reconcile from a snapshot."""
        self._need_snapshot = True
        self._reconnect.set()

    def applied(
        self, binding: binding_pb2.Binding, tap: binding_pb2.Tap
    ) -> binding_pb2.BindingResult:
        """An APPLIED acknowledgement of ``binding``, carrying ``tap``'s state after."""
        self._told(tap)
        return binding_pb2.BindingResult(
            port_id=binding.port_id,
            revision=binding.revision,
            outcome=binding_pb2.BINDING_OUTCOME_APPLIED,
            tap=tap,
        )

    @staticmethod
    def failed(binding: binding_pb2.Binding, error: Exception) -> binding_pb2.BindingResult:
        """A FAILED acknowledgement of ``binding``."""
        _LOG.error("port %s: cannot wire %s: %s", binding.port_id, binding.tap, error)
        return binding_pb2.BindingResult(
            port_id=binding.port_id,
            revision=binding.revision,
            outcome=binding_pb2.BINDING_OUTCOME_FAILED,
            error=str(error),
        )

    def removed(
        self, binding: binding_pb2.Binding, tap: binding_pb2.Tap | None
    ) -> binding_pb2.BindingResult:
        """A REMOVED acknowledgement of ``binding``, with ``tap``'s state if it exists."""
        result = binding_pb2.BindingResult(
            port_id=binding.port_id,
            revision=binding.revision,
            outcome=binding_pb2.BINDING_OUTCOME_REMOVED,
        )
        if tap is not None:
            result.tap.CopyFrom(tap)
            self._told(tap)
        return result

    def _tap_gone(self, name: str) -> None:
        if self._taps.pop(name, None) is not None:
            self._mark_dirty(name)

    def _mark_dirty(self, name: str) -> None:
        self._dirty.add(name)
        self._dirty_ready.set()

    def _told(self, tap: binding_pb2.Tap) -> None:
        """``tap``'s state goes to the back-end with an acknowledgement."""
        self._taps[tap.name] = tap
        self._sent[tap.name] = tap

    async def _report_taps(self) -> None:
        """Report tap changes, debounced: events arrive in bursts, and some of them are
        history by the time they are read (a tap seen "down" just before it came up), so
        what is sent is each tap's latest state, and only if it differs from the last sent.
        """
        while True:
            await self._dirty_ready.wait()
            await asyncio.sleep(_DEBOUNCE)
            self._dirty_ready.clear()
            dirty, self._dirty = self._dirty, set()
            changed = [
                self._taps[n]
                for n in dirty
                if n in self._taps and self._taps[n] != self._sent.get(n)
            ]
            removed = [n for n in dirty if n not in self._taps and n in self._sent]
            if not changed and not removed:
                continue
            for tap in changed:
                self._sent[tap.name] = tap
            for name in removed:
                del self._sent[name]
            # Queued behind the latest full report; a later registration drops it, its full
            # report being newer.
            self._enqueue(
                _Outgoing(
                    "ReportTaps",
                    pb.ReportTapsRequest(
                        host=self.host, agent_id=self.agent_id, taps=changed, removed=removed
                    ),
                )
            )

    def schedule(self, port_ids: Iterable[str]) -> None:
        """Check these ports' wiring soon (something changed under the agent)."""
        self._checks.update(port_ids)
        if self._checks:
            self._checks_ready.set()

    async def _check_worker(self) -> None:
        """Re-apply bindings whose wiring changed under us (a bridge removed by hand...)."""
        while True:
            await self._checks_ready.wait()
            self._checks_ready.clear()
            await asyncio.sleep(0.05)  # let a burst of events settle
            pending, self._checks = self._checks, set()
            results = []
            async with self._lock:
                for port_id in pending:
                    binding = self._desired.get(port_id)
                    if binding is None or await self.wired(binding):
                        continue
                    _LOG.info("port %s: wiring changed outside the agent; re-applying", port_id)
                    result = await self.apply(binding)
                    if result is not None:
                        results.append(result)
            if results and self._registered:
                self._enqueue(
                    _Outgoing(
                        "ReportBindings",
                        pb.ReportBindingsRequest(
                            host=self.host,
                            agent_id=self.agent_id,
                            results=results,
                            backend_epoch=self._epoch,
                        ),
                    )
                )

    # --- delivery and heartbeats ------------------------------------------------------------

    def _enqueue(self, item: _Outgoing) -> None:
        self._outbox.append(item)
        self._outbox_ready.set()

    async def _deliver(self) -> None:
        """Send queued reports in order, retrying the head until the back-end takes it."""
        backoff = 0.1
        while True:
            if not self._outbox:
                self._outbox_ready.clear()
                await self._outbox_ready.wait()
                continue
            item = self._outbox[0]
            try:
                response = await getattr(self._stub, item.method)(
                    item.request, timeout=self._call_timeout
                )
            except grpc.aio.AioRpcError as exc:
                denied = exc.code() is grpc.StatusCode.PERMISSION_DENIED
                if denied and item.method == "ReportBindings" and self._outbox[0] is item:
                    # The back-end will never take it (a port not bound to this host):
                    # resending would hold up every report behind it.
                    _LOG.error("%s refused for good: %s", item.method, exc.details())
                    self._outbox.popleft()
                    continue
                level = logging.WARNING if exc.code() in _REFUSED else logging.DEBUG
                _LOG.log(
                    level,
                    "%s failed (%s: %s); retrying",
                    item.method,
                    exc.code().name,
                    exc.details(),
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 0.1
            if self._outbox and self._outbox[0] is item:
                self._outbox.popleft()
            if item.delivered is not None and not item.delivered.done():
                item.delivered.set_result(response)
            if not response.registered and self._registered:
                _LOG.warning("the back-end does not know this agent instance; re-registering")
                self._reconnect.set()

    async def _heartbeats(self) -> None:
        while True:
            if self._registered:
                try:
                    response = await self._stub.Heartbeat(
                        pb.HeartbeatRequest(
                            host=self.host,
                            agent_id=self.agent_id,
                            interval_ms=int(self._heartbeat * 1000),
                        ),
                        timeout=max(self._heartbeat, 1.0),
                    )
                    if not response.registered and self._registered:
                        _LOG.warning(
                            "heartbeat: the back-end does not know this agent; re-registering"
                        )
                        self._reconnect.set()
                except grpc.aio.AioRpcError as exc:
                    _LOG.debug("heartbeat failed: %s", exc.code().name)
            await asyncio.sleep(self._heartbeat)
