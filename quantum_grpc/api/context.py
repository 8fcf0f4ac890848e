"""The caller of an RPC: authenticated once per call, before its handler runs.

The error interceptor (quantum_grpc/api/errors.py) calls :func:`admit` at the start of
every RPC; servicers read the result with :func:`caller_of` (docs/security.md,
"Authentication").
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, TypeAlias

import grpc

from quantum_grpc.auth import Authenticator
from quantum_grpc.service.caller import Caller

Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]

CLIENT_API = "/quantum.v1."

# grpc.aio runs each RPC in its own task, so each call sees only the caller it set.
_caller: ContextVar[Caller | None] = ContextVar("quantum_caller", default=None)


def needs_caller(method: str) -> bool:
    """Whether an RPC acts for a caller: the client API does; health, reflection and the
    back-ends' services (identified by their certificates) do not."""
    return method.startswith(CLIENT_API)


def admit(method: str, context: Context, authenticator: Authenticator) -> Caller | None:
    """Authenticate a call to the client API and remember its caller for this call.

    Raises the catalogue's UNAUTHENTICATED (or DuplicateMetadata) errors; None for RPCs
    that need no caller.
    """
    caller = None
    if needs_caller(method):
        caller = authenticator.authenticate(tuple(context.invocation_metadata() or ()))
    _caller.set(caller)
    return caller


def caller_of(context: Context) -> Caller:
    """The authenticated caller of the current client-API call."""
    caller = _caller.get()
    if caller is None:  # a handler reached without admit(): a wiring bug, so INTERNAL
        raise RuntimeError("caller_of() outside a call admitted by the error interceptor")
    return caller
