"""Engine creation: URL normalisation, SQLite pragmas, and migrations on start."""

from __future__ import annotations

import os
import select
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from quantum_grpc.startup import StartupError
from quantum_grpc.store import inline_sqlite

MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> URL:
    """The asyncio driver for a URL: aiosqlite for SQLite, psycopg for PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def sync_url(url: str) -> URL:
    """The blocking driver for a URL, for Alembic."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite")
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(url: str) -> bool:
    """True for SQLite URLs, which need a process-wide writer lock."""
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # WAL lets readers run while one writer commits; busy_timeout rides out checkpoints.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# A safety net under the core's own rule that no transaction outlives its caller
# (docs/architecture.md, "Transactions and cancellation"): PostgreSQL itself ends a
# session that sits inside a transaction this long, so its locks can never be held forever.
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000


def _postgresql_settings(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_TIMEOUT_MS}")
    cursor.close()
    dbapi_connection.commit()  # type: ignore[attr-defined]


# A pooled connection unused this long is pinged before it is handed out again.
PING_AFTER_IDLE = 1.0


def _ping_after_idle(engine: AsyncEngine) -> None:
    """Ping a connection on checkout only when it sat in the pool for PING_AFTER_IDLE, or
    when its socket has something to read.

    A ping finds a connection the server dropped (a restart, a cut link) before a call
    uses it, but SQLAlchemy's ``pool_pre_ping`` pings on every checkout: a round trip per
    checkout, two to four per create (bench/README.md, "Issue 14"). A connection handed
    back a moment ago is alive unless the server closed it meanwhile (a restart, an
    administrator's pg_terminate_backend), and then its socket reads as ready (the close,
    or the server's farewell): that costs a poll, not a round trip. Only a link cut
    silently within the last second goes unseen, and then the disconnect error
    invalidates the whole pool, so only that one call fails (StorageUnavailable).
    """

    def checkin(_dbapi_connection: object, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: object) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None:
            return  # fresh from connect
        recent = time.monotonic() - idle_since < PING_AFTER_IDLE
        if recent and not _readable(dbapi_connection):
            return
        if not engine.dialect._do_ping_w_event(dbapi_connection):
            # Every pooled connection older than now is replaced; the pool tries again.
            raise InvalidatePoolError()

    event.listen(engine.sync_engine.pool, "checkin", checkin)
    event.listen(engine.sync_engine.pool, "checkout", checkout)


def _readable(dbapi_connection: Any) -> bool:
    """Whether an idle connection's socket has something to read: nothing should come
    unasked, so it was closed or is about to be (or the socket is gone)."""
    try:
        socket = dbapi_connection.driver_connection.pgconn.socket
        return bool(select.select([socket], [], [], 0)[0])
    except Exception:  # a closed connection (psycopg raises), a closed socket: ping it
        return True


def create_engine(url: str) -> AsyncEngine:
    """An AsyncEngine for ``url`` with the per-connection settings each database needs."""
    # A local SQLite file cannot drop a connection: never pinged.
    if is_sqlite(url):
        # Statements run on the loop's thread, not through aiosqlite's (inline_sqlite.py).
        engine = create_async_engine(
            async_url(url), pool_pre_ping=False, async_creator=inline_sqlite.creator(make_url(url))
        )
    else:
        engine = create_async_engine(async_url(url))
        _ping_after_idle(engine)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    elif make_url(url).get_backend_name() == "postgresql":
        event.listen(engine.sync_engine, "connect", _postgresql_settings)
    return engine


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option(
        "sqlalchemy.url", sync_url(url).render_as_string(hide_password=False).replace("%", "%%")
    )
    return config


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for other databases and in-memory SQLite."""
    if not is_sqlite(url):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def prepare_sqlite_file(database: Path) -> None:
    """Create the data directory (0700) and the database file (0600) if missing.

    Only the owner may read them: the file holds every tenant's data. SQLite gives its
    -wal and -shm files the database file's mode. Existing ones keep their mode (an
    operator may have chosen it). Raises StartupError naming the path that failed.
    """
    folder = database.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        raise StartupError(f"the data directory {folder} is not a directory") from None
    except OSError as exc:
        raise StartupError(f"cannot create the data directory {folder}: {exc.strerror}") from None
    try:
        os.close(os.open(database, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
    except OSError as exc:
        raise StartupError(f"cannot write the database file {database}: {exc.strerror}") from None


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (blocking; run before serving).

    Raises StartupError when the database cannot be reached or opened.
    """
    database = sqlite_file(url)
    if database is not None:
        prepare_sqlite_file(database)
    try:
        command.upgrade(alembic_config(url), "head")
    except DBAPIError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        verb = "open" if is_sqlite(url) else "reach"
        raise StartupError(f"cannot {verb} the database {shown}: {reason}") from None
