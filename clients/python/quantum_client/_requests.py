"""Request builders shared by the sync and asyncio clients."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from quantum_api.errors import InvalidArgument
from quantum_api.v1 import (
    attachment_service_pb2 as att_pb,
    network_service_pb2 as net_pb,
    port_service_pb2 as port_pb,
    watch_service_pb2 as watch_pb,
)
from quantum_client.resources import KindLike, StatusLike, parse_kind, parse_statuses, parse_wait
from quantum_client.types import QosPolicy, ResourceKind

_STATUS_FIELDS: dict[int, str] = {
    ResourceKind.RESOURCE_KIND_NETWORK: "network_statuses",
    ResourceKind.RESOURCE_KIND_PORT: "port_statuses",
    ResourceKind.RESOURCE_KIND_ATTACHMENT: "attachment_statuses",
}


def request_id(given: str | None) -> str:
    """The caller's request id, or a fresh UUID that every retry of this call reuses."""
    return given or str(uuid.uuid4())


def _one_status(kind: int, status: StatusLike | None) -> Any:
    # Typed Any: protoc's stubs type enum fields as their enum class, which holds plain ints.
    if status is None:
        return 0
    values = parse_statuses(kind, status)
    if len(values) > 1:
        raise InvalidArgument("a list filters on one status at most", field="status")
    return next(iter(values))


def list_networks(
    name: str, status: StatusLike | None, page_size: int
) -> net_pb.ListNetworksRequest:
    """A ListNetworksRequest for the first page."""
    return net_pb.ListNetworksRequest(
        name=name,
        page_size=page_size,
        status=_one_status(ResourceKind.RESOURCE_KIND_NETWORK, status),
    )


def list_ports(
    network_id: str, status: StatusLike | None, page_size: int
) -> port_pb.ListPortsRequest:
    """A ListPortsRequest for the first page."""
    return port_pb.ListPortsRequest(
        network_id=network_id,
        page_size=page_size,
        status=_one_status(ResourceKind.RESOURCE_KIND_PORT, status),
    )


def create_network(name: str, given_request_id: str | None) -> net_pb.CreateNetworkRequest:
    """A CreateNetworkRequest with a request id, so that it can be retried."""
    return net_pb.CreateNetworkRequest(name=name, request_id=request_id(given_request_id))


def update_network(
    network_id: str, name: str | None, expected_revision: int
) -> net_pb.UpdateNetworkRequest:
    """An UpdateNetworkRequest; an unset name keeps its value."""
    request = net_pb.UpdateNetworkRequest(
        network_id=network_id, expected_revision=expected_revision
    )
    if name is not None:
        request.name = name
    return request


def create_port(
    network_id: str,
    admin_state_up: bool | None,
    qos: QosPolicy | None,
    require_ready: bool,
    given_request_id: str | None,
) -> port_pb.CreatePortRequest:
    """A CreatePortRequest with a request id, so that it can be retried."""
    request = port_pb.CreatePortRequest(
        network_id=network_id,
        require_ready=require_ready,
        request_id=request_id(given_request_id),
    )
    if admin_state_up is not None:
        request.admin_state_up = admin_state_up
    if qos is not None:
        request.qos.CopyFrom(qos)
    return request


def update_port(
    port_id: str,
    admin_state_up: bool | None,
    qos: QosPolicy | None,
    expected_revision: int,
    require_ready: bool,
) -> port_pb.UpdatePortRequest:
    """An UpdatePortRequest; unset fields keep their value."""
    request = port_pb.UpdatePortRequest(
        port_id=port_id, expected_revision=expected_revision, require_ready=require_ready
    )
    if admin_state_up is not None:
        request.admin_state_up = admin_state_up
    if qos is not None:
        request.qos.CopyFrom(qos)
    return request


def plug(
    port_id: str, interface_id: str, expected_revision: int, require_ready: bool
) -> att_pb.PlugAttachmentRequest:
    """A PlugAttachmentRequest."""
    return att_pb.PlugAttachmentRequest(
        port_id=port_id,
        interface_id=interface_id,
        expected_revision=expected_revision,
        require_ready=require_ready,
    )


def watch(
    kinds: Iterable[KindLike],
    resource_ids: Iterable[str],
    network_id: str,
    statuses: dict[KindLike, StatusLike] | None,
) -> watch_pb.WatchStatusRequest:
    """A WatchStatusRequest from friendly filters (start_revision is the cursor's job)."""
    request = watch_pb.WatchStatusRequest(
        kinds=[parse_kind(k) for k in kinds],  # type: ignore[misc]
        resource_ids=list(resource_ids),
        network_id=network_id,
    )
    for kind_like, wanted in (statuses or {}).items():
        kind = parse_kind(kind_like)
        getattr(request, _STATUS_FIELDS[kind]).extend(sorted(parse_statuses(kind, wanted)))
    return request


def wait_for_status(
    kind: KindLike, resource_id: str, statuses: StatusLike
) -> watch_pb.WaitForStatusRequest:
    """A WaitForStatusRequest for the server-side wait (``"APPLIED"`` sets its condition)."""
    value = parse_kind(kind)
    wanted, applied = parse_wait(value, statuses)
    request = watch_pb.WaitForStatusRequest(kind=value, resource_id=resource_id)  # type: ignore[arg-type]
    getattr(request, _STATUS_FIELDS[value]).extend(sorted(wanted))
    if applied:
        request.condition = watch_pb.WAIT_CONDITION_APPLIED
    return request
