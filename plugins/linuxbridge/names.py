"""Device names and link-status reasons shared by the linuxbridge back-end and its agent.

A VM interface is a tap device named as Nova names it: ``tap`` followed by the first 11
characters of the interface id (14 characters, within Linux's 15). Each network gets one
bridge per host, named as Neutron's linuxbridge agent names it: ``brq`` followed by the
first 11 characters of the network id. The agent owns every ``brq*`` bridge of its host and
the master and root qdisc of every ``tap*`` device.
"""

from __future__ import annotations

__all__ = [
    "BRIDGE_PREFIX",
    "ID_CHARS",
    "REASON_ADMIN_DOWN",
    "REASON_AGENT_NOT_RUNNING",
    "REASON_INTERFACE_DOWN",
    "REASON_NOT_FOUND",
    "REASON_NO_ATTACHMENT",
    "TAP_PREFIX",
    "bridge_name",
    "tap_name",
]

TAP_PREFIX = "tap"
BRIDGE_PREFIX = "brq"
#: How many characters of an id go into a device name.
ID_CHARS = 11

#: The port has no interface plugged (the same words as the core's).
REASON_NO_ATTACHMENT = "no attachment"
#: The port's admin_state_up is false; its tap is set down.
REASON_ADMIN_DOWN = "admin down"
#: No agent reported the interface's tap within the grace period.
REASON_NOT_FOUND = "interface-id not found"
#: The agent of the host where the tap lives missed three heartbeats.
REASON_AGENT_NOT_RUNNING = "agent not running"
#: The tap exists and is wired, but its operational state is not UP.
REASON_INTERFACE_DOWN = "interface down"


def tap_name(interface_id: str) -> str:
    """The tap device of a VM interface: ``tap`` + the first 11 characters of its id."""
    return TAP_PREFIX + interface_id[:ID_CHARS]


def bridge_name(network_id: str) -> str:
    """The bridge of a network on a host: ``brq`` + the first 11 characters of its id."""
    return BRIDGE_PREFIX + network_id[:ID_CHARS]
