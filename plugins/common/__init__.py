"""Helpers shared by the Python back-ends (sim, linuxbridge, ovs): status reporting and health;
for back-ends with host agents, the back-end (agent_backend), the agent (agent) and their
command lines, segmentation ids (segments) and link reasons (reasons)."""

from quantum_plugins.common.health import add_health_servicer
from quantum_plugins.common.reporter import StatusSender

__all__ = ["StatusSender", "add_health_servicer"]
