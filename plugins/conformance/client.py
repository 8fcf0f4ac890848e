"""The conformance suite's client (the SDK's AsyncClient) and its raw watch reader."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import grpc

from quantum_api.errors import QuantumError, error_from_rpc
from quantum_api.v1 import watch_service_pb2 as watch_pb
from quantum_client import AsyncClient

MARKERS = (watch_pb.EVENT_TYPE_SYNCED, watch_pb.EVENT_TYPE_PROGRESS)

# The scenarios call the public SDK, as a user would; Follower reads raw streams off its stubs.
Api = AsyncClient


async def rpc_error(call: Any) -> QuantumError:
    """Await a call that must fail (an SDK method or a raw stub call); the catalogue error."""
    try:
        await call
    except QuantumError as error:
        return error
    except grpc.aio.AioRpcError as exc:
        return error_from_rpc(exc)
    raise AssertionError("the call succeeded but was expected to fail")


@dataclass
class Follower:
    """Reads one WatchStatus stream in the background into ``events``."""

    api: Api
    request: watch_pb.WatchStatusRequest
    events: list[watch_pb.WatchEvent] = field(default_factory=list)
    error: QuantumError | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _call: Any = None

    def start(self) -> Follower:
        """Open the stream and start reading it."""
        self._call = self.api.stubs.watch.WatchStatus(self.request, metadata=self.api.metadata)
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
    def changes(self) -> list[watch_pb.WatchEvent]:
        """The events that are changes, markers left out."""
        return [e for e in self.events if e.type not in MARKERS]

    @property
    def last_revision(self) -> int:
        """The revision to resume from."""
        return self.events[-1].revision if self.events else self.request.start_revision

    async def until(self, predicate: Any, timeout: float = 10.0) -> list[watch_pb.WatchEvent]:
        """Wait until ``predicate(events)`` holds; fail if the stream ends first."""
        async with asyncio.timeout(timeout):
            while not predicate(self.events):
                if self.ended.is_set():
                    raise AssertionError(f"stream ended ({self.error}) before the condition held")
                self.changed.clear()
                await self.changed.wait()
        return self.events

    async def cancel(self) -> None:
        """Close the stream."""
        if self._call is not None:
            self._call.cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
