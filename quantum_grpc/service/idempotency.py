"""Creates with a ``request_id`` (AIP-155): a retry returns the first resource, a reuse fails.

The create stores a fingerprint of what it asked for; a later create with the same
``request_id`` but another payload is refused with REQUEST_ID_REUSED rather than answered
with a resource it did not ask for. The stored fingerprint, not the row's current fields,
is compared: the resource may have been renamed or updated since, and a retry of the
original request must still be recognised.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_api.errors import RequestIdReused
from quantum_grpc.store.models import NetworkRow, PortRow
from quantum_grpc.store.rows import fetch_one

Row = TypeVar("Row", NetworkRow, PortRow)

# Built once: every create with a request_id (the SDK sends one on each) runs it.
_BY_REQUEST = {
    model: select(model).where(
        model.tenant_id == bindparam("tenant_id"), model.request_id == bindparam("request_id")
    )
    for model in (NetworkRow, PortRow)
}


async def earlier_create(
    conn: AsyncConnection,
    model: type[Row],
    *,
    tenant_id: str,
    request_id: str,
    fingerprint: str,
    noun: str,
) -> Row | None:
    """The resource an earlier create with ``request_id`` made, if this one repeats it."""
    if not request_id:
        return None
    params = {"tenant_id": tenant_id, "request_id": request_id}
    existing = await fetch_one(conn, model, _BY_REQUEST[model], params)
    if existing is None:
        return None
    # NULL: created before fingerprints were stored; such a retry is accepted as it was.
    if existing.request_fingerprint not in (None, fingerprint):
        raise RequestIdReused(
            f"request_id {request_id} was already used to create {noun} {existing.id} with "
            f"other fields; send a new request_id for a new {noun}",
            field="request_id",
            metadata={"resource_id": existing.id},
        )
    return existing
