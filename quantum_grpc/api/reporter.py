"""StatusReporterService: where back-ends push their reports.

A report is checked as a whole before anything is applied (docs/plugin-guide.md, "Limits
on what a back-end sends"), then applied in chunks of short transactions.
"""

from __future__ import annotations

import re

from quantum_api.errors import BackendInputRejected, BackendNotOwner
from quantum_api.plugin.v1 import (
    status_reporter_pb2 as pb,
    status_reporter_pb2_grpc,
)
from quantum_grpc.api.context import Context
from quantum_grpc.service.backend_input import checked_report
from quantum_grpc.service.reports import apply_report, limited, log_truncations
from quantum_grpc.store.store import Store

# statuses[17].link_status -> statuses.link_status: one log reason per field, not per entry.
_INDEX = re.compile(r"\[\d+\]")


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
        try:
            statuses, cut = checked_report(request.statuses)
        except BackendInputRejected as rejected:
            limited.warning(
                f"{request.backend}/report/{_INDEX.sub('', rejected.field)}",
                "refused a report from back-end %s: %s",
                request.backend,
                rejected.message,
            )
            raise
        log_truncations(request.backend, "a report", cut)
        tally = await apply_report(self._store, request.backend, statuses)
        return pb.ReportStatusResponse(
            applied=tally.applied, ignored=tally.ignored, rejected=tally.rejected
        )
