"""Helpers shared by the Python back-ends (sim, linuxbridge): status reporting and health."""

from quantum_plugins.common.health import add_health_servicer
from quantum_plugins.common.reporter import StatusSender

__all__ = ["StatusSender", "add_health_servicer"]
