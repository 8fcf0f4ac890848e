"""Why a resource a WaitForStatus names is not there: deleted, or never existed.

The event log decides (docs/status-model.md, "WaitForStatus"): a resource that existed left
events (its DELETED one last), so an id without any, in the caller's tenant, never existed —
unless the log was compacted, and then "deleted, or never existed" is all one can say. An
attachment is named by its port's id: its port must have existed, and an attachment event
on that port's network must name the port.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_api.errors import (
    AttachmentNotFound,
    NetworkNotFound,
    PortNotFound,
    QuantumError,
    ResourceDeleted,
)
from quantum_grpc.convert import resource_of_snapshot
from quantum_grpc.store.models import EventRow
from quantum_grpc.store.rows import fetch_all, fetch_one
from quantum_grpc.store.store import Store
from quantum_grpc.watch.hub import WatchHub

FIELD = "resource_id"


def _events(tenant_id: str | None, kind: str) -> Select[EventRow]:
    query = select(EventRow).where(EventRow.resource_kind == kind)
    return query if tenant_id is None else query.where(EventRow.tenant_id == tenant_id)


async def _port_network(conn: AsyncConnection, tenant_id: str | None, port_id: str) -> str | None:
    """The network of a port that has events, else None."""
    query = _events(tenant_id, "PORT").where(EventRow.resource_id == port_id).limit(1)
    found = await fetch_one(conn, EventRow, query)
    return found.network_id if found is not None else None


async def _has_attachment(
    conn: AsyncConnection, tenant_id: str | None, network_id: str, port_id: str
) -> bool:
    query = _events(tenant_id, "ATTACHMENT").where(EventRow.network_id == network_id)
    for event in await fetch_all(conn, EventRow, query):
        if resource_of_snapshot("ATTACHMENT", event.snapshot).attachment.port_id == port_id:
            return True
    return False


async def absence(
    store: Store, hub: WatchHub, *, tenant_id: str | None, kind: str, resource_id: str
) -> QuantumError:
    """The error for a wait on a resource the current state does not hold."""
    noun = f"{kind.lower()} {resource_id}"
    async with store.read() as conn:
        if kind == "ATTACHMENT":
            network_id = await _port_network(conn, tenant_id, resource_id)
            existed = network_id is not None and await _has_attachment(
                conn, tenant_id, network_id, resource_id
            )
            never: QuantumError = (
                AttachmentNotFound(f"port {resource_id} never had an attachment", field=FIELD)
                if network_id is not None
                else PortNotFound(f"port {resource_id} not found: it never existed", field=FIELD)
            )
        else:
            query = _events(tenant_id, kind).where(EventRow.resource_id == resource_id).limit(1)
            existed = await fetch_one(conn, EventRow, query) is not None
            missing = NetworkNotFound if kind == "NETWORK" else PortNotFound
            never = missing(f"{noun} not found: it never existed", field=FIELD)
    if existed:
        return ResourceDeleted(f"{noun} was deleted", field=FIELD)
    await hub.refresh_floor()
    if hub.floor:
        return ResourceDeleted(
            f"{noun} not found: deleted, or it never existed (the event log no longer holds "
            f"revisions up to {hub.floor})",
            field=FIELD,
            metadata={"oldest_revision": str(hub.floor)},
        )
    return never
