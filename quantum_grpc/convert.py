"""Converters between stored rows and proto messages, in one place: the API's resources
(responses, watch events and their stored snapshots) and the back-ends' change requests."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from quantum_api.enums import value_of
from quantum_api.plugin.v1 import backend_pb2, resource_status_pb2 as rs
from quantum_api.v1 import (
    attachment_pb2,
    backend_error_pb2,
    network_pb2,
    port_pb2,
    watch_service_pb2,
)
from quantum_grpc import logs
from quantum_grpc.store.models import AttachmentRow, NetworkRow, PortRow

__all__ = [
    "attachment_to_proto",
    "network_change",
    "network_to_proto",
    "port_change",
    "port_to_proto",
    "resource_of_row",
    "resource_of_snapshot",
    "snapshot_of",
    "timestamp",
]


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
        status=value_of(network_pb2.NetworkStatus, row.status),
        error=_error(row.error_code, row.error_message),
        revision=row.revision,
        deleting=row.deleting,
        backend=row.backend,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
        generation=row.generation,
        observed_generation=row.observed_generation,
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
        status=value_of(port_pb2.PortStatus, row.status),
        link_status=value_of(port_pb2.LinkStatus, row.link_status),
        link_status_reason=row.link_status_reason,
        error=_error(row.error_code, row.error_message),
        interface_id=row.interface_id,
        revision=row.revision,
        deleting=row.deleting,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
        generation=row.generation,
        observed_generation=row.observed_generation,
    )


def attachment_to_proto(row: AttachmentRow) -> attachment_pb2.Attachment:
    """The API view of an attachment row."""
    return attachment_pb2.Attachment(
        id=row.id,
        tenant_id=row.tenant_id,
        network_id=row.network_id,
        port_id=row.port_id,
        interface_id=row.interface_id,
        status=value_of(attachment_pb2.AttachmentStatus, row.status),
        error=_error(row.error_code, row.error_message),
        revision=row.revision,
        deleting=row.deleting,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )


def resource_of_row(row: NetworkRow | PortRow | AttachmentRow) -> watch_service_pb2.Resource:
    """The ``Resource`` a watch event or a WaitForStatus answer carries for ``row``."""
    if isinstance(row, NetworkRow):
        return watch_service_pb2.Resource(network=network_to_proto(row))
    if isinstance(row, PortRow):
        return watch_service_pb2.Resource(port=port_to_proto(row))
    return watch_service_pb2.Resource(attachment=attachment_to_proto(row))


def snapshot_of(row: NetworkRow | PortRow | AttachmentRow) -> bytes:
    """The snapshot an event row keeps: the resource's API message, serialized (the store
    is given this encoder, so it never depends on the wire format itself)."""
    resource = resource_of_row(row)
    message = getattr(resource, resource.WhichOneof("kind") or "network")
    return bytes(message.SerializeToString())


def resource_of_snapshot(kind: str, snapshot: bytes) -> watch_service_pb2.Resource:
    """The ``Resource`` around an event's stored snapshot (see :func:`snapshot_of`)."""
    if kind == "NETWORK":
        return watch_service_pb2.Resource(network=network_pb2.Network.FromString(snapshot))
    if kind == "PORT":
        return watch_service_pb2.Resource(port=port_pb2.Port.FromString(snapshot))
    return watch_service_pb2.Resource(attachment=attachment_pb2.Attachment.FromString(snapshot))


def call_context() -> backend_pb2.RequestContext | None:
    """The API call being handled (None outside one), recorded with each change it causes:
    the change may be dispatched after the call ended, by another replica, so its back-end
    call cannot take the id from whatever call is current then (docs/plugin-guide.md)."""
    request_id, traceparent = logs.request_id.get(), logs.traceparent.get()
    if not request_id and not traceparent:
        return None
    return backend_pb2.RequestContext(request_id=request_id, traceparent=traceparent)


def network_change(
    row: NetworkRow, action: backend_pb2.ChangeAction
) -> backend_pb2.ApplyChangeRequest:
    """A back-end change of ``row`` at its current generation (full desired state, so
    idempotent)."""
    return backend_pb2.ApplyChangeRequest(
        kind=rs.RESOURCE_KIND_NETWORK,
        action=action,
        generation=row.generation,
        context=call_context(),
        network=backend_pb2.NetworkSpec(id=row.id, tenant_id=row.tenant_id, name=row.name),
    )


def port_change(row: PortRow, action: backend_pb2.ChangeAction) -> backend_pb2.ApplyChangeRequest:
    """A back-end change of ``row`` (plug and unplug included) at its current generation."""
    return backend_pb2.ApplyChangeRequest(
        kind=rs.RESOURCE_KIND_PORT,
        action=action,
        generation=row.generation,
        context=call_context(),
        port=backend_pb2.PortSpec(
            id=row.id,
            tenant_id=row.tenant_id,
            network_id=row.network_id,
            admin_state_up=row.admin_state_up,
            qos_rate_kbps=row.qos_rate_kbps,
            qos_burst_kbytes=row.qos_burst_kbytes,
            interface_id=row.interface_id,
        ),
    )
