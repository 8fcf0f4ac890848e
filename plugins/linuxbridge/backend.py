"""The linuxbridge back-end: networks and ports in memory, bindings out to host agents.

Everything but the names is :class:`quantum_plugins.common.agent_backend.AgentBackend`: an
interface is known on its host by its tap (``tap`` + 11 characters of its id), and each
network has its bridge per host (``brq`` + 11 characters of the network id).
"""

from __future__ import annotations

from typing import Any

from quantum_api.plugin.v1 import backend_pb2
from quantum_plugins.common.agent_backend import SYNCHRONOUS_CHANGES, AgentBackend, Wiring
from quantum_plugins.linuxbridge import names

__all__ = ["AGENT_FAILURE_CODE", "SYNCHRONOUS_CHANGES", "LinuxBridgeBackend"]

#: The BackendError code of a binding an agent could not wire.
AGENT_FAILURE_CODE = "LINUXBRIDGE_AGENT_FAILED"


class LinuxBridgeBackend(AgentBackend):
    """The agent-driven back-end, with Linux bridge and tap names."""

    agent_failure_code = AGENT_FAILURE_CODE
    datapath = "Linux bridges on hypervisors"

    def __init__(self, *, name: str = "linuxbridge", **options: Any) -> None:
        """See :class:`AgentBackend` for ``options``."""
        super().__init__(name=name, **options)

    def interface_key(self, interface_id: str) -> str:
        """Agents report taps: the interface's tap name."""
        return names.tap_name(interface_id)

    def wiring(self, port: backend_pb2.PortSpec) -> Wiring:
        """The tap on its network's bridge."""
        return Wiring(
            tap=names.tap_name(port.interface_id), bridge=names.bridge_name(port.network_id)
        )
