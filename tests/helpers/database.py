"""Read a core's database directly, whichever it is (SQLite file or PostgreSQL schema).

Tests compare what the API says with what is stored; these helpers go around the core
with a blocking SQLAlchemy engine of their own, disposed after each read, so they never
hold a connection (or a lock) the core might wait on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, create_engine, text

from quantum_grpc.store.engine import sync_url

TABLES = ("revision_counter", "networks", "ports", "attachments", "events", "outbox")


@contextlib.contextmanager
def connect(database_url: str) -> Iterator[Connection]:
    """A short-lived blocking connection to the core's database."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def query(database_url: str, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
    """The rows of one SQL query, as tuples."""
    with connect(database_url) as connection:
        return [tuple(row) for row in connection.execute(text(sql), dict(params or {}))]


def dump(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: "nothing changed" compares two dumps."""
    with connect(database_url) as connection:
        return {
            table: [tuple(r) for r in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
            for table in TABLES
        }


def log_events(database_url: str) -> list[tuple[int, str, str, str, str]]:
    """(revision, tenant, kind, resource id, event kind) of every stored event."""
    return query(
        database_url,
        "select revision, tenant_id, resource_kind, resource_id, event_kind"
        " from events order by revision",
    )
