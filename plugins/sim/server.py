"""Build and start the sim back-end's gRPC server."""

from __future__ import annotations

from typing import Any

import grpc
from grpc_reflection.v1alpha import reflection

from quantum_api.plugin.v1 import backend_pb2_grpc
from quantum_plugins.common.health import BACKEND_SERVICE, HEALTH_SERVICE, add_health_servicer
from quantum_plugins.common.reporter import StatusSender
from quantum_plugins.common.tls import bind
from quantum_plugins.sim.backend import SimBackend
from quantum_plugins.sim.profiles import Profile

__all__ = ["build_sim_server"]


async def build_sim_server(
    profile: Profile,
    *,
    name: str = "sim",
    listen: str = "127.0.0.1:0",
    reassert_interval: float = 10.0,
    server_credentials: grpc.ServerCredentials | None = None,
    reporter_credentials: grpc.ChannelCredentials | None = None,
) -> tuple[Any, int, SimBackend]:
    """Start a sim back-end on ``listen`` ("host:0" picks a free port).

    Serves ``quantum.plugin.v1.BackendService``, grpc.health.v1 (SERVING for "" and the
    back-end service) and server reflection, so grpcurl works against it. Returns the
    started ``grpc.aio.Server``, the bound port, and the :class:`SimBackend`; shut it all
    down with ``await backend.stop(grace)``. Raises RuntimeError if ``listen`` cannot be bound.
    ``server_credentials`` serve over (m)TLS; ``reporter_credentials`` are the channel
    credentials reports to the core go with (docs/security.md).
    """
    sender = StatusSender(name, credentials=reporter_credentials)
    backend = SimBackend(profile, name=name, reassert_interval=reassert_interval, sender=sender)
    server = grpc.aio.server()
    backend_pb2_grpc.add_BackendServiceServicer_to_server(backend, server)
    health = await add_health_servicer(server, [BACKEND_SERVICE])
    reflection.enable_server_reflection(
        [BACKEND_SERVICE, HEALTH_SERVICE, reflection.SERVICE_NAME], server
    )
    port = bind(server, listen, server_credentials)
    await server.start()
    backend.attach_server(server, health)
    backend.start()
    return server, port, backend
