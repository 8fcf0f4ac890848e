"""Leader election: the work that must run once (dispatch, back-end links, compaction).

On PostgreSQL the leader is the replica holding a session-level advisory lock on a session
of its own (quantum_grpc/store/dedicated.py); every other replica tries to take it every
``RETRY`` seconds. The lock goes with the session: when the leader dies (even by SIGKILL)
or its session is cut, PostgreSQL releases it and another replica takes over within about
a second; a leader that finds its session gone stops leading at once. Between the
moment the lock is released and the moment the old leader notices (at most a probe
deadline), two replicas may both dispatch: harmless, since back-ends recognise a change by
its operation id and an outbox entry is removed (and its answer applied) once.

On SQLite the one process is always the leader (the file is locked to it).
docs/architecture.md, "Several replicas".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from quantum_grpc.dispatch.backends import BackendLinks
from quantum_grpc.dispatch.dispatcher import Dispatcher
from quantum_grpc.store import dedicated
from quantum_grpc.store.engine import is_sqlite
from quantum_grpc.store.store import Store
from quantum_grpc.watch.hub import WatchHub
from quantum_grpc.watch.pg_waker import CommitWaker, commit_channel

log = logging.getLogger(__name__)
# Seconds between attempts to take the lock, and between probes of the leader's session.
RETRY = 0.5
# The advisory lock's first key: "quantum" in ASCII digits, to stay clear of other users'.
LOCK_CLASS = 0x7175616E


class Leadership:
    """Runs ``lead`` when this replica becomes the leader, ``abdicate`` when it stops."""

    def __init__(
        self,
        database_url: str,
        lead: Callable[[], Awaitable[None]],
        abdicate: Callable[[], Awaitable[None]],
    ) -> None:
        self._url = database_url
        self._lead = lead
        self._abdicate = abdicate
        self._task: asyncio.Task[None] | None = None
        self.leading = False
        self.elected = asyncio.Event()

    async def start(self) -> None:
        """SQLite: lead now. PostgreSQL: try to take the leadership, in the background, for
        ever (on a fresh database the first replica leads within one attempt)."""
        if is_sqlite(self._url):
            await self._begin()
        else:
            self._task = asyncio.create_task(self._campaign())

    async def close(self) -> None:
        """Stop leading (if leading), then give the lock back: in that order, so that the
        next leader never works alongside this one."""
        await self._step_down()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _begin(self) -> None:
        self.leading = True
        self.elected.set()
        await self._lead()

    async def _step_down(self) -> None:
        if self.leading:
            self.leading = False
            self.elected.clear()
            await self._abdicate()

    async def _campaign(self) -> None:
        while True:
            try:
                await self._hold()
            except dedicated.Errors as exc:
                if self.leading:
                    log.warning("lost the leadership: %s", str(exc).strip() or type(exc).__name__)
            except Exception:  # starting the leader's work failed: step down, try again
                log.exception("leading failed")
            finally:
                # Shielded: stopping the leader's work must finish even when we are cancelled.
                await asyncio.shield(self._step_down())
            await asyncio.sleep(RETRY)

    async def _hold(self) -> None:
        """Take the lock on a session of our own, lead while it lasts; raises when it ends."""
        connection = await dedicated.connect(self._url)
        async with connection:
            while not await _try_lock(connection):
                await dedicated.idle(connection, RETRY)
            log.info("this replica is the leader (dispatch, back-end links, compaction)")
            await self._begin()
            while True:
                await dedicated.idle(connection, RETRY)


async def _try_lock(connection: psycopg.AsyncConnection[Any]) -> bool:
    """pg_try_advisory_lock on this schema's key (one leader per schema, not per server)."""
    cursor = await connection.execute(
        "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))", (LOCK_CLASS,)
    )
    row = await cursor.fetchone()
    return bool(row and row[0])


class Duties:
    """What the leader does: follow the back-ends (health, liveness, resync), dispatch the
    outbox (what it holds first), compact the event log."""

    def __init__(
        self,
        links: BackendLinks,
        dispatcher: Dispatcher,
        hub: WatchHub,
        reporter_target: str,
        core_id: str,
    ) -> None:
        self._links = links
        self._dispatcher = dispatcher
        self._hub = hub
        self._reporter_target = reporter_target
        self._core_id = core_id
        self._compaction: asyncio.Task[None] | None = None

    async def lead(self) -> None:
        """Take up the duties."""
        self._links.start(self._reporter_target, self._core_id)
        await self._dispatcher.start()
        self._compaction = asyncio.create_task(self._hub.compaction_loop())

    async def abdicate(self) -> None:
        """Stop them; another replica takes them up where they are (the outbox, the log)."""
        if self._compaction is not None:
            self._compaction.cancel()
            await asyncio.gather(self._compaction, return_exceptions=True)
            self._compaction = None
        await self._dispatcher.stop_leading()
        await self._links.stop()


class Replica:
    """One replica's part in a group on one database: hearing the others' commits
    (PostgreSQL) and taking the leadership."""

    def __init__(self, database_url: str, store: Store) -> None:
        self._url = database_url
        self._store = store
        self._waker: CommitWaker | None = None
        self.leadership: Leadership | None = None

    async def listen(self) -> None:
        """On PostgreSQL, announce this replica's commits and hear the others'."""
        if is_sqlite(self._url):
            return
        channel = await commit_channel(self._store)
        self._store.notify_channel = channel
        self._waker = CommitWaker(self._url, channel, self._store)
        self._waker.start()

    async def campaign(self, duties: Duties) -> None:
        """Take the leadership whenever it is free, doing ``duties`` while it lasts."""
        self.leadership = Leadership(self._url, duties.lead, duties.abdicate)
        await self.leadership.start()

    async def close(self) -> None:
        """Stop leading and listening."""
        if self.leadership is not None:
            await self.leadership.close()
        if self._waker is not None:
            await self._waker.close()
