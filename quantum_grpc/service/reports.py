"""Apply back-end status reports to observed state (docs/status-model.md, "Generations").

A report is taken only from the back-end that owns the resource and only for the
resource's current generation: an older one is stale and ignored, a newer one is
impossible and rejected. A report taken for generation G sets ``observed_generation`` to G,
so it never moves backwards (docs/status-model.md, "Generations"). A report that changes
nothing (a periodic re-assertion) makes no event; one that changes anything, if only
``observed_generation``, makes exactly one event per resource it changed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_api.enums import short_name
from quantum_api.errors import BackendInputRejected, BackendNotOwner
from quantum_api.plugin.v1 import resource_status_pb2 as rs
from quantum_api.v1 import port_pb2
from quantum_grpc.logs import RateLimitedLog
from quantum_grpc.service.backend_input import (
    Truncation,
    bounded,
    checked_report,
    chunks,
    problem,
)
from quantum_grpc.service.core import attachment_of, record_port
from quantum_grpc.service.status_rules import (
    REASON_BACKEND_UNAVAILABLE,
    REASON_NO_ATTACHMENT,
    AttachmentStatus,
    Cause,
    LinkStatus,
    NetworkStatus,
    PortFacts,
    derive_port_status,
    transition_allowed,
)
from quantum_grpc.store.models import AttachmentRow, NetworkRow, OutboxRow, PortRow
from quantum_grpc.store.rows import fetch_all, fetch_by_id
from quantum_grpc.store.store import EventKind, Store, Tx, first_outbox_entry

log = logging.getLogger(__name__)
# A back-end repeating the same mistake thousands of times gets one line per interval.
limited = RateLimitedLog(log)


class Outcome(Enum):
    """What became of one report."""

    APPLIED = "applied"
    IGNORED = "ignored"
    REJECTED = "rejected"


@dataclass
class Tally:
    """Counts of report outcomes, as ReportStatusResponse carries them."""

    applied: int = 0
    ignored: int = 0
    rejected: int = 0

    def add(self, outcome: Outcome) -> None:
        """Count one outcome."""
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    def merge(self, other: Tally) -> None:
        """Add the counts of ``other``."""
        self.applied += other.applied
        self.ignored += other.ignored
        self.rejected += other.rejected


# The kinds of resource a back-end reports about.
_KINDS = frozenset({rs.RESOURCE_KIND_NETWORK, rs.RESOURCE_KIND_PORT})

# Rows of a report's resources, by (kind, id), read in the transaction applying them.
Preloaded = dict[tuple[int, str], NetworkRow | PortRow]

# statuses[17].link_status -> statuses.link_status: one log reason per field, not per entry.
_INDEX = re.compile(r"\[\d+\]")


async def receive_report(
    store: Store, configured: frozenset[str], backend: str, statuses: Sequence[rs.ResourceStatus]
) -> Tally:
    """A ReportStatus call: only from a configured back-end, checked as a whole before
    anything is applied (docs/plugin-guide.md, "Limits on what a back-end sends"), then
    applied like every report.

    Raises:
        BackendNotOwner: ``backend`` is not configured, or an entry is about a resource
            another back-end owns (nothing is applied then: docs/security.md).
        BackendInputRejected: the report is too large or has an entry the core cannot take.
    """
    if backend not in configured:
        raise BackendNotOwner(f"no back-end named {backend!r} is configured", field="backend")
    try:
        taken, cut = checked_report(statuses)
    except BackendInputRejected as rejected:
        limited.warning(
            f"{backend}/report/{_INDEX.sub('', rejected.field)}",
            "refused a report from back-end %s: %s",
            backend,
            rejected.message,
        )
        raise
    log_truncations(backend, "a report", cut)
    return await apply_report(store, backend, taken, owner_check=True)


async def check_owner(
    conn: AsyncConnection, backend: str, statuses: Sequence[rs.ResourceStatus]
) -> Preloaded:
    """Refuse the whole report if any entry is about another back-end's resource: a
    back-end that does so is misconfigured or hostile, and none of its report is taken.
    (A resource's back-end never changes, so checking before applying is safe.)

    The rows are read whole and returned by (kind, id): applying the first chunk, in the
    same transaction, changes them instead of reading each again."""
    loaded: Preloaded = {}
    networks = {s.resource_id for s in statuses if s.kind == rs.RESOURCE_KIND_NETWORK}
    if networks:
        query = select(NetworkRow).where(NetworkRow.id.in_(networks))
        for network in await fetch_all(conn, NetworkRow, query):
            loaded[rs.RESOURCE_KIND_NETWORK, network.id] = network
    ports = {s.resource_id for s in statuses if s.kind == rs.RESOURCE_KIND_PORT}
    if ports:
        for port in await fetch_all(conn, PortRow, select(PortRow).where(PortRow.id.in_(ports))):
            loaded[rs.RESOURCE_KIND_PORT, port.id] = port
    for index, status in enumerate(statuses):
        row = loaded.get((status.kind, status.resource_id))
        owner = backend if row is None else row.backend
        if owner != backend:
            limited.warning(
                f"{backend}/report/not-owner",
                "refused a report from back-end %s: statuses[%d] is about %s's %s",
                backend,
                index,
                owner,
                status.resource_id,
            )
            raise BackendNotOwner(
                f"statuses[{index}] is about a resource back-end {backend!r} does not own",
                field=f"statuses[{index}].resource_id",
            )
    return loaded


async def apply_report(
    store: Store, backend: str, statuses: list[rs.ResourceStatus], *, owner_check: bool = False
) -> Tally:
    """Apply checked statuses in order, a chunk per transaction, so that a large report
    never holds the database for long: client writes get in between chunks. Reports are
    idempotent, so a failure part-way is healed by the back-end's retry. With
    ``owner_check``, :func:`check_owner` runs first, in the first chunk's transaction."""
    tally = Tally()
    for chunk in chunks(statuses):
        async with store.write() as tx:
            loaded = None
            if owner_check:
                loaded = await check_owner(tx.connection, backend, statuses)
                owner_check = False
            tally.merge(await apply_statuses(tx, backend, chunk, loaded))
    return tally


def log_truncations(backend: str, source: str, cut: list[Truncation]) -> None:
    """One (rate-limited) line for the text fields cut from one message of ``backend``."""
    if cut:
        limited.warning(
            f"{backend}/truncated/{source}",
            "truncated %d over-long field(s) in %s from back-end %s, such as %s",
            len(cut),
            source,
            backend,
            cut[0],
        )


def listing_entries(backend: str, statuses: Sequence[rs.ResourceStatus]) -> list[rs.ResourceStatus]:
    """A ListStatus answer made safe to apply: entries the core cannot take are left out
    (the resync then re-sends those resources), over-long text is cut."""
    taken: list[rs.ResourceStatus] = []
    cut: list[Truncation] = []
    for index, status in enumerate(statuses):
        found = problem(status)
        if found is not None:
            limited.warning(
                f"{backend}/listing/{found[0]}",
                "left out ListStatus entry %d of back-end %s: %s",
                index,
                backend,
                found[1],
            )
            continue
        fixed, truncations = bounded(status)
        taken.append(fixed)
        cut.extend(truncations)
    log_truncations(backend, "ListStatus", cut)
    return taken


async def apply_statuses(
    tx: Tx, backend: str, statuses: Iterable[rs.ResourceStatus], loaded: Preloaded | None = None
) -> Tally:
    """Apply a batch of reports from ``backend`` in order, inside ``tx``; a resource in
    ``loaded`` (read in ``tx``) is not read again."""
    tally = Tally()
    for status in statuses:
        row = None if loaded is None else loaded.get((status.kind, status.resource_id))
        if row is None:
            tally.add(await apply_status(tx, backend, status))
        else:
            # Changed in place by an earlier entry about it, or deleted by one.
            found = None if row.id in tx.gone else row
            tally.add(await apply_to(tx, backend, status, found))
    return tally


async def apply_status(tx: Tx, backend: str, status: rs.ResourceStatus) -> Outcome:
    """Apply one report from ``backend``."""
    return await apply_to(tx, backend, status, await _resource_of(tx.connection, status))


async def apply_to(
    tx: Tx, backend: str, status: rs.ResourceStatus, row: NetworkRow | PortRow | None
) -> Outcome:
    """Apply one report from ``backend`` to ``row``, the resource it is about as this
    transaction read it (None: there is none); ``row`` is changed to match."""
    if status.kind not in _KINDS:
        return _reject(backend, status, "unknown resource kind")
    if status.state == rs.OBSERVED_STATE_UNSPECIFIED:
        return _reject(backend, status, "no observed state")
    if row is None or status.state == rs.OBSERVED_STATE_PENDING:
        return Outcome.IGNORED
    if row.backend != backend:
        return _reject(backend, status, "owned by another back-end", row.backend)
    if status.generation < row.generation:
        return Outcome.IGNORED
    if status.generation > row.generation:
        return _reject(backend, status, "generation ahead of the core's", str(row.generation))
    if isinstance(row, NetworkRow):
        return await _apply_network(tx, row, status)
    return await _apply_port(tx, row, status)


def _reject(backend: str, status: rs.ResourceStatus, reason: str, detail: str = "") -> Outcome:
    kind = rs.ResourceKind.DESCRIPTOR.values_by_number.get(status.kind)
    limited.warning(
        f"{backend}/rejected/{reason}",
        "rejected report from %s about %s %s (generation %d): %s%s",
        backend,
        kind.name if kind is not None else status.kind,
        status.resource_id,
        status.generation,
        reason,
        f" ({detail})" if detail else "",
    )
    return Outcome.REJECTED


async def _apply_network(tx: Tx, row: NetworkRow, status: rs.ResourceStatus) -> Outcome:
    if status.state == rs.OBSERVED_STATE_DELETED:
        if not row.deleting:
            return _reject(row.backend, status, "deleted without a delete")
        ports = await fetch_all(
            tx.connection, PortRow, select(PortRow).where(PortRow.network_id == row.id)
        )
        for port in ports:
            await _delete_port(tx, port)
        await tx.record(row, EventKind.DELETED)
        return Outcome.APPLIED
    if status.state == rs.OBSERVED_STATE_READY:
        if row.deleting:
            return Outcome.IGNORED
        after = (NetworkStatus.AVAILABLE.value, "", "")
    else:
        after = (NetworkStatus.ERROR.value, status.error.code, status.error.message)
    # A confirmation that only advances observed_generation is still news: a client
    # waiting for its change to be applied waits for exactly that (docs/status-model.md).
    unchanged = after == (row.status, row.error_code, row.error_message)
    if unchanged and row.observed_generation == status.generation:
        return Outcome.IGNORED
    if not transition_allowed("NETWORK", row.status, after[0], Cause.REPORT):
        return _reject(row.backend, status, "transition not allowed", f"{row.status} -> {after[0]}")
    row.status, row.error_code, row.error_message = after
    row.observed_generation = status.generation
    await tx.record(row, EventKind.MODIFIED)
    return Outcome.APPLIED


async def _delete_port(tx: Tx, port: PortRow) -> None:
    attachment = await attachment_of(tx.connection, port.id)
    if attachment is not None:
        await tx.record(attachment, EventKind.DELETED)
    await tx.record(port, EventKind.DELETED)


def _port_fields(port: PortRow) -> tuple[object, ...]:
    # observed_generation included: a QoS change of an ACTIVE port changes nothing else
    # when applied, and its confirmation must still be an event.
    return (
        port.observed_generation,
        port.status,
        port.link_status,
        port.link_status_reason,
        port.create_confirmed,
        port.failed,
        port.error_code,
        port.error_message,
    )


async def _apply_port(tx: Tx, port: PortRow, status: rs.ResourceStatus) -> Outcome:
    if status.state == rs.OBSERVED_STATE_DELETED:
        if not port.deleting:
            return _reject(port.backend, status, "deleted without a delete")
        await _delete_port(tx, port)
        return Outcome.APPLIED
    attachment = await attachment_of(tx.connection, port.id)
    covers = attachment is not None and status.generation >= attachment.generation
    ready = status.state == rs.OBSERVED_STATE_READY
    error_code = "" if ready else status.error.code
    error_message = "" if ready else status.error.message
    # Work out the whole outcome first; write nothing unless every transition is allowed.
    unplugged = ready and attachment is not None and covers and attachment.deleting
    attachment_after: AttachmentStatus | None = None
    if attachment is not None and covers and not attachment.deleting:
        attachment_after = AttachmentStatus.AVAILABLE if ready else AttachmentStatus.ERROR
    link, reason = LinkStatus(port.link_status), port.link_status_reason
    if status.link_status != port_pb2.LINK_STATUS_UNSPECIFIED:
        link = LinkStatus(short_name(port_pb2.LinkStatus, status.link_status))
        reason = "" if link is LinkStatus.UP else status.link_status_reason
    elif attachment is None or unplugged:
        link, reason = LinkStatus.DOWN, REASON_NO_ATTACHMENT
    seen: AttachmentStatus | None = None
    if attachment is not None and not unplugged and not attachment.deleting:
        seen = attachment_after or AttachmentStatus(attachment.status)
    facts = PortFacts(
        create_confirmed=port.create_confirmed or ready,
        failed=not ready,
        admin_state_up=port.admin_state_up,
        link_status=link,
        attachment_status=seen,
    )
    new_status = derive_port_status(facts).value
    if not transition_allowed("PORT", port.status, new_status, Cause.REPORT):
        return _reject(
            port.backend, status, "transition not allowed", f"{port.status} -> {new_status}"
        )
    if (
        attachment is not None
        and attachment_after is not None
        and not transition_allowed("ATTACHMENT", attachment.status, attachment_after, Cause.REPORT)
    ):
        return _reject(
            port.backend,
            status,
            "attachment transition not allowed",
            f"{attachment.status} -> {attachment_after}",
        )

    changed = False
    if unplugged and attachment is not None:
        await tx.record(attachment, EventKind.DELETED)
        changed = True
    elif attachment is not None and attachment_after is not None:
        changed = await _set_attachment(tx, attachment, attachment_after, error_code, error_message)
    before = _port_fields(port)
    port.create_confirmed, port.failed = facts.create_confirmed, facts.failed
    port.error_code, port.error_message = error_code, error_message
    port.link_status, port.link_status_reason = link.value, reason
    port.observed_generation = status.generation
    # record_port derives the same status from the facts just written; new_status was
    # worked out from them beforehand only to check the transition before writing.
    if _port_fields(port) != before or port.status != new_status:
        await record_port(tx, port, attachment)
        return Outcome.APPLIED
    return Outcome.APPLIED if changed else Outcome.IGNORED


async def _set_attachment(
    tx: Tx, attachment: AttachmentRow, new: AttachmentStatus, code: str, message: str
) -> bool:
    if (attachment.status, attachment.error_code, attachment.error_message) == (
        new.value,
        code,
        message,
    ):
        return False
    attachment.status, attachment.error_code, attachment.error_message = new.value, code, message
    await tx.record(attachment, EventKind.MODIFIED)
    return True


@dataclass
class Recorded:
    """What :func:`record_answer` did."""

    #: The resource as the answer left it, so the call that made the change can answer
    #: without reading it again (None: nothing was applied, or the answer deleted it).
    resource: NetworkRow | PortRow | None = None
    #: With ``next_of``: the shard key's next outbox entry, as the same transaction read it.
    next_entry: OutboxRow | None = None


async def record_answer(
    store: Store,
    entry_id: int,
    backend: str,
    status: rs.ResourceStatus | None,
    *,
    next_of: str = "",
) -> Recorded:
    """A dispatched change leaves the outbox, and the back-end's answer (``DONE`` with a
    status, or a refusal turned into one) is applied, in one transaction; an entry that is
    already gone (a resync replaced it) is not applied again. With ``next_of`` the same
    transaction reads that shard key's next entry (a read fewer for the dispatcher)."""
    recorded = Recorded()
    async with store.write() as tx:
        if await tx.remove_outbox(entry_id) and status is not None:
            row = await _resource_of(tx.connection, status)
            await apply_to(tx, backend, status, row)
            if row is not None and row.id not in tx.gone:
                recorded.resource = row
        if next_of:
            recorded.next_entry = await first_outbox_entry(tx.connection, next_of)
    return recorded


async def _resource_of(
    conn: AsyncConnection, status: rs.ResourceStatus
) -> NetworkRow | PortRow | None:
    """The network or port ``status`` is about, if any."""
    if status.kind == rs.RESOURCE_KIND_NETWORK:
        return await fetch_by_id(conn, NetworkRow, status.resource_id)
    if status.kind == rs.RESOURCE_KIND_PORT:
        return await fetch_by_id(conn, PortRow, status.resource_id)
    return None


async def mark_backend_unavailable(store: Store, backend: str) -> int:
    """Liveness is status: every port of ``backend`` goes link DOWN; returns how many.

    docs/status-model.md, "Liveness is status".
    """
    async with store.write() as tx:
        ports = await fetch_all(
            tx.connection,
            PortRow,
            select(PortRow).where(PortRow.backend == backend, PortRow.deleting.is_(False)),
        )
        marked = 0
        for port in ports:
            if (port.link_status, port.link_status_reason) == (
                LinkStatus.DOWN.value,
                REASON_BACKEND_UNAVAILABLE,
            ):
                continue
            port.link_status, port.link_status_reason = (
                LinkStatus.DOWN.value,
                REASON_BACKEND_UNAVAILABLE,
            )
            await record_port(tx, port, await attachment_of(tx.connection, port.id))
            marked += 1
    return marked
