"""A throwaway PostgreSQL schema for a benchmark's core (``QUANTUM_BENCH_PG_URL``)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

PG_URL = os.environ.get("QUANTUM_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def reachable() -> bool:
    """Whether the PostgreSQL server at ``PG_URL`` answers."""
    import psycopg

    try:
        psycopg.connect(PG_URL, autocommit=True, connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A SQLAlchemy URL whose search_path is a fresh schema, dropped afterwards (its
    sessions ended first, so the drop never waits on a lock)."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{PG_URL}?application_name={schema}&options=-csearch_path%3D{schema}"
        finally:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                (schema,),
            )
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
