"""Resource rows read and written with SQLAlchemy Core, not the ORM's unit of work.

The models stay SQLAlchemy mapped classes (the schema, the queries and Alembic know
them), but the rows the services handle are never attached to a session: a read builds
them from a Core result the way the ORM's own loader does, minus the identity map, and
:meth:`Tx.record <quantum_grpc.store.store.Tx.record>` writes each change as one Core
statement. The unit of work (change tracking, flush ordering, the identity map) was half
the core's CPU on every create and every back-end answer, for transactions that change
one to three rows they already know the keys of (docs/architecture.md, "Rows").

What that asks of the code: a row is written only by ``Tx.record`` (setting an attribute
writes nothing), and two reads of the same row in one transaction give two objects, so a
function that changes a row passes that object on rather than reading it again.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_grpc.store.models import (
    AttachmentRow,
    Base,
    EventRow,
    NetworkRow,
    OutboxRow,
    PortRow,
    build,
    column_keys,
)

Loaded = TypeVar("Loaded", NetworkRow, PortRow, AttachmentRow, OutboxRow, EventRow)
# The rows with an ``id`` key.
Keyed = TypeVar("Keyed", NetworkRow, PortRow, AttachmentRow, OutboxRow)


async def fetch_one(
    conn: AsyncConnection,
    model: type[Loaded],
    query: Select[Any],
    params: Mapping[str, Any] | None = None,
) -> Loaded | None:
    """The first row ``query`` (a ``select(model)``) finds, run on ``conn``
    with ``params`` for its bound parameters."""
    result = await conn.execute(query, params)
    found = result.first()
    return (
        None if found is None else build(model, dict(zip(column_keys(model), found, strict=True)))
    )


# Built once per model: building a select of a mapped class and its comparison costs more
# than running it (a tenth of a GetPort's CPU), and a statement built once keeps its cache
# key.
@functools.cache
def _by_id(model: type[Keyed], lock: bool) -> Select[Any]:
    query = select(model).where(model.id == bindparam("row_id"))
    return query.with_for_update() if lock else query


async def fetch_by_id(
    conn: AsyncConnection, model: type[Keyed], row_id: str | int, *, lock: bool = False
) -> Keyed | None:
    """The row of ``model`` with id ``row_id`` (read ``FOR UPDATE`` with ``lock``)."""
    return await fetch_one(conn, model, _by_id(model, lock), {"row_id": row_id})


async def fetch_all(conn: AsyncConnection, model: type[Loaded], query: Select[Any]) -> list[Loaded]:
    """Every row ``query`` (a ``select(model)``) finds, in its order."""
    result = await conn.execute(query)
    keys = column_keys(model)
    return [build(model, dict(zip(keys, found, strict=True))) for found in result.all()]


def values_of(row: Base) -> dict[str, Any]:
    """The column values ``row`` holds (a column never set is left to its default)."""
    held = row.__dict__
    return {key: held[key] for key in column_keys(type(row)) if key in held}


class Statements:
    """The Core statements that write one table's rows."""

    def __init__(self, model: type[Base]) -> None:
        table = cast(Table, model.__table__)
        self.insert = insert(table)
        # Executed with every column's value as parameters: SET names them all.
        self.update = update(table).where(table.c.id == bindparam("row_id"))
        self.delete = delete(table).where(table.c.id == bindparam("row_id"))


@functools.cache
def statements_of(model: type[Base]) -> Statements:
    """The write statements of ``model``'s table, built once."""
    return Statements(model)
