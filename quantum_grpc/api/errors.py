"""The one place domain errors become gRPC statuses: a server interceptor."""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

from quantum_grpc.api.context import Context
from quantum_grpc.errors import QuantumError, to_grpc_status

if TYPE_CHECKING:  # grpc's classes are generic only in the type stubs
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]
log = logging.getLogger(__name__)

Unary: TypeAlias = "Callable[[Any, Context], Awaitable[Any]]"
Stream: TypeAlias = "Callable[[Any, Context], AsyncIterator[Any]]"


async def _internal(context: Context) -> None:
    # A bug, not the caller's fault: keep the details in our log, not in their hands.
    incident = uuid.uuid4().hex[:12]
    log.exception("internal error %s", incident)
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error {incident}; see the server log")


def _unary(behavior: Unary) -> Unary:
    async def wrapped(request: Any, context: Context) -> Any:
        try:
            return await behavior(request, context)
        except QuantumError as error:
            await context.abort_with_status(to_grpc_status(error))
        except grpc.aio.AbortError:
            raise
        except Exception:
            await _internal(context)

    return wrapped


def _stream(behavior: Stream) -> Stream:
    async def wrapped(request: Any, context: Context) -> AsyncIterator[Any]:
        try:
            async for item in behavior(request, context):
                yield item
        except QuantumError as error:
            await context.abort_with_status(to_grpc_status(error))
        except grpc.aio.AbortError:
            raise
        except Exception:
            await _internal(context)

    return wrapped


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Turns a raised QuantumError into its status with ErrorInfo, for every RPC."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        codec = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(_unary(handler.unary_unary), **codec)  # type: ignore[arg-type]
        if handler.unary_stream is not None:
            # Streaming handlers are async generators or, like grpc's health Watch,
            # coroutines that call context.write(); each keeps its own shape.
            behavior: Any = handler.unary_stream  # the stubs type only sync behaviours
            if inspect.isasyncgenfunction(behavior):
                return grpc.unary_stream_rpc_method_handler(_stream(behavior), **codec)
            return grpc.unary_stream_rpc_method_handler(_unary(behavior), **codec)
        return handler
