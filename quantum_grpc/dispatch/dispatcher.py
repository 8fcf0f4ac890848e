"""The outbox dispatcher: hands recorded changes to back-ends, in order, exactly once.

Changes with the same shard key (a network and its ports) go one at a time in the order
they were recorded, so a back-end sees "create network, create port, plug" in that order
even when the API accepted all three before the network was ready. A change leaves the
outbox only when its back-end accepted it; until then it is retried with backoff, and
after a crash it is found again on start. The back-end recognises a retry by its operation
id (docs/architecture.md, "Outbox and dispatcher").

Each change carries the request id and traceparent of the API call that recorded it
(``ApplyChangeRequest.context``): the dispatcher sends them as ``x-request-id`` and
``traceparent`` metadata of the back-end call and logs under that id, never under the
call that happened to start a network's drain task (docs/plugin-guide.md).

Only the leader dispatches (quantum_grpc/leader.py). On another replica a mutation still
waits, up to the sync wait, for its changes to leave the outbox, woken by the leader's
commits (watch/pg_waker.py), so the answer looks the same on every replica.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

import grpc
from sqlalchemy import func, select, update

from quantum_api.enums import value_of
from quantum_api.errors import StorageUnavailable
from quantum_api.plugin.v1 import backend_pb2, resource_status_pb2 as rs
from quantum_api.v1 import backend_error_pb2
from quantum_grpc import logs
from quantum_grpc.api.request_ids import REQUEST_ID_HEADER, TRACEPARENT_HEADER
from quantum_grpc.dispatch.backends import BackendLinks
from quantum_grpc.metrics import NO_METRICS, Observer
from quantum_grpc.service.backend_input import MAX_ERROR_MESSAGE, bounded, bounded_text, problem
from quantum_grpc.service.reports import Recorded, limited, log_truncations, record_answer
from quantum_grpc.store.models import NetworkRow, OutboxRow, PortRow
from quantum_grpc.store.store import Resource, Store, first_outbox_entry

log = logging.getLogger(__name__)
# A resource as a back-end's answer left it, or None when that is not known.
Answered = NetworkRow | PortRow | None
# The error code of a change whose answer the core could not take (docs/plugin-guide.md).
BACKEND_INPUT_REJECTED = "BACKEND_INPUT_REJECTED"

# How often a replica that does not lead checks the outbox while a mutation waits for the
# leader to dispatch it, should a notification be lost.
FOLLOWER_CHECK = 0.25
# How many entries dispatched before their own commit's listener ran are remembered
# (Dispatcher._early): far more than can be in that window at once.
EARLY_KEPT = 1024
# How many shard keys (networks) the dispatcher remembers as fully known in memory.
MAX_TRUSTED_KEYS = 100_000
# How often the leader reads the whole outbox, should another replica's hint be lost.
SWEEP_INTERVAL = 1.0

# Codes after which the same call may succeed later; anything else is the back-end
# refusing the change, which the resource then shows as ERROR.
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
}


class Dispatcher:
    """Drains the outbox; one task per shard key with pending changes."""

    def __init__(
        self,
        store: Store,
        links: BackendLinks,
        *,
        call_timeout: float,
        retry_max: float,
    ) -> None:
        self._store = store
        self._links = links
        self._call_timeout = call_timeout
        self._retry_max = retry_max
        self._drains: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        # This process's own entries not yet dispatched, by shard key in id order, as its
        # commits handed them over; and the keys whose outbox they are all of (see
        # _next_entry): those are dispatched without reading the outbox back.
        self._queued: dict[str, list[OutboxRow]] = {}
        self._complete: set[str] = set()
        # With replicas: the next entry of a key as the transaction that recorded the
        # previous one's answer read it (None: there was none). Dropped when the key is
        # kicked again meanwhile, since a commit may then have added one it did not see.
        self._read_ahead: dict[str, OutboxRow | None] = {}
        # Settles waiting on this process's dispatch, by outbox entry id: the result is the
        # resource as its back-end's answer left it (None: not known).
        self._done: dict[int, asyncio.Future[Answered]] = {}
        # Entries dispatched before their commit's listener ran (with replicas, another
        # task may read a commit from the database before its own listener hears of it):
        # their settle must not wait for a dispatch that is over. The newest few.
        self._early: collections.OrderedDict[int, Answered] = collections.OrderedDict()
        self._closed = False
        self._leading = False
        # Settles waiting on another replica's dispatch, by outbox entry id: woken when the
        # leader announces the entry's removal (Store._announcement).
        self._awaited: dict[int, asyncio.Event] = {}
        self._sweeper: asyncio.Task[None] | None = None
        # Apply call and dispatch latency (quantum_grpc/metrics.py).
        self.metrics: Observer = NO_METRICS
        store.add_outbox_listener(self._on_commit)
        store.add_remote_listener(self._on_remote_commit)

    def _on_commit(self, entries: list[OutboxRow], dropped: set[str]) -> None:
        if not self._leading:
            return
        for key in dropped:
            # A resync replaced these keys' entries: what is queued of them is gone.
            self._queued.pop(key, None)
        loop = asyncio.get_running_loop()
        alone = self._alone()
        for entry in entries:
            if entry.id in self._early:
                # Read from the outbox and dispatched already: nothing to wait for or queue.
                del self._early[entry.id]
                continue
            self._done.setdefault(entry.id, loop.create_future())
            if alone:
                self._queue(entry)
            self.kick(entry.shard_key)

    def _alone(self) -> bool:
        """Whether this process is alone on its database (no replica's notify channel)."""
        return self._store.notify_channel is None

    def _queue(self, entry: OutboxRow) -> None:
        queued = self._queued.setdefault(entry.shard_key, [])
        # Ids follow commit order (taken under the revision counter's lock), and so do
        # commit listeners, but keep the order by id whatever happens.
        if queued and queued[-1].id > entry.id:
            bisect.insort(queued, entry, key=_entry_id)
        else:
            queued.append(entry)

    def _on_remote_commit(self, shard_keys: list[str], removed: list[int]) -> None:
        # Another replica recorded changes: the leader dispatches them. Or it dispatched
        # changes this one waits for.
        for key in shard_keys:
            self._complete.discard(key)
            self.kick(key)
        for entry_id in removed:
            waiting = self._awaited.get(entry_id)
            if waiting is not None:
                waiting.set()

    async def start(self) -> None:
        """Lead: re-dispatch whatever the outbox holds (after a crash, a stop, or another
        leader's end), then every new entry, this replica's or another's."""
        self._leading = True
        keys = await self._sweep()
        if keys:
            log.info("re-dispatching the outbox of %d network(s)", len(keys))
        self._sweeper = asyncio.create_task(self._sweep_loop())

    async def _sweep(self) -> list[str]:
        """Kick every shard key the outbox holds; returns them."""
        async with self._store.read() as conn:
            keys = list((await conn.scalars(select(OutboxRow.shard_key).distinct())).all())
        for key in keys:
            self.kick(key)
        return keys

    async def _sweep_loop(self) -> None:
        # Another replica's notification may be lost (its hint): the outbox is the truth.
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            with contextlib.suppress(StorageUnavailable):
                await self._sweep()

    async def stop_leading(self) -> None:
        """Stop dispatching (another replica leads now); what is left stays in the outbox."""
        self._leading = False
        await self._cancel_drains()
        self._forget()

    def _forget(self) -> None:
        """Whoever leads next finds every entry in the outbox."""
        self._queued.clear()
        self._complete.clear()
        self._read_ahead.clear()

    def kick(self, shard_key: str) -> None:
        """Make sure the changes of ``shard_key`` are being dispatched."""
        if self._closed or not self._leading:
            return
        task = self._drains.get(shard_key)
        if task is not None and not task.done():
            self._again.add(shard_key)
            return
        self._drains[shard_key] = asyncio.create_task(self._drain(shard_key))

    async def settle(self, entries: Sequence[OutboxRow], timeout: float) -> list[Resource]:
        """Wait until ``entries`` were dispatched, or ``timeout`` seconds; returns the
        resources as their back-ends' answers left them, where this process applied them
        (none after a timeout)."""
        waits = [self._done[e.id] for e in entries if e.id in self._done]
        if waits:
            with contextlib.suppress(TimeoutError):
                answers = await asyncio.wait_for(asyncio.shield(asyncio.gather(*waits)), timeout)
                return [row for row in answers if row is not None]
        elif not self._leading and entries:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._left_outbox([e.id for e in entries])
        return []

    async def _left_outbox(self, ids: list[int]) -> None:
        """Return once none of ``ids`` is in the outbox: told by the leader's announcement
        of their removal, and checked in the database first (registered before, so no
        announcement falls in between) and every ``FOLLOWER_CHECK`` seconds after, in case
        an announcement is lost."""
        waiting = [self._awaited.setdefault(entry_id, asyncio.Event()) for entry_id in ids]
        try:
            while not await self._gone(ids):
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(FOLLOWER_CHECK):
                        for event in waiting:
                            await event.wait()
                        return
        finally:
            for entry_id in ids:
                self._awaited.pop(entry_id, None)

    async def _gone(self, ids: list[int]) -> bool:
        """Whether none of ``ids`` is in the outbox (False when the database cannot say)."""
        try:
            async with self._store.read() as conn:
                left = await conn.scalar(
                    select(func.count()).select_from(OutboxRow).where(OutboxRow.id.in_(ids))
                )
        except StorageUnavailable:
            return False
        return not left

    async def close(self) -> None:
        """Stop dispatching; what is left stays in the outbox for the next start."""
        self._closed = True
        await self._cancel_drains()
        self._forget()

    async def _cancel_drains(self) -> None:
        tasks = [t for t in self._drains.values() if not t.done()]
        if self._sweeper is not None:
            tasks.append(self._sweeper)
            self._sweeper = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _drain(self, shard_key: str) -> None:
        while True:
            if shard_key in self._again:
                self._again.discard(shard_key)
                self._read_ahead.pop(shard_key, None)
            try:
                entry = await self._next_entry(shard_key)
            except StorageUnavailable:
                await asyncio.sleep(self._retry_max)
                continue
            if entry is None:
                if shard_key in self._again:
                    continue
                self._drains.pop(shard_key, None)
                return
            await self._deliver(entry)

    async def _next_entry(self, shard_key: str) -> OutboxRow | None:
        """The oldest entry of ``shard_key`` still to dispatch.

        Read from the outbox, unless what this process queued in memory is known to be the
        whole of it: once a read found the key's outbox empty, every later entry of the
        key is one of this process's commits, handed over in order (_on_commit). Only a
        process alone on its database may trust that: with replicas (a notify channel),
        another's entry could come first and a lost notification would hide it, so every
        entry is read. A resync's drop empties the queue (the resync's own entries follow).
        """
        alone = self._alone()
        if not alone:
            self._queued.pop(shard_key, None)
            if shard_key in self._read_ahead:
                return self._read_ahead.pop(shard_key)
        elif shard_key in self._complete:
            queued = self._queued.get(shard_key)
            if queued:
                return queued.pop(0)
            self._queued.pop(shard_key, None)
            return None
        async with self._store.read() as conn:
            entry = await first_outbox_entry(conn, shard_key)
        queued = self._queued.get(shard_key)
        if entry is None:
            if not alone:
                return None
            # Whatever is queued now was committed after the read began: it is the whole
            # outbox of the key (an entry committed before the read would have been read,
            # and a commit's listeners run before anything else can read it: on SQLite,
            # the only database without replicas, nothing runs between the two).
            if len(self._complete) >= MAX_TRUSTED_KEYS:
                self._complete.clear()  # forgetting is safe: those keys are read again
            self._complete.add(shard_key)
            return await self._next_entry(shard_key)
        if queued:
            # The outbox is read in id order: what is queued up to this entry is this one,
            # or was dropped meanwhile.
            kept = [e for e in queued if e.id > entry.id]
            if kept:
                self._queued[shard_key] = kept
            else:
                self._queued.pop(shard_key, None)
        return entry

    async def _deliver(self, entry: OutboxRow) -> None:
        request = backend_pb2.ApplyChangeRequest.FromString(entry.request)
        # The drain task inherited the context of whatever started it (the first call that
        # touched this network): while a change is dispatched, its log lines are its own call's.
        request_id = logs.request_id.set(request.context.request_id)
        traceparent = logs.traceparent.set(request.context.traceparent)
        try:
            await self._deliver_logged(entry, request)
        finally:
            logs.request_id.reset(request_id)
            logs.traceparent.reset(traceparent)

    async def _deliver_logged(
        self, entry: OutboxRow, request: backend_pb2.ApplyChangeRequest
    ) -> None:
        delay = 0.05
        metadata = _call_metadata(request.context)
        while True:
            link = self._links.get(entry.backend)
            if link is None:
                await self._finish(entry, _refusal(entry, f"unknown back-end {entry.backend!r}"))
                return
            if not link.ready.is_set():
                await link.ready.wait()
                # A resync while the back-end was away may have replaced this change.
                if not await self._pending(entry.id):
                    self._resolve(entry.id)
                    return
            began = time.perf_counter()
            try:
                response = await link.backend.ApplyChange(
                    request, timeout=self._call_timeout, metadata=metadata
                )
            except grpc.aio.AioRpcError as exc:
                retried = exc.code() in RETRYABLE
                self.metrics.applied(entry.backend, time.perf_counter() - began, retried)
                if not retried:
                    await self._finish(
                        entry, _refusal(entry, f"{exc.code().name}: {exc.details()}")
                    )
                    return
                log.info("retrying %s in %.2fs: %s", entry.operation_id, delay, exc.code().name)
                await self._note_attempt(entry, f"{exc.code().name}: {exc.details()}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            self.metrics.applied(entry.backend, time.perf_counter() - began, False)
            done = response.outcome == backend_pb2.APPLY_OUTCOME_DONE
            await self._finish(entry, _answer_status(entry, response.status) if done else None)
            return

    async def _note_attempt(self, entry: OutboxRow, error: str) -> None:
        with contextlib.suppress(StorageUnavailable):
            async with self._store.write() as tx:
                await tx.connection.execute(
                    update(OutboxRow)
                    .where(OutboxRow.id == entry.id)
                    .values(attempts=OutboxRow.attempts + 1, last_error=bounded_text(error, 2000))
                )

    async def _finish(self, entry: OutboxRow, status: rs.ResourceStatus | None) -> None:
        # A back-end's answer that still cannot be recorded (a database error about its
        # data, a bug) must not stop the network's dispatch by being retried forever: fall
        # back to recording the change as rejected, then to only removing it.
        # (Made only when needed: the usual answer is recorded at the first try.)
        candidates: list[Callable[[], rs.ResourceStatus | None]] = [lambda: status]
        if status is not None:
            candidates += [
                lambda: _rejection(entry, "the core could not record the back-end's answer"),
                lambda: None,
            ]
        recorded = Recorded()
        for candidate in candidates:
            try:
                recorded = await self._record(entry, candidate())
                break
            except Exception:
                log.exception(
                    "could not record %s of back-end %s", entry.operation_id, entry.backend
                )
        self.metrics.dispatched(entry.backend, entry.created_at)
        self._resolve(entry.id, recorded.resource)

    async def _record(self, entry: OutboxRow, status: rs.ResourceStatus | None) -> Recorded:
        key = "" if self._alone() else entry.shard_key
        while True:
            try:
                recorded = await record_answer(
                    self._store, entry.id, entry.backend, status, next_of=key
                )
                if key:
                    self._read_ahead[key] = recorded.next_entry
                return recorded
            except StorageUnavailable:
                # The change reached the back-end; keep trying to record that, since a
                # re-dispatch after restart would be a harmless retry by operation id.
                await asyncio.sleep(self._retry_max)

    def _resolve(self, entry_id: int, answered: Answered = None) -> None:
        future = self._done.pop(entry_id, None)
        if future is None:
            self._early[entry_id] = answered
            if len(self._early) > EARLY_KEPT:
                self._early.popitem(last=False)
        elif not future.done():
            future.set_result(answered)

    async def _pending(self, entry_id: int) -> bool:
        try:
            async with self._store.read() as conn:
                found = await conn.scalar(select(OutboxRow.id).where(OutboxRow.id == entry_id))
                return found is not None
        except StorageUnavailable:
            return True


def _entry_id(entry: OutboxRow) -> int:
    return entry.id


def _call_metadata(context: backend_pb2.RequestContext) -> tuple[tuple[str, str], ...]:
    """The ApplyChange metadata naming the change's call, so that the back-end's own logs
    can show it."""
    given = ((REQUEST_ID_HEADER, context.request_id), (TRACEPARENT_HEADER, context.traceparent))
    return tuple((key, value) for key, value in given if value)


def _error_status(entry: OutboxRow, code: str, message: str) -> rs.ResourceStatus:
    """ERROR at the change's generation, as if the back-end had reported it."""
    return rs.ResourceStatus(
        kind=value_of(rs.ResourceKind, entry.resource_kind),
        resource_id=entry.resource_id,
        generation=entry.generation,
        state=rs.OBSERVED_STATE_ERROR,
        error=backend_error_pb2.BackendError(
            code=code, message=bounded_text(message, MAX_ERROR_MESSAGE)
        ),
    )


def _refusal(entry: OutboxRow, message: str) -> rs.ResourceStatus:
    """The report a refused change amounts to."""
    refusal = _error_status(entry, "BACKEND_REFUSED", message)
    log.warning(
        "back-end %s refused %s: %s", entry.backend, entry.operation_id, refusal.error.message
    )
    return refusal


def _rejection(entry: OutboxRow, message: str) -> rs.ResourceStatus:
    """What a change whose answer the core cannot take amounts to: the back-end applied
    something, but what is unknown, so the resource shows ERROR until a new change."""
    return _error_status(entry, BACKEND_INPUT_REJECTED, message)


def _answer_status(entry: OutboxRow, status: rs.ResourceStatus) -> rs.ResourceStatus:
    """The status of a DONE answer, within the limits of docs/plugin-guide.md."""
    found = problem(status)
    if found is not None:
        field, why = found
        limited.warning(
            f"{entry.backend}/answer/{field}",
            "back-end %s answered %s with an unusable status: %s",
            entry.backend,
            entry.operation_id,
            why,
        )
        return _rejection(entry, f"the back-end's answer was unusable: status.{why}")
    fixed, cut = bounded(status)
    log_truncations(entry.backend, "an ApplyChange answer", cut)
    return fixed
