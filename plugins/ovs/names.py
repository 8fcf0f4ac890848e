"""What the OVS back-end and its agent agree on: the bridge, the dead VLAN, the reasons.

A VM interface is an OVSDB ``Interface`` row whose ``external_ids:iface-id`` is the
interface id plugged into a port (as Nova/os-vif set it); agents report interfaces under
that id. Between hypervisors, a network's VLAN travels as VXLAN VNI (the same number) over
one tunnel port per peer host. The link-status reasons are
:mod:`quantum_plugins.common.reasons`'s.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["DEAD_VLAN", "IFACE_ID", "INTEGRATION_BRIDGE", "TUNNEL_PORT", "tunnel_port"]

#: The integration bridge every VM interface of a hypervisor is on (Neutron's name).
INTEGRATION_BRIDGE = "br-int"
#: The external_ids key naming the interface id (Neutron's, os-vif's).
IFACE_ID = "iface-id"
#: Where ports go that must pass no traffic (admin down, unbound): Neutron's dead VLAN,
#: with a drop flow for the port so that dead ports do not reach each other either.
DEAD_VLAN = 4095
#: The VXLAN ports the agent owns on the integration bridge: ``vx<VLAN>-<peer, in hex>``.
TUNNEL_PORT = re.compile(r"^vx\d{1,4}-[0-9a-f]{8}$")


def tunnel_port(vlan: int, peer: str) -> str:
    """The VXLAN port carrying VLAN ``vlan`` to ``peer`` (an IPv4 address): at most 15
    characters, like a device name."""
    return f"vx{vlan}-{int(ipaddress.IPv4Address(peer)):08x}"
