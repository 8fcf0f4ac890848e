"""Port operations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from quantum_api.errors import PortInUse
from quantum_api.plugin.v1 import backend_pb2
from quantum_grpc.convert import port_change
from quantum_grpc.service import validation as v
from quantum_grpc.service.caller import Caller
from quantum_grpc.service.core import (
    Core,
    attachment_of,
    check_not_deleting,
    check_ready,
    check_revision,
    find_network,
    find_port,
    record_port,
)
from quantum_grpc.service.idempotency import earlier_create
from quantum_grpc.service.paging import PageQuery
from quantum_grpc.service.status_rules import (
    REASON_NO_ATTACHMENT,
    AttachmentStatus,
    LinkStatus,
    NetworkStatus,
    PortStatus,
    network_is_ready,
    port_is_ready,
)
from quantum_grpc.store.models import AttachmentRow, NetworkRow, PortRow
from quantum_grpc.store.rows import fetch_all, fetch_by_id
from quantum_grpc.store.store import EventKind, Tx


@dataclass(frozen=True)
class Qos:
    """A requested QoS policy; a rate of 0 means no limit."""

    rate_kbps: int
    burst_kbytes: int


async def get_port(
    core: Core, caller: Caller, tenant_id: str, port_id: str, network_id: str = ""
) -> PortRow:
    """One port of the caller's tenant."""
    caller.acting_tenant(tenant_id)
    port_id = v.uuid_field(port_id, "port_id")
    network_id = v.optional_uuid(network_id, "network_id")
    async with core.store.read() as conn:
        return await find_port(conn, caller, port_id, network_id)


async def list_ports(
    core: Core,
    caller: Caller,
    *,
    tenant_id: str,
    network_id: str,
    page_size: int,
    page_token: str,
    status: PortStatus | None,
) -> tuple[list[PortRow], str]:
    """A page of ports, oldest first, and the token for the next page."""
    tenant = caller.listing_tenant(tenant_id)
    network_id = v.optional_uuid(network_id, "network_id")
    page_query = PageQuery("ports", {"tenant": tenant, "network": network_id, "status": status})
    size, after = core.pages.read(page_size, page_token, page_query)
    query = select(PortRow).where(PortRow.create_revision > after)
    if tenant is not None:
        query = query.where(PortRow.tenant_id == tenant)
    if status is not None:
        query = query.where(PortRow.status == status.value)
    async with core.store.read() as conn:
        if network_id:
            await find_network(conn, caller, network_id)
            query = query.where(PortRow.network_id == network_id)
        query = query.order_by(PortRow.create_revision).limit(size + 1)
        rows = await fetch_all(conn, PortRow, query)
    more = len(rows) > size
    token = core.pages.issue(rows[size - 1].create_revision, page_query) if more else ""
    return rows[:size], token


async def create_port(
    core: Core,
    caller: Caller,
    *,
    tenant_id: str,
    network_id: str,
    admin_state_up: bool,
    qos: Qos | None,
    request_id: str,
    require_ready: bool,
) -> PortRow:
    """Record a new port on a network and hand it to the network's back-end."""
    tenant = caller.acting_tenant(tenant_id)
    network_id = v.uuid_field(network_id, "network_id")
    request_id = v.optional_uuid(request_id, "request_id")
    rate, burst = v.qos(qos.rate_kbps, qos.burst_kbytes) if qos else (0, 0)
    # No QoS and a QoS of rate 0 both mean "no limit": the same request.
    fingerprint = v.request_fingerprint(
        network_id=network_id, admin_state_up=admin_state_up, qos=[rate, burst]
    )
    async with core.store.write() as tx:
        existing = await earlier_create(
            tx.connection,
            PortRow,
            tenant_id=tenant,
            request_id=request_id,
            fingerprint=fingerprint,
            noun="port",
        )
        if existing is not None:
            return existing
        network: NetworkRow = await find_network(tx.connection, caller, network_id, lock=True)
        check_not_deleting(network, "network")
        ready = network_is_ready(NetworkStatus(network.status), network.deleting)
        check_ready(ready, core.strict(require_ready), "network", network)
        row = PortRow.new(
            tenant_id=network.tenant_id,
            network_id=network.id,
            backend=network.backend,
            admin_state_up=admin_state_up,
            qos_rate_kbps=rate,
            qos_burst_kbytes=burst,
            interface_id="",
            link_status=LinkStatus.DOWN.value,
            link_status_reason=REASON_NO_ATTACHMENT,
            create_confirmed=False,
            failed=False,
            request_id=request_id or None,
            request_fingerprint=fingerprint if request_id else None,
        )
        await record_port(tx, row, None, EventKind.ADDED)
        tx.enqueue(
            row.backend, row.network_id, row.id, port_change(row, backend_pb2.CHANGE_ACTION_CREATE)
        )
    return await core.settle_then(
        tx, PortRow, row.id, lambda: get_port(core, caller, tenant, row.id)
    )


async def update_port(
    core: Core,
    caller: Caller,
    *,
    tenant_id: str,
    network_id: str,
    port_id: str,
    admin_state_up: bool | None,
    qos: Qos | None,
    expected_revision: int,
    require_ready: bool,
) -> PortRow:
    """Change a port's admin state or QoS; the status follows at once where it can."""
    caller.acting_tenant(tenant_id)
    port_id = v.uuid_field(port_id, "port_id")
    network_id = v.optional_uuid(network_id, "network_id")
    expected = v.expected_revision(expected_revision)
    rate_burst = v.qos(qos.rate_kbps, qos.burst_kbytes) if qos else None
    async with core.store.write() as tx:
        row = await find_port(tx.connection, caller, port_id, network_id, lock=True)
        check_revision(row, expected)
        check_not_deleting(row, "port")
        ready = port_is_ready(row.create_confirmed, row.failed, row.deleting)
        check_ready(ready, core.strict(require_ready), "port", row)
        before = (row.admin_state_up, row.qos_rate_kbps, row.qos_burst_kbytes)
        if admin_state_up is not None:
            row.admin_state_up = admin_state_up
        if rate_burst is not None:
            row.qos_rate_kbps, row.qos_burst_kbytes = rate_burst
        if (row.admin_state_up, row.qos_rate_kbps, row.qos_burst_kbytes) == before:
            return row
        row.generation += 1
        # A new change leaves ERROR (the back-end will say how this one went), and, as it
        # carries the port's interface too, it tries a failed plug again.
        row.failed = False
        row.error_code = row.error_message = ""
        attachment = await retry_failed_attachment(tx, row.id, row.generation)
        await record_port(tx, row, attachment)
        tx.enqueue(
            row.backend, row.network_id, row.id, port_change(row, backend_pb2.CHANGE_ACTION_UPDATE)
        )
    return await core.settle_then(
        tx, PortRow, port_id, lambda: get_port(core, caller, tenant_id, port_id)
    )


async def retry_failed_attachment(
    tx: Tx, port_id: str, generation: int | None = None
) -> AttachmentRow | None:
    """The port's attachment, back to PROVISIONING if it had failed: a change to the port
    carries its interface too, so it tries a failed plug again (at ``generation``, when the
    change is a new one)."""
    attachment = await attachment_of(tx.connection, port_id)
    if attachment is not None and attachment.status == AttachmentStatus.ERROR.value:
        attachment.status = AttachmentStatus.PROVISIONING.value
        attachment.error_code = attachment.error_message = ""
        if generation is not None:
            attachment.generation = generation
        await tx.record(attachment, EventKind.MODIFIED)
    return attachment


async def delete_port(
    core: Core,
    caller: Caller,
    *,
    tenant_id: str,
    network_id: str,
    port_id: str,
    expected_revision: int,
) -> tuple[PortRow, bool]:
    """Delete a port without an attachment; returns its last snapshot and whether it is gone."""
    caller.acting_tenant(tenant_id)
    port_id = v.uuid_field(port_id, "port_id")
    network_id = v.optional_uuid(network_id, "network_id")
    expected = v.expected_revision(expected_revision)
    async with core.store.write() as tx:
        row = await find_port(tx.connection, caller, port_id, network_id, lock=True)
        check_revision(row, expected)
        if row.deleting and not row.failed:
            return row, False  # already on its way; a refused delete is sent again
        attachment = await attachment_of(tx.connection, row.id)
        if attachment is not None and not attachment.deleting:
            raise PortInUse(
                f"port {row.id} has interface {attachment.interface_id} plugged; unplug it first",
                metadata={"interface_id": attachment.interface_id},
            )
        row.deleting, row.failed = True, False
        row.error_code = row.error_message = ""
        row.generation += 1
        await record_port(tx, row, attachment)
        tx.enqueue(
            row.backend, row.network_id, row.id, port_change(row, backend_pb2.CHANGE_ACTION_DELETE)
        )
    await core.settle(tx)
    async with core.store.read() as conn:
        current = await fetch_by_id(conn, PortRow, port_id)
    return (current, False) if current is not None else (row, True)
