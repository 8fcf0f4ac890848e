"""The dispatcher's in-memory hand-over (docs/architecture.md, "Outbox and dispatcher"),
on both databases, against a real core and sim back-end.

A commit hands its outbox entries to the dispatcher; a core alone on its database
dispatches from that memory, and a mutation answers with the resource as its back-end's
answer left it. These tests force the orderings that memory must survive: an entry read
from the outbox before its commit's listener ran, and entries a resync replaced while
they waited in memory.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Any

import pytest

from quantum_api.v1 import network_pb2, port_pb2
from tests.helpers import eventually
from tests.helpers.database import query

PORT_DOWN = port_pb2.PORT_STATUS_DOWN
AVAILABLE = network_pb2.NETWORK_STATUS_AVAILABLE
# Long enough that a create left waiting for a dispatch already over is unmistakable.
SYNC_WAIT = 20.0


# On SQLite nothing runs between a commit and its listeners (the writer holds the lock
# through both), so the window exists only on PostgreSQL.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_change_dispatched_before_its_commit_listener_ran_answers_at_once(
    stack_factory: Any, database_url: str
) -> None:
    stack = await stack_factory("sync", core={"sync_wait": SYNC_WAIT})
    api, store, dispatcher = stack.api, stack.app.store, stack.app.dispatcher
    network = await api.create_network("early")
    await eventually(lambda: api.get_network(network.id), lambda n: n.status == AVAILABLE)
    end = store._end

    async def heard_late(
        session: Any, *, commit: bool, discard: bool, committed: Any = None
    ) -> None:
        # Another task reads the commit from the outbox first (with replicas, the commit's
        # round trip leaves that window): the drain dispatches the entry, and only then do
        # the commit's listeners run.
        tx = committed.args[0] if committed is not None else None
        if tx is None or not tx.outbox:
            await end(session, commit=commit, discard=discard, committed=committed)
            return
        await end(session, commit=commit, discard=discard)
        dispatcher._complete.clear()
        for entry in tx.outbox:
            dispatcher.kick(entry.shard_key)
        ids = ",".join(str(e.id) for e in tx.outbox)
        await eventually(
            lambda: asyncio.to_thread(
                query, database_url, f"SELECT id FROM outbox WHERE id IN ({ids})"
            ),
            lambda rows: not rows,
        )
        committed()

    store._end = heard_late
    started = time.monotonic()
    port = await api.create_port(network.id)
    took = time.monotonic() - started
    # The back-end's synchronous answer is in the reply, and the create did not sit out the
    # sync wait for a dispatch that was already over.
    assert port.status == PORT_DOWN
    assert took < SYNC_WAIT / 2, f"the create waited {took:.1f}s"
    # Dispatched once: the late listener neither queued nor re-sent it.
    store._end = end
    second = await api.create_port(network.id)
    assert second.status == PORT_DOWN
    assert stack.sim.backend.applied_changes == 3  # the network and the two ports


async def test_entries_a_resync_replaced_are_not_sent_from_memory(
    stack_factory: Any, sim_factory: Any, database_url: str
) -> None:
    stack = await stack_factory("sync", core={"sync_wait": 0.2})
    api = stack.api
    network = await api.create_network("resynced")
    await eventually(lambda: api.get_network(network.id), lambda n: n.status == AVAILABLE)
    # The back-end goes away: creates queue up (the first waits for the link in its
    # network's drain, the others in the dispatcher's memory).
    await stack.sim.backend.stop(0)
    link = stack.app.links.get(stack.sim.target.name)
    assert link is not None
    await eventually(lambda: asyncio.to_thread(link.ready.is_set), lambda ready: not ready)
    ports = [await api.create_port(network.id) for _ in range(3)]
    stale_order = [r[0] for r in query(database_url, "SELECT operation_id FROM outbox ORDER BY id")]
    assert len(stale_order) == 3
    # A new sim on the same address knows nothing: the resync drops those entries and
    # re-sends the network and its ports as new changes.
    fresh = await sim_factory("sync", listen=f"127.0.0.1:{stack.sim.port}")
    for port in ports:
        await eventually(partial(api.get_port, port.id), lambda p: p.status == PORT_DOWN)
    await eventually(
        lambda: asyncio.to_thread(query, database_url, "SELECT id FROM outbox"), lambda r: not r
    )
    sent = set(fresh.backend._operations)
    # The first create's entry was in its drain's hands, retried until the new sim took
    # it (before the resync, so it was not stale then); the two behind it, in memory,
    # were replaced by the resync and must never reach the back-end.
    assert not set(stale_order[1:]) & sent, "an entry the resync replaced was sent"
