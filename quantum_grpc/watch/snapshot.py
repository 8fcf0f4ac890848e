"""The current state of the resources a watch filter selects, at one revision."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from quantum_api.v1 import watch_service_pb2 as pb
from quantum_grpc.convert import resource_of_row
from quantum_grpc.store.models import AttachmentRow, NetworkRow, PortRow, RevisionCounter
from quantum_grpc.store.rows import fetch_all
from quantum_grpc.store.store import Store
from quantum_grpc.watch.events import LogEvent, WatchFilter, make_event

# kind -> (model, the column holding its network id)
KIND_TABLES: dict[str, tuple[Any, str]] = {
    "NETWORK": (NetworkRow, "id"),
    "PORT": (PortRow, "network_id"),
    "ATTACHMENT": (AttachmentRow, "network_id"),
}


def _query(kind: str, watch_filter: WatchFilter) -> Any:
    model, network_column = KIND_TABLES[kind]
    query = select(model)
    if watch_filter.tenant_id is not None:
        query = query.where(model.tenant_id == watch_filter.tenant_id)
    ids = watch_filter.resource_ids
    if ids and kind == "ATTACHMENT":
        query = query.where(or_(model.id.in_(ids), model.port_id.in_(ids)))
    elif ids:
        query = query.where(model.id.in_(ids))
    if watch_filter.network_id:
        query = query.where(getattr(model, network_column) == watch_filter.network_id)
    statuses = watch_filter.statuses.get(kind)
    if statuses:
        query = query.where(model.status.in_(statuses))
    return query


async def current_state(store: Store, watch_filter: WatchFilter) -> tuple[int, list[LogEvent]]:
    """The head revision and an ADDED event per matching resource, oldest change first."""
    kinds = watch_filter.kinds or frozenset(KIND_TABLES)
    events: list[LogEvent] = []
    async with store.snapshot() as conn:
        counter = select(RevisionCounter.value).where(RevisionCounter.id == 1)
        head = int(await conn.scalar(counter) or 0)
        for kind in sorted(kinds):
            model, network_column = KIND_TABLES[kind]
            for row in await fetch_all(conn, model, _query(kind, watch_filter)):
                events.append(
                    make_event(
                        revision=row.revision,
                        tenant_id=row.tenant_id,
                        kind=kind,
                        resource_id=row.id,
                        network_id=getattr(row, network_column),
                        status=row.status,
                        event_type=pb.EVENT_TYPE_ADDED,
                        resource=resource_of_row(row),
                    )
                )
    events.sort(key=lambda e: e.revision)
    return head, events
