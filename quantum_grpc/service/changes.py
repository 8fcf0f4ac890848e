"""Back-end change requests built from stored desired state (full state, so idempotent)."""

from __future__ import annotations

from quantum_api.plugin.v1 import backend_pb2, resource_status_pb2 as rs
from quantum_grpc.store.models import NetworkRow, PortRow


def network_change(
    row: NetworkRow, action: backend_pb2.ChangeAction
) -> backend_pb2.ApplyChangeRequest:
    """A change of ``row`` at its current generation."""
    return backend_pb2.ApplyChangeRequest(
        kind=rs.RESOURCE_KIND_NETWORK,
        action=action,
        generation=row.generation,
        network=backend_pb2.NetworkSpec(id=row.id, tenant_id=row.tenant_id, name=row.name),
    )


def port_change(row: PortRow, action: backend_pb2.ChangeAction) -> backend_pb2.ApplyChangeRequest:
    """A change of ``row`` (plug and unplug included) at its current generation."""
    return backend_pb2.ApplyChangeRequest(
        kind=rs.RESOURCE_KIND_PORT,
        action=action,
        generation=row.generation,
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
