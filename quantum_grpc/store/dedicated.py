"""A PostgreSQL session of its own, outside the engine's pool, for work that lives with it.

The leader's advisory lock (quantum_grpc/leader.py) and the commit listener
(quantum_grpc/watch/pg_waker.py) each hold one. Such a session must notice quickly that it
is gone: a pool connection is checked before each use, but these sit idle for hours.
Idling reads the socket (so a session the server ended is seen at once) and sends a probe
every few seconds under a deadline (so a silent network cut is seen too); the server is
asked to drop the session if the client stops answering TCP keepalives, so a lock held by
a vanished replica is released in seconds instead of the kernel's two hours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import make_url

# Each connection attempt, and each probe, must answer within this.
PROBE_TIMEOUT = 2.0
# Server side: keepalive after 1 s idle, every 1 s, dropped after 2 unanswered; and unsent
# data may stay unacknowledged for 3 s at most.
SERVER_KEEPALIVES = (
    "SET tcp_keepalives_idle = 1",
    "SET tcp_keepalives_interval = 1",
    "SET tcp_keepalives_count = 2",
    "SET tcp_user_timeout = 3000",
)

Errors = (psycopg.Error, OSError, TimeoutError)


def conninfo(url: str) -> str:
    """The libpq URI of a SQLAlchemy PostgreSQL URL (its query, such as options, kept)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def connect(url: str) -> psycopg.AsyncConnection[Any]:
    """An autocommit session with short server-side keepalives; raises one of ``Errors``."""
    async with asyncio.timeout(PROBE_TIMEOUT * 2):
        connection = await psycopg.AsyncConnection.connect(
            conninfo(url), autocommit=True, connect_timeout=int(PROBE_TIMEOUT) + 1
        )
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            for statement in SERVER_KEEPALIVES:
                await connection.execute(statement)
    except BaseException:
        await connection.close()
        raise
    return connection


async def idle(
    connection: psycopg.AsyncConnection[Any],
    seconds: float,
    on_notify: Callable[[psycopg.Notify], None] | None = None,
) -> None:
    """Wait ``seconds`` on ``connection`` (handing any notification to ``on_notify``),
    then probe it; raises one of ``Errors`` as soon as the session is found gone."""
    async for note in connection.notifies(timeout=seconds):
        if on_notify is not None:
            on_notify(note)
    async with asyncio.timeout(PROBE_TIMEOUT):
        await connection.execute("SELECT 1")
