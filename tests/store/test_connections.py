"""The store's PostgreSQL connections: one the server ended is replaced before it is used.

Connections are pinged on checkout only after a second idle (store/engine.py): a busy
core must still not hand a call a connection the server closed a moment ago (a restart,
pg_terminate_backend), or that call fails with UNAVAILABLE and health turns NOT_SERVING.
"""

from __future__ import annotations

import asyncio

import pytest

from quantum_grpc.convert import snapshot_of
from quantum_grpc.store.engine import create_engine, upgrade
from quantum_grpc.store.store import Store
from tests.helpers import eventually
from tests.helpers.postgres import admin_connection, pg_schema, sessions_of

pytestmark = pytest.mark.postgres


async def test_a_connection_the_server_ended_is_replaced_before_a_call_uses_it() -> None:
    with pg_schema() as url:
        await asyncio.to_thread(upgrade, url)
        store = Store(create_engine(url), serialize_writes=False, encode_snapshot=snapshot_of)
        try:
            await store.ping()  # a pooled connection, used a moment ago
            schema = url.split("search_path%3D")[1]
            with admin_connection() as admin:
                ended = [pid for pid, _state, _query in sessions_of(admin, schema)]
                assert ended, "the store holds no connection"
                for pid in ended:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                # The server has closed them (their sessions are gone) before the next call.
                await eventually(
                    lambda: asyncio.to_thread(sessions_of, admin, schema),
                    lambda sessions: not set(ended) & {pid for pid, *_ in sessions},
                    timeout=5,
                    every=0.01,
                )
            # Well within the second after which every connection is pinged anyway.
            assert await store.ping(), "a call was handed a connection the server had ended"
            assert await store.head_revision() == 0
            assert not store.failed_within(60)
        finally:
            await store.close()
