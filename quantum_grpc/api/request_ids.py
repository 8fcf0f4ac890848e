"""Request ids and trace context of each call (docs/operations.md, "Request ids and logs").

A call's ``x-request-id`` (Envoy makes one when the client sent none; else the core
makes one) is the call's id: every log line written while handling it carries it
(quantum_grpc/logs.py), and so does the ErrorInfo metadata (``request_id``) of the error
it ends with. A W3C ``traceparent`` is kept beside it for the same logs. A server
interceptor, first in the list, sets both for the call's task.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from quantum_grpc import logs
from quantum_grpc.api.context import Context
from quantum_grpc.api.handlers import WrappedHandlers, rewrap

if TYPE_CHECKING:
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]

REQUEST_ID_HEADER = "x-request-id"
TRACEPARENT_HEADER = "traceparent"
# What a request id may be: anything else (too long, control characters, a forged log
# field) is replaced by a fresh one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# W3C Trace Context, version 00: version-trace_id-parent_id-flags, ids not all zero.
_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")


def current_request_id() -> str:
    """The request id of the call being handled ("" outside any call)."""
    return logs.request_id.get()


def current_traceparent() -> str:
    """The W3C traceparent the call came with ("" if none, or not a valid one)."""
    return logs.traceparent.get()


def _header(metadata: Any, name: str) -> str:
    found = [value for key, value in metadata or () if key.lower() == name]
    value = found[0] if len(found) == 1 else ""
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def request_id_of(metadata: Any) -> str:
    """The caller's request id when it is a sane one, else a new one."""
    given = _header(metadata, REQUEST_ID_HEADER)
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def traceparent_of(metadata: Any) -> str:
    """The caller's traceparent when it is a valid version-00 one, else ""."""
    given = _header(metadata, TRACEPARENT_HEADER).strip().lower()
    return given if _TRACEPARENT.fullmatch(given) else ""


def with_request_id(status: grpc.Status, request_id: str) -> grpc.Status:
    """``status`` with ``request_id`` added to the metadata of its ErrorInfo details."""
    trailers = tuple(status.trailing_metadata or ())
    details = [value for key, value in trailers if key == rpc_status.GRPC_DETAILS_METADATA_KEY]
    if len(details) != 1:
        return status
    decoded = status_pb2.Status.FromString(details[0])
    for detail in decoded.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            info.metadata["request_id"] = request_id
            detail.Pack(info)
    result: grpc.Status = rpc_status.to_status(decoded)
    return result


class _Context:
    """The call's context, its errors marked with the request id."""

    def __init__(self, context: Context, request_id: str) -> None:
        self._context = context
        self._request_id = request_id

    async def abort_with_status(self, status: grpc.Status) -> NoReturn:
        await self._context.abort_with_status(with_request_id(status, self._request_id))
        raise AssertionError("abort_with_status returned")  # it always raises

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class RequestIdInterceptor(grpc.aio.ServerInterceptor):
    """Sets the request id and traceparent of every call for its task (see module doc)."""

    def __init__(self) -> None:
        self._wrapped = WrappedHandlers()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        return self._wrapped.get(handler_call_details.method, handler, lambda: _wrap(handler))


def _identified(context: Context) -> _Context:
    """Set the call's request id and traceparent for its task; its context, marked."""
    metadata = context.invocation_metadata()
    request_id = request_id_of(metadata)
    logs.request_id.set(request_id)
    logs.traceparent.set(traceparent_of(metadata))
    return _Context(context, request_id)


def _wrap(handler: Handler) -> Handler:
    def wrap(behavior: Any) -> Any:
        if inspect.isasyncgenfunction(behavior):

            async def streamed(request: Any, context: Context) -> AsyncIterator[Any]:
                async for item in behavior(request, _identified(context)):
                    yield item

            return streamed

        async def called(request: Any, context: Context) -> Any:
            return await behavior(request, _identified(context))

        return called

    return rewrap(handler, wrap)
