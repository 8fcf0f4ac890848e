"""StatusReporterService: where back-ends push their reports (applied by service/reports).

Served on the internal listener only. With mTLS there, the reporting back-end is the one
its client certificate names (api/peer.py), never the request's ``backend`` field, which
may only repeat it (docs/security.md, "Back-ends and mTLS").
"""

from __future__ import annotations

from quantum_api.errors import BackendNotOwner
from quantum_api.plugin.v1 import (
    status_reporter_pb2 as pb,
    status_reporter_pb2_grpc,
)
from quantum_grpc.api.context import Context
from quantum_grpc.api.peer import BackendIdentities
from quantum_grpc.service.reports import receive_report
from quantum_grpc.store.store import Store


class StatusReporterServicer(status_reporter_pb2_grpc.StatusReporterServiceServicer):
    """Serves quantum.plugin.v1.StatusReporterService.

    ``identities`` None: no client certificates (plain-text internal listener), so the
    request's ``backend`` field is taken at its word.
    """

    def __init__(
        self, store: Store, backends: frozenset[str], identities: BackendIdentities | None = None
    ) -> None:
        self._store = store
        self._backends = backends
        self._identities = identities

    async def ReportStatus(
        self, request: pb.ReportStatusRequest, context: Context
    ) -> pb.ReportStatusResponse:
        backend = self._reporter(request.backend, context)
        tally = await receive_report(self._store, self._backends, backend, request.statuses)
        return pb.ReportStatusResponse(
            applied=tally.applied, ignored=tally.ignored, rejected=tally.rejected
        )

    def _reporter(self, claimed: str, context: Context) -> str:
        """The back-end making this call. Raises BackendNotOwner when its certificate names
        no configured back-end, or another one than ``claimed``."""
        if self._identities is None:
            return claimed
        backend = self._identities.backend_of(context.auth_context())
        if backend is None:
            raise BackendNotOwner(
                "the client certificate names no configured back-end", field="backend"
            )
        if claimed and claimed != backend:
            raise BackendNotOwner(
                f"the client certificate is back-end {backend!r}'s, not {claimed!r}'s",
                field="backend",
            )
        return backend
