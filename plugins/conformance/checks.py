"""What every scenario checks: statuses reached through the watch, and allowed moves only."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc

from quantum_api.enums import short_name
from quantum_api.errors import QuantumError
from quantum_api.v1 import (
    attachment_pb2,
    network_pb2,
    port_pb2,
    watch_service_pb2 as watch_pb,
)
from quantum_grpc.service.status_rules import GONE, NEW, transition_allowed
from quantum_plugins.conformance.client import MARKERS, Api, Follower, rpc_error

_STATUS_ENUMS: dict[str, Any] = {
    "network": network_pb2.NetworkStatus,
    "port": port_pb2.PortStatus,
    "attachment": attachment_pb2.AttachmentStatus,
}


def status_name(kind: str, value: int) -> str:
    """ "ACTIVE" for (port, PORT_STATUS_ACTIVE)."""
    return short_name(_STATUS_ENUMS[kind], value)


async def wait_status(api: Api, kind: str, resource_id: str, *statuses: int, timeout: float) -> Any:
    """WaitForStatus for one resource; returns the resource message."""
    return await api.wait_for_status(kind, resource_id, statuses, timeout=timeout)


async def wait_gone(api: Api, kind: str, resource_id: str, timeout: float) -> None:
    """Until the resource no longer exists (its delete was confirmed); attachments are
    named by their port's id."""
    getter = {"network": api.get_network, "port": api.get_port, "attachment": api.get_attachment}[
        kind
    ]
    async with asyncio.timeout(timeout):
        while True:
            try:
                await getter(resource_id)
            except QuantumError as error:
                if error.code == grpc.StatusCode.NOT_FOUND:
                    return
                raise
            await asyncio.sleep(0.05)


async def expect_error(call: Awaitable[Any], code: grpc.StatusCode, reason: str) -> QuantumError:
    """The call fails with exactly this code and ErrorInfo reason."""
    error = await rpc_error(call)
    assert (error.code, error.reason) == (code, reason), (
        f"expected {code.name} {reason}, got {error.code.name} {error.reason}: {error.message}"
    )
    return error


async def refused_while_not_ready(
    call: Awaitable[Any],
    follower: Follower,
    resource_id: str,
    not_ready: int,
    changed_at: Callable[[Any], int],
) -> Any | None:
    """Under ``reject``, a change to a resource still ``not_ready`` fails RESOURCE_NOT_READY.

    An asynchronous back-end may make the resource ready between the caller's last read
    and this call, so a change that succeeds is right only if ``follower`` (started before
    the resource was created) saw the resource leave ``not_ready`` before the change's
    revision (``changed_at(result)``). Returns the result when the call succeeded (the
    caller cleans up what it made), None when it was refused.
    """
    try:
        result = await call
    except QuantumError as error:
        assert (error.code, error.reason) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "RESOURCE_NOT_READY",
        ), f"expected RESOURCE_NOT_READY, got {error.code.name} {error.reason}: {error.message}"
        return None
    revision = changed_at(result)
    events = await follower.until(lambda seen: any(e.revision >= revision for e in seen))
    ready_first = any(
        e.revision < revision and _status_of(e, resource_id) not in (None, not_ready)
        for e in events
    )
    assert ready_first, (
        f"a change to {resource_id} was accepted at revision {revision} while it was not "
        "ready (the readiness policy is reject)"
    )
    return result


def _status_of(event: watch_pb.WatchEvent, resource_id: str) -> int | None:
    """The status ``event`` gives ``resource_id``, None if it is about something else."""
    kind = event.resource.WhichOneof("kind")
    if kind is None or event.type in MARKERS:
        return None
    resource = getattr(event.resource, kind)
    return int(resource.status) if resource.id == resource_id else None


def check_transitions(events: Sequence[watch_pb.WatchEvent]) -> None:
    """Every resource in ``events`` moved only along the status model's transitions.

    ``events`` is a whole stream: what comes before its SYNCED marker is the initial
    state, where each resource starts; every change after it must be allowed.
    """
    last: dict[str, str] = {}
    synced = not any(e.type == watch_pb.EVENT_TYPE_SYNCED for e in events)
    for event in events:
        if event.type == watch_pb.EVENT_TYPE_SYNCED:
            synced = True
            continue
        kind = event.resource.WhichOneof("kind")
        if kind is None:
            continue
        resource = getattr(event.resource, kind)
        status = status_name(kind, resource.status)
        if not synced:
            last[resource.id] = status
            continue
        before = last.get(resource.id, NEW)
        after = GONE if event.type == watch_pb.EVENT_TYPE_DELETED else status
        assert transition_allowed(kind.upper(), before, after), (
            f"{kind} {resource.id} moved {before} -> {after} at revision {event.revision}, "
            "which the status model does not allow"
        )
        last[resource.id] = after


@contextlib.asynccontextmanager
async def watched(api: Api, network_id: str = "") -> AsyncIterator[Follower]:
    """Watch the tenant (or one network) for the duration; check transitions at the end."""
    follower = Follower(api, watch_pb.WatchStatusRequest(network_id=network_id)).start()
    await follower.until(lambda ev: any(e.type == watch_pb.EVENT_TYPE_SYNCED for e in ev))
    try:
        yield follower
        check_transitions(follower.events)
    finally:
        await follower.cancel()
