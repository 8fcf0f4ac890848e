"""Resynchronise a back-end from the database, which owns the desired state.

After a back-end (re)connects, its status listing is applied like reports, and every
resource it should hold but does not (or holds at an older generation) gets a fresh
ENSURE change with the full desired state; resources being deleted that it no longer
holds are confirmed deleted. Resources with a change still in the outbox are left to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from quantum_grpc._proto.quantum.plugin.v1 import backend_pb2
from quantum_grpc._proto.quantum.plugin.v1 import resource_status_pb2 as rs
from quantum_grpc.service.changes import network_change, port_change
from quantum_grpc.service.reports import Tally, apply_status, apply_statuses
from quantum_grpc.store.models import NetworkRow, OutboxRow, PortRow
from quantum_grpc.store.store import Store, Tx


async def resync(
    store: Store, backend: str, listing: Sequence[rs.ResourceStatus]
) -> tuple[Tally, int]:
    """Apply ``listing`` and enqueue what the back-end misses; returns the tally and count."""
    async with store.write() as tx:
        tally = await apply_statuses(tx, backend, listing)
        listed = {status.resource_id: status.generation for status in listing}
        pending = set(
            (
                await tx.session.scalars(
                    select(OutboxRow.resource_id).where(OutboxRow.backend == backend)
                )
            ).all()
        )
        networks = (
            await tx.session.scalars(
                select(NetworkRow)
                .where(NetworkRow.backend == backend)
                .order_by(NetworkRow.create_revision)
            )
        ).all()
        ports = (
            await tx.session.scalars(
                select(PortRow).where(PortRow.backend == backend).order_by(PortRow.create_revision)
            )
        ).all()
        enqueued = 0
        for network in networks:
            if network.id not in pending:
                enqueued += await _catch_up(tx, network, listed.get(network.id))
        gone = {n.id for n in networks if n.deleting}
        for port in ports:
            if port.id not in pending and port.network_id not in gone:
                enqueued += await _catch_up(tx, port, listed.get(port.id))
    return tally, enqueued


async def _catch_up(tx: Tx, row: NetworkRow | PortRow, held: int | None) -> int:
    kind = rs.RESOURCE_KIND_NETWORK if isinstance(row, NetworkRow) else rs.RESOURCE_KIND_PORT
    if row.deleting and held is None:
        confirm = rs.ResourceStatus(
            kind=kind,
            resource_id=row.id,
            generation=row.generation,
            state=rs.OBSERVED_STATE_DELETED,
        )
        await apply_status(tx, row.backend, confirm)
        return 0
    if held is not None and held >= row.generation:
        return 0
    action = backend_pb2.CHANGE_ACTION_DELETE if row.deleting else backend_pb2.CHANGE_ACTION_ENSURE
    if isinstance(row, NetworkRow):
        tx.enqueue(row.backend, row.id, row.id, network_change(row, action))
    else:
        tx.enqueue(row.backend, row.network_id, row.id, port_change(row, action))
    return 1
