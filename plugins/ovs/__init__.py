"""The ``ovs`` back-end and its host agent: Open vSwitch integration bridges, VLAN per network.

The back-end (:mod:`.backend`, served by :func:`build_ovs_server`) allocates each network a
VLAN (kept in its own store, a SQLite file) and tells each host's agent what to wire, over
the same agent protocol as linuxbridge; the agent (:mod:`.agent`) follows its OVSDB with
ovsdbapp and tags ports, and cuts off and polices them with OpenFlow (docs/ovs.md).
"""

from quantum_plugins.ovs.backend import OvsBackend
from quantum_plugins.ovs.server import build_ovs_server

__all__ = ["OvsBackend", "build_ovs_server"]
