"""What every service operation shares: dependencies, lookups and the common checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_api.errors import (
    NetworkNotFound,
    PortNotFound,
    ResourceDeleting,
    ResourceNotReady,
    RevisionMismatch,
)
from quantum_grpc.config import Settings
from quantum_grpc.service.caller import Caller
from quantum_grpc.service.paging import PageTokens
from quantum_grpc.service.status_rules import (
    AttachmentStatus,
    LinkStatus,
    PortFacts,
    Readiness,
    derive_port_status,
)
from quantum_grpc.store.models import AttachmentRow, NetworkRow, OutboxRow, PortRow
from quantum_grpc.store.rows import fetch_by_id, fetch_one
from quantum_grpc.store.store import EventKind, Resource, Store, Tx

_ATTACHMENT_OF = select(AttachmentRow).where(AttachmentRow.port_id == bindparam("port_id"))

# What a mutation answers with after its back-end's answer.
Answerable = TypeVar("Answerable", NetworkRow, PortRow)


class Settler(Protocol):
    """Waits, for a bounded time, until recorded changes reached their back-end."""

    async def settle(self, entries: Sequence[OutboxRow], timeout: float) -> list[Resource]:
        """Return once every entry was dispatched, or after ``timeout`` seconds, with the
        resources as the back-ends' answers left them (those known)."""


class _NoDispatch:
    async def settle(self, entries: Sequence[OutboxRow], timeout: float) -> list[Resource]:
        return []


@dataclass
class Core:
    """The service's dependencies."""

    store: Store
    settings: Settings
    dispatch: Settler = field(default_factory=_NoDispatch)
    # Signs list page tokens: build_server gives it the database's key, shared by every
    # replica (docs/operations.md, "Page tokens"); a core built without one gets its own.
    pages: PageTokens = field(default_factory=PageTokens)

    async def settle(self, tx: Tx) -> dict[str, Resource]:
        """Give a synchronous back-end the time to answer before we respond; returns the
        resources as the answers left them, by id (a caller answers with one of those
        instead of reading it again).

        docs/architecture.md, "The path of a mutation", step 5.
        """
        if not tx.outbox:
            return {}
        answered = await self.dispatch.settle(tx.outbox, self.settings.sync_wait)
        return {row.id: row for row in answered}

    async def settle_then(
        self, tx: Tx, kind: type[Answerable], row_id: str, read: Callable[[], Awaitable[Answerable]]
    ) -> Answerable:
        """:meth:`settle`, then resource ``row_id`` as its back-end's answer left it, or as
        ``read`` finds it when no answer of this process says (a timeout, another replica
        dispatched it, the answer was only ``ACCEPTED``)."""
        row = (await self.settle(tx)).get(row_id)
        return row if isinstance(row, kind) else await read()

    def strict(self, require_ready: bool) -> str:
        """Why a change to a not-ready resource must be refused, or "" when it is accepted
        (docs/status-model.md)."""
        if self.settings.readiness is Readiness.REJECT:
            return "this server's readiness policy is reject (quantum-grpc serve --readiness)"
        if require_ready:
            return "the request set require_ready (this server's readiness policy is accept)"
        return ""


async def find_network(
    conn: AsyncConnection, caller: Caller, network_id: str, *, lock: bool = False
) -> NetworkRow:
    """The caller's network, else NOT_FOUND (another tenant's network is never visible)."""
    row = await fetch_by_id(conn, NetworkRow, network_id, lock=lock)
    if row is None or not caller.sees(row.tenant_id):
        raise NetworkNotFound(f"network {network_id} not found", field="network_id")
    return row


async def find_port(
    conn: AsyncConnection, caller: Caller, port_id: str, network_id: str = "", *, lock: bool = False
) -> PortRow:
    """The caller's port (on ``network_id`` when given), else NOT_FOUND."""
    row = await fetch_by_id(conn, PortRow, port_id, lock=lock)
    if row is None or not caller.sees(row.tenant_id) or network_id not in ("", row.network_id):
        where = f" on network {network_id}" if network_id else ""
        raise PortNotFound(f"port {port_id} not found{where}", field="port_id")
    return row


async def attachment_of(conn: AsyncConnection, port_id: str) -> AttachmentRow | None:
    """The attachment of a port, if any."""
    return await fetch_one(conn, AttachmentRow, _ATTACHMENT_OF, {"port_id": port_id})


def check_revision(row: Resource, expected: int) -> None:
    """Compare-and-swap: refuse when the resource changed since ``expected``.

    docs/status-model.md, "Compare-and-swap".
    """
    if expected and expected != row.revision:
        raise RevisionMismatch(
            f"expected revision {expected} but the resource is at revision {row.revision}; "
            "read it again and retry",
            field="expected_revision",
            metadata={"current_revision": str(row.revision)},
        )


def check_not_deleting(row: Resource, what: str) -> None:
    """Only reads are allowed on a resource being deleted."""
    if row.deleting:
        raise ResourceDeleting(f"{what} {row.id} is being deleted", metadata={"id": row.id})


def check_ready(ready: bool, strict: str, what: str, row: Resource) -> None:
    """Refuse a change to a resource that is not ready when ``strict`` says why to."""
    if strict and not ready:
        raise ResourceNotReady(
            f"{what} {row.id} is {row.status}, not ready, and {strict}: wait until it is "
            "(WatchStatus, `quantum wait`), then send the change again",
            metadata={"id": row.id, "status": row.status},
        )


def port_facts(port: PortRow, attachment: AttachmentRow | None) -> PortFacts:
    """What a port's status derives from, read from its row and its attachment's (an
    attachment on its way out no longer counts)."""
    attachment_status = None
    if attachment is not None and not attachment.deleting:
        attachment_status = AttachmentStatus(attachment.status)
    return PortFacts(
        create_confirmed=port.create_confirmed,
        failed=port.failed,
        admin_state_up=port.admin_state_up,
        link_status=LinkStatus(port.link_status),
        attachment_status=attachment_status,
    )


def port_status(port: PortRow, attachment: AttachmentRow | None) -> str:
    """The derived status of a port given its attachment (never guessed, never set by hand)."""
    return derive_port_status(port_facts(port, attachment)).value


async def record_port(
    tx: Tx, port: PortRow, attachment: AttachmentRow | None, kind: EventKind = EventKind.MODIFIED
) -> int:
    """Derive the port's status from its facts, then record its event; returns the revision.

    The one place a port's status is set: whoever changes what it derives from (admin
    state, confirmation, failure, link, attachment) records the port through here, so the
    stored status and the event's snapshot always agree with the facts
    (docs/status-model.md, "Port: derived, in this order").
    """
    port.status = port_status(port, attachment)
    return await tx.record(port, kind)
