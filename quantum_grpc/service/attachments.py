"""Attachment operations: plugging a VM interface into a port and unplugging it.

A plug is a change of its port (the port's generation grows, and the back-end receives
the port's full desired state with the interface); the attachment's own ``generation``
remembers which port generation plugged or unplugged it, so a report can tell whether it
covers the attachment.
"""

from __future__ import annotations

from sqlalchemy import select

from quantum_api.errors import AlreadyAttached, AttachmentNotFound, PortInUse
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
    find_port,
    record_port,
)
from quantum_grpc.service.status_rules import AttachmentStatus, LinkStatus, port_is_ready
from quantum_grpc.store.models import AttachmentRow, PortRow
from quantum_grpc.store.rows import fetch_one
from quantum_grpc.store.store import EventKind


async def _current(
    core: Core, caller: Caller, port_id: str
) -> tuple[AttachmentRow | None, PortRow]:
    async with core.store.read() as conn:
        port = await find_port(conn, caller, port_id)
        return await attachment_of(conn, port_id), port


async def get_attachment(
    core: Core, caller: Caller, tenant_id: str, port_id: str, network_id: str
) -> AttachmentRow:
    """The attachment of one of the caller's ports; NOT_FOUND when nothing is plugged."""
    caller.acting_tenant(tenant_id)
    port_id = v.uuid_field(port_id, "port_id")
    network_id = v.optional_uuid(network_id, "network_id")
    async with core.store.read() as conn:
        await find_port(conn, caller, port_id, network_id)
        attachment = await attachment_of(conn, port_id)
    if attachment is None:
        raise AttachmentNotFound(f"port {port_id} has no attachment", field="port_id")
    return attachment


async def plug(
    core: Core,
    caller: Caller,
    *,
    tenant_id: str,
    network_id: str,
    port_id: str,
    interface_id: str,
    expected_revision: int,
    require_ready: bool,
) -> tuple[AttachmentRow, PortRow]:
    """Plug ``interface_id`` into a port; plugging it again into the same port is a no-op."""
    caller.acting_tenant(tenant_id)
    port_id = v.uuid_field(port_id, "port_id")
    network_id = v.optional_uuid(network_id, "network_id")
    interface_id = v.text_field(interface_id, "interface_id")
    expected = v.expected_revision(expected_revision)
    async with core.store.write() as tx:
        port = await find_port(tx.connection, caller, port_id, network_id, lock=True)
        existing = await attachment_of(tx.connection, port.id)
        if existing is not None and existing.interface_id == interface_id and not existing.deleting:
            return existing, port
        check_revision(port, expected)
        check_not_deleting(port, "port")
        if existing is not None and not existing.deleting:
            raise PortInUse(
                f"port {port.id} has interface {existing.interface_id} plugged; unplug it first",
                metadata={"interface_id": existing.interface_id},
            )
        if existing is not None:
            # A replug while the unplug is still on its way: the back-end receives both in
            # order, so the old attachment's story ends here.
            await tx.record(existing, EventKind.DELETED)
        elsewhere = await fetch_one(
            tx.connection,
            AttachmentRow,
            select(AttachmentRow).where(AttachmentRow.interface_id == interface_id),
        )
        if elsewhere is not None:
            where = f" into port {elsewhere.port_id}" if caller.sees(elsewhere.tenant_id) else ""
            raise AlreadyAttached(
                f"interface {interface_id} is already plugged{where}; unplug it there first",
                field="interface_id",
            )
        ready = port_is_ready(port.create_confirmed, port.failed, port.deleting)
        check_ready(ready, core.strict(require_ready), "port", port)
        port.interface_id = interface_id
        port.generation += 1
        port.link_status, port.link_status_reason = LinkStatus.UNKNOWN.value, ""
        attachment = AttachmentRow.new(
            tenant_id=port.tenant_id,
            network_id=port.network_id,
            port_id=port.id,
            interface_id=interface_id,
            status=AttachmentStatus.PROVISIONING.value,
            generation=port.generation,
        )
        await tx.record(attachment, EventKind.ADDED)
        await record_port(tx, port, attachment)
        tx.enqueue(
            port.backend,
            port.network_id,
            port.id,
            port_change(port, backend_pb2.CHANGE_ACTION_PLUG),
        )
    await core.settle(tx)
    current, port = await _current(core, caller, port_id)
    return current or attachment, port


async def unplug(
    core: Core,
    caller: Caller,
    *,
    tenant_id: str,
    network_id: str,
    port_id: str,
    expected_revision: int,
) -> tuple[AttachmentRow, PortRow, bool]:
    """Unplug a port's interface; returns the attachment, the port and whether it is gone.

    Never refused for readiness: taking an interface off must always be possible.
    """
    caller.acting_tenant(tenant_id)
    port_id = v.uuid_field(port_id, "port_id")
    network_id = v.optional_uuid(network_id, "network_id")
    expected = v.expected_revision(expected_revision)
    async with core.store.write() as tx:
        port = await find_port(tx.connection, caller, port_id, network_id, lock=True)
        attachment = await attachment_of(tx.connection, port.id)
        if attachment is None:
            raise AttachmentNotFound(f"port {port.id} has no attachment", field="port_id")
        if attachment.deleting and not port.failed:
            return attachment, port, False  # already on its way; a refused one is sent again
        check_revision(port, expected)
        port.interface_id = ""
        port.generation += 1
        port.failed, port.error_code, port.error_message = False, "", ""
        # Until the back-end confirms, nobody knows what the interface still sees.
        port.link_status, port.link_status_reason = LinkStatus.UNKNOWN.value, ""
        attachment.deleting = True
        attachment.generation = port.generation
        await tx.record(attachment, EventKind.MODIFIED)
        await record_port(tx, port, attachment)
        tx.enqueue(
            port.backend,
            port.network_id,
            port.id,
            port_change(port, backend_pb2.CHANGE_ACTION_UNPLUG),
        )
    await core.settle(tx)
    current, port = await _current(core, caller, port_id)
    return (current, port, False) if current is not None else (attachment, port, True)
