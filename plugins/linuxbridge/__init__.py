"""The ``linuxbridge`` back-end and its host agent: a real datapath of Linux bridges.

The back-end (:mod:`.backend`, served by :func:`build_linuxbridge_server`) holds networks
and ports and tells each host's agent what to wire; the agent (:mod:`.agent`) wires it with
netlink (:mod:`.datapath`): one bridge per network per host, taps enslaved, tc QoS.
"""

from quantum_plugins.linuxbridge.backend import LinuxBridgeBackend
from quantum_plugins.linuxbridge.server import build_linuxbridge_server

__all__ = ["LinuxBridgeBackend", "build_linuxbridge_server"]
