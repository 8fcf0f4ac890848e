"""The error catalogue shared by the server and the SDK.

Every error the API returns is a :class:`QuantumError` subclass that declares its gRPC
code and its ``google.rpc.ErrorInfo`` reason. The server turns a raised error into a
``google.rpc.Status`` in one place (the API's error interceptor); the SDK turns a received
status back into the same class, keyed by reason, never by message. This module must not
import anything server-side (no SQLAlchemy), so the SDK can depend on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

ERROR_DOMAIN = "quantum.v1"

__all__ = [
    "ERROR_DOMAIN",
    "AlreadyAttached",
    "AttachmentNotFound",
    "BackendInputRejected",
    "BackendNotOwner",
    "DuplicateMetadata",
    "InternalError",
    "InvalidArgument",
    "InvalidPageToken",
    "NetworkInUse",
    "NetworkNotFound",
    "PortInUse",
    "PortNotFound",
    "QuantumError",
    "RequestIdReused",
    "ResourceDeleted",
    "ResourceDeleting",
    "ResourceFailed",
    "ResourceNotInError",
    "ResourceNotReady",
    "RevisionAhead",
    "RevisionCompacted",
    "RevisionMismatch",
    "RoleForbidden",
    "ServerShuttingDown",
    "StorageUnavailable",
    "TenantMismatch",
    "TenantRequired",
    "TokenAudienceMismatch",
    "TokenExpired",
    "TokenInvalid",
    "TokenIssuerMismatch",
    "TokenMalformed",
    "TokenMissing",
    "TokenNotYetValid",
    "TooManyWatches",
    "WaitTimeout",
    "WatchLagging",
    "error_from_rpc",
    "to_grpc_status",
]


class QuantumError(Exception):
    """Root of every error the Quantum API returns.

    Attributes:
        code: The gRPC status code clients receive.
        reason: The ``ErrorInfo.reason``, stable and machine-readable.
        message: What went wrong and, where possible, what to fix.
        field: The request field at fault, reported as a ``BadRequest`` violation.
        metadata: Extra ``ErrorInfo.metadata`` entries (ids, revisions).
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN
    reason: str = "UNKNOWN"

    def __init__(
        self, message: str, *, field: str = "", metadata: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.metadata: dict[str, str] = dict(metadata or {})

    def __str__(self) -> str:
        # A reason that only repeats the code (INVALID_ARGUMENT) is said once.
        if self.reason in (self.code.name, "UNKNOWN"):
            return f"{self.code.name}: {self.message}"
        return f"{self.code.name} {self.reason}: {self.message}"


class InvalidArgument(QuantumError):
    """Bad input (Quantum's RequestedStateInvalid and malformed requests)."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"


class InternalError(QuantumError):
    """A bug in the server; the message and ``metadata["incident"]`` name the log entry.

    It carries an ErrorInfo, unlike an INTERNAL a proxy makes of a cut stream, so clients
    know not to resume.
    """

    code = grpc.StatusCode.INTERNAL
    reason = "INTERNAL"


class InvalidPageToken(InvalidArgument):
    """A page token that this server did not issue, was altered, or belongs to another query."""

    reason = "INVALID_PAGE_TOKEN"


class RequestIdReused(InvalidArgument):
    """A create repeated a ``request_id`` with a different payload (AIP-155)."""

    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "REQUEST_ID_REUSED"


class BackendInputRejected(InvalidArgument):
    """A back-end sent a report or an answer the core cannot take (too large, out of range)."""

    reason = "BACKEND_INPUT_REJECTED"


class TooManyWatches(QuantumError):
    """The tenant already holds as many open watches as the server allows."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "TOO_MANY_WATCHES"


class NetworkNotFound(QuantumError):
    """The network does not exist or belongs to another tenant."""

    code = grpc.StatusCode.NOT_FOUND
    reason = "NETWORK_NOT_FOUND"


class PortNotFound(QuantumError):
    """The port does not exist, is on another network, or belongs to another tenant."""

    code = grpc.StatusCode.NOT_FOUND
    reason = "PORT_NOT_FOUND"


class AttachmentNotFound(QuantumError):
    """Nothing is plugged into the port."""

    code = grpc.StatusCode.NOT_FOUND
    reason = "ATTACHMENT_NOT_FOUND"


class NetworkInUse(QuantumError):
    """The network still has a port with an attachment."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "NETWORK_IN_USE"


class PortInUse(QuantumError):
    """The port has an attachment (deleting it, or plugging another interface)."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "PORT_IN_USE"


class AlreadyAttached(QuantumError):
    """The interface is already plugged into another port."""

    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "ALREADY_ATTACHED"


class ResourceNotReady(QuantumError):
    """The resource is not yet ready and the policy (or the request) is strict."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "RESOURCE_NOT_READY"


class ResourceDeleting(QuantumError):
    """The resource is being deleted; only reads are allowed."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "RESOURCE_DELETING"


class RevisionMismatch(QuantumError):
    """The expected revision is not the resource's current revision."""

    code = grpc.StatusCode.ABORTED
    reason = "REVISION_MISMATCH"


class TenantRequired(QuantumError):
    """The call carries no ``x-tenant-id`` metadata."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "TENANT_REQUIRED"


class TenantMismatch(QuantumError):
    """The request names a tenant other than the caller's."""

    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "TENANT_MISMATCH"


class RoleForbidden(QuantumError):
    """None of the caller's roles may call this RPC (docs/security.md, "Roles and policy")."""

    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "ROLE_FORBIDDEN"


class DuplicateMetadata(InvalidArgument):
    """An identity header (``x-tenant-id``, ``x-quantum-admin``, ``authorization``) appears
    more than once; ``metadata["header"]`` names it."""

    reason = "DUPLICATE_METADATA"


class TokenInvalid(QuantumError):
    """The bearer token is not signed by a configured key, or with an algorithm its key does
    not allow (``alg: none`` included). Every other token error is a subclass."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "TOKEN_INVALID"


class TokenMissing(TokenInvalid):
    """The call carries no ``authorization: Bearer <token>`` metadata."""

    reason = "TOKEN_MISSING"


class TokenMalformed(TokenInvalid):
    """The bearer token is not a JWT, or lacks a claim the server requires (``exp``, ``sub``,
    the tenant) or has one of the wrong type."""

    reason = "TOKEN_MALFORMED"


class TokenExpired(TokenInvalid):
    """The token's ``exp`` has passed (also mid-stream: a watch outliving its token)."""

    reason = "TOKEN_EXPIRED"


class TokenNotYetValid(TokenInvalid):
    """The token's ``nbf`` (or ``iat``) is still in the future."""

    reason = "TOKEN_NOT_YET_VALID"


class TokenAudienceMismatch(TokenInvalid):
    """The token's ``aud`` does not name this server's configured audience."""

    reason = "TOKEN_AUDIENCE_MISMATCH"


class TokenIssuerMismatch(TokenInvalid):
    """The token's ``iss`` is not this server's configured issuer."""

    reason = "TOKEN_ISSUER_MISMATCH"


class BackendNotOwner(QuantumError):
    """A back-end reported about a resource it does not own."""

    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "BACKEND_NOT_OWNER"


class StorageUnavailable(QuantumError):
    """The database cannot be reached or written; nothing was changed."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "STORAGE_UNAVAILABLE"


class RevisionCompacted(QuantumError):
    """A watch asked to resume from a revision the event log no longer holds."""

    code = grpc.StatusCode.OUT_OF_RANGE
    reason = "REVISION_COMPACTED"


class RevisionAhead(QuantumError):
    """A watch asked to resume from a revision this server has never reached."""

    code = grpc.StatusCode.OUT_OF_RANGE
    reason = "REVISION_AHEAD"


class WatchLagging(QuantumError):
    """A watcher fell further behind than its buffer; it should resume from its revision."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "WATCH_LAGGING"


class ServerShuttingDown(QuantumError):
    """The server is draining; resume the watch elsewhere from the last revision."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "SERVER_SHUTTING_DOWN"


class ResourceFailed(QuantumError):
    """The awaited resource went to ERROR; metadata carries the back-end's error."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "RESOURCE_FAILED"


class ResourceNotInError(QuantumError):
    """A retry of a resource that is not in ERROR: only a failed resource is sent again."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "RESOURCE_NOT_IN_ERROR"


class ResourceDeleted(QuantumError):
    """The awaited resource was deleted (before or while waiting), or the event log no
    longer tells a deleted resource from one that never existed."""

    code = grpc.StatusCode.NOT_FOUND
    reason = "RESOURCE_DELETED"


class WaitTimeout(QuantumError):
    """The deadline passed before the resource reached a wanted status."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED
    reason = "WAIT_TIMEOUT"


def _catalogue() -> dict[str, type[QuantumError]]:
    found: dict[str, type[QuantumError]] = {}
    pending: list[type[QuantumError]] = [QuantumError]
    while pending:
        cls = pending.pop()
        found[cls.reason] = cls
        pending.extend(cls.__subclasses__())
    return found


def to_grpc_status(error: QuantumError) -> grpc.Status:
    """Encode an error as a gRPC status with ErrorInfo (and BadRequest when a field is named)."""
    status = status_pb2.Status(code=getattr(code_pb2, error.code.name), message=error.message)
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN)
    info.metadata.update(error.metadata)
    status.details.add().Pack(info)
    if error.field:
        bad = error_details_pb2.BadRequest()
        bad.field_violations.add(field=error.field, description=error.message)
        status.details.add().Pack(bad)
    result: grpc.Status = rpc_status.to_status(status)
    return result


def error_from_rpc(error: grpc.RpcError) -> QuantumError:
    """Decode a received gRPC error into the catalogue's class for its ErrorInfo reason.

    Errors without an ErrorInfo from this domain (a proxy's UNAVAILABLE, a deadline) become
    a plain :class:`QuantumError` carrying the received code.
    """
    # Blocking calls and grpc.aio's AioRpcError both carry code, details and trailers,
    # though only the former is a grpc.Call.
    is_call = all(hasattr(error, a) for a in ("code", "details", "trailing_metadata"))
    call: Any = error
    status = rpc_status.from_call(call) if is_call else None
    message = str(call.details() or "") if is_call else str(error)
    code = call.code() if is_call else grpc.StatusCode.UNKNOWN
    reason, field, metadata = "", "", {}
    details: list[Any] = list(status.details) if status is not None else []
    for detail in details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain == ERROR_DOMAIN:
                reason, metadata = info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            field = bad.field_violations[0].field if bad.field_violations else ""
    cls = _catalogue().get(reason)
    if cls is None:
        generic = QuantumError(message or code.name, field=field, metadata=metadata)
        generic.code = code
        return generic
    return cls(message or "", field=field, metadata=metadata)
