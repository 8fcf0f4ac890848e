"""The audit log: one line per mutation of the client API (docs/security.md, "Audit log").

Who (the token's subject and tenant), what (the RPC), on which resource and in which
tenant, and how it ended. Never a token, a header or a request payload: only identifiers,
each quoted when it holds anything but plain identifier characters, so a subject cannot
forge a line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import grpc

from quantum_api.errors import QuantumError
from quantum_grpc.api.context import Context, caller_of
from quantum_grpc.service.caller import Caller

log = logging.getLogger("quantum_grpc.audit")

Unary: TypeAlias = Callable[[Any, Context], Awaitable[Any]]
# The answer's resource, most specific first (an attachment's answer also carries its port).
_RESOURCE_FIELDS = ("attachment", "port", "network")
_PLAIN = re.compile(r"[\w.:@/+-]*")


def _value(text: str) -> str:
    return text if _PLAIN.fullmatch(text) else json.dumps(text)


def _resource_of(message: Any) -> tuple[str, str]:
    """(id, tenant) of the resource an answer holds."""
    for name in _RESOURCE_FIELDS:
        if name in message.DESCRIPTOR.fields_by_name and message.HasField(name):
            resource = getattr(message, name)
            return str(resource.id), str(resource.tenant_id)
    return "", ""


def _named_in(request: Any) -> str:
    """The id a request names (a failed call has no answer to read it from)."""
    for name in ("port_id", "network_id"):
        if name in request.DESCRIPTOR.fields_by_name and getattr(request, name):
            return str(getattr(request, name))
    return ""


def record(method: str, caller: Caller, request: Any, answer: Any, outcome: str) -> None:
    """Log one mutation; ``answer`` is the response, or None when the call failed, and
    ``request`` None when it was refused before being read."""
    resource, tenant = _resource_of(answer) if answer is not None else ("", "")
    if request is not None:
        resource = resource or _named_in(request)
        tenant = tenant or request.tenant_id
    tenant = tenant or caller.tenant_id
    log.info(
        "audit rpc=%s subject=%s tenant=%s caller_tenant=%s resource=%s outcome=%s",
        method.strip("/"),
        _value(caller.subject),
        _value(tenant),
        _value(caller.tenant_id),
        _value(resource),
        outcome,
    )


def refused(method: str, caller: Caller, error: QuantumError) -> None:
    """Log a mutation refused before its request was read (a role that may not call it)."""
    record(method, caller, None, None, _outcome(error))


def _outcome(error: QuantumError) -> str:
    return f"{error.code.name}:{error.reason}"


def audited(method: str, behavior: Unary) -> Unary:
    """``behavior`` (a unary mutation) logging one audit line when it ends, however it ends."""

    async def call(request: Any, context: Context) -> Any:
        try:
            answer = await behavior(request, context)
        except QuantumError as error:
            record(method, caller_of(context), request, None, _outcome(error))
            raise
        except asyncio.CancelledError:  # the client went away; the change may still be made
            record(method, caller_of(context), request, None, grpc.StatusCode.CANCELLED.name)
            raise
        except Exception:  # a bug: the error interceptor answers INTERNAL
            record(method, caller_of(context), request, None, grpc.StatusCode.INTERNAL.name)
            raise
        record(method, caller_of(context), request, answer, grpc.StatusCode.OK.name)
        return answer

    return call
