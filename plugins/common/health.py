"""grpc.health.v1 for back-end servers: the core follows it to tell its ports' liveness."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from quantum_api.plugin.v1 import backend_pb2

__all__ = ["BACKEND_SERVICE", "HEALTH_SERVICE", "add_health_servicer", "enter_graceful_shutdown"]

#: The full name of the plugin service, as health checks and reflection know it.
BACKEND_SERVICE: str = backend_pb2.DESCRIPTOR.services_by_name["BackendService"].full_name
#: The full name of the health service itself.
HEALTH_SERVICE: str = health.SERVICE_NAME


async def add_health_servicer(server: Any, services: Iterable[str] = (BACKEND_SERVICE,)) -> Any:
    """Register an asyncio health servicer on ``server``, SERVING for "" and ``services``.

    Returns the servicer (a ``grpc_health.v1.health.aio.HealthServicer``) so the caller can
    flip it to NOT_SERVING when it starts draining.
    """
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    for name in ("", *services):
        await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return servicer


async def enter_graceful_shutdown(servicer: Any) -> None:
    """Report NOT_SERVING for every service, for good: the server is about to stop."""
    await servicer.enter_graceful_shutdown()
