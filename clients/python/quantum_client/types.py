"""The API's messages and enums, re-exported so SDK users need not know where stubs live.

Resources come back as these protobuf messages: ``Network``, ``Port`` and ``Attachment``
carry their observed ``status`` next to the desired fields, and every one has a
``revision`` usable as ``expected_revision`` for compare-and-swap updates.
"""

from __future__ import annotations

from quantum_api.v1.attachment_pb2 import Attachment, AttachmentStatus
from quantum_api.v1.attachment_service_pb2 import (
    PlugAttachmentResponse,
    UnplugAttachmentResponse,
)
from quantum_api.v1.backend_error_pb2 import BackendError
from quantum_api.v1.network_pb2 import Network, NetworkStatus
from quantum_api.v1.network_service_pb2 import DeleteNetworkResponse
from quantum_api.v1.port_pb2 import LinkStatus, Port, PortStatus, QosPolicy
from quantum_api.v1.port_service_pb2 import DeletePortResponse
from quantum_api.v1.watch_service_pb2 import (
    EventType,
    Resource,
    ResourceKind,
    WatchEvent,
    WatchStatusRequest,
)

AnyResource = Network | Port | Attachment
"""Any one resource message."""

__all__ = [
    "AnyResource",
    "Attachment",
    "AttachmentStatus",
    "BackendError",
    "DeleteNetworkResponse",
    "DeletePortResponse",
    "EventType",
    "LinkStatus",
    "Network",
    "NetworkStatus",
    "PlugAttachmentResponse",
    "Port",
    "PortStatus",
    "QosPolicy",
    "Resource",
    "ResourceKind",
    "UnplugAttachmentResponse",
    "WatchEvent",
    "WatchStatusRequest",
]
