"""Serve a back-end whose agents call it: BackendService and AgentService on one port."""

from __future__ import annotations

from typing import Any

import grpc
from grpc_reflection.v1alpha import reflection

from quantum_api.linuxbridge.v1 import agent_service_pb2, agent_service_pb2_grpc
from quantum_api.plugin.v1 import backend_pb2_grpc
from quantum_plugins.common.agent_backend import AgentBackend
from quantum_plugins.common.health import BACKEND_SERVICE, HEALTH_SERVICE, add_health_servicer
from quantum_plugins.common.reporter import StatusSender
from quantum_plugins.common.tls import bind

__all__ = ["AGENT_SERVICE", "reporter_sender", "serve_agent_backend"]

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


def reporter_sender(
    options: dict[str, Any], default_name: str, credentials: grpc.ChannelCredentials | None
) -> None:
    """Give ``options`` a StatusSender reporting over ``credentials`` (unless it has one)."""
    if credentials is not None and "sender" not in options:
        options["sender"] = StatusSender(options.get("name", default_name), credentials=credentials)


async def serve_agent_backend(
    backend: AgentBackend, listen: str, server_credentials: grpc.ServerCredentials | None
) -> tuple[Any, int]:
    """Serve ``backend`` on ``listen`` ("host:0" picks a free port) and start it.

    One server carries ``quantum.plugin.v1.BackendService`` (for the core),
    ``quantum.linuxbridge.v1.AgentService`` (for the host agents), grpc.health.v1 and server
    reflection; over mTLS with ``server_credentials``. Returns the started server and the
    bound port; stop it all with ``await backend.stop(grace)``. Raises RuntimeError if
    ``listen`` cannot be bound.
    """
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
    return server, port
