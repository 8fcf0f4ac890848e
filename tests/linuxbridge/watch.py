"""Observe status changes through WatchStatus: one stream per test, every wait on it.

:class:`StatusWatch` follows every resource of the test's tenant and keeps the latest
snapshot of each; :meth:`StatusWatch.until` waits (on a condition, woken by each event) until
a predicate over those snapshots holds. No test in this package polls for a state change.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import grpc

from quantum_api.v1 import (
    attachment_pb2,
    port_pb2,
    watch_service_pb2 as wpb,
    watch_service_pb2_grpc,
)

ACTIVE, DOWN = port_pb2.PORT_STATUS_ACTIVE, port_pb2.PORT_STATUS_DOWN
LINK_UP, LINK_DOWN = port_pb2.LINK_STATUS_UP, port_pb2.LINK_STATUS_DOWN
AVAILABLE = attachment_pb2.ATTACHMENT_STATUS_AVAILABLE


class StatusWatch:
    """The latest snapshot of every resource of one tenant, fed by WatchStatus."""

    def __init__(self, channel: grpc.aio.Channel, tenant: str) -> None:
        self._stub = watch_service_pb2_grpc.WatchServiceStub(channel)
        self._metadata = (("x-tenant-id", tenant),)
        self.ports: dict[str, Any] = {}
        self.networks: dict[str, Any] = {}
        #: port id -> its attachment; absent once the attachment is DELETED.
        self.attachments: dict[str, Any] = {}
        #: Every port snapshot received, in order, to check transitions after the fact.
        self.port_history: list[Any] = []
        self.revision = 0
        self.events = 0
        self._changed = asyncio.Condition()
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    async def start(self, timeout: float = 10.0) -> None:
        """Open the stream and wait for the initial state (SYNCED)."""
        self._task = asyncio.create_task(self._follow())
        synced = asyncio.create_task(self._synced.wait())
        await asyncio.wait({synced, self._task}, timeout=timeout, return_when="FIRST_COMPLETED")
        synced.cancel()
        if self._failure is not None:
            raise self._failure
        assert self._synced.is_set(), "WatchStatus did not send its initial state in time"

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        # Resume after the last revision seen if the stream is cut (a progress marker or
        # a lagging consumer): every change is seen exactly once, in order.
        while True:
            request = wpb.WatchStatusRequest(start_revision=self.revision)
            try:
                async for response in self._stub.WatchStatus(request, metadata=self._metadata):
                    await self._take(response.events)
                return
            except grpc.aio.AioRpcError as exc:
                resumable = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
                if exc.code() in resumable and self.revision:
                    await asyncio.sleep(0.05)
                    continue
                self._failure = exc
                async with self._changed:
                    self._changed.notify_all()
                raise

    async def _take(self, events: Any) -> None:
        async with self._changed:
            for event in events:
                self.revision = max(self.revision, event.revision)
                if event.type == wpb.EVENT_TYPE_SYNCED:
                    self._synced.set()
                    continue
                if event.type == wpb.EVENT_TYPE_PROGRESS:
                    continue
                self.events += 1
                kind = event.resource.WhichOneof("kind")
                resource = getattr(event.resource, kind)
                deleted = event.type == wpb.EVENT_TYPE_DELETED
                if kind == "port":
                    table, key = self.ports, resource.id
                    self.port_history.append(resource)
                elif kind == "network":
                    table, key = self.networks, resource.id
                else:
                    table, key = self.attachments, resource.port_id
                    # A replug's new attachment may arrive before the old one's DELETED.
                    current = table.get(key)
                    if deleted and current is not None and current.id != resource.id:
                        continue
                if deleted:
                    table.pop(key, None)
                else:
                    table[key] = resource
            self._changed.notify_all()

    async def until(self, predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> float:
        """Wait until ``predicate()`` holds; returns the monotonic time it was first seen."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._failure is not None or predicate()),
                    timeout,
                )
            except TimeoutError:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None
            if self._failure is not None:
                raise AssertionError(f"the watch failed: {self._failure}")
            return time.monotonic()

    async def port(
        self, port_id: str, status: int, reason: str | None = None, timeout: float = 15.0
    ) -> Any:
        """Wait until the port has ``status`` (and, if given, link reason ``reason``)."""

        def reached() -> bool:
            port = self.ports.get(port_id)
            return (
                port is not None
                and port.status == status
                and (reason is None or port.link_status_reason == reason)
            )

        name = port_pb2.PortStatus.Name(status)
        await self.until(reached, f"port {port_id} {name} {reason or ''}".strip(), timeout)
        return self.ports[port_id]

    def mark(self) -> int:
        """A position in the port history, for :meth:`passed_through`."""
        return len(self.port_history)

    def passed_through(self, mark: int, port_id: str, status: int, reason: str) -> bool:
        """Whether the port had ``status`` and ``reason`` at some point after ``mark``."""
        return any(
            p.id == port_id and p.status == status and p.link_status_reason == reason
            for p in self.port_history[mark:]
        )

    async def unplugged(self, port_id: str, timeout: float = 15.0) -> None:
        """Wait until the port's attachment is gone (the back-end confirmed the unplug)."""
        await self.until(lambda: port_id not in self.attachments, f"unplug of {port_id}", timeout)

    async def gone(
        self, port_ids: list[str], network_ids: list[str], timeout: float = 15.0
    ) -> None:
        """Wait until the ports and networks are deleted."""
        await self.until(
            lambda: (
                not any(p in self.ports for p in port_ids)
                and not any(n in self.networks for n in network_ids)
            ),
            "deletion",
            timeout,
        )
