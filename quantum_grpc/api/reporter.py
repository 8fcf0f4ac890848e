"""StatusReporterService: where back-ends push their reports."""

from __future__ import annotations

from quantum_grpc._proto.quantum.plugin.v1 import (
    status_reporter_pb2 as pb,
    status_reporter_pb2_grpc,
)
from quantum_grpc.api.context import Context
from quantum_grpc.errors import BackendNotOwner
from quantum_grpc.service.reports import apply_statuses
from quantum_grpc.store.store import Store


class StatusReporterServicer(status_reporter_pb2_grpc.StatusReporterServiceServicer):
    """Serves quantum.plugin.v1.StatusReporterService."""

    def __init__(self, store: Store, backends: frozenset[str]) -> None:
        self._store = store
        self._backends = backends

    async def ReportStatus(
        self, request: pb.ReportStatusRequest, context: Context
    ) -> pb.ReportStatusResponse:
        if request.backend not in self._backends:
            raise BackendNotOwner(
                f"no back-end named {request.backend!r} is configured", field="backend"
            )
        async with self._store.write() as tx:
            tally = await apply_statuses(tx, request.backend, request.statuses)
        return pb.ReportStatusResponse(
            applied=tally.applied, ignored=tally.ignored, rejected=tally.rejected
        )
