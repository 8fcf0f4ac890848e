"""Events as watchers see them: decoded once, encoded once, matched against filters.

Each event is serialised a single time, as a complete ``WatchStatusResponse`` holding just
that event. Because concatenated protobuf messages merge and repeated fields append, a
batch for any watcher is the plain concatenation of its events' bytes: fan-out to
thousands of watchers costs no per-watcher serialisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from quantum_api.enums import short_name, value_of
from quantum_api.v1 import watch_service_pb2 as pb
from quantum_grpc.convert import resource_of_snapshot
from quantum_grpc.store.models import EventRow

# ResourceKind value -> the stored kind ("PORT"), for every kind but UNSPECIFIED.
KINDS: dict[int, str] = {
    value: short_name(pb.ResourceKind, value) for value in pb.ResourceKind.values() if value
}


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One change of the event log, ready to send."""

    revision: int
    tenant_id: str
    kind: str
    resource_id: str
    network_id: str
    port_id: str
    status: str
    event_type: int
    resource: pb.Resource = field(compare=False, repr=False)
    encoded: bytes = field(compare=False, repr=False)
    # Wall-clock time the event was recorded (its transaction commits right after), for
    # the delivery latency metric (quantum_grpc/metrics.py); 0 when unknown.
    committed_at: float = field(default=0.0, compare=False, repr=False)


def make_event(
    *,
    revision: int,
    tenant_id: str,
    kind: str,
    resource_id: str,
    network_id: str,
    status: str,
    event_type: int,
    resource: pb.Resource,
    committed_at: float = 0.0,
) -> LogEvent:
    """A LogEvent with its bytes encoded once."""
    message = pb.WatchStatusResponse(
        events=[pb.WatchEvent(type=event_type, revision=revision, resource=resource)]  # type: ignore[arg-type]
    )
    port_id = (
        resource.attachment.port_id
        if kind == "ATTACHMENT"
        else (resource_id if kind == "PORT" else "")
    )
    return LogEvent(
        revision=revision,
        tenant_id=tenant_id,
        kind=kind,
        resource_id=resource_id,
        network_id=network_id,
        port_id=port_id,
        status=status,
        event_type=event_type,
        resource=resource,
        encoded=message.SerializeToString(),
        committed_at=committed_at,
    )


def from_row(row: EventRow) -> LogEvent:
    """Decode a stored event."""
    return make_event(
        revision=row.revision,
        tenant_id=row.tenant_id,
        kind=row.resource_kind,
        resource_id=row.resource_id,
        network_id=row.network_id,
        status=row.status,
        event_type=value_of(pb.EventType, row.event_kind),
        resource=resource_of_snapshot(row.resource_kind, row.snapshot),
        committed_at=_epoch(row.created_at),
    )


def _epoch(moment: datetime) -> float:
    # SQLite gives naive datetimes back (stored as UTC).
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def marker(event_type: int, revision: int) -> bytes:
    """A SYNCED or PROGRESS marker, encoded."""
    message = pb.WatchStatusResponse(events=[pb.WatchEvent(type=event_type, revision=revision)])  # type: ignore[arg-type]
    return message.SerializeToString()


@dataclass(frozen=True, slots=True)
class WatchFilter:
    """What one watcher wants; ``tenant_id`` None means every tenant (administrators)."""

    tenant_id: str | None
    kinds: frozenset[str] = frozenset()
    resource_ids: frozenset[str] = frozenset()
    network_id: str = ""
    statuses: dict[str, frozenset[str]] = field(default_factory=dict)

    def matches(self, event: LogEvent) -> bool:
        """Whether ``event`` passes every filter (an attachment also matches its port's id)."""
        if self.tenant_id is not None and event.tenant_id != self.tenant_id:
            return False
        if self.kinds and event.kind not in self.kinds:
            return False
        if self.resource_ids and not (
            event.resource_id in self.resource_ids or event.port_id in self.resource_ids
        ):
            return False
        if self.network_id and event.network_id != self.network_id:
            return False
        wanted = self.statuses.get(event.kind)
        return not wanted or event.status in wanted
