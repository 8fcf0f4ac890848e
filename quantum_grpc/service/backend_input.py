"""Back-end input checks: what a back-end sends is bounded like what a client sends.

A status from a back-end (an ApplyChange answer, a ReportStatus entry, a ListStatus
entry) ends up in the database, in every list and in every watch event. A value the
schema cannot hold must therefore never reach the database: on PostgreSQL it would fail
the transaction (and block the network's dispatch or the back-end's reports), on SQLite it
would be stored and then make lists and watches exceed the message size. The limits are
documented in docs/plugin-guide.md ("Limits on what a back-end sends").

Free text (a link reason, an error code or message) is truncated, marked with "…", and
kept: the status it comes with is still right. What cannot be fixed by cutting (an enum
number the contract does not define, a resource id no resource can have) is a
:class:`BackendInputRejected` naming the entry and field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.descriptor import EnumDescriptor

from quantum_api.errors import BackendInputRejected
from quantum_api.plugin.v1 import resource_status_pb2 as rs
from quantum_api.v1 import port_pb2

# The database columns: ports.link_status_reason and *.error_code are String(255).
MAX_LINK_STATUS_REASON = 255
MAX_ERROR_CODE = 255
# error_message is Text, but it travels in every list and watch event of the resource.
MAX_ERROR_MESSAGE = 4096
# Resource ids are UUIDs (36 characters); a longer id names no resource.
MAX_RESOURCE_ID = 36
# One ReportStatus call; larger reports are refused, so a back-end sends them in parts.
MAX_REPORT_ENTRIES = 1000
# Reports are applied in transactions of this many entries, so client writes interleave.
REPORT_CHUNK = 250

TRUNCATED = "…"
# PostgreSQL text cannot hold NUL; a back-end's C string bug must not fail the write.
_NUL = "\x00"
_REPLACEMENT = "\ufffd"

_ENUMS: tuple[tuple[str, EnumDescriptor], ...] = (
    ("kind", rs.ResourceKind.DESCRIPTOR),
    ("state", rs.ObservedState.DESCRIPTOR),
    ("link_status", port_pb2.LinkStatus.DESCRIPTOR),
)


@dataclass(frozen=True)
class Truncation:
    """One text field cut to its limit."""

    field: str
    length: int
    limit: int

    def __str__(self) -> str:
        return f"{self.field} ({self.length} characters, limit {self.limit})"


def bounded_text(value: str, limit: int) -> str:
    """``value`` without NUL characters, cut to ``limit`` characters marked with "…"."""
    if _NUL in value:
        value = value.replace(_NUL, _REPLACEMENT)
    if len(value) <= limit:
        return value
    return value[: limit - len(TRUNCATED)] + TRUNCATED


def problem(status: rs.ResourceStatus) -> tuple[str, str] | None:
    """(field, what is wrong) for a status the core cannot take at all, else None."""
    for field, descriptor in _ENUMS:
        number = getattr(status, field)
        if number not in descriptor.values_by_number:
            return field, f"{field} has the value {number}, which {descriptor.name} does not define"
    if len(status.resource_id) > MAX_RESOURCE_ID:
        return "resource_id", (
            f"resource_id is {len(status.resource_id)} characters long;"
            f" a resource id has at most {MAX_RESOURCE_ID}"
        )
    return None


def bounded(status: rs.ResourceStatus) -> tuple[rs.ResourceStatus, list[Truncation]]:
    """A copy of ``status`` with every text field within its limit, and what was cut."""
    copy = rs.ResourceStatus()
    copy.CopyFrom(status)
    cut: list[Truncation] = []
    for field, holder, name, limit in (
        ("link_status_reason", copy, "link_status_reason", MAX_LINK_STATUS_REASON),
        ("error.code", copy.error, "code", MAX_ERROR_CODE),
        ("error.message", copy.error, "message", MAX_ERROR_MESSAGE),
    ):
        value: str = getattr(holder, name)
        fixed = bounded_text(value, limit)
        if fixed != value:
            if len(value) > limit:
                cut.append(Truncation(field, len(value), limit))
            setattr(holder, name, fixed)
    return copy, cut


def checked_report(
    statuses: Sequence[rs.ResourceStatus],
) -> tuple[list[rs.ResourceStatus], list[Truncation]]:
    """The entries of a ReportStatus call, bounded, and the text fields that were cut.

    Raises BackendInputRejected (nothing applied) for a report that is too large or has an
    entry the core cannot take.
    """
    if len(statuses) > MAX_REPORT_ENTRIES:
        raise BackendInputRejected(
            f"the report has {len(statuses)} statuses; at most {MAX_REPORT_ENTRIES} are"
            " taken per ReportStatus call, send the rest in further calls",
            field="statuses",
            metadata={"limit": str(MAX_REPORT_ENTRIES)},
        )
    taken: list[rs.ResourceStatus] = []
    cut: list[Truncation] = []
    for index, status in enumerate(statuses):
        found = problem(status)
        if found is not None:
            field, why = found
            raise BackendInputRejected(
                f"statuses[{index}] (about {status.resource_id[:MAX_RESOURCE_ID]!r}): {why};"
                " nothing in this report was applied",
                field=f"statuses[{index}].{field}",
            )
        fixed, truncations = bounded(status)
        taken.append(fixed)
        cut.extend(
            Truncation(f"statuses[{index}].{t.field}", t.length, t.limit) for t in truncations
        )
    return taken, cut


def chunks(statuses: Sequence[rs.ResourceStatus]) -> list[Sequence[rs.ResourceStatus]]:
    """``statuses`` in order, in slices of at most REPORT_CHUNK."""
    return [statuses[i : i + REPORT_CHUNK] for i in range(0, len(statuses), REPORT_CHUNK)]
