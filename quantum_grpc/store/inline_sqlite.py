"""SQLite statements run on the event loop's own thread, not one thread hop each.

aiosqlite runs every call (execute, fetch, commit, close) on a thread of its own and hands
the result back through the event loop: a queue put, a thread wake-up, a
``call_soon_threadsafe`` and a loop iteration per statement. A write transaction of five
statements paid that five to eight times, which was 12 % of the core's CPU and most of a
report's latency (bench/README.md, "Issue 14"). On a local SQLite file in WAL mode a
statement takes microseconds, less than the hop itself, so this module gives SQLAlchemy's
aiosqlite dialect a connection with aiosqlite's interface whose coroutines run the
``sqlite3`` call at once and never suspend.

Why blocking the loop is safe here (docs/architecture.md, "Write serialisation"): a core
holds its database file alone (``store/lock.py``), and its writers take turns under the
store's write lock, so a statement never waits for another writer (``busy_timeout`` stays
as a safety net); WAL readers never wait for the writer. What can still take a while is a
WAL checkpoint at commit, a few milliseconds once every thousand pages written. A long
transaction (a report of a thousand entries, a resync) would still hold the loop for its
whole length, so statements give the loop a turn once they have kept it for ``SLICE``:
other calls, watches and health checks go on meanwhile, and a client write queues for the
store's write lock between two chunks of a report as it did when every statement was a hop.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Self

from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL

# The longest statements run on the loop's thread before the loop gets a turn.
SLICE = 0.002


class _Turns:
    """Whether the loop has had a turn since statements started running back to back.

    A callback scheduled with the first statement runs at the loop's next turn; while it is
    still pending, the statements since then have kept the loop. Past ``SLICE`` the next
    statement yields first (which lets that callback, and whatever else is ready, run).
    """

    __slots__ = ("_since",)

    def __init__(self) -> None:
        self._since: float | None = None

    def _turned(self) -> None:
        self._since = None

    async def take(self) -> None:
        """Before a statement: yield to the loop if statements have kept it too long."""
        now = time.perf_counter()
        if self._since is None:
            self._since = now
            asyncio.get_running_loop().call_soon(self._turned)
        elif now - self._since > SLICE:
            await asyncio.sleep(0)


# The loop statements run on, and its bookkeeping (one loop per core process; a new
# loop, as in tests, starts afresh).
_current: tuple[asyncio.AbstractEventLoop | None, _Turns] = (None, _Turns())


async def _take_turn() -> None:
    global _current
    loop = asyncio.get_running_loop()
    if _current[0] is not loop:
        _current = (loop, _Turns())
    await _current[1].take()


class InlineCursor:
    """An ``aiosqlite.Cursor`` look-alike over a ``sqlite3.Cursor``."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        """The columns of the last query."""
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed."""
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        """The rowid of the last inserted row."""
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        """Rows fetchmany() returns by default."""
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> Self:
        """Run one statement."""
        await _take_turn()
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> Self:
        """Run one statement for each set of parameters."""
        await _take_turn()
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        """The next row, or None."""
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        """Up to ``size`` rows."""
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> Sequence[Any]:
        """Every remaining row."""
        return self._cursor.fetchall()

    async def close(self) -> None:
        """Close the cursor."""
        self._cursor.close()


class InlineConnection:
    """An ``aiosqlite.Connection`` look-alike over a ``sqlite3.Connection`` used in place."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        # SQLAlchemy's adapter checks ``_connection`` before commit and rollback (aiosqlite
        # sets it to None once closed) and reaches ``_conn`` to set the isolation level.
        self._connection: sqlite3.Connection | None = connection
        self._conn = connection

    @property
    def isolation_level(self) -> str | None:
        """The sqlite3 module's transaction mode."""
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        """A new cursor (SQLAlchemy enters it with ``async with``)."""
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        """Run one statement on a new cursor."""
        await _take_turn()
        return InlineCursor(self._conn.execute(sql, parameters))

    async def commit(self) -> None:
        """Commit the open transaction."""
        await _take_turn()
        self._conn.commit()

    async def rollback(self) -> None:
        """Roll the open transaction back."""
        self._conn.rollback()

    async def create_function(
        self, name: str, arity: int, function: Callable[..., Any], **options: Any
    ) -> None:
        """Register a SQL function."""
        self._conn.create_function(name, arity, function, **options)

    async def close(self) -> None:
        """Close the connection (a second close does nothing)."""
        self.stop()

    def stop(self) -> None:
        """Close at once: SQLAlchemy's forced terminate."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def creator(url: URL) -> Callable[[], Any]:
    """An ``async_creator`` for ``create_async_engine``: connections to the SQLite ``url``,
    opened with the arguments SQLAlchemy's own sqlite3 dialect would pass."""
    args, options = SQLiteDialect_pysqlite().create_connect_args(url.set(drivername="sqlite"))
    # Another thread may close one (a connection the garbage collector finalises).
    options = {**options, "check_same_thread": False}

    open_file: Callable[..., sqlite3.Connection] = sqlite3.connect

    async def connect() -> InlineConnection:
        return InlineConnection(open_file(*args, **options))

    return connect
