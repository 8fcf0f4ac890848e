"""Watch helpers for tests: follow a WatchStatus stream, and read the event log directly."""

from __future__ import annotations

from quantum_api.v1 import watch_service_pb2 as pb, watch_service_pb2_grpc
from quantum_plugins.conformance.client import MARKERS, Follower
from tests.helpers import Api
from tests.helpers.database import log_events

__all__ = ["MARKERS", "Follower", "key", "log_events", "watch_stub"]


def watch_stub(api: Api) -> watch_service_pb2_grpc.WatchServiceStub:
    return api.stubs.watch


def key(event: pb.WatchEvent) -> tuple[int, str, str]:
    """(revision, kind, id) of a received event, comparable with log_events()."""
    which = event.resource.WhichOneof("kind") or ""
    return event.revision, which.upper(), getattr(event.resource, which).id if which else ""
