"""SQLAlchemy models: desired and observed state, the event log and the outbox.

Desired fields are written by API calls, observed fields only by back-end reports.
``generation`` counts desired changes of a resource; ``observed_generation`` is the newest
generation a back-end confirmed. ``revision`` is the global revision of the last change.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Self, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, configure_mappers, mapped_column
from sqlalchemy.orm.instrumentation import manager_of_class

ID = String(36)
NAME = String(255)
# What a create with a request_id asked for (a SHA-256 hex digest): a retry must match it.
FINGERPRINT = String(64)


class Base(DeclarativeBase):
    """Declarative base of every table."""


# A mapped class (build makes rows of any).
Model = TypeVar("Model")


def build(model: type[Model], values: Mapping[str, Any]) -> Model:
    """An instance of ``model`` holding ``values``, attached to nothing.

    Made like the ORM's loader makes one (an empty instance, its attributes put in its
    dict): the mapped constructor sets each attribute through its change tracking, 17
    times slower, for a row that is never flushed.
    """
    row = manager_of_class(model).new_instance()
    row.__dict__.update(values)
    return row


class RevisionCounter(Base):
    """One row holding the global revision; updating it serialises writers in commit order.

    ``floor`` is the compaction floor every replica shares: events up to it are gone, so a
    watch may resume only from a revision at or above it (docs/architecture.md,
    "Several replicas").
    """

    __tablename__ = "revision_counter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False)
    floor: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


class PageTokenKey(Base):
    """One row: the key every replica signs list page tokens with, so a token one replica
    issued is honoured by all, and across restarts (docs/operations.md, "Page tokens").

    Made by the first core that finds the table empty; deleting the row rotates the key at
    the next start (every token outstanding is refused then; clients list again).
    """

    __tablename__ = "page_token_key"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


@functools.cache
def column_keys(model: type) -> tuple[str, ...]:
    """The column names of ``model``, in table order (a select of the model yields them
    so); every model's attribute is named as its column."""
    return tuple(cast(Table, model.__table__).columns.keys())  # type: ignore[attr-defined]


class _Resource:
    """Columns every resource table has."""

    @classmethod
    def new(cls, **fields: Any) -> Self:
        """A row for a new resource: a fresh id and the bookkeeping columns at their start.

        Set here rather than left to column defaults, which apply only at flush: the
        event's snapshot is taken before that. A name that is not a column is refused, as
        the mapped constructor would.
        """
        unknown = fields.keys() - column_keys(cast(type, cls))
        if unknown:
            raise TypeError(f"{cls.__name__} has no column {', '.join(sorted(unknown))}")
        start: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "generation": 1,
            "observed_generation": 0,
            "error_code": "",
            "error_message": "",
            "deleting": False,
        }
        return build(cls, {**start, **fields})

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(NAME, nullable=False, index=True)
    generation: Mapped[int] = mapped_column(BigInteger, nullable=False, default=1)
    observed_generation: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    error_code: Mapped[str] = mapped_column(NAME, nullable=False, default="")
    error_message: Mapped[str] = mapped_column(Text, nullable=False, default="")
    deleting: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False)
    create_revision: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class NetworkRow(_Resource, Base):
    """A network."""

    __tablename__ = "networks"
    name: Mapped[str] = mapped_column(NAME, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    backend: Mapped[str] = mapped_column(NAME, nullable=False)
    request_id: Mapped[str | None] = mapped_column(ID)
    request_fingerprint: Mapped[str | None] = mapped_column(FINGERPRINT)
    __table_args__ = (
        UniqueConstraint("tenant_id", "request_id", name="uq_networks_request"),
        Index("ix_networks_tenant_order", "tenant_id", "create_revision"),
    )


class PortRow(_Resource, Base):
    """A port; ``create_confirmed`` turns true once the back-end confirmed its create."""

    __tablename__ = "ports"
    network_id: Mapped[str] = mapped_column(
        ID, ForeignKey("networks.id", ondelete="CASCADE"), nullable=False, index=True
    )
    backend: Mapped[str] = mapped_column(NAME, nullable=False)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, nullable=False)
    qos_rate_kbps: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    qos_burst_kbytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    # The desired plug: what the back-end is asked to wire; empty when unplugged.
    interface_id: Mapped[str] = mapped_column(NAME, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    link_status: Mapped[str] = mapped_column(String(16), nullable=False)
    link_status_reason: Mapped[str] = mapped_column(NAME, nullable=False, default="")
    create_confirmed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    failed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    request_id: Mapped[str | None] = mapped_column(ID)
    request_fingerprint: Mapped[str | None] = mapped_column(FINGERPRINT)
    __table_args__ = (
        UniqueConstraint("tenant_id", "request_id", name="uq_ports_request"),
        Index("ix_ports_tenant_order", "tenant_id", "create_revision"),
    )


class AttachmentRow(_Resource, Base):
    """An interface plugged into a port; ``generation`` is the port generation of the plug."""

    __tablename__ = "attachments"
    port_id: Mapped[str] = mapped_column(
        ID, ForeignKey("ports.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    network_id: Mapped[str] = mapped_column(ID, nullable=False, index=True)
    interface_id: Mapped[str] = mapped_column(NAME, nullable=False, unique=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)


class EventRow(Base):
    """One change: the resource's snapshot after it, in global revision order."""

    __tablename__ = "events"
    revision: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tenant_id: Mapped[str] = mapped_column(NAME, nullable=False)
    resource_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    resource_id: Mapped[str] = mapped_column(ID, nullable=False)
    network_id: Mapped[str] = mapped_column(ID, nullable=False)
    event_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    snapshot: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    __table_args__ = (Index("ix_events_tenant_revision", "tenant_id", "revision"),)


class OutboxRow(Base):
    """A change recorded but not yet handed to its back-end (docs/architecture.md, "Outbox")."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    operation_id: Mapped[str] = mapped_column(ID, nullable=False, unique=True)
    backend: Mapped[str] = mapped_column(NAME, nullable=False)
    # Changes with the same key are dispatched one at a time, in id order.
    shard_key: Mapped[str] = mapped_column(ID, nullable=False, index=True)
    resource_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    resource_id: Mapped[str] = mapped_column(ID, nullable=False)
    generation: Mapped[int] = mapped_column(BigInteger, nullable=False)
    request: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


# Mapped classes are configured on their first use, which a row built by ``build`` (not by
# the mapped constructor) would not trigger: configure them once they are all defined.
configure_mappers()
