"""WaitForStatus: follow one resource through the hub until it reaches a goal, or fails.

The wait registers with the hub first, then reads the current state in one snapshot, so
no change committed in between is missed (docs/status-model.md, "WaitForStatus").
"""

from __future__ import annotations

import asyncio

from quantum_api.errors import ResourceDeleted, ResourceFailed, ServerShuttingDown, WaitTimeout
from quantum_api.v1 import watch_service_pb2 as pb
from quantum_grpc.store.store import Store
from quantum_grpc.watch.absence import absence
from quantum_grpc.watch.events import LogEvent, WatchFilter
from quantum_grpc.watch.goal import WaitGoal
from quantum_grpc.watch.hub import Watcher, WatchHub
from quantum_grpc.watch.snapshot import current_state

BATCH = 256


async def wait_for(
    store: Store,
    hub: WatchHub,
    *,
    tenant_id: str | None,
    kind: str,
    resource_id: str,
    goal: WaitGoal,
    deadline: float | None,
) -> LogEvent:
    """The event (the current state's, or a later change's) in which the resource reached
    ``goal``; ``deadline`` is an event-loop time, None to wait for ever.

    Raises:
        ResourceDeleted: the resource was deleted, before or while waiting (or the
            compacted log cannot tell whether it existed).
        NetworkNotFound, PortNotFound, AttachmentNotFound: it never existed
            (watch/absence.py).
        ResourceFailed: it went to ERROR and ERROR is not what the goal wants.
        WaitTimeout: the deadline passed first.
        ServerShuttingDown: the server is stopping.
    """
    watch_filter = WatchFilter(
        tenant_id=tenant_id, kinds=frozenset({kind}), resource_ids=frozenset({resource_id})
    )
    async with hub.watching(watch_filter) as watcher:
        position, events = await current_state(store, watch_filter)
        if not events:
            raise await absence(store, hub, tenant_id=tenant_id, kind=kind, resource_id=resource_id)
        if _judge(events[-1], goal):
            return events[-1]
        while True:
            for event in watcher.take(position, BATCH):
                position = event.revision
                if _judge(event, goal):
                    return event
            await _next_change(watcher, deadline, f"{kind.lower()} {resource_id}", goal)


async def _next_change(watcher: Watcher, deadline: float | None, noun: str, goal: WaitGoal) -> None:
    if watcher.closing:
        raise ServerShuttingDown("the server is shutting down; wait again elsewhere")
    timeout = None if deadline is None else deadline - asyncio.get_running_loop().time()
    try:
        if timeout is not None and timeout <= 0:
            raise TimeoutError
        async with asyncio.timeout(timeout):
            await watcher.wakeup.wait()
    except TimeoutError:
        raise WaitTimeout(f"{noun} did not reach {goal.describe()} in time") from None


def _judge(event: LogEvent, goal: WaitGoal) -> bool:
    """Whether ``event`` ends the wait; raises if it fails it."""
    noun = f"{event.kind.lower()} {event.resource_id}"
    if event.event_type == pb.EVENT_TYPE_DELETED:
        raise ResourceDeleted(
            f"{noun} was deleted while waiting", metadata={"revision": str(event.revision)}
        )
    if goal.reached(event):
        return True
    if event.status == "ERROR" and goal.fails_on_error:
        error = getattr(event.resource, event.resource.WhichOneof("kind") or "network").error
        raise ResourceFailed(
            f"{noun} went to ERROR: {error.code}: {error.message}",
            metadata={
                "error_code": error.code,
                "error_message": error.message,
                "revision": str(event.revision),
            },
        )
    return False
