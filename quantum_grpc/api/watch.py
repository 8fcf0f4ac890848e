"""WatchService: WatchStatus streams, and WaitForStatus (its logic in quantum_grpc.watch.wait).

WatchStatus writes pre-encoded bytes (see quantum_grpc.watch.events), so its handler is
registered with a pass-through serializer by :func:`add_watch_service`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from quantum_api.errors import InvalidArgument, RevisionAhead, ServerShuttingDown
from quantum_api.v1 import (
    attachment_pb2,
    network_pb2,
    port_pb2,
    watch_service_pb2 as pb,
)
from quantum_grpc.api.context import Context, caller_of
from quantum_grpc.api.filters import status_names
from quantum_grpc.metrics import NO_METRICS
from quantum_grpc.service import validation as v
from quantum_grpc.service.caller import Caller
from quantum_grpc.store.store import Store
from quantum_grpc.watch.events import KINDS, LogEvent, WatchFilter, marker
from quantum_grpc.watch.expiry import until_expiry
from quantum_grpc.watch.goal import wait_goal
from quantum_grpc.watch.hub import Watcher, WatchHub
from quantum_grpc.watch.snapshot import current_state
from quantum_grpc.watch.wait import wait_for

SERVICE = "quantum.v1.WatchService"
BATCH = 256
_NONE: frozenset[str] = frozenset()
_NO_STATUSES: dict[str, frozenset[str]] = {}  # never mutated
_KIND_SETS: dict[frozenset[str], frozenset[str]] = {frozenset(): _NONE}


def _interned(kinds: frozenset[str]) -> frozenset[str]:
    """One shared set per combination of kinds (there are eight)."""
    return _KIND_SETS.setdefault(kinds, kinds)


def _statuses(
    request: pb.WatchStatusRequest | pb.WaitForStatusRequest,
) -> dict[str, frozenset[str]]:
    found = {
        "NETWORK": status_names(
            request.network_statuses, network_pb2.NetworkStatus, "network_statuses"
        ),
        "PORT": status_names(request.port_statuses, port_pb2.PortStatus, "port_statuses"),
        "ATTACHMENT": status_names(
            request.attachment_statuses, attachment_pb2.AttachmentStatus, "attachment_statuses"
        ),
    }
    return {kind: names for kind, names in found.items() if names}


def _kind(value: int, field: str) -> str:
    v.enum_field(value, pb.ResourceKind.DESCRIPTOR, field)
    kind = KINDS.get(value)
    if kind is None:
        raise InvalidArgument(f"{field} must name a resource kind", field=field)
    return kind


def watch_filter_of(request: pb.WatchStatusRequest, caller: Caller) -> WatchFilter:
    """Validate a WatchStatusRequest into a filter."""
    if request.start_revision < 0:
        raise InvalidArgument("start_revision must be 0 or positive", field="start_revision")
    # Empty sets and maps shared: a filter lives as long as its watch.
    return WatchFilter(
        tenant_id=caller.listing_tenant(request.tenant_id),
        kinds=_interned(frozenset(_kind(k, "kinds") for k in request.kinds)),
        resource_ids=frozenset(v.uuid_field(i, "resource_ids") for i in request.resource_ids)
        or _NONE,
        network_id=v.optional_uuid(request.network_id, "network_id"),
        statuses=_statuses(request) or _NO_STATUSES,
    )


class _Stream:
    """A watch's writes, remembering the newest revision the client has been sent."""

    __slots__ = ("revision", "write")

    def __init__(self, context: Context, revision: int) -> None:
        # The bound method, looked up once: it is called once per event per watcher.
        self.write = context.write
        self.revision = revision

    async def send(self, events: list[LogEvent]) -> None:
        """Write ``events`` as one message (nothing when empty)."""
        if events:
            await self.write(
                events[0].encoded if len(events) == 1 else b"".join([e.encoded for e in events])
            )
            self.revision = events[-1].revision

    async def mark(self, event_type: int, revision: int) -> None:
        """Write a SYNCED or PROGRESS marker."""
        await self.write(marker(event_type, revision))
        self.revision = revision


class WatchServicer:
    """Serves quantum.v1.WatchService."""

    def __init__(self, store: Store, hub: WatchHub, progress_interval: float) -> None:
        self._store = store
        self._hub = hub
        self._progress_interval = progress_interval

    async def WatchStatus(self, request: pb.WatchStatusRequest, context: Context) -> None:
        caller = caller_of(context)
        watch_filter = watch_filter_of(request, caller)
        stream = _Stream(context, request.start_revision)
        if caller.expires_at is None:  # no timer, no context manager kept for the watch
            await self._watch(request.start_revision, watch_filter, stream)
            return
        async with until_expiry(caller.expires_at, lambda: stream.revision):
            await self._watch(request.start_revision, watch_filter, stream)

    async def _watch(self, start_revision: int, watch_filter: WatchFilter, stream: _Stream) -> None:
        # One frame for the whole watch (the follow loop is inline), and no context-manager
        # object: what an idle watcher keeps is paid once per watcher. Registration and
        # WATCH_LAGGING by hand.
        hub = self._hub
        if start_revision:
            hub.check_resume(start_revision)
            await self._check_reached(start_revision)
        watcher = hub.register(watch_filter)
        try:
            position = await self._catch_up(start_revision, watch_filter, watcher, stream)
            # No timer per wake-up: the hub's one ticker (watch/fanout.py) flags this watcher
            # once it has sent nothing for the progress interval. Per event and watcher this
            # loop allocates nothing of its own in the usual case (one event queued): with
            # 10,000 watchers every object made per wake-up is made 10,000 times and fills
            # the garbage collector's young generation.
            loop = asyncio.get_running_loop()
            watcher.last_sent = loop.time()
            metrics = hub.metrics
            record = metrics is not NO_METRICS
            wakeup = watcher.wakeup
            write = stream.write
            while True:
                queue = watcher.queue
                if queue is not None:
                    if isinstance(queue, list):
                        queued = len(queue)
                        batch = watcher.take(position, BATCH)
                        if batch:
                            await stream.send(batch)
                            position = batch[-1].revision
                            if record:
                                metrics.delivered(batch, queued)
                            watcher.last_sent = loop.time()
                        continue
                    watcher.queue = None  # the one event queued: no list
                    wakeup.clear()
                    if queue.revision > position:
                        await write(queue.encoded)
                        position = stream.revision = queue.revision
                        if record:
                            metrics.delivered((queue,), 1)
                        watcher.last_sent = loop.time()
                    continue
                wakeup.clear()
                position = max(position, hub.head)
                if watcher.closing:
                    raise ServerShuttingDown(
                        "the server is shutting down; resume the watch from the last revision",
                        metadata={"revision": str(position)},
                    )
                if watcher.progress_due:
                    watcher.progress_due = False
                    # Flagged while a write was under way: that write was the sign of life.
                    if loop.time() - watcher.last_sent >= self._progress_interval:
                        await stream.mark(pb.EVENT_TYPE_PROGRESS, position)
                        watcher.last_sent = loop.time()
                    continue
                await wakeup.wait()
        except BaseException as error:
            lagging = hub.lagging(watcher, error)
            if lagging is None:
                raise
            raise lagging from None
        finally:
            hub.unregister(watcher)

    async def _catch_up(
        self, start_revision: int, watch_filter: WatchFilter, watcher: Watcher, stream: _Stream
    ) -> int:
        """Send the history after ``start_revision``, or the current state and SYNCED;
        returns the revision to follow from (its own frame: the snapshot is not kept)."""
        if start_revision:
            async for page in self._hub.history(
                watch_filter, start_revision, watcher.registered_at
            ):
                await stream.send(page)
            # This replica's hub may not have read up to start_revision yet (another
            # replica served the stream before): never send what the client has.
            return max(start_revision, watcher.registered_at)
        position, events = await current_state(self._store, watch_filter)
        for start in range(0, len(events), BATCH):
            await stream.send(events[start : start + BATCH])
        await stream.mark(pb.EVENT_TYPE_SYNCED, position)
        return position

    async def _check_reached(self, start_revision: int) -> None:
        # The hub may not have read the newest commit yet; the database decides.
        if start_revision > self._hub.head:
            head = await self._store.head_revision()
            if start_revision > head:
                raise RevisionAhead(
                    f"revision {start_revision} is newer than this server's newest, {head}: "
                    "is this the database the revision came from? List again to start over",
                    field="start_revision",
                    metadata={"head_revision": str(head)},
                )

    async def WaitForStatus(
        self, request: pb.WaitForStatusRequest, context: Context
    ) -> pb.WaitForStatusResponse:
        caller = caller_of(context)
        kind = _kind(request.kind, "kind")
        resource_id = v.uuid_field(request.resource_id, "resource_id")
        goal = wait_goal(kind, _statuses(request).get(kind, frozenset()), request.condition)
        remaining = context.time_remaining()
        async with until_expiry(caller.expires_at):
            event = await wait_for(
                self._store,
                self._hub,
                tenant_id=caller.listing_tenant(request.tenant_id),
                kind=kind,
                resource_id=resource_id,
                goal=goal,
                deadline=None
                if remaining is None
                else asyncio.get_running_loop().time() + remaining,
            )
        return pb.WaitForStatusResponse(resource=event.resource, revision=event.revision)


def _passthrough(message: bytes | pb.WatchStatusResponse) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


def add_watch_service(servicer: WatchServicer, server: grpc.aio.Server) -> None:
    """Register WatchService; WatchStatus sends pre-encoded bytes as they are."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "WatchStatus": grpc.unary_stream_rpc_method_handler(
            servicer.WatchStatus,
            request_deserializer=pb.WatchStatusRequest.FromString,
            response_serializer=_passthrough,
        ),
        "WaitForStatus": grpc.unary_unary_rpc_method_handler(
            servicer.WaitForStatus,
            request_deserializer=pb.WaitForStatusRequest.FromString,
            response_serializer=pb.WaitForStatusResponse.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
