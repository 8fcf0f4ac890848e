"""The back-end protocol's vocabulary: kinds, actions, which pairs exist, and a check.

Shared by every Python back-end (sim, linuxbridge), so each refuses a malformed
ApplyChangeRequest the same way and names changes alike in DescribeBackend.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from quantum_api.enums import short_name
from quantum_api.plugin.v1 import backend_pb2, resource_status_pb2

__all__ = [
    "CREATE",
    "DELETE",
    "ENSURE",
    "NETWORK",
    "PLUG",
    "PORT",
    "UNPLUG",
    "UPDATE",
    "VALID_CHANGES",
    "CallIds",
    "Change",
    "call_ids",
    "change_label",
    "log_change",
    "validate_change",
]

# Proto enum values are plain ints at run time.
NETWORK: int = resource_status_pb2.RESOURCE_KIND_NETWORK
PORT: int = resource_status_pb2.RESOURCE_KIND_PORT
CREATE: int = backend_pb2.CHANGE_ACTION_CREATE
UPDATE: int = backend_pb2.CHANGE_ACTION_UPDATE
DELETE: int = backend_pb2.CHANGE_ACTION_DELETE
PLUG: int = backend_pb2.CHANGE_ACTION_PLUG
UNPLUG: int = backend_pb2.CHANGE_ACTION_UNPLUG
ENSURE: int = backend_pb2.CHANGE_ACTION_ENSURE

Change = tuple[int, int]
"""A (ResourceKind, ChangeAction) pair."""

#: Every (kind, action) pair a back-end can be asked for; networks are never plugged.
VALID_CHANGES: frozenset[Change] = frozenset(
    [(NETWORK, a) for a in (CREATE, UPDATE, DELETE, ENSURE)]
    + [(PORT, a) for a in (CREATE, UPDATE, DELETE, PLUG, UNPLUG, ENSURE)]
)


def change_label(kind: int, action: int) -> str:
    """Name a change as DescribeBackend lists it, such as "PORT/PLUG"."""
    kind_name = short_name(resource_status_pb2.ResourceKind, kind)
    return f"{kind_name}/{short_name(backend_pb2.ChangeAction, action)}"


def validate_change(request: Any) -> str | None:
    """Why an ApplyChangeRequest is malformed, or None when it is acceptable."""
    kind, action = request.kind, request.action
    if not request.operation_id:
        return "operation_id is required"
    if kind not in (NETWORK, PORT):
        return "kind must be NETWORK or PORT"
    if (kind, action) not in VALID_CHANGES:
        return f"action {action} is not valid for kind {kind}"
    if request.generation < 1:
        return "generation must be at least 1"
    expected = "network" if kind == NETWORK else "port"
    if request.WhichOneof("spec") != expected:
        return f"a {expected} change needs spec.{expected}"
    spec = request.network if kind == NETWORK else request.port
    required = ["id", "tenant_id"] + (["network_id"] if kind == PORT else [])
    for field in required:
        if not getattr(spec, field):
            return f"spec.{expected}.{field} is required"
    if action == PLUG and not spec.interface_id:
        return "a plug needs spec.port.interface_id"
    if action == UNPLUG and spec.interface_id:
        return "an unplug needs an empty spec.port.interface_id"
    return None


@dataclass(frozen=True)
class CallIds:
    """Who asked for a change: the API call's ids, as the request carries them
    (``context``) and as the core's ApplyChange call sent them as metadata."""

    request_id: str
    traceparent: str
    header_request_id: str
    header_traceparent: str


def call_ids(request: Any, context: Any) -> CallIds:
    """The ids of the API call behind an ApplyChange (empty strings when none), for the
    back-end's logs (docs/plugin-guide.md, "ApplyChange")."""
    headers = {key: value for key, value in context.invocation_metadata() or ()}
    return CallIds(
        request_id=request.context.request_id,
        traceparent=request.context.traceparent,
        header_request_id=str(headers.get("x-request-id", "")),
        header_traceparent=str(headers.get("traceparent", "")),
    )


def log_change(logger: logging.Logger, request: Any, context: Any) -> CallIds:
    """Log an ApplyChange (debug level) with the ids of the call behind it; returns them."""
    called = call_ids(request, context)
    spec = request.network if request.kind == NETWORK else request.port
    logger.debug(
        "%s of %s (operation %s) request_id=%s traceparent=%s",
        change_label(request.kind, request.action),
        spec.id,
        request.operation_id,
        called.request_id or called.header_request_id or "-",
        called.traceparent or called.header_traceparent or "-",
    )
    return called
