"""Transactions: every write bumps the global revision and appends its events atomically.

``Store.write()`` yields a :class:`Tx`. Each :meth:`Tx.record` call takes the next global
revision (one row updated in the same transaction, so concurrent writers serialise and
revisions follow commit order), stamps the resource and appends an event with the
resource's snapshot. Listeners learn the new head revision after commit: that is how
watches and dispatch wake up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, event, func, insert, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from quantum_api.enums import short_name
from quantum_api.errors import InvalidArgument, StorageUnavailable
from quantum_api.plugin.v1 import backend_pb2, resource_status_pb2 as rs
from quantum_grpc.store.models import (
    AttachmentRow,
    EventRow,
    NetworkRow,
    OutboxRow,
    PortRow,
    RevisionCounter,
    build,
)
from quantum_grpc.store.rows import fetch_one, statements_of, values_of

log = logging.getLogger(__name__)

Resource = NetworkRow | PortRow | AttachmentRow


class EventKind(StrEnum):
    """What an event did to its resource."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


class ResourceKind(StrEnum):
    """The kind of resource an event or outbox entry is about."""

    NETWORK = "NETWORK"
    PORT = "PORT"
    ATTACHMENT = "ATTACHMENT"


def now() -> datetime:
    """The current UTC time, as stored."""
    return datetime.now(UTC)


# How a resource's event snapshot is encoded. The store keeps the bytes without knowing
# their format; the server passes quantum_grpc.convert.snapshot_of (the API message).
SnapshotEncoder = Callable[[Resource], bytes]


def _locate(row: Resource) -> tuple[ResourceKind, str]:
    """The kind of ``row`` and the network it belongs to (a network: itself)."""
    if isinstance(row, NetworkRow):
        return ResourceKind.NETWORK, row.id
    if isinstance(row, PortRow):
        return ResourceKind.PORT, row.network_id
    return ResourceKind.ATTACHMENT, row.network_id


class StaleRow(RuntimeError):
    """A row recorded from a copy older than what its transaction already wrote of it."""


class Tx:
    """One write transaction; see the module docstring."""

    def __init__(self, connection: AsyncConnection, encode_snapshot: SnapshotEncoder) -> None:
        # Every statement of the transaction runs on it (store/rows.py: no ORM session).
        self.connection = connection
        self._encode_snapshot = encode_snapshot
        self.head = 0
        self.outbox: list[OutboxRow] = []
        # Entries enqueued but not inserted yet: written together before the next statement
        # about the outbox, and at the latest before commit (write_outbox).
        self._unwritten: list[OutboxRow] = []
        # Resources this transaction deleted, by id.
        self.gone: set[str] = set()
        # The revision each row was last recorded at here: a stale copy must not be written.
        self._recorded: dict[tuple[type, str], int] = {}
        # The events this transaction appended, in revision order: handed to the event
        # listeners in memory after commit (the watch hub reads the log only to catch up).
        self.events: list[EventRow] = []
        # Outbox entries this transaction removed (dispatched): a replica waiting for their
        # dispatch wants to know.
        self.removed: list[int] = []
        # Shard keys whose pending outbox entries this transaction dropped (a resync
        # re-sends them): the dispatcher forgets what it held of them.
        self.dropped: set[str] = set()
        # The revision counter as the database holds it in this transaction (None: not
        # read yet). Revisions after the first are counted here and the counter written
        # once, before commit (Store.write): it stays locked the whole transaction.
        self.counter: int | None = None

    async def _next_revision(self) -> int:
        if self.counter is None:
            result = await self.connection.execute(_NEXT_REVISION)
            self.head = self.counter = int(result.scalar_one())
        else:
            self.head = max(self.head, self.counter) + 1
        return self.head

    @property
    def counter_behind(self) -> bool:
        """Whether revisions were taken that the counter row does not hold yet."""
        return self.counter is not None and self.head > self.counter

    async def record(self, row: Resource, kind: EventKind) -> int:
        """Stamp ``row`` with a new revision, write it and append its event; returns the
        revision.

        ``row`` is a detached row (store/rows.py): ADDED inserts it, MODIFIED writes every
        column of it, DELETED deletes it after its last snapshot is taken. A copy read
        before this transaction last recorded the same row is refused: written, it would
        undo that change (docs/architecture.md, "Rows").
        """
        key = (type(row), row.id)
        newest = self._recorded.get(key)
        if newest is not None and (row.revision or 0) < newest:
            raise StaleRow(
                f"{type(row).__name__} {row.id} was read at revision {row.revision} but this "
                f"transaction already recorded it at {newest}: change the copy it recorded"
            )
        revision = await self._next_revision()
        stamp = now()
        row.revision = revision
        row.updated_at = stamp
        if kind is EventKind.ADDED:
            row.create_revision = revision
            row.created_at = stamp
        resource_kind, network_id = _locate(row)
        fields = {
            "revision": revision,
            "tenant_id": row.tenant_id,
            "resource_kind": resource_kind.value,
            "resource_id": row.id,
            "network_id": network_id,
            "event_kind": kind.value,
            "status": row.status,
            "snapshot": self._encode_snapshot(row),
            "created_at": stamp,
        }
        connection = self.connection
        writes = statements_of(type(row))
        if kind is EventKind.ADDED:
            await connection.execute(writes.insert, values_of(row))
        elif kind is EventKind.DELETED:
            await connection.execute(writes.delete, {"row_id": row.id})
            self.gone.add(row.id)
        else:
            values = values_of(row)
            values["row_id"] = values.pop("id")
            await connection.execute(writes.update, values)
        await connection.execute(_APPEND_EVENT, fields)
        self._recorded[key] = revision
        # The row handed to the listeners is never attached.
        self.events.append(build(EventRow, fields))
        return revision

    def enqueue(
        self,
        backend: str,
        shard_key: str,
        resource_id: str,
        request: backend_pb2.ApplyChangeRequest,
    ) -> OutboxRow:
        """Record a change for the dispatcher; it is sent after commit (docs/architecture.md)."""
        request.operation_id = request.operation_id or str(uuid.uuid4())
        entry = build(
            OutboxRow,
            {
                "operation_id": request.operation_id,
                "backend": backend,
                "shard_key": shard_key,
                "resource_kind": short_name(rs.ResourceKind, request.kind),
                "resource_id": resource_id,
                "generation": request.generation,
                "request": request.SerializeToString(),
                "attempts": 0,
                "last_error": "",
                "created_at": now(),
            },
        )
        self.outbox.append(entry)
        self._unwritten.append(entry)
        return entry

    async def write_outbox(self) -> None:
        """Insert the entries enqueued since the last call, in order; each learns its id."""
        for entry in self._unwritten:
            result = await self.connection.execute(_INSERT_OUTBOX, values_of(entry))
            (entry.id,) = cast(Any, result.inserted_primary_key)
        self._unwritten.clear()

    async def remove_outbox(self, entry_id: int) -> bool:
        """Drop a dispatched outbox entry; False when it was already gone."""
        await self.write_outbox()
        result = await self.connection.execute(_REMOVE_OUTBOX, {"entry_id": entry_id})
        removed = bool(result.rowcount)
        if removed:
            self.removed.append(entry_id)
        return removed

    async def drop_outbox(self, backend: str, shard_key: str) -> None:
        """Drop every pending change of ``backend`` for ``shard_key`` (about to be re-sent)."""
        await self.write_outbox()
        await self.connection.execute(
            delete(OutboxRow).where(OutboxRow.backend == backend, OutboxRow.shard_key == shard_key)
        )
        self.dropped.add(shard_key)


# Core statements, built once: they run on every create and every back-end answer.
_OUTBOX = cast(Table, OutboxRow.__table__)
_REMOVE_OUTBOX = delete(_OUTBOX).where(_OUTBOX.c.id == bindparam("entry_id"))
_INSERT_OUTBOX = insert(_OUTBOX)
_FIRST_OUTBOX_ENTRY = (
    select(OutboxRow)
    .where(OutboxRow.shard_key == bindparam("shard_key"))
    .order_by(OutboxRow.id)
    .limit(1)
)
_COUNTER = cast(Table, RevisionCounter.__table__)
_NEXT_REVISION = (
    update(_COUNTER)
    .where(_COUNTER.c.id == 1)
    .values(value=_COUNTER.c.value + 1)
    .returning(_COUNTER.c.value)
)
_APPEND_EVENT = insert(cast(Table, EventRow.__table__))
_LOCK_COUNTER = select(_COUNTER.c.value).where(_COUNTER.c.id == 1).with_for_update()
_SAVE_COUNTER = update(_COUNTER).where(_COUNTER.c.id == 1).values(value=bindparam("head"))
_PG_NOTIFY = func.pg_notify(bindparam("channel"), bindparam("payload"))
_NOTIFY = select(_PG_NOTIFY)
_SAVE_COUNTER_AND_NOTIFY = _SAVE_COUNTER.returning(_PG_NOTIFY)


async def first_outbox_entry(conn: AsyncConnection, shard_key: str) -> OutboxRow | None:
    """The oldest outbox entry of ``shard_key``: the next to dispatch."""
    return await fetch_one(conn, OutboxRow, _FIRST_OUTBOX_ENTRY, {"shard_key": shard_key})


async def _at_once(ending: Coroutine[Any, Any, None]) -> None:
    await ending


def _refused_data(exc: DataError | IntegrityError) -> InvalidArgument:
    """A database error caused by one row's data (a value too long for its column, a
    number out of range) is that request's fault, not an outage: it must not count as a
    storage failure, which turns health NOT_SERVING."""
    reason = (str(exc.orig).strip().splitlines() or [type(exc).__name__])[0][:200]
    log.warning("the database refused a value: %s", reason)
    return InvalidArgument(f"the database cannot store a value of this request: {reason}")


class Store:
    """The database handle: write transactions, reads, and commit listeners.

    Every connection ends in a task of its own that its caller's cancellation cannot interrupt
    (see docs/architecture.md, "Transactions and cancellation"): a cancelled transaction is
    discarded with its connection, never left open on the server holding its locks.
    """

    def __init__(
        self, engine: AsyncEngine, *, serialize_writes: bool, encode_snapshot: SnapshotEncoder
    ) -> None:
        self.engine = engine
        self._encode_snapshot = encode_snapshot
        self._snapshot_engine = engine.execution_options(isolation_level="REPEATABLE READ")
        # SQLite has one writer; taking the lock in-process avoids busy waits and the
        # deferred-transaction upgrade deadlock. PostgreSQL serialises on the counter row.
        self._write_lock = asyncio.Lock() if serialize_writes else None
        self._listeners: list[Callable[[int, list[OutboxRow]], None]] = []
        self._event_listeners: list[Callable[[list[EventRow]], None]] = []
        self._outbox_listeners: list[Callable[[list[OutboxRow], set[str]], None]] = []
        # PostgreSQL channel each write transaction notifies at commit (other replicas
        # listen on it, watch/pg_waker.py); None: no other replica to tell.
        self.notify_channel: str | None = None
        # Names this process in its announcements (``@ORIGIN``): it hears its own too, and
        # what they say it already knows (watch/pg_waker.py).
        self.origin = uuid.uuid4().hex[:12]
        self._remote_listeners: list[Callable[[list[str], list[int]], None]] = []
        self._last_failure: float | None = None
        self._open: set[AsyncConnection] = set()
        self._endings: set[asyncio.Task[None]] = set()
        self._closed = False
        # A connection given back after close() (an ending that outlived its wait) would
        # sit open in the disposed pool: close it instead.
        event.listen(engine.sync_engine, "checkin", self._on_checkin)

    def _on_checkin(self, _dbapi_connection: object, record: Any) -> None:
        if self._closed:
            record.invalidate()

    def add_listener(self, listener: Callable[[int, list[OutboxRow]], None]) -> None:
        """Call ``listener(head_revision, outbox_entries)`` after every commit."""
        self._listeners.append(listener)

    def add_event_listener(self, listener: Callable[[list[EventRow]], None]) -> None:
        """Call ``listener(events)`` with each commit's new events, before the listeners
        of :meth:`add_listener`; commits of other replicas reach only those."""
        self._event_listeners.append(listener)

    def add_outbox_listener(self, listener: Callable[[list[OutboxRow], set[str]], None]) -> None:
        """Call ``listener(added, dropped)`` after each of this process's commits that
        changed the outbox: the entries it added, in id order, and the shard keys whose
        earlier entries it dropped (:meth:`Tx.drop_outbox`); before the listeners of
        :meth:`add_listener`."""
        self._outbox_listeners.append(listener)

    # -- connection lifetimes ----------------------------------------------------------
    async def _end(
        self,
        conn: AsyncConnection,
        *,
        commit: bool,
        discard: bool,
        committed: Callable[[], None] | None = None,
    ) -> None:
        """Commit (or not), then give the connection back; runs shielded.

        A connection whose caller was cancelled (``discard``) may have a statement in flight,
        so it is invalidated (closed; the server rolls back) rather than reused. One that
        never got a database connection (its opening failed or was cancelled) has nothing
        to end.
        ``committed`` runs once the commit is durable, even if the caller is gone by then.
        """
        if conn.sync_connection is None:
            self._open.discard(conn)
            return
        try:
            if discard:
                await conn.invalidate()
                return
            try:
                if commit:
                    await conn.commit()
                    # Before the close, whose round trip would let other tasks read what was
                    # committed before its listeners heard of it (the dispatcher relies on
                    # hearing first: Dispatcher._next_entry).
                    if committed is not None:
                        committed()
            finally:
                # Closing rolls back whatever is uncommitted and gives the connection back.
                await conn.close()
        except BaseException:
            # One the close did end (the commit failed, its rollback did not, as on a full
            # disk) is back in the pool already: invalidating it would raise instead.
            if not discard and not conn.closed:
                await conn.invalidate()
            raise
        finally:
            self._open.discard(conn)

    async def _shielded(self, ending: Coroutine[Any, Any, None]) -> None:
        """Run ``ending`` to completion even if the caller is cancelled meanwhile.

        On SQLite the caller also waits it out (a local file answers at once), so the
        process-wide write lock is never released before the transaction has ended.
        """
        task = asyncio.ensure_future(ending)
        self._endings.add(task)
        task.add_done_callback(self._endings.discard)
        if self._write_lock is None:
            await asyncio.shield(task)
            return
        cancelled = False
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError
        task.result()

    @contextlib.asynccontextmanager
    async def _using(
        self,
        conn: AsyncConnection,
        *,
        commit: bool,
        committed: Callable[[], None] | None = None,
    ) -> AsyncIterator[AsyncConnection]:
        """Open ``conn`` (from the pool) and use it; commit (or just end) it on success,
        never let it outlive an error."""
        self._open.add(conn)
        # Closing a SQLite connection without a commit never suspends (statements run on
        # the loop's thread: store/inline_sqlite.py), so no cancellation can land in it: it
        # needs no task of its own, which was a fifth of a GetPort's CPU. (Discarding one
        # closes it through a task, so that is still shielded.)
        close = self._shielded if commit or self._write_lock is None else _at_once
        try:
            await conn.start()
            yield conn
        except BaseException as exc:
            discard = not isinstance(exc, Exception)  # cancelled, or the loop is going away
            ending = self._end(conn, commit=False, discard=discard)
            await (self._shielded(ending) if discard else close(ending))
            raise
        await close(self._end(conn, commit=commit, discard=False, committed=committed))

    def _storage_error(self, exc: Exception, message: str) -> StorageUnavailable:
        log.warning("database call failed: %s", exc)
        self._last_failure = time.monotonic()
        return StorageUnavailable(message)

    # -- transactions ------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        """A write transaction; storage failures become StorageUnavailable."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            try:
                tx = Tx(self.engine.connect(), self._encode_snapshot)
                committed = functools.partial(self._notify, tx)
                async with self._using(tx.connection, commit=True, committed=committed):
                    if self._write_lock is None:
                        # Serialise writers from the start, so checks made inside the
                        # transaction (an interface plugged elsewhere...) stay true at commit.
                        locked = await tx.connection.execute(_LOCK_COUNTER)
                        tx.counter = int(locked.scalar_one())
                    yield tx
                    await self._close_tx(tx)
            except (DataError, IntegrityError) as exc:
                raise _refused_data(exc) from exc
            except (OperationalError, DBAPIError) as exc:
                raise self._storage_error(
                    exc, "the database is unavailable; nothing was changed, retry later"
                ) from exc

    async def _close_tx(self, tx: Tx) -> None:
        """The last statement before commit: the counter written back if revisions were
        taken in memory, and the announcement, in one statement when both are due (the
        outbox entries still unwritten go first)."""
        await tx.write_outbox()
        announcement = self._announcement(tx)
        if not tx.counter_behind and announcement is None:
            return
        connection = tx.connection
        if not tx.counter_behind:
            await connection.execute(_NOTIFY, announcement)
        elif announcement is None:
            await connection.execute(_SAVE_COUNTER, {"head": tx.head})
        else:
            await connection.execute(_SAVE_COUNTER_AND_NOTIFY, {"head": tx.head, **announcement})

    def _announcement(self, tx: Tx) -> dict[str, str] | None:
        """One NOTIFY per transaction: its newest revision, this process's origin, the shard
        keys of the outbox entries it added (the leader dispatches them), and ``-ID`` for
        each entry it removed (a replica's mutation may wait for that). PostgreSQL delivers
        it at commit, and only if the transaction commits. A hint: the log and the outbox
        stay the truth. None: nothing to announce (or no other replica to tell)."""
        if self.notify_channel is None or not (tx.head or tx.removed):
            return None
        keys = sorted({e.shard_key for e in tx.outbox})
        payload = " ".join([str(tx.head), f"@{self.origin}", *keys, *(f"-{i}" for i in tx.removed)])
        return {"channel": self.notify_channel, "payload": payload}

    def _notify(self, tx: Tx) -> None:
        if tx.events:
            for event_listener in self._event_listeners:
                event_listener(tx.events)
        if tx.outbox or tx.dropped:
            for outbox_listener in self._outbox_listeners:
                outbox_listener(tx.outbox, tx.dropped)
        if tx.head or tx.outbox:
            for listener in self._listeners:
                listener(tx.head, tx.outbox)

    def add_remote_listener(self, listener: Callable[[list[str], list[int]], None]) -> None:
        """Call ``listener(shard_keys, removed)`` when another replica announces a commit
        that added outbox entries with these shard keys and removed these entries (either
        possibly none)."""
        self._remote_listeners.append(listener)

    def remote_commit(self, head: int, shard_keys: list[str], removed: list[int]) -> None:
        """Another replica committed up to ``head`` (0: it only dispatched), adding outbox
        entries of ``shard_keys`` and removing ``removed``: tell the commit listeners
        (without entries) and the remote listeners."""
        for listener in self._listeners:
            listener(head, [])
        for remote in self._remote_listeners:
            remote(shard_keys, removed)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection to read with; storage failures become StorageUnavailable."""
        try:
            async with self._using(self.engine.connect(), commit=False) as conn:
                yield conn
        except (DataError, IntegrityError) as exc:
            raise _refused_data(exc) from exc
        except (OperationalError, DBAPIError) as exc:
            raise StorageUnavailable("the database is unavailable, retry later") from exc

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose reads all see one consistent state.

        SQLite: writers are held off for the duration (reads are short). PostgreSQL: a
        REPEATABLE READ transaction (the isolation level is set when the connection is
        checked out, before its transaction begins).
        """
        try:
            async with contextlib.AsyncExitStack() as stack:
                if self._write_lock is not None:
                    await stack.enter_async_context(self._write_lock)
                    engine = self.engine
                else:
                    engine = self._snapshot_engine
                conn = engine.connect()
                yield await stack.enter_async_context(self._using(conn, commit=False))
        except (OperationalError, DBAPIError) as exc:
            raise StorageUnavailable("the database is unavailable, retry later") from exc

    async def head_revision(self) -> int:
        """The newest committed revision."""
        async with self.read() as conn:
            value = await conn.scalar(select(RevisionCounter.value).where(RevisionCounter.id == 1))
            return int(value or 0)

    async def compaction_floor(self) -> int:
        """The shared compaction floor: events up to it may be gone (models.RevisionCounter)."""
        async with self.read() as conn:
            value = await conn.scalar(select(RevisionCounter.floor).where(RevisionCounter.id == 1))
            return int(value or 0)

    def failed_within(self, seconds: float) -> bool:
        """Whether any write failed in the last ``seconds`` (a full disk can let a tiny
        probe through while every real change fails)."""
        return self._last_failure is not None and time.monotonic() - self._last_failure < seconds

    async def ping(self) -> bool:
        """True when the database takes a write (a no-op update of the counter row)."""
        try:
            async with self.write() as tx:
                await tx.connection.execute(
                    update(RevisionCounter)
                    .where(RevisionCounter.id == 1)
                    .values(value=RevisionCounter.value)
                )
        except Exception as exc:  # whatever the failure, the answer is "not serving"
            log.warning("database check failed: %s", exc)
            return False
        return True

    async def close(self, timeout: float = 15.0) -> None:
        """Let in-flight connection endings finish, discard connections still open, dispose.

        A connection still open here belongs to work the server abandoned on stop; its
        database connection is closed, so the server rolls its transaction back (``dispose`` alone
        only closes the connections that are back in the pool).
        """
        self._closed = True
        if self._endings:
            await asyncio.wait(set(self._endings), timeout=timeout)
        for conn in list(self._open):
            if conn.sync_connection is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._shielded(conn.invalidate()), timeout)
            self._open.discard(conn)
        await self.engine.dispose()
        # A database connection whose opening was cancelled half-way belongs to no pool
        # and to none of ours, yet its socket stays open until it is garbage-collected:
        # collect the young generations now (a full one per stop costs ~50 ms with a
        # large heap).
        gc.collect(1)
