"""Tests of the Python back-ends, and the core stand-in they report to."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc

from quantum_api.plugin.v1 import status_reporter_pb2, status_reporter_pb2_grpc
from quantum_plugins.common.tls import bind


class ReportCollector:
    """A real StatusReporterService on 127.0.0.1 that records every report it gets."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.reports: list[Any] = []
        self.port = 0
        self._server: Any = None
        self._changed = asyncio.Condition()

    @property
    def target(self) -> str:
        """The gRPC target a back-end should report to."""
        return f"127.0.0.1:{self.port}"

    async def ReportStatus(self, request: Any, context: Any) -> Any:
        async with self._changed:
            self.requests.append(request)
            self.reports.extend(request.statuses)
            self._changed.notify_all()
        return status_reporter_pb2.ReportStatusResponse(applied=len(request.statuses))

    async def start(self, port: int = 0, credentials: grpc.ServerCredentials | None = None) -> int:
        """Serve on ``port`` (0: any free one), over TLS with ``credentials``; the port."""
        self._server = grpc.aio.server()
        status_reporter_pb2_grpc.add_StatusReporterServiceServicer_to_server(self, self._server)
        self.port = bind(self._server, f"127.0.0.1:{port}", credentials)
        await self._server.start()
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(0)
            self._server = None

    def about(self, resource_id: str) -> list[Any]:
        """The reports received about one resource, in arrival order."""
        return [r for r in self.reports if r.resource_id == resource_id]

    async def wait_for(
        self,
        predicate: Callable[[list[Any]], bool],
        timeout: float = 5.0,
    ) -> list[Any]:
        """Wait until ``predicate(reports)`` holds; returns the reports then."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: predicate(self.reports))
        return self.reports
