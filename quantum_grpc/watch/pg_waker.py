"""Wake this replica's watch hub when another replica commits (PostgreSQL LISTEN/NOTIFY).

Every write transaction NOTIFYs once, with its newest revision (Store._announcement); this
listens on its own session and hands each notification to the store's commit listeners
as a hint. The event log stays the truth: a notification lost, or missed while the
session reconnects, costs latency only, since on every (re)connection the head is read
again once listening and the hub's periodic read of the log (``event_poll_interval``)
goes on underneath (docs/architecture.md, "Several replicas").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging

import psycopg
from psycopg import sql
from sqlalchemy import text

from quantum_grpc.store import dedicated
from quantum_grpc.store.store import Store

log = logging.getLogger(__name__)
# Seconds between probes of an idle listening session (dedicated.idle).
IDLE = 5.0
RETRY, RETRY_MAX = 0.5, 4.0


async def commit_channel(store: Store) -> str:
    """The channel of this database and schema: replicas of other schemas on the same
    server (the tests' several cores) are not woken by each other."""
    async with store.read() as conn:
        schema = await conn.scalar(text("SELECT current_schema()"))
    return "quantum_commits_" + hashlib.sha256(str(schema).encode()).hexdigest()[:16]


def _parse(payload: str) -> tuple[str, int, list[str], list[int]]:
    """A notification's origin ("" if it names none), revision, shard keys and removed
    outbox ids (Store._announcement)."""
    head, *rest = payload.split(" ")
    origin = next((token[1:] for token in rest if token.startswith("@")), "")
    keys = [token for token in rest if not token.startswith(("-", "@"))]
    removed = [int(token[1:]) for token in rest if token.startswith("-") and token[1:].isdigit()]
    return origin, (int(head) if head.isdigit() else 0), keys, removed


class CommitWaker:
    """Listens for other replicas' commits; see the module docstring."""

    def __init__(self, url: str, channel: str, store: Store) -> None:
        self._url = url
        self._channel = channel
        self._store = store
        self._task: asyncio.Task[None] | None = None
        self._listening = False

    def start(self) -> None:
        """Start listening (in the background, reconnecting for ever)."""
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _hint(self, note: psycopg.Notify) -> None:
        origin, head, keys, removed = _parse(note.payload)
        # This replica's own commit: its hub and dispatcher had it in memory at commit.
        if origin != self._store.origin:
            self._store.remote_commit(head, keys, removed)

    async def _run(self) -> None:
        delay = RETRY
        while True:
            self._listening = False
            try:
                await self._listen()
            except dedicated.Errors as exc:
                log.warning(
                    "listening for other replicas' commits failed (%s); again in %.1fs, "
                    "reading the log every poll interval meanwhile",
                    str(exc).strip() or type(exc).__name__,
                    delay,
                )
            if self._listening:  # it had worked: start backing off afresh
                delay = RETRY
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    async def _listen(self) -> None:
        connection = await dedicated.connect(self._url)
        async with connection:
            await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self._listening = True
            # Anything committed while we were not listening: read the head once listening.
            cursor = await connection.execute("SELECT value FROM revision_counter WHERE id = 1")
            row = await cursor.fetchone()
            self._store.remote_commit(int(row[0]) if row else 0, [], [])
            while True:
                await dedicated.idle(connection, IDLE, self._hint)
