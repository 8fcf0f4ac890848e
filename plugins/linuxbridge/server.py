"""Build and start the linuxbridge back-end's gRPC server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc

from quantum_plugins.common.agent_server import (
    AGENT_SERVICE,
    reporter_sender,
    serve_agent_backend,
)
from quantum_plugins.common.segments import MAX_VNI, Range, SegmentStore
from quantum_plugins.linuxbridge.backend import LinuxBridgeBackend

__all__ = ["AGENT_SERVICE", "DEFAULT_VNIS", "build_linuxbridge_server"]

#: The VXLAN VNIs networks get by default.
DEFAULT_VNIS: Range = (1, MAX_VNI)


async def build_linuxbridge_server(
    *,
    listen: str = "127.0.0.1:0",
    state_file: Path | str = ":memory:",
    vnis: Range = DEFAULT_VNIS,
    server_credentials: grpc.ServerCredentials | None = None,
    reporter_credentials: grpc.ChannelCredentials | None = None,
    **options: Any,
) -> tuple[Any, int, LinuxBridgeBackend]:
    """Start a linuxbridge back-end on ``listen`` ("host:0" picks a free port).

    One server carries ``quantum.plugin.v1.BackendService`` (for the core),
    ``quantum.linuxbridge.v1.AgentService`` (for the host agents), grpc.health.v1 and server
    reflection. ``options`` go to :class:`LinuxBridgeBackend`. Returns the started server,
    the bound port and the back-end; stop it all with ``await backend.stop(grace)``.
    Raises RuntimeError if ``listen`` cannot be bound.

    ``server_credentials`` serve both services over mTLS: the core and every agent must
    present a certificate, and an agent's names its host (docs/security.md, "Agents").
    ``reporter_credentials`` are what reports to the core go with. Each network's VXLAN
    VNI comes from ``vnis`` and is kept in ``state_file`` (SQLite; ``":memory:"``, the
    default, keeps nothing: after a restart networks may get other VNIs, and hosts rewire).
    """
    reporter_sender(options, "linuxbridge", reporter_credentials)
    segments = SegmentStore(state_file, vnis)
    try:
        backend = LinuxBridgeBackend(segments=segments, **options)
        server, port = await serve_agent_backend(backend, listen, server_credentials)
    except BaseException:
        segments.close()
        raise
    return server, port, backend
