"""Watch helpers for tests: follow a WatchStatus stream, and read the event log directly."""

from __future__ import annotations

import sqlite3

from quantum_grpc._proto.quantum.v1 import watch_service_pb2 as pb, watch_service_pb2_grpc
from quantum_grpc.conformance.client import MARKERS, Follower
from tests.helpers import Api

__all__ = ["MARKERS", "Follower", "key", "log_events", "watch_stub"]


def watch_stub(api: Api) -> watch_service_pb2_grpc.WatchServiceStub:
    return api.watch


def log_events(database_url: str) -> list[tuple[int, str, str, str, str]]:
    """(revision, tenant, kind, resource id, event kind) of every stored event."""
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return db.execute(
            "select revision, tenant_id, resource_kind, resource_id, event_kind"
            " from events order by revision"
        ).fetchall()


def key(event: pb.WatchEvent) -> tuple[int, str, str]:
    """(revision, kind, id) of a received event, comparable with log_events()."""
    which = event.resource.WhichOneof("kind") or ""
    return event.revision, which.upper(), getattr(event.resource, which).id if which else ""
