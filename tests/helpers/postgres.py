"""A throwaway schema in the PostgreSQL server the design names (127.0.0.1:5432, db test)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

from tests.helpers import need

PG_URL = os.environ.get("QUANTUM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """Yield a SQLAlchemy URL whose search_path is a fresh schema, dropped afterwards."""
    import psycopg

    try:
        admin = psycopg.connect(
            PG_URL.replace("postgresql://", "postgresql://", 1), autocommit=True, connect_timeout=3
        )
    except psycopg.OperationalError as exc:
        need(False, f"PostgreSQL at {PG_URL} is not reachable: {exc}")
        raise
    schema = f"qg_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{PG_URL}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
