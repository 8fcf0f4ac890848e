"""The watch hub: reads each committed event once and hands it to the watchers it matches.

After every commit (this replica's, or another's announced by PostgreSQL NOTIFY, and on a
timer as a safety net) one pump task reads the new events from the log in revision order,
decodes and encodes each once, keeps the newest in a ring for cheap resumes, and pushes a
reference to every watcher of that tenant whose filter matches. A watcher's queue is
bounded: a watcher that lets it fill is ended with RESOURCE_EXHAUSTED (its handler task is
cancelled wherever it waits, even in a write to a client that stopped reading), so one slow
client never grows the server's memory.

This replica's own commits skip the log: the store hands their events over in memory
(:meth:`WatchHub._on_events`), and the pump reads the log only to catch up after a gap.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta

from sqlalchemy import delete, select, update

from quantum_api.errors import RevisionCompacted, TooManyWatches, WatchLagging
from quantum_grpc.config import Settings
from quantum_grpc.metrics import (
    NO_METRICS,
    RESUME_COMPACTED,
    RESUMED_FROM_LOG,
    RESUMED_FROM_RING,
    Observer,
)
from quantum_grpc.store.models import EventRow, RevisionCounter
from quantum_grpc.store.rows import fetch_all
from quantum_grpc.store.store import Store, now
from quantum_grpc.watch.events import LogEvent, WatchFilter, from_row
from quantum_grpc.watch.fanout import ProgressTicker, Wakeup

log = logging.getLogger(__name__)
PAGE = 1000


class Watcher:
    """One stream's (or wait's) place in the fan-out.

    Slotted, and nothing allocated while idle: with 10,000 idle watchers every object a
    watcher keeps is paid 10,000 times (bench/README.md, "Fan-out").
    """

    __slots__ = (
        "closing",
        "filter",
        "last_sent",
        "max_lag",
        "overflowed",
        "progress_due",
        "queue",
        "registered_at",
        "task",
        "wakeup",
    )

    def __init__(self, watch_filter: WatchFilter, max_lag: int, position: int) -> None:
        self.filter = watch_filter
        # The events not yet taken: None, the one event (the usual case: no container
        # per event), or a list of them, oldest first.
        self.queue: LogEvent | list[LogEvent] | None = None
        self.wakeup = Wakeup()
        # For the hub's progress ticker (watch/fanout.py); a stream sets last_sent.
        self.last_sent: float | None = None
        self.progress_due = False
        self.max_lag = max_lag
        # Every event up to `registered_at` was committed before this watcher existed.
        self.registered_at = position
        self.overflowed = False
        self.closing = False
        self.task = asyncio.current_task()

    @property
    def pending(self) -> int:
        """How many events are queued."""
        queue = self.queue
        return 0 if queue is None else len(queue) if isinstance(queue, list) else 1

    def push(self, event: LogEvent) -> None:
        """Queue an event, or end the watcher if its queue is full."""
        queue = self.queue
        if queue is None:
            if self.overflowed:
                return
            self.queue = event
            self.wakeup.set()
        elif isinstance(queue, list):
            if len(queue) >= self.max_lag:
                self._overflow()
            else:
                queue.append(event)
        elif self.max_lag <= 1:
            self._overflow()
        else:
            self.queue = [queue, event]

    def _overflow(self) -> None:
        self.overflowed = True
        self.queue = None
        if self.task is not None:
            self.task.cancel()

    def take(self, after: int, limit: int) -> list[LogEvent]:
        """Up to ``limit`` queued events with a revision above ``after``."""
        queue = self.queue
        if queue is None:
            self.wakeup.clear()
            return []
        if not isinstance(queue, list):
            self.queue = None
            self.wakeup.clear()
            return [queue] if queue.revision > after else []
        if len(queue) <= limit:
            taken = queue
            self.queue = None
            self.wakeup.clear()
        else:
            taken = queue[:limit]
            del queue[:limit]
        if taken[0].revision <= after:
            taken = [event for event in taken if event.revision > after]
        return taken


class Watching:
    """``async with hub.watching(filter) as watcher``: see :meth:`WatchHub.watching`."""

    __slots__ = ("_hub", "_watcher")

    def __init__(self, hub: WatchHub, watcher: Watcher) -> None:
        self._hub = hub
        self._watcher = watcher

    async def __aenter__(self) -> Watcher:
        return self._watcher

    async def __aexit__(self, _type: object, error: BaseException | None, _tb: object) -> None:
        self._hub.unregister(self._watcher)
        if error is not None:
            lagging = self._hub.lagging(self._watcher, error)
            if lagging is not None:
                raise lagging from None


class WatchHub:
    """See the module docstring."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings
        self._ring: deque[LogEvent] = deque(maxlen=max(settings.watch_ring, 1))
        self._by_tenant: dict[str, set[Watcher]] = {}
        self._everyone: set[Watcher] = set()
        self._wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.head = 0
        self.floor = 0
        self.closing = False
        # Lag, delivery, resumes, compactions (quantum_grpc/metrics.py); the watch streams
        # record through it too.
        self.metrics: Observer = NO_METRICS
        store.add_event_listener(self._on_events)
        store.add_listener(self._on_commit)

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Learn the current head and floor, then start pumping (compaction is the
        leader's: see :meth:`compaction_loop`)."""
        self.head = await self._store.head_revision()
        self.floor = await self._store.compaction_floor()
        self._tasks.append(asyncio.create_task(self._pump_loop()))
        ticker = ProgressTicker(self._settings.watch_progress_interval, self._all)
        self._tasks.append(asyncio.create_task(ticker.run()))
        if self._settings.event_poll_interval > 0:
            self._tasks.append(asyncio.create_task(self._poll_loop()))

    async def shutdown(self) -> None:
        """End every watch: each sends what it has, then UNAVAILABLE."""
        self.closing = True
        for watcher in self._all():
            watcher.closing = True
            watcher.wakeup.set()

    async def close(self) -> None:
        """Stop the background tasks."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- registration ----------------------------------------------------------------
    def register(self, watch_filter: WatchFilter) -> Watcher:
        """A watcher that receives every matching event committed from now on.

        Raises TooManyWatches when the tenant already holds ``max_watches_per_tenant``
        (admin watches of every tenant share one count): each watcher costs memory and
        fan-out work, so one tenant cannot take it all.
        """
        tenant = watch_filter.tenant_id
        peers = self._everyone if tenant is None else self._by_tenant.get(tenant, set())
        limit = self._settings.max_watches_per_tenant
        if len(peers) >= limit:
            who = "admin watches of every tenant" if tenant is None else f"tenant {tenant}"
            raise TooManyWatches(
                f"{who}: already {limit} open watches (WatchStatus and WaitForStatus count "
                "alike), the server's limit; end some before opening more",
                metadata={"limit": str(limit)},
            )
        watcher = Watcher(watch_filter, self._settings.watch_max_lag, self.head)
        if tenant is None:
            self._everyone.add(watcher)
        else:
            self._by_tenant.setdefault(tenant, set()).add(watcher)
        return watcher

    def watching(self, watch_filter: WatchFilter) -> Watching:
        """A registered watcher for an ``async with`` block; ends it with WATCH_LAGGING if
        it overflows (a class, not a generator: it lives as long as the watch)."""
        return Watching(self, self.register(watch_filter))

    def lagging(self, watcher: Watcher, error: BaseException) -> WatchLagging | None:
        """The WATCH_LAGGING error to end ``watcher`` with, when ``error`` is the
        cancellation :meth:`Watcher.push` caused (it is then uncancelled); else None."""
        if not isinstance(error, asyncio.CancelledError) or not watcher.overflowed:
            return None
        task = asyncio.current_task()
        if task is None:
            return None
        task.uncancel()  # our own cancellation (see Watcher.push), not the caller's
        self.metrics.ended_lagging()
        return WatchLagging(
            f"this watch fell more than {watcher.max_lag} events behind; resume from the "
            "last revision received",
            metadata={"max_lag": str(watcher.max_lag)},
        )

    def unregister(self, watcher: Watcher) -> None:
        """Stop delivering to ``watcher``."""
        self._everyone.discard(watcher)
        tenant = watcher.filter.tenant_id
        if tenant is not None:
            peers = self._by_tenant.get(tenant)
            if peers is not None:
                peers.discard(watcher)
                if not peers:
                    del self._by_tenant[tenant]

    def _all(self) -> Iterable[Watcher]:
        yield from self._everyone
        for peers in self._by_tenant.values():
            yield from peers

    @property
    def watcher_count(self) -> int:
        """How many watchers are registered."""
        return len(self._everyone) + sum(len(p) for p in self._by_tenant.values())

    # -- history ---------------------------------------------------------------------
    def check_resumable(self, start_revision: int) -> None:
        """OUT_OF_RANGE unless every event after ``start_revision`` is still kept."""
        if start_revision < self.floor:
            raise RevisionCompacted(
                f"revision {start_revision} was compacted; the oldest revision to resume "
                f"from is {self.floor}: list the resources again and watch from there",
                field="start_revision",
                metadata={"oldest_revision": str(self.floor)},
            )

    def check_resume(self, start_revision: int) -> None:
        """:meth:`check_resumable` for a watch resuming there, a refusal counted."""
        try:
            self.check_resumable(start_revision)
        except RevisionCompacted:
            self.metrics.resumed(RESUME_COMPACTED)
            raise

    async def refresh_floor(self) -> None:
        """Learn the shared floor: another replica may have compacted since we last looked."""
        self.floor = max(self.floor, await self._store.compaction_floor())

    async def history(
        self, watch_filter: WatchFilter, after: int, upto: int
    ) -> AsyncIterator[list[LogEvent]]:
        """The matching events in (after, upto], in pages, from the ring or the log.

        The shared floor decides, not this replica's ring: a revision compacted by any
        replica is REVISION_COMPACTED here too, even if the ring still holds it.
        """
        await self.refresh_floor()
        self.check_resume(after)
        if after >= upto or (self._ring and self._ring[0].revision <= after + 1):
            self.metrics.resumed(RESUMED_FROM_RING)
            yield [e for e in self._ring if after < e.revision <= upto and watch_filter.matches(e)]
            return
        self.metrics.resumed(RESUMED_FROM_LOG)
        cursor = after
        while cursor < upto:
            async with self._store.read() as conn:
                query = select(EventRow).where(
                    EventRow.revision > cursor, EventRow.revision <= upto
                )
                if watch_filter.tenant_id is not None:
                    query = query.where(EventRow.tenant_id == watch_filter.tenant_id)
                query = query.order_by(EventRow.revision).limit(PAGE)
                rows = await fetch_all(conn, EventRow, query)
            # Read after the page: a compaction that deleted any of it committed before.
            await self.refresh_floor()
            self.check_resumable(cursor)
            if not rows:
                return
            cursor = rows[-1].revision
            yield [e for e in map(from_row, rows) if watch_filter.matches(e)]

    # -- pumping ---------------------------------------------------------------------
    def _on_events(self, rows: list[EventRow]) -> None:
        """This replica's commit, handed over in memory: fan it out at once when it is the
        next revision; otherwise (a commit in between we have not seen) the pump reads the
        log (commits can finish out of revision order on PostgreSQL)."""
        if self.closing or rows[0].revision != self.head + 1:
            self._wanted.set()
            return
        try:
            events = [from_row(row) for row in rows]
        except Exception:  # runs inside the writer's commit: never fail it, read the log
            log.exception("decoding committed events failed")
            self._wanted.set()
            return
        for event in events:
            self._fan_out(event)

    def _fan_out(self, event: LogEvent) -> None:
        """Keep ``event`` in the ring and push it to every watcher it matches."""
        self._ring.append(event)
        self.head = event.revision
        for watcher in self._everyone:
            if watcher.filter.matches(event):
                watcher.push(event)
        for watcher in self._by_tenant.get(event.tenant_id, ()):
            if watcher.filter.matches(event):
                watcher.push(event)

    def _on_commit(self, head: int, _outbox: object) -> None:
        if head > self.head:
            self._wanted.set()

    async def _pump_loop(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            try:
                await self.pump()
            except Exception:  # the next commit or poll retries; never let the loop die
                log.exception("reading the event log failed")
                await asyncio.sleep(0.5)
                self._wanted.set()

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.event_poll_interval)
            self._wanted.set()

    async def pump(self) -> None:
        """Read every event after ``head`` and fan it out (not once shutting down, so every
        watch drains what it has and ends, resumable from its last revision)."""
        while not self.closing:
            async with self._store.read() as conn:
                rows = await fetch_all(
                    conn,
                    EventRow,
                    select(EventRow)
                    .where(EventRow.revision > self.head)
                    .order_by(EventRow.revision)
                    .limit(PAGE),
                )
            for row in rows:
                # Handed over in memory while this page was read (_on_events): already out.
                if row.revision > self.head:
                    self._fan_out(from_row(row))
            if len(rows) < PAGE:
                return

    # -- compaction ------------------------------------------------------------------
    async def compact(self) -> int:
        """Drop events beyond both retention limits; returns the new floor.

        The floor is raised in the database in the same transaction as the delete, so a
        resume on any replica that reads history in parallel notices what it lost.
        """
        cutoff = now() - timedelta(seconds=self._settings.event_retention_seconds)
        removed = 0
        async with self._store.write() as tx:
            head, floor = (
                await tx.connection.execute(
                    select(RevisionCounter.value, RevisionCounter.floor).where(
                        RevisionCounter.id == 1
                    )
                )
            ).one()
            young = await tx.connection.scalar(
                select(EventRow.revision)
                .where(EventRow.created_at >= cutoff)
                .order_by(EventRow.revision)
                .limit(1)
            )
            keep_count = int(head) - self._settings.event_retention
            limit = keep_count if young is None else min(keep_count, int(young) - 1)
            floor = int(floor)
            if limit > floor:
                floor = limit
                await tx.connection.execute(
                    update(RevisionCounter).where(RevisionCounter.id == 1).values(floor=floor)
                )
                deleted = await tx.connection.execute(
                    delete(EventRow).where(EventRow.revision <= limit)
                )
                removed = int(getattr(deleted, "rowcount", 0) or 0)
        self.metrics.compacted(removed)  # once committed
        self.floor = max(self.floor, floor)
        return self.floor

    async def compaction_loop(self) -> None:
        """Compact every ``compaction_interval``; the leader's duty (quantum_grpc/leader.py)."""
        while True:
            await asyncio.sleep(self._settings.compaction_interval)
            try:
                await self.compact()
            except Exception:  # the next pass tries again; the log says why this one failed
                log.exception("compacting the event log failed")
