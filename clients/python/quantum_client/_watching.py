"""The I/O-free half of watching and waiting, shared by the sync and asyncio clients.

:func:`resumable` is the one rule of which stream endings a watch resumes from (the Node
client applies the same: ``isResumable`` in ``clients/node/src/errors.js``).
:class:`Cursor` remembers the last revision a stream delivered (markers included) and
decides, when a stream is cut, whether to resume from it, re-list, or give up.
:class:`Waiter` judges the events of one resource for ``wait_for``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from quantum_api.errors import (
    ERROR_DOMAIN,
    QuantumError,
    ResourceDeleted,
    ResourceFailed,
    WaitTimeout,
)
from quantum_client._errors import TOKEN_EXPIRED, call_error
from quantum_client._settings import RetryPolicy, Settings
from quantum_client.resources import (
    KindLike,
    enum_label,
    error_status,
    is_applied,
    kind_label,
    kind_of,
    parse_kind,
    parse_wait,
    resource_of,
    status_enum,
    status_label,
    status_of,
)
from quantum_client.types import AnyResource, Attachment, EventType, WatchEvent, WatchStatusRequest

#: What a cut transport surfaces as when no ErrorInfo of the server's domain says the server
#: chose the status: a proxy's RST_STREAM (Envoy's route timeout, an upstream reset) is
#: INTERNAL, an HTTP error page without grpc-status UNKNOWN, a peer's cancel CANCELLED.
TRANSPORT_CUTS = frozenset(
    {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.CANCELLED}
)

#: Statuses the server ends a stream with for the client to resume: it fell behind
#: (WATCH_LAGGING). Any UNAVAILABLE (SERVER_SHUTTING_DOWN, a proxy's 503) resumes too.
RESUMABLE_REASONS = frozenset({(grpc.StatusCode.RESOURCE_EXHAUSTED, "WATCH_LAGGING")})


def resumable(
    code: grpc.StatusCode, server_reason: str | None, *, token_renewed: bool = False
) -> bool:
    """Whether a watch resumes after a stream ended with ``code``.

    Resumed: any UNAVAILABLE (a server restarting or draining, SERVER_SHUTTING_DOWN, a
    proxy's 503); RESOURCE_EXHAUSTED with reason WATCH_LAGGING; INTERNAL, UNKNOWN or
    CANCELLED without an ErrorInfo of domain ``quantum.v1``, which is how a cut connection
    arrives (Envoy resetting a stream at its route timeout: INTERNAL, RST_STREAM);
    UNAUTHENTICATED with reason TOKEN_EXPIRED when ``token_renewed``, i.e. the token
    source now gives another token than the one the stream carried. Anything else is raised.

    Args:
        code: The status code received.
        server_reason: The ``reason`` of the status's ErrorInfo from the ``quantum.v1``
            domain, or None when it carries none (the status came from a proxy or from the
            transport, not from the server's handler).
        token_renewed: The token source has a new token (a rotated file, a refreshing
            function); without one a resume would only be refused again.

    An INTERNAL carrying the server's ErrorInfo is a server bug (its metadata names the
    incident): resuming would only repeat it, so it is raised.
    """
    if code == grpc.StatusCode.UNAVAILABLE:
        return True
    if server_reason is None:
        return code in TRANSPORT_CUTS
    if (code, server_reason) == (grpc.StatusCode.UNAUTHENTICATED, TOKEN_EXPIRED):
        return token_renewed
    return (code, server_reason) in RESUMABLE_REASONS


def server_reason(exc: grpc.RpcError) -> str | None:
    """The reason of the ``quantum.v1`` ErrorInfo ``exc`` carries; None without one."""
    call: Any = exc  # blocking and grpc.aio errors both carry code and trailers
    try:
        status = rpc_status.from_call(call)
    except (AttributeError, ValueError):  # not a call, or a status that contradicts it
        return None
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain == ERROR_DOMAIN:
                return str(info.reason)
    return None


@dataclass(frozen=True)
class StreamEnd:
    """How one WatchStatus call ended: its error (None when it just closed), and the verdict."""

    error: QuantumError | None = None
    resumable: bool = True

    @classmethod
    def of(cls, exc: grpc.RpcError, settings: Settings, token: str | None) -> StreamEnd:
        """Decode a failed call that carried ``token`` and judge it with :func:`resumable`."""
        error = call_error(exc, settings)
        reason = server_reason(exc)
        renewed = reason == TOKEN_EXPIRED and settings.token_renewed(token)
        return cls(error, resumable(error.code, reason, token_renewed=renewed))


OnUpdate = Callable[[AnyResource], object]
"""Called with each snapshot of the awaited resource as it arrives."""

OnRetry = Callable[[QuantumError | None, float], object]
"""Called with the error that cut a stream (None if it just ended) and the pause before resuming."""


@dataclass
class Cursor:
    """A stream's position, and what to do when the stream is cut.

    Attributes:
        policy: The backoff between resumes.
        revision: The last revision received; 0 lists the current state first.
        limit: Consecutive failed resumes allowed; None for no limit (a deadline, if any,
            bounds it).
        relist: On OUT_OF_RANGE (the revision was compacted) start over from a fresh list
            instead of raising :class:`~quantum_api.errors.RevisionCompacted`.
    """

    policy: RetryPolicy
    revision: int = 0
    limit: int | None = None
    relist: bool = False
    failures: int = field(default=0, init=False)

    def request(self, base: WatchStatusRequest) -> WatchStatusRequest:
        """``base`` resuming after the last revision received."""
        request = WatchStatusRequest()
        request.CopyFrom(base)
        request.start_revision = self.revision
        return request

    def seen(self, event: WatchEvent) -> None:
        """Record a received event (markers too: they carry a resumable revision)."""
        self.revision = max(self.revision, event.revision)
        self.failures = 0

    def cut(self, end: StreamEnd) -> float:
        """The pause before resuming a stream that ended as ``end`` says.

        Raises:
            QuantumError: the stream's error when it is not resumable, or when resuming
                failed ``limit`` times in a row.
        """
        error = end.error
        if error is not None and error.code == grpc.StatusCode.OUT_OF_RANGE and self.relist:
            self.revision = 0
            return 0.0
        if error is not None and not end.resumable:
            raise error
        self.failures += 1
        if self.limit is not None and self.failures > self.limit:
            raise error or QuantumError("the watch stream keeps ending; giving up")
        return self.policy.backoff(self.failures)


@dataclass(frozen=True)
class WaitSpec:
    """What ``wait_for`` waits for: one resource, some statuses (empty: any but ERROR), and
    with ``applied`` its latest change confirmed by the back-end."""

    kind: int
    resource_id: str
    wanted: frozenset[int]
    applied: bool = False

    @property
    def noun(self) -> str:
        """``"port 1234…"``, for messages."""
        return f"{kind_label(self.kind)} {self.resource_id}"

    def watch_request(self) -> WatchStatusRequest:
        """The WatchStatus filter for this resource (an attachment is named by its port)."""
        return WatchStatusRequest(kinds=[self.kind], resource_ids=[self.resource_id])  # type: ignore[list-item]

    def wanted_label(self) -> str:
        """``"ACTIVE or DOWN"``, ``"APPLIED"`` or ``"ACTIVE and APPLIED"``."""
        wrapper = status_enum(self.kind)
        statuses = " or ".join(sorted(enum_label(wrapper, s) for s in self.wanted))
        if not self.applied:
            return statuses
        return f"{statuses} and APPLIED" if statuses else "APPLIED"

    def reached(self, resource: AnyResource) -> bool:
        """Whether ``resource`` is what the wait waits for."""
        status = status_of(resource)
        in_status = status in self.wanted if self.wanted else status != error_status(self.kind)
        return in_status and (not self.applied or is_applied(resource))

    @property
    def fails_on_error(self) -> bool:
        """ERROR ends the wait with ResourceFailed unless it is wanted."""
        return error_status(self.kind) not in self.wanted


def wait_spec(target: AnyResource | KindLike, spec: tuple[Any, ...]) -> WaitSpec:
    """Resolve ``wait_for``'s positional arguments.

    ``spec`` is ``(statuses,)`` after a resource message, ``(resource_id, statuses)``
    after a kind. An attachment is named by its port's id, so a re-plug is followed too.
    """
    if isinstance(target, int | str):
        if len(spec) != 2:
            raise TypeError("wait_for(kind, resource_id, statuses, timeout=...)")
        kind, resource_id, statuses = parse_kind(target), str(spec[0]), spec[1]
    else:
        if len(spec) != 1:
            raise TypeError("wait_for(resource, statuses, timeout=...)")
        kind, statuses = kind_of(target), spec[0]
        resource_id = target.port_id if isinstance(target, Attachment) else target.id
    wanted, applied = parse_wait(kind, statuses)
    return WaitSpec(kind, resource_id, wanted, applied)


class Waiter:
    """Judges the events of one resource: done, failed, gone, or keep waiting."""

    def __init__(self, spec: WaitSpec, on_update: OnUpdate | None = None) -> None:
        self.spec = spec
        self.on_update = on_update
        self.last: AnyResource | None = None
        self._listed = False
        self._listing = False

    def stream_started(self, start_revision: int) -> None:
        """A new stream begins; from revision 0 it lists the current state first."""
        self._listing = start_revision == 0
        self._listed = False

    def _mine(self, resource: AnyResource) -> bool:
        if isinstance(resource, Attachment):
            return self.spec.resource_id in (resource.port_id, resource.id)
        return resource.id == self.spec.resource_id

    def feed(self, event: WatchEvent) -> AnyResource | None:
        """The resource if ``event`` ends the wait, else None.

        Raises:
            ResourceFailed: the resource went to ERROR (metadata carries the back-end's
                ``error_code`` and ``error_message``).
            ResourceDeleted: the resource does not exist or was deleted.
        """
        if event.type == EventType.EVENT_TYPE_SYNCED:
            if self._listing and not self._listed:
                raise ResourceDeleted(f"{self.spec.noun} not found", field="resource_id")
            return None
        resource = resource_of(event.resource)
        if resource is None or not self._mine(resource):
            return None
        self._listed = True
        self.last = resource
        if self.on_update is not None:
            self.on_update(resource)
        if event.type == EventType.EVENT_TYPE_DELETED:
            raise ResourceDeleted(
                f"{self.spec.noun} was deleted while waiting",
                metadata={"revision": str(event.revision)},
            )
        if self.spec.reached(resource):
            return resource
        if status_of(resource) == error_status(self.spec.kind) and self.spec.fails_on_error:
            error = resource.error
            raise ResourceFailed(
                f"{self.spec.noun} went to ERROR: {error.code}: {error.message}",
                metadata={
                    "error_code": error.code,
                    "error_message": error.message,
                    "revision": str(event.revision),
                },
            )
        return None

    def timed_out(self, timeout: float) -> WaitTimeout:
        """The error for a wait that ran out of time."""
        last = status_label(self.last) if self.last is not None else "unknown"
        return WaitTimeout(
            f"{self.spec.noun} did not reach {self.spec.wanted_label()} within {timeout:g} s "
            f"(last status {last})",
            metadata={"last_status": last},
        )
