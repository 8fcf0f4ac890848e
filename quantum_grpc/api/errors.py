"""The one place domain errors become gRPC statuses: a server interceptor.

It also turns request bytes that do not parse into INVALID_ARGUMENT, for every RPC.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

from quantum_api.errors import InternalError, InvalidArgument, QuantumError, to_grpc_status
from quantum_grpc.api.authorization import audit_mutations, authorize_call
from quantum_grpc.api.context import Context, admit
from quantum_grpc.api.handlers import WrappedHandlers, rewrap
from quantum_grpc.auth import Authenticator
from quantum_grpc.auth.headers import HeaderAuthenticator

if TYPE_CHECKING:  # grpc's classes are generic only in the type stubs
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]
log = logging.getLogger(__name__)

Unary: TypeAlias = "Callable[[Any, Context], Awaitable[Any]]"
Stream: TypeAlias = "Callable[[Any, Context], AsyncIterator[Any]]"
Admit: TypeAlias = "Callable[[Context], None]"


async def _internal(context: Context) -> None:
    # A bug, not the caller's fault: keep the details in our log, not in their hands.
    incident = uuid.uuid4().hex[:12]
    log.exception("internal error %s", incident)
    # The ErrorInfo says the server itself answered: clients resume a bare INTERNAL (a
    # proxy's cut stream), never this one (README, "Clients").
    error = InternalError(
        f"internal error {incident}; see the server log", metadata={"incident": incident}
    )
    await context.abort_with_status(to_grpc_status(error))


class _Malformed:
    """Stands in for a request whose bytes did not parse as the method's message."""


_MALFORMED = _Malformed()


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    # grpc.aio parses a request before any handler runs and answers a parse failure with
    # UNKNOWN and the exception's class; the sentinel lets the handler refuse it properly.
    if deserializer is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:
            return _MALFORMED

    return parse


def _refuse_malformed(method: str) -> InvalidArgument:
    return InvalidArgument(f"the request is not a valid {method} request message")


def _checked(request: Any, method: str) -> Any:
    if request is _MALFORMED:
        raise _refuse_malformed(method)
    return request


async def _checked_stream(requests: AsyncIterator[Any], method: str) -> AsyncIterator[Any]:
    async for request in requests:
        yield _checked(request, method)


def _request_of(request: Any, streaming: bool, method: str) -> Any:
    return _checked_stream(request, method) if streaming else _checked(request, method)


def _unary(behavior: Unary, streaming: bool, method: str, admit_call: Admit) -> Unary:
    async def wrapped(request: Any, context: Context) -> Any:
        try:
            admit_call(context)
            return await behavior(_request_of(request, streaming, method), context)
        except QuantumError as error:
            await context.abort_with_status(to_grpc_status(error))
        except grpc.aio.AbortError:
            raise
        except Exception:
            await _internal(context)

    return wrapped


def _stream(behavior: Stream, streaming: bool, method: str, admit_call: Admit) -> Stream:
    async def wrapped(request: Any, context: Context) -> AsyncIterator[Any]:
        try:
            admit_call(context)
            async for item in behavior(_request_of(request, streaming, method), context):
                yield item
        except QuantumError as error:
            await context.abort_with_status(to_grpc_status(error))
        except grpc.aio.AbortError:
            raise
        except Exception:
            await _internal(context)

    return wrapped


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """For every RPC: the caller is authenticated first (client API only), a raised
    QuantumError becomes its status with ErrorInfo, and a request that does not parse is
    INVALID_ARGUMENT."""

    def __init__(self, authenticator: Authenticator | None = None) -> None:
        self._authenticator = authenticator or HeaderAuthenticator()
        self._wrapped = WrappedHandlers()

    def _admitter(self, method: str) -> Admit:
        def admit_call(context: Context) -> None:
            # Authentication, once per call, before the request is looked at.
            caller = admit(method, context, self._authenticator)
            if caller is not None:
                authorize_call(method, caller)

        return admit_call

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        return self._wrapped.get(method, handler, lambda: self._wrap(method, handler))

    def _wrap(self, method: str, handler: Handler) -> Handler:
        admit_call = self._admitter(method)

        def wrap(behavior: Any) -> Any:
            # Behaviours are coroutines or async generators (grpc's health Watch is a
            # coroutine calling context.write()); each keeps its own shape.
            shape = _stream if inspect.isasyncgenfunction(behavior) else _unary
            return shape(
                audit_mutations(method, behavior), handler.request_streaming, method, admit_call
            )

        return rewrap(handler, wrap, _tolerant(handler.request_deserializer))
