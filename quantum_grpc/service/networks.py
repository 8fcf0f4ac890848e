"""Network operations: record the desired state, its event and its outbox entry at once."""

from __future__ import annotations

from sqlalchemy import select

from quantum_api.errors import NetworkInUse
from quantum_api.plugin.v1 import backend_pb2
from quantum_grpc.convert import network_change
from quantum_grpc.service import validation as v
from quantum_grpc.service.caller import Caller
from quantum_grpc.service.core import (
    Core,
    check_not_deleting,
    check_ready,
    check_revision,
    find_network,
)
from quantum_grpc.service.idempotency import earlier_create
from quantum_grpc.service.paging import PageQuery
from quantum_grpc.service.status_rules import NetworkStatus, network_is_ready
from quantum_grpc.store.models import AttachmentRow, NetworkRow, PortRow
from quantum_grpc.store.rows import fetch_all, fetch_by_id
from quantum_grpc.store.store import EventKind


async def get_network(core: Core, caller: Caller, tenant_id: str, network_id: str) -> NetworkRow:
    """One network of the caller's tenant."""
    caller.acting_tenant(tenant_id)
    network_id = v.uuid_field(network_id, "network_id")
    async with core.store.read() as conn:
        return await find_network(conn, caller, network_id)


async def list_networks(
    core: Core,
    caller: Caller,
    *,
    tenant_id: str,
    page_size: int,
    page_token: str,
    name: str,
    status: NetworkStatus | None,
) -> tuple[list[NetworkRow], str]:
    """A page of networks, oldest first, and the token for the next page."""
    tenant = caller.listing_tenant(tenant_id)
    name = v.optional_text(name, "name")
    page_query = PageQuery("networks", {"tenant": tenant, "name": name, "status": status})
    size, after = core.pages.read(page_size, page_token, page_query)
    query = select(NetworkRow).where(NetworkRow.create_revision > after)
    if tenant is not None:
        query = query.where(NetworkRow.tenant_id == tenant)
    if name:
        query = query.where(NetworkRow.name == name)
    if status is not None:
        query = query.where(NetworkRow.status == status.value)
    query = query.order_by(NetworkRow.create_revision).limit(size + 1)
    async with core.store.read() as conn:
        rows = await fetch_all(conn, NetworkRow, query)
    more = len(rows) > size
    token = core.pages.issue(rows[size - 1].create_revision, page_query) if more else ""
    return rows[:size], token


async def create_network(
    core: Core, caller: Caller, *, tenant_id: str, name: str, request_id: str
) -> NetworkRow:
    """Record a new network and hand it to the default back-end."""
    tenant = caller.acting_tenant(tenant_id)
    name = v.text_field(name, "name")
    request_id = v.optional_uuid(request_id, "request_id")
    fingerprint = v.request_fingerprint(name=name)
    async with core.store.write() as tx:
        existing = await earlier_create(
            tx.connection,
            NetworkRow,
            tenant_id=tenant,
            request_id=request_id,
            fingerprint=fingerprint,
            noun="network",
        )
        if existing is not None:
            return existing
        row = NetworkRow.new(
            tenant_id=tenant,
            name=name,
            status=NetworkStatus.PROVISIONING.value,
            backend=core.settings.default_backend,
            request_id=request_id or None,
            request_fingerprint=fingerprint if request_id else None,
        )
        await tx.record(row, EventKind.ADDED)
        tx.enqueue(
            row.backend, row.id, row.id, network_change(row, backend_pb2.CHANGE_ACTION_CREATE)
        )
    return await core.settle_then(
        tx, NetworkRow, row.id, lambda: get_network(core, caller, tenant, row.id)
    )


async def update_network(
    core: Core,
    caller: Caller,
    *,
    tenant_id: str,
    network_id: str,
    name: str | None,
    expected_revision: int,
    require_ready: bool,
) -> NetworkRow:
    """Change a network's name; the back-end confirms it like a create."""
    caller.acting_tenant(tenant_id)
    network_id = v.uuid_field(network_id, "network_id")
    new_name = v.text_field(name, "name") if name is not None else None
    expected = v.expected_revision(expected_revision)
    async with core.store.write() as tx:
        row = await find_network(tx.connection, caller, network_id, lock=True)
        check_revision(row, expected)
        check_not_deleting(row, "network")
        ready = network_is_ready(NetworkStatus(row.status), row.deleting)
        check_ready(ready, core.strict(require_ready), "network", row)
        if new_name is None or new_name == row.name:
            return row
        row.name = new_name
        row.generation += 1
        row.status = NetworkStatus.PROVISIONING.value
        row.error_code = row.error_message = ""
        await tx.record(row, EventKind.MODIFIED)
        tx.enqueue(
            row.backend, row.id, row.id, network_change(row, backend_pb2.CHANGE_ACTION_UPDATE)
        )
    return await core.settle_then(
        tx, NetworkRow, network_id, lambda: get_network(core, caller, tenant_id, network_id)
    )


async def delete_network(
    core: Core, caller: Caller, *, tenant_id: str, network_id: str, expected_revision: int
) -> tuple[NetworkRow, bool]:
    """Delete a network without plugged ports; returns its last snapshot and whether it is gone.

    Its ports are marked as being deleted with it; the back-end drops them with the network.
    Deletes are never refused for readiness: a client must always be able to cancel.
    """
    caller.acting_tenant(tenant_id)
    network_id = v.uuid_field(network_id, "network_id")
    expected = v.expected_revision(expected_revision)
    async with core.store.write() as tx:
        row = await find_network(tx.connection, caller, network_id, lock=True)
        check_revision(row, expected)
        if row.deleting and not row.error_code:
            return row, False  # already on its way
        plugged = await tx.connection.scalar(
            select(AttachmentRow.port_id).where(
                AttachmentRow.network_id == row.id, AttachmentRow.deleting.is_(False)
            )
        )
        if plugged is not None:
            raise NetworkInUse(
                f"network {row.id} has port {plugged} with an attachment; unplug it first",
                metadata={"port_id": plugged},
            )
        ports = await fetch_all(
            tx.connection, PortRow, select(PortRow).where(PortRow.network_id == row.id)
        )
        for port in ports:
            if not port.deleting:
                port.deleting = True
                await tx.record(port, EventKind.MODIFIED)
        if row.error_code:  # a refused delete, sent again: ERROR is left by a new change
            row.status, row.error_code, row.error_message = NetworkStatus.PROVISIONING.value, "", ""
        row.deleting = True
        row.generation += 1
        await tx.record(row, EventKind.MODIFIED)
        tx.enqueue(
            row.backend, row.id, row.id, network_change(row, backend_pb2.CHANGE_ACTION_DELETE)
        )
    await core.settle(tx)
    async with core.store.read() as conn:
        current = await fetch_by_id(conn, NetworkRow, network_id)
    return (current, False) if current is not None else (row, True)
