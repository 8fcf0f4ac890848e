"""Watch helpers for tests: follow a WatchStatus stream, and read the event log directly."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import grpc

from quantum_grpc._proto.quantum.v1 import watch_service_pb2 as pb, watch_service_pb2_grpc
from quantum_grpc.errors import QuantumError, error_from_rpc
from tests.helpers import Api

MARKERS = (pb.EVENT_TYPE_SYNCED, pb.EVENT_TYPE_PROGRESS)


def watch_stub(api: Api) -> watch_service_pb2_grpc.WatchServiceStub:
    return watch_service_pb2_grpc.WatchServiceStub(api.channel)


@dataclass
class Follower:
    """Reads one WatchStatus stream in the background into ``events``."""

    api: Api
    request: pb.WatchStatusRequest
    events: list[pb.WatchEvent] = field(default_factory=list)
    error: QuantumError | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _call: Any = None

    def start(self) -> Follower:
        self._call = watch_stub(self.api).WatchStatus(self.request, metadata=self.api.md)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        try:
            async for response in self._call:
                self.events.extend(response.events)
                self.changed.set()
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = error_from_rpc(exc)
        finally:
            self.ended.set()
            self.changed.set()

    @property
    def changes(self) -> list[pb.WatchEvent]:
        return [e for e in self.events if e.type not in MARKERS]

    @property
    def last_revision(self) -> int:
        return self.events[-1].revision if self.events else self.request.start_revision

    async def until(self, predicate: Any, timeout: float = 10.0) -> list[pb.WatchEvent]:
        """Wait until ``predicate(events)`` holds (or the stream ends)."""
        async with asyncio.timeout(timeout):
            while not predicate(self.events):
                if self.ended.is_set():
                    raise AssertionError(f"stream ended ({self.error}) before the condition held")
                self.changed.clear()
                await self.changed.wait()
        return self.events

    async def cancel(self) -> None:
        if self._call is not None:
            self._call.cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


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
