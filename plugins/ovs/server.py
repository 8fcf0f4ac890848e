"""Build and start the OVS back-end's gRPC server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc

from quantum_plugins.common.agent_server import reporter_sender, serve_agent_backend
from quantum_plugins.common.segments import Range, SegmentStore
from quantum_plugins.ovs.backend import OvsBackend

__all__ = ["DEFAULT_VLANS", "build_ovs_server"]

#: The VLAN range networks get their VLANs from by default.
DEFAULT_VLANS: Range = (100, 3999)


async def build_ovs_server(
    *,
    listen: str = "127.0.0.1:0",
    state_file: Path | str = ":memory:",
    vlans: Range = DEFAULT_VLANS,
    server_credentials: grpc.ServerCredentials | None = None,
    reporter_credentials: grpc.ChannelCredentials | None = None,
    **options: Any,
) -> tuple[Any, int, OvsBackend]:
    """Start an OVS back-end on ``listen`` ("host:0" picks a free port), keeping its VLAN
    bindings in ``state_file`` (SQLite; ``":memory:"`` keeps nothing).

    Served like linuxbridge (:func:`quantum_plugins.common.agent_server.serve_agent_backend`):
    BackendService and AgentService on one port, over mTLS with ``server_credentials``.
    ``options`` go to :class:`OvsBackend`. Raises RuntimeError if ``listen`` cannot be bound.
    """
    reporter_sender(options, "ovs", reporter_credentials)
    store = SegmentStore(state_file, vlans)
    try:
        backend = OvsBackend(vlans=store, **options)
        server, port = await serve_agent_backend(backend, listen, server_credentials)
    except BaseException:
        store.close()
        raise
    return server, port, backend
