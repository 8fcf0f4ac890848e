"""Resynchronise a back-end from the database, which owns the desired state.

After a back-end (re)connects, its status listing is applied like reports. Then, for each
network whose resources the back-end lacks (or holds at an older generation) and that no
pending change will bring up to date, the network's pending changes are replaced by a
fresh sequence: the network first, then its ports, each with its full desired state
(ENSURE), or DELETE for what is being deleted. Replacing rather than appending keeps the
order a back-end relies on: it never sees a port before the network it belongs to.
Resources being deleted that the back-end no longer holds are confirmed deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select

from quantum_api.plugin.v1 import backend_pb2, resource_status_pb2 as rs
from quantum_grpc.convert import network_change, port_change
from quantum_grpc.service.reports import Tally, apply_report, apply_status, listing_entries
from quantum_grpc.store.models import NetworkRow, OutboxRow, PortRow
from quantum_grpc.store.rows import fetch_all
from quantum_grpc.store.store import Store, Tx


async def resync(
    store: Store, backend: str, listing: Sequence[rs.ResourceStatus]
) -> tuple[Tally, int]:
    """Apply ``listing`` and re-send what the back-end misses; returns the tally and count.

    The listing is applied like a report, in chunks (it can be as long as the back-end
    has resources); entries the core cannot take count as not held, so they are re-sent.
    """
    entries = listing_entries(backend, listing)
    tally = await apply_report(store, backend, entries)
    async with store.write() as tx:
        held = {status.resource_id: status.generation for status in entries}
        pending = set(
            (
                await tx.connection.scalars(
                    select(OutboxRow.resource_id).where(OutboxRow.backend == backend)
                )
            ).all()
        )
        networks = await fetch_all(
            tx.connection,
            NetworkRow,
            select(NetworkRow)
            .where(NetworkRow.backend == backend)
            .order_by(NetworkRow.create_revision),
        )
        ports_of: dict[str, list[PortRow]] = defaultdict(list)
        for port in await fetch_all(
            tx.connection,
            PortRow,
            select(PortRow).where(PortRow.backend == backend).order_by(PortRow.create_revision),
        ):
            ports_of[port.network_id].append(port)
        resent = 0
        for network in networks:
            members: list[NetworkRow | PortRow] = [network, *ports_of[network.id]]
            if all(r.id in pending or held.get(r.id, 0) >= r.generation for r in members):
                continue
            await tx.drop_outbox(backend, network.id)
            resent += await _rewrite(tx, network, ports_of[network.id], held)
    return tally, resent


async def _rewrite(tx: Tx, network: NetworkRow, ports: list[PortRow], held: dict[str, int]) -> int:
    if network.deleting:
        return await _delete_or_confirm(tx, network, held)
    tx.enqueue(
        network.backend,
        network.id,
        network.id,
        network_change(network, backend_pb2.CHANGE_ACTION_ENSURE),
    )
    resent = 1
    for port in ports:
        if port.deleting:
            resent += await _delete_or_confirm(tx, port, held)
        else:
            tx.enqueue(
                port.backend,
                network.id,
                port.id,
                port_change(port, backend_pb2.CHANGE_ACTION_ENSURE),
            )
            resent += 1
    return resent


async def _delete_or_confirm(tx: Tx, row: NetworkRow | PortRow, held: dict[str, int]) -> int:
    if row.id not in held:
        kind = rs.RESOURCE_KIND_NETWORK if isinstance(row, NetworkRow) else rs.RESOURCE_KIND_PORT
        confirm = rs.ResourceStatus(
            kind=kind,
            resource_id=row.id,
            generation=row.generation,
            state=rs.OBSERVED_STATE_DELETED,
        )
        await apply_status(tx, row.backend, confirm)
        return 0
    if isinstance(row, NetworkRow):
        tx.enqueue(
            row.backend, row.id, row.id, network_change(row, backend_pb2.CHANGE_ACTION_DELETE)
        )
    else:
        tx.enqueue(
            row.backend, row.network_id, row.id, port_change(row, backend_pb2.CHANGE_ACTION_DELETE)
        )
    return 1
