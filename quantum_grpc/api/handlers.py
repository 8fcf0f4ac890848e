"""Rebuild an RPC handler with its behaviour wrapped: what the server interceptors that
only observe a call (metrics, request ids) share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc

if TYPE_CHECKING:  # grpc's classes are generic only in the type stubs
    Handler: TypeAlias = grpc.RpcMethodHandler[Any, Any]

Wrap: TypeAlias = Callable[[Any], Any]

_FACTORIES: dict[str, Any] = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


class WrappedHandlers:
    """Each method's handler as an interceptor wrapped it, reused while the handler it
    wrapped is the same object (the registered one, or an inner interceptor's reused one).
    Wrapping anew per call cost every RPC a handler and its closures, and every open watch
    about 2 KiB (bench/README.md, "Issue 14"): what differs per call is read from the
    call's context inside the wrapper instead."""

    def __init__(self) -> None:
        self._by_method: dict[str, tuple[Handler, Handler]] = {}

    def get(self, method: str, handler: Handler, build: Callable[[], Handler]) -> Handler:
        """``build()`` the first time ``handler`` is seen for ``method``, then the same."""
        kept = self._by_method.get(method)
        if kept is not None and kept[0] is handler:
            return kept[1]
        wrapped = build()
        self._by_method[method] = (handler, wrapped)
        return wrapped


def rpc_type(handler: Handler) -> str:
    """UNARY, SERVER_STREAM, CLIENT_STREAM or BIDI_STREAM."""
    if handler.request_streaming:
        return "BIDI_STREAM" if handler.response_streaming else "CLIENT_STREAM"
    return "SERVER_STREAM" if handler.response_streaming else "UNARY"


def rewrap(handler: Handler, wrap: Wrap, request_deserializer: Any = None) -> Handler:
    """``handler`` with its behaviour replaced by ``wrap(behaviour)``, same shape and
    serializers (the request's replaced by ``request_deserializer`` if given). Behaviours
    are coroutines or async generators (or coroutines writing with ``context.write()``):
    ``wrap`` must keep the kind it is given."""
    for kind, factory in _FACTORIES.items():
        behavior = getattr(handler, kind)
        if behavior is not None:
            return factory(  # type: ignore[no-any-return]
                wrap(behavior),
                request_deserializer=request_deserializer or handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler
