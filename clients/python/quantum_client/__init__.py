"""The Python SDK of the Quantum network API over gRPC.

``Client`` (blocking) and ``AsyncClient`` (asyncio) cover every RPC; resources come back
as the API's protobuf messages (re-exported here), errors are raised as the shared
catalogue's exceptions (:mod:`quantum_api.errors`), each with its gRPC ``code`` and
ErrorInfo ``reason``. ``wait_for`` awaits a status over a watch that resumes after a
dropped stream (:func:`resumable` says which endings are a dropped stream)::

    from quantum_client import Client

    with Client(tenant="acme") as quantum:          # or QUANTUM_URL / QUANTUM_TENANT
        port = quantum.create_port(quantum.create_network("web").id)
        quantum.plug(port.id, "vif-1")
        port = quantum.wait_for(port, "ACTIVE", timeout=60)
        assert PortStatus(port.status) is PortStatus.ACTIVE   # named IntEnums

Over TLS with a token: ``Client("grpcs://quantum.example:9696", ca="ca.pem",
token_file="/var/run/secrets/quantum/token")`` (or ``QUANTUM_URL``, ``QUANTUM_CA``,
``QUANTUM_TOKEN_FILE``); the token is read again on every call.
"""

from __future__ import annotations

import os

# gRPC's C core (1.6x+) logs every failed TLS handshake at INFO on stderr, before grpc is
# even asked; the SDK raises those failures with a hint instead (and `quantum` prints one
# line). gRPC's documented default is ERROR; a GRPC_VERBOSITY already set is kept. It only
# takes effect if grpc was not imported before this package.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from quantum_api.errors import (
    QuantumError,
    ResourceDeleted,
    ResourceFailed,
    RevisionCompacted,
    WaitTimeout,
)
from quantum_client._aio import AsyncClient
from quantum_client._settings import DEFAULT_URL, NO_RETRY, RetryPolicy, Settings
from quantum_client._sync import Client
from quantum_client._tokens import SettingsError, TokenSource, TokenUnavailable
from quantum_client._watching import resumable
from quantum_client.statuses import (
    AttachmentStatus,
    EventType,
    LinkStatus,
    NetworkStatus,
    PortStatus,
)
from quantum_client.types import (
    AnyResource,
    Attachment,
    BackendError,
    DeleteNetworkResponse,
    DeletePortResponse,
    Network,
    PlugAttachmentResponse,
    Port,
    QosPolicy,
    Resource,
    ResourceKind,
    UnplugAttachmentResponse,
    WatchEvent,
)

__all__ = [
    "DEFAULT_URL",
    "NO_RETRY",
    "AnyResource",
    "AsyncClient",
    "Attachment",
    "AttachmentStatus",
    "BackendError",
    "Client",
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
    "QuantumError",
    "Resource",
    "ResourceDeleted",
    "ResourceFailed",
    "ResourceKind",
    "RetryPolicy",
    "RevisionCompacted",
    "Settings",
    "SettingsError",
    "TokenSource",
    "TokenUnavailable",
    "UnplugAttachmentResponse",
    "WaitTimeout",
    "WatchEvent",
    "resumable",
]
