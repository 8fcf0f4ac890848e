"""Build and start the linuxbridge back-end's gRPC server."""

from __future__ import annotations

from typing import Any

import grpc
from grpc_reflection.v1alpha import reflection

from quantum_api.linuxbridge.v1 import agent_service_pb2, agent_service_pb2_grpc
from quantum_api.plugin.v1 import backend_pb2_grpc
from quantum_plugins.common.health import BACKEND_SERVICE, HEALTH_SERVICE, add_health_servicer
from quantum_plugins.common.reporter import StatusSender
from quantum_plugins.common.tls import bind
from quantum_plugins.linuxbridge.backend import LinuxBridgeBackend

__all__ = ["AGENT_SERVICE", "build_linuxbridge_server"]

#: The full name of the service agents call.
AGENT_SERVICE: str = agent_service_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name

# Agents hold a WatchBindings stream open for good; keepalive pings let both ends notice a
# peer that vanished without closing its connection (a hypervisor that lost power).
_OPTIONS = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
]


async def build_linuxbridge_server(
    *,
    listen: str = "127.0.0.1:0",
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
    ``reporter_credentials`` are what reports to the core go with.
    """
    if reporter_credentials is not None and "sender" not in options:
        options["sender"] = StatusSender(
            options.get("name", "linuxbridge"), credentials=reporter_credentials
        )
    backend = LinuxBridgeBackend(**options)
    server = grpc.aio.server(options=_OPTIONS)
    backend_pb2_grpc.add_BackendServiceServicer_to_server(backend, server)
    agent_service_pb2_grpc.add_AgentServiceServicer_to_server(backend, server)
    health = await add_health_servicer(server, [BACKEND_SERVICE, AGENT_SERVICE])
    reflection.enable_server_reflection(
        [BACKEND_SERVICE, AGENT_SERVICE, HEALTH_SERVICE, reflection.SERVICE_NAME], server
    )
    port = bind(server, listen, server_credentials)
    await server.start()
    backend.attach_server(server, health)
    backend.start()
    return server, port, backend
