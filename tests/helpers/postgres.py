"""A throwaway schema in the tests' PostgreSQL server (README: QUANTUM_TEST_PG_URL).

Each schema is tagged with an ``application_name`` of its own, so teardown can tell which
server sessions belong to it: any still open when the test is done is a leak (the core
disposes of its engine on stop), and one left ``idle in transaction`` is the bug this
project once had (a cancelled task's transaction never ended). Teardown fails the test
for those, then terminates them, so ``DROP SCHEMA`` never waits on a lock.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

from tests.helpers import need

PG_URL = os.environ.get("QUANTUM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def admin_connection() -> Any:
    """An autocommit psycopg connection to the test server (skip/fail when it is down)."""
    import psycopg

    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        need(False, f"PostgreSQL at {PG_URL} is not reachable: {exc}")
        raise


def sessions_of(admin: Any, application_name: str) -> list[tuple[int, str, str]]:
    """(pid, state, query) of the server sessions a schema's users opened."""
    rows = admin.execute(
        "SELECT pid, coalesce(state, ''), coalesce(query, '') FROM pg_stat_activity "
        "WHERE application_name = %s AND pid <> pg_backend_pid()",
        (application_name,),
    ).fetchall()
    return [(int(pid), str(state), str(query)) for pid, state, query in rows]


def _stuck(admin: Any, application_name: str, grace: float) -> list[tuple[int, str, str]]:
    """Sessions still idle in transaction after ``grace`` seconds (a session the core is
    just ending may be seen so for a moment; one that stays so was left behind)."""
    deadline = time.monotonic() + grace
    while True:
        stuck = [
            s for s in sessions_of(admin, application_name) if s[1].startswith("idle in trans")
        ]
        if not stuck or time.monotonic() > deadline:
            return stuck
        time.sleep(0.05)


@contextlib.contextmanager
def pg_schema(*, check_sessions: bool = True) -> Iterator[str]:
    """Yield a SQLAlchemy URL whose search_path is a fresh schema, dropped afterwards.

    With ``check_sessions``, a session left idle in transaction fails the test.
    """
    admin = admin_connection()
    schema = f"qg_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{PG_URL}?application_name={schema}&options=-csearch_path%3D{schema}"
        finally:
            stuck = _stuck(admin, schema, grace=3.0) if check_sessions else []
            for pid, _state, _query in sessions_of(admin, schema):
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            admin.execute("SET lock_timeout = '20s'")
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
            if stuck:
                raise AssertionError(f"sessions left idle in transaction: {stuck}")
