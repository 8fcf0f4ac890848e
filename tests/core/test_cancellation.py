"""Cancelled calls on PostgreSQL never leave a transaction open, and writes go on.

A client that gives up (deadline, cancel) or a server that stops cancels the handler's task
in the middle of its transaction. The core must then end that transaction: roll it back, or
discard the connection (docs/architecture.md, "Transactions and cancellation"). Here every
writer is parked mid-transaction on a row lock the test holds, the calls are cancelled, the
lock is released, and the server's own view (pg_stat_activity) must show no session of the
core idle in transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import pytest

from quantum_api.v1 import network_service_pb2 as net_pb, watch_service_pb2
from tests.helpers import eventually
from tests.helpers.database import query
from tests.helpers.postgres import admin_connection, pg_schema, sessions_of

pytestmark = pytest.mark.postgres

WRITERS = 24


@pytest.fixture
def database_url() -> Iterator[str]:
    """These tests are about PostgreSQL sessions: PostgreSQL only."""
    with pg_schema() as url:
        yield url


def _application_name(url: str) -> str:
    return url.split("application_name=", 1)[1].split("&", 1)[0]


@contextlib.asynccontextmanager
async def counter_locked(url: str) -> AsyncIterator[None]:
    """Hold the revision counter's row lock: every write transaction waits inside itself.

    The lock is taken off the event loop's thread: the core serves on this loop, and a
    transaction of its own that holds the lock (the dispatch of a write that got in before
    its cancellation did) must be able to finish, or the lock is never granted."""
    admin = admin_connection()
    try:
        admin.execute("SET search_path TO " + url.split("search_path%3D", 1)[1])
        admin.execute("BEGIN")
        await asyncio.to_thread(
            admin.execute, "SELECT value FROM revision_counter WHERE id = 1 FOR UPDATE"
        )
        yield
    finally:
        admin.execute("ROLLBACK")
        admin.close()


async def _sessions(url: str) -> list[tuple[int, str, str]]:
    admin = admin_connection()
    try:
        return sessions_of(admin, _application_name(url))
    finally:
        admin.close()


def _waiting(sessions: list[tuple[int, str, str]]) -> int:
    return sum(1 for _pid, state, _query in sessions if state == "active")


def _idle_in_transaction(sessions: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    return [s for s in sessions if s[1].startswith("idle in transaction")]


def _start_writes(api: Any, count: int) -> list[asyncio.Task[Any]]:
    return [asyncio.ensure_future(api.create_network(f"cancelled-{i}")) for i in range(count)]


def _check_log_matches_tables(url: str) -> None:
    """Nothing half-written: each stored network has its ADDED event, revisions contiguous."""
    networks = {row[0] for row in query(url, "select id from networks")}
    added = {
        row[0]
        for row in query(
            url,
            "select resource_id from events where resource_kind = 'NETWORK'"
            " and event_kind = 'ADDED'",
        )
    }
    assert networks == added
    revisions = [row[0] for row in query(url, "select revision from events order by revision")]
    assert revisions == list(range(1, len(revisions) + 1))
    assert query(url, "select value from revision_counter") == [(revisions[-1],)]


async def test_cancelled_calls_leave_no_session_idle_in_transaction(
    stack_factory, database_url: str
) -> None:
    stack = await stack_factory("sync")
    api = stack.api
    await api.create_network("before")
    for _round in range(3):
        async with counter_locked(database_url):
            writes = _start_writes(api, WRITERS)
            # A watch's snapshot and a list read alongside, cancelled the same way.
            watch = api.stubs.watch.WatchStatus(
                watch_service_pb2.WatchStatusRequest(), metadata=api.md
            )
            lists = asyncio.ensure_future(
                api.networks.ListNetworks(net_pb.ListNetworksRequest(), metadata=api.md)
            )
            await eventually(lambda: _sessions(database_url), lambda s: _waiting(s) >= WRITERS // 2)
            for task in writes:
                task.cancel()
            watch.cancel()
            await asyncio.gather(*writes, lists, return_exceptions=True)
        # Once the lock is gone, every cancelled transaction must have ended.
        await eventually(
            lambda: _sessions(database_url), lambda s: not _idle_in_transaction(s), timeout=10
        )
    after = await api.create_network("after")
    assert after.name == "after"
    names = {n.name async for n in api.list_networks()}
    assert {"before", "after"} <= names
    _check_log_matches_tables(database_url)


async def test_calls_deadlined_mid_write_roll_back_and_writes_go_on(
    stack_factory, database_url: str
) -> None:
    stack = await stack_factory("sync")
    api = stack.api
    async with counter_locked(database_url):
        calls = [
            api.networks.CreateNetwork(
                net_pb.CreateNetworkRequest(name=f"late-{i}"), metadata=api.md, timeout=0.2 + i / 50
            )
            for i in range(WRITERS)
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(
        isinstance(r, grpc.aio.AioRpcError) and r.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        for r in results
    ), results
    await eventually(
        lambda: _sessions(database_url), lambda s: not _idle_in_transaction(s), timeout=10
    )
    assert (await api.create_network("after")).name == "after"
    _check_log_matches_tables(database_url)


async def test_stopping_the_core_mid_write_leaves_no_session_behind(
    stack_factory, database_url: str
) -> None:
    stack = await stack_factory("sync")
    api = stack.api
    await api.create_network("before")
    async with counter_locked(database_url):
        writes = _start_writes(api, WRITERS)
        await eventually(lambda: _sessions(database_url), lambda s: _waiting(s) >= WRITERS // 2)
        stopping = asyncio.ensure_future(stack.app.stop(0))
        # The core stops while its writers are parked; they must give their sessions back.
        await asyncio.gather(*writes, return_exceptions=True)
    await asyncio.wait_for(stopping, 20)
    await eventually(lambda: _sessions(database_url), lambda s: s == [], timeout=10)
    _check_log_matches_tables(database_url)
