"""Device names and link-status reasons shared by the linuxbridge back-end and its agent.

A VM interface is a tap device named as Nova names it: ``tap`` followed by the first 11
characters of the interface id (14 characters, within Linux's 15). Each network gets one
bridge per host, named as Neutron's linuxbridge agent names it: ``brq`` followed by the
first 11 characters of the network id. The agent owns every ``brq*`` bridge of its host and
the master and root qdisc of every ``tap*`` device. Between hosts, a network's bridge has a
VXLAN device ``vxlan-<VNI>`` (Neutron's name), which the agent owns too. The link-status
reasons are
:mod:`quantum_plugins.common.reasons`'s, re-exported here.
"""

from __future__ import annotations

from quantum_plugins.common.reasons import (
    REASON_ADMIN_DOWN,
    REASON_AGENT_NOT_RUNNING,
    REASON_INTERFACE_DOWN,
    REASON_NO_ATTACHMENT,
    REASON_NOT_FOUND,
)

__all__ = [
    "BRIDGE_PREFIX",
    "ID_CHARS",
    "REASON_ADMIN_DOWN",
    "REASON_AGENT_NOT_RUNNING",
    "REASON_INTERFACE_DOWN",
    "REASON_NOT_FOUND",
    "REASON_NO_ATTACHMENT",
    "TAP_PREFIX",
    "VXLAN_PREFIX",
    "bridge_name",
    "tap_name",
    "vxlan_name",
]

TAP_PREFIX = "tap"
BRIDGE_PREFIX = "brq"
VXLAN_PREFIX = "vxlan-"
#: How many characters of an id go into a device name.
ID_CHARS = 11


def tap_name(interface_id: str) -> str:
    """The tap device of a VM interface: ``tap`` + the first 11 characters of its id."""
    return TAP_PREFIX + interface_id[:ID_CHARS]


def bridge_name(network_id: str) -> str:
    """The bridge of a network on a host: ``brq`` + the first 11 characters of its id."""
    return BRIDGE_PREFIX + network_id[:ID_CHARS]


def vxlan_name(vni: int) -> str:
    """The VXLAN device joining a network's bridge to other hosts: ``vxlan-`` + its VNI."""
    return f"{VXLAN_PREFIX}{vni}"
