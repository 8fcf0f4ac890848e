"""StatusReporterService: where back-ends push their reports (applied by service/reports)."""

from __future__ import annotations

from quantum_api.plugin.v1 import (
    status_reporter_pb2 as pb,
    status_reporter_pb2_grpc,
)
from quantum_grpc.api.context import Context
from quantum_grpc.service.reports import receive_report
from quantum_grpc.store.store import Store


class StatusReporterServicer(status_reporter_pb2_grpc.StatusReporterServiceServicer):
    """Serves quantum.plugin.v1.StatusReporterService."""

    def __init__(self, store: Store, backends: frozenset[str]) -> None:
        self._store = store
        self._backends = backends

    async def ReportStatus(
        self, request: pb.ReportStatusRequest, context: Context
    ) -> pb.ReportStatusResponse:
        tally = await receive_report(self._store, self._backends, request.backend, request.statuses)
        return pb.ReportStatusResponse(
            applied=tally.applied, ignored=tally.ignored, rejected=tally.rejected
        )
