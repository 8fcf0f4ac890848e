"""What the back-end knows of each host: its agent, its taps, and the bindings it must wire.

Every change of a host's desired bindings is one event with a revision taken from one
back-end-wide counter; a host keeps its recent events so that an agent's WatchBindings
stream can resume after the last revision it saw. A stream that asks for a revision the
host no longer keeps gets a snapshot instead, so nothing is ever skipped.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from quantum_api.linuxbridge.v1 import binding_pb2

__all__ = ["Ack", "Host", "Revisions"]

_BOUND = binding_pb2.BINDING_EVENT_TYPE_BOUND

#: How long an agent is given between heartbeats before its first one tells us.
DEFAULT_INTERVAL = 3.0
#: How many heartbeat intervals of silence mean "agent not running".
MISSED_HEARTBEATS = 3


class Revisions:
    """The back-end-wide revision counter of binding events."""

    def __init__(self) -> None:
        self.current = 0

    def next(self) -> int:
        """A new revision, greater than every one given before."""
        self.current += 1
        return self.current


@dataclass
class Ack:
    """An agent's latest account of one binding."""

    revision: int
    outcome: int  # binding_pb2.BindingOutcome
    error: str = ""


@dataclass
class Host:
    """One hypervisor: its registered agent, liveness, taps, bindings and event log."""

    name: str
    log_size: int = 1000
    agent_id: str = ""
    #: The host's underlay address for VXLAN, as its agent registered it ("": none).
    tunnel_ip: str = ""
    interval: float = DEFAULT_INTERVAL
    last_seen: float = 0.0
    alive: bool = False
    #: tap name -> its last reported state.
    taps: dict[str, binding_pb2.Tap] = field(default_factory=dict)
    #: port id -> the agent's acknowledgement of the port's binding.
    acks: dict[str, Ack] = field(default_factory=dict)
    #: port id -> the binding the host must wire.
    bindings: dict[str, binding_pb2.Binding] = field(default_factory=dict)
    log: collections.deque[tuple[int, binding_pb2.BindingEvent]] = field(
        default_factory=collections.deque
    )
    #: Events up to this revision may be missing from ``log``.
    floor: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    #: agent id -> its open WatchBindings streams.
    streams: collections.Counter[str] = field(default_factory=collections.Counter)
    #: The registered agent had binding streams and closed them all (it stopped, or its
    #: connection broke): its claim on the host lapses without waiting for its heartbeats.
    released: bool = False

    def claimed_by_other(self, agent_id: str) -> bool:
        """Whether another agent instance holds this host and is live: it heartbeats and
        has not closed its binding streams since it registered."""
        return (
            bool(self.agent_id) and agent_id != self.agent_id and self.alive and not self.released
        )

    def stream_opened(self, agent_id: str) -> None:
        """``agent_id`` opened a WatchBindings stream."""
        self.streams[agent_id] += 1
        if agent_id == self.agent_id:
            self.released = False

    def stream_closed(self, agent_id: str) -> None:
        """A WatchBindings stream of ``agent_id`` ended."""
        self.streams[agent_id] -= 1
        if self.streams[agent_id] <= 0:
            del self.streams[agent_id]
            if agent_id == self.agent_id:
                self.released = True

    def known_ports(self) -> set[str]:
        """Ports this host was told to wire or unwire (its bindings and its kept events)."""
        return set(self.bindings) | {event.binding.port_id for _, event in self.log}

    def register(
        self, agent_id: str, taps: list[binding_pb2.Tap], interval: float | None = None
    ) -> bool:
        """A full tap report from ``agent_id``; True when it is a new agent instance."""
        new = agent_id != self.agent_id
        if new:
            # A new instance knows nothing of what the old one acknowledged.
            self.agent_id = agent_id
            self.acks.clear()
            self.released = False
        self.taps = {tap.name: tap for tap in taps}
        self.seen(interval)
        return new

    def seen(self, interval: float | None = None) -> None:
        """The agent just spoke; ``interval`` is the heartbeat period it announced."""
        self.last_seen = time.monotonic()
        if interval is not None and interval > 0:
            self.interval = interval
        self.alive = True

    def silent_for(self, timeout: float | None) -> bool:
        """Whether the agent missed its heartbeats (``timeout`` overrides 3 intervals)."""
        limit = timeout if timeout else MISSED_HEARTBEATS * self.interval
        return time.monotonic() - self.last_seen > limit

    def bind(self, binding: binding_pb2.Binding, revisions: Revisions) -> None:
        """Make ``binding`` desired on this host (a BOUND event) at a new revision."""
        binding.revision = revisions.next()
        self.bindings[binding.port_id] = binding
        self._append(_BOUND, binding)

    def unbind(self, port_id: str, revisions: Revisions) -> int:
        """Drop the port's binding (an UNBOUND event); returns the event's revision."""
        old = self.bindings.pop(port_id)
        gone = binding_pb2.Binding()
        gone.CopyFrom(old)
        gone.revision = revisions.next()
        self._append(binding_pb2.BINDING_EVENT_TYPE_UNBOUND, gone)
        return gone.revision

    def events_after(self, revision: int) -> list[binding_pb2.BindingEvent] | None:
        """Events after ``revision`` in order; None when some are no longer kept."""
        if revision < self.floor:
            return None
        found: list[binding_pb2.BindingEvent] = []
        for rev, event in reversed(self.log):
            if rev <= revision:
                break
            found.append(event)
        found.reverse()
        return found

    def snapshot(self) -> Iterator[binding_pb2.BindingEvent]:
        """The host's desired bindings as BOUND events, oldest revision first."""
        for binding in sorted(self.bindings.values(), key=lambda b: b.revision):
            yield binding_pb2.BindingEvent(
                type=binding_pb2.BINDING_EVENT_TYPE_BOUND, binding=binding
            )

    def _append(self, kind: binding_pb2.BindingEventType, binding: binding_pb2.Binding) -> None:
        self.log.append((binding.revision, binding_pb2.BindingEvent(type=kind, binding=binding)))
        while len(self.log) > self.log_size:
            self.floor = self.log.popleft()[0]
        # Wake every stream waiting on this host, then arm a fresh event for the next change.
        self.changed.set()
        self.changed = asyncio.Event()
