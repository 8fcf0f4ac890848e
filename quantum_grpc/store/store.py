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
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from quantum_grpc._proto.quantum.plugin.v1 import backend_pb2, resource_status_pb2 as rs
from quantum_grpc.convert import attachment_to_proto, network_to_proto, port_to_proto
from quantum_grpc.errors import StorageUnavailable
from quantum_grpc.store.models import (
    AttachmentRow,
    EventRow,
    NetworkRow,
    OutboxRow,
    PortRow,
    RevisionCounter,
)

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


def _describe(row: Resource) -> tuple[ResourceKind, str, bytes]:
    if isinstance(row, NetworkRow):
        return ResourceKind.NETWORK, row.id, network_to_proto(row).SerializeToString()
    if isinstance(row, PortRow):
        return ResourceKind.PORT, row.network_id, port_to_proto(row).SerializeToString()
    return ResourceKind.ATTACHMENT, row.network_id, attachment_to_proto(row).SerializeToString()


class Tx:
    """One write transaction; see the module docstring."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.head = 0
        self.outbox: list[OutboxRow] = []

    async def _next_revision(self) -> int:
        result = await self.session.execute(
            update(RevisionCounter)
            .where(RevisionCounter.id == 1)
            .values(value=RevisionCounter.value + 1)
            .returning(RevisionCounter.value)
        )
        self.head = int(result.scalar_one())
        return self.head

    async def record(self, row: Resource, kind: EventKind) -> int:
        """Stamp ``row`` with a new revision and append its event; returns the revision.

        For ADDED the row is added to the session; for DELETED it is deleted after its
        last snapshot is taken.
        """
        revision = await self._next_revision()
        stamp = now()
        row.revision = revision
        row.updated_at = stamp
        if kind is EventKind.ADDED:
            row.create_revision = revision
            row.created_at = stamp
            self.session.add(row)
        resource_kind, network_id, snapshot = _describe(row)
        self.session.add(
            EventRow(
                revision=revision,
                tenant_id=row.tenant_id,
                resource_kind=resource_kind.value,
                resource_id=row.id,
                network_id=network_id,
                event_kind=kind.value,
                status=row.status,
                snapshot=snapshot,
                created_at=stamp,
            )
        )
        if kind is EventKind.DELETED:
            await self.session.delete(row)
        await self.session.flush()
        return revision

    def enqueue(
        self,
        backend: str,
        shard_key: str,
        resource_id: str,
        request: backend_pb2.ApplyChangeRequest,
    ) -> OutboxRow:
        """Record a change for the dispatcher; it is sent after commit (rule 1)."""
        request.operation_id = request.operation_id or str(uuid.uuid4())
        entry = OutboxRow(
            operation_id=request.operation_id,
            backend=backend,
            shard_key=shard_key,
            resource_kind=rs.ResourceKind.Name(request.kind).removeprefix("RESOURCE_KIND_"),
            resource_id=resource_id,
            generation=request.generation,
            request=request.SerializeToString(),
            attempts=0,
            last_error="",
            created_at=now(),
        )
        self.session.add(entry)
        self.outbox.append(entry)
        return entry

    async def remove_outbox(self, entry_id: int) -> bool:
        """Drop a dispatched outbox entry; False when it was already gone."""
        result = await self.session.execute(delete(OutboxRow).where(OutboxRow.id == entry_id))
        return bool(getattr(result, "rowcount", 0))


class Store:
    """The database handle: write transactions, reads, and commit listeners."""

    def __init__(self, engine: AsyncEngine, *, serialize_writes: bool) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer; taking the lock in-process avoids busy waits and the
        # deferred-transaction upgrade deadlock. PostgreSQL serialises on the counter row.
        self._write_lock = asyncio.Lock() if serialize_writes else None
        self._listeners: list[Callable[[int, list[OutboxRow]], None]] = []
        self._last_failure: float | None = None

    def add_listener(self, listener: Callable[[int, list[OutboxRow]], None]) -> None:
        """Call ``listener(head_revision, outbox_entries)`` after every commit."""
        self._listeners.append(listener)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        """A write transaction; storage failures become StorageUnavailable."""
        async with contextlib.AsyncExitStack() as stack:
            if self._write_lock is not None:
                await stack.enter_async_context(self._write_lock)
            try:
                async with self.sessions() as session, session.begin():
                    tx = Tx(session)
                    if self._write_lock is None:
                        # Serialise writers from the start, so checks made inside the
                        # transaction (an interface plugged elsewhere...) stay true at commit.
                        await session.execute(
                            select(RevisionCounter.value)
                            .where(RevisionCounter.id == 1)
                            .with_for_update()
                        )
                    yield tx
            except (OperationalError, DBAPIError) as exc:
                log.warning("write failed: %s", exc)
                self._last_failure = time.monotonic()
                raise StorageUnavailable(
                    "the database is unavailable; nothing was changed, retry later"
                ) from exc
        if tx.head or tx.outbox:
            for listener in self._listeners:
                listener(tx.head, tx.outbox)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only session; storage failures become StorageUnavailable."""
        try:
            async with self.sessions() as session:
                yield session
        except (OperationalError, DBAPIError) as exc:
            raise StorageUnavailable("the database is unavailable, retry later") from exc

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A session whose reads all see one consistent state.

        SQLite: writers are held off for the duration (reads are short). PostgreSQL: a
        REPEATABLE READ transaction.
        """
        try:
            if self._write_lock is not None:
                async with self._write_lock, self.sessions() as session, session.begin():
                    yield session
            else:
                async with self.sessions() as session:
                    await session.connection(
                        execution_options={"isolation_level": "REPEATABLE READ"}
                    )
                    async with session.begin():
                        yield session
        except (OperationalError, DBAPIError) as exc:
            raise StorageUnavailable("the database is unavailable, retry later") from exc

    async def head_revision(self) -> int:
        """The newest committed revision."""
        async with self.read() as session:
            value = await session.scalar(
                select(RevisionCounter.value).where(RevisionCounter.id == 1)
            )
            return int(value or 0)

    def failed_within(self, seconds: float) -> bool:
        """Whether any write failed in the last ``seconds`` (a full disk can let a tiny
        probe through while every real change fails)."""
        return self._last_failure is not None and time.monotonic() - self._last_failure < seconds

    async def ping(self) -> bool:
        """True when the database takes a write (a no-op update of the counter row)."""
        try:
            async with self.write() as tx:
                await tx.session.execute(
                    update(RevisionCounter)
                    .where(RevisionCounter.id == 1)
                    .values(value=RevisionCounter.value)
                )
        except Exception as exc:  # whatever the failure, the answer is "not serving"
            log.warning("database check failed: %s", exc)
            return False
        return True

    async def close(self) -> None:
        """Dispose of the engine's connections."""
        await self.engine.dispose()
