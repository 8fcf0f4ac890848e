"""The OVS back-end: VLAN per network, bindings out to the agents of the hypervisors.

Everything but the names is :class:`quantum_plugins.common.agent_backend.AgentBackend`
(the same agent protocol as linuxbridge): an interface is known on its host by its
``iface-id``, and each binding carries the network's VLAN, allocated when the network is
created (synchronously: the create's answer already stands on it) and kept in the
back-end's own store (:class:`quantum_plugins.common.segments.SegmentStore`, a SQLite file)
so that a restarted back-end gives every network the same VLAN again. Between hypervisors
the VLAN is also the VXLAN VNI.
"""

from __future__ import annotations

from typing import Any

from quantum_api.plugin.v1 import backend_pb2
from quantum_plugins.common.agent_backend import AgentBackend, Wiring
from quantum_plugins.common.segments import SegmentStore

__all__ = ["AGENT_FAILURE_CODE", "NO_VLAN_CODE", "OvsBackend"]

#: The BackendError code of a binding an agent could not wire.
AGENT_FAILURE_CODE = "OVS_AGENT_FAILED"
#: The BackendError code of a network created when every VLAN of the range is taken.
NO_VLAN_CODE = "OVS_NO_FREE_VLAN"


class OvsBackend(AgentBackend):
    """The agent-driven back-end, with a VLAN per network from ``vlans``."""

    agent_failure_code = AGENT_FAILURE_CODE
    no_segment_code = NO_VLAN_CODE
    datapath = "Open vSwitch integration bridges (VLAN per network)"

    def __init__(self, *, vlans: SegmentStore, name: str = "ovs", **options: Any) -> None:
        """See :class:`AgentBackend` for ``options``; ``vlans`` holds the VLANs."""
        super().__init__(name=name, segments=vlans, **options)
        self.store = vlans

    def wiring(self, port: backend_pb2.PortSpec) -> Wiring:
        """The interface, by iface-id, on the agent's integration bridge."""
        return Wiring(tap=port.interface_id)
