"""Rows are written by Tx.record alone (docs/architecture.md, "Rows"), on both databases.

A change reaches the database with its event, setting an attribute alone writes nothing,
and outbox entries are in the database before the next statement about the outbox, with
their ids known by commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from quantum_api.plugin.v1 import backend_pb2, resource_status_pb2 as rs
from quantum_api.v1 import port_pb2
from quantum_grpc.convert import network_change, snapshot_of
from quantum_grpc.service.reports import apply_report
from quantum_grpc.store.engine import create_engine, is_sqlite, upgrade
from quantum_grpc.store.models import EventRow, NetworkRow, OutboxRow, PortRow
from quantum_grpc.store.rows import fetch_by_id, fetch_one
from quantum_grpc.store.store import EventKind, StaleRow, Store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    await asyncio.to_thread(upgrade, database_url)
    opened = Store(
        create_engine(database_url),
        serialize_writes=is_sqlite(database_url),
        encode_snapshot=snapshot_of,
    )
    try:
        yield opened
    finally:
        await opened.close()


async def _network(store: Store, name: str = "blue") -> NetworkRow:
    row = NetworkRow.new(tenant_id="t1", name=name, status="PROVISIONING", backend="sim")
    async with store.write() as tx:
        await tx.record(row, EventKind.ADDED)
    return row


async def _read(store: Store, network_id: str) -> NetworkRow | None:
    async with store.read() as conn:
        return await fetch_one(
            conn, NetworkRow, select(NetworkRow).where(NetworkRow.id == network_id)
        )


async def test_a_change_is_written_with_its_event(store: Store) -> None:
    added = await _network(store)
    async with store.write() as tx:
        row = await fetch_one(
            tx.connection, NetworkRow, select(NetworkRow).where(NetworkRow.id == added.id)
        )
        assert row is not None and row is not added
        row.name, row.generation = "green", 2
        revision = await tx.record(row, EventKind.MODIFIED)
    stored = await _read(store, added.id)
    assert stored is not None
    assert (stored.name, stored.generation, stored.revision) == ("green", 2, revision)
    assert stored.create_revision == added.revision < revision
    async with store.read() as conn:
        kinds = (await conn.execute(select(EventRow.event_kind).order_by(EventRow.revision))).all()
    assert [k for (k,) in kinds] == ["ADDED", "MODIFIED"]


async def test_setting_an_attribute_writes_nothing(store: Store) -> None:
    added = await _network(store)
    async with store.write() as tx:
        row = await fetch_one(
            tx.connection, NetworkRow, select(NetworkRow).where(NetworkRow.id == added.id)
        )
        assert row is not None
        row.name = "never recorded"
    stored = await _read(store, added.id)
    assert stored is not None and stored.name == "blue"


async def test_outbox_entries_are_written_before_the_next_outbox_statement(store: Store) -> None:
    network = await _network(store)
    heard: list[list[int]] = []
    store.add_outbox_listener(lambda added, _dropped: heard.append([e.id for e in added]))
    change = network_change(network, backend_pb2.CHANGE_ACTION_ENSURE)
    async with store.write() as tx:
        tx.enqueue("sim", network.id, network.id, change)
        kept = tx.enqueue(
            "sim",
            "other-key",
            network.id,
            network_change(network, backend_pb2.CHANGE_ACTION_ENSURE),
        )
        # The entry enqueued above is in the database when the drop runs, so it goes too.
        await tx.drop_outbox("sim", network.id)
        count = select(func.count()).select_from(OutboxRow)
        assert (await tx.connection.execute(count)).scalar_one() == 1
    async with store.read() as conn:
        ids = (await conn.execute(select(OutboxRow.id, OutboxRow.shard_key))).all()
    assert [tuple(r) for r in ids] == [(kept.id, "other-key")]
    assert len(heard) == 1 and kept.id in heard[0] and all(i > 0 for i in heard[0])


async def test_a_report_sees_what_its_earlier_entries_did(store: Store) -> None:
    """The report's rows are read once, with its ownership check: a later entry about the
    same resource sees the earlier entry's change, and an entry about a port the network's
    deletion took sees none."""
    network = await _network(store)
    port = PortRow.new(
        tenant_id="t1",
        network_id=network.id,
        backend="sim",
        admin_state_up=True,
        status="PROVISIONING",
        link_status="DOWN",
        link_status_reason="no attachment",
        create_confirmed=False,
        failed=False,
    )
    async with store.write() as tx:
        await tx.record(port, EventKind.ADDED)
    port_ready = rs.ResourceStatus(
        kind=rs.RESOURCE_KIND_PORT,
        resource_id=port.id,
        generation=1,
        state=rs.OBSERVED_STATE_READY,
        link_status=port_pb2.LINK_STATUS_DOWN,
        link_status_reason="cable",
    )
    port_failed = rs.ResourceStatus(
        kind=rs.RESOURCE_KIND_PORT, resource_id=port.id, generation=1, state=rs.OBSERVED_STATE_ERROR
    )
    tally = await apply_report(store, "sim", [port_ready, port_failed], owner_check=True)
    assert (tally.applied, tally.ignored, tally.rejected) == (2, 0, 0)
    async with store.read() as conn:
        stored = await fetch_by_id(conn, PortRow, port.id)
    # The second entry started from the first one's outcome: confirmed, then failed.
    assert stored is not None and (stored.create_confirmed, stored.status) == (True, "ERROR")

    async with store.write() as tx:
        deleting = await fetch_by_id(tx.connection, NetworkRow, network.id)
        assert deleting is not None
        deleting.deleting, deleting.generation = True, 2
        await tx.record(deleting, EventKind.MODIFIED)
    network_gone = rs.ResourceStatus(
        kind=rs.RESOURCE_KIND_NETWORK,
        resource_id=network.id,
        generation=2,
        state=rs.OBSERVED_STATE_DELETED,
    )
    tally = await apply_report(store, "sim", [network_gone, port_ready], owner_check=True)
    assert (tally.applied, tally.ignored, tally.rejected) == (1, 1, 0)
    async with store.read() as conn:
        assert await fetch_by_id(conn, PortRow, port.id) is None
        assert await fetch_by_id(conn, NetworkRow, network.id) is None


async def test_a_stale_copy_of_a_row_is_refused_and_nothing_is_written(store: Store) -> None:
    """Two reads of one row give two objects: writing the older after the newer was
    recorded would undo that change without a word, so the transaction refuses it."""
    added = await _network(store)
    with pytest.raises(StaleRow, match="already recorded it"):
        async with store.write() as tx:
            first = await fetch_by_id(tx.connection, NetworkRow, added.id)
            second = await fetch_by_id(tx.connection, NetworkRow, added.id)
            assert first is not None and second is not None
            first.name = "green"
            await tx.record(first, EventKind.MODIFIED)
            second.generation = 2
            await tx.record(second, EventKind.MODIFIED)
    stored = await _read(store, added.id)
    assert stored is not None and (stored.name, stored.generation) == ("blue", 1)
    # A copy read after the change was recorded is current: it is taken.
    async with store.write() as tx:
        first = await fetch_by_id(tx.connection, NetworkRow, added.id)
        assert first is not None
        first.name = "green"
        await tx.record(first, EventKind.MODIFIED)
        again = await fetch_by_id(tx.connection, NetworkRow, added.id)
        assert again is not None and again.name == "green"
        again.generation = 2
        await tx.record(again, EventKind.MODIFIED)
    stored = await _read(store, added.id)
    assert stored is not None and (stored.name, stored.generation) == ("green", 2)
