"""Converters between stored rows and the v1 proto messages, in one place."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from quantum_api.v1 import (
    attachment_pb2,
    backend_error_pb2,
    network_pb2,
    port_pb2,
)
from quantum_grpc.store.models import AttachmentRow, NetworkRow, PortRow

__all__ = ["attachment_to_proto", "network_to_proto", "port_to_proto", "timestamp"]


def timestamp(value: datetime) -> Timestamp:
    """A proto Timestamp for a stored time (SQLite returns naive UTC datetimes)."""
    stamp = Timestamp()
    stamp.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return stamp


def _error(code: str, message: str) -> backend_error_pb2.BackendError | None:
    return backend_error_pb2.BackendError(code=code, message=message) if code or message else None


def network_to_proto(row: NetworkRow) -> network_pb2.Network:
    """The API view of a network row."""
    return network_pb2.Network(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        status=f"NETWORK_STATUS_{row.status}",
        error=_error(row.error_code, row.error_message),
        revision=row.revision,
        deleting=row.deleting,
        backend=row.backend,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )


def port_to_proto(row: PortRow) -> port_pb2.Port:
    """The API view of a port row."""
    qos = None
    if row.qos_rate_kbps:
        qos = port_pb2.QosPolicy(rate_kbps=row.qos_rate_kbps, burst_kbytes=row.qos_burst_kbytes)
    return port_pb2.Port(
        id=row.id,
        tenant_id=row.tenant_id,
        network_id=row.network_id,
        admin_state_up=row.admin_state_up,
        qos=qos,
        status=f"PORT_STATUS_{row.status}",
        link_status=f"LINK_STATUS_{row.link_status}",
        link_status_reason=row.link_status_reason,
        error=_error(row.error_code, row.error_message),
        interface_id=row.interface_id,
        revision=row.revision,
        deleting=row.deleting,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )


def attachment_to_proto(row: AttachmentRow) -> attachment_pb2.Attachment:
    """The API view of an attachment row."""
    return attachment_pb2.Attachment(
        id=row.id,
        tenant_id=row.tenant_id,
        network_id=row.network_id,
        port_id=row.port_id,
        interface_id=row.interface_id,
        status=f"ATTACHMENT_STATUS_{row.status}",
        error=_error(row.error_code, row.error_message),
        revision=row.revision,
        deleting=row.deleting,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )
