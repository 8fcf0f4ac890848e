"""The link-status reasons of back-ends whose ports are wired by host agents.

The same words for linuxbridge and Open vSwitch (docs/linuxbridge.md, docs/ovs.md), so a
client reads one vocabulary whatever the datapath.
"""

from __future__ import annotations

__all__ = [
    "REASON_ADMIN_DOWN",
    "REASON_AGENT_NOT_RUNNING",
    "REASON_INTERFACE_DOWN",
    "REASON_NOT_FOUND",
    "REASON_NO_ATTACHMENT",
]

#: The port has no interface plugged (the same words as the core's).
REASON_NO_ATTACHMENT = "no attachment"
#: The port's admin_state_up is false; the agent has cut its interface off.
REASON_ADMIN_DOWN = "admin down"
#: No agent reported the interface within the grace period.
REASON_NOT_FOUND = "interface-id not found"
#: The agent of the host where the interface lives missed three heartbeats.
REASON_AGENT_NOT_RUNNING = "agent not running"
#: The interface exists and is wired, but its link is not up.
REASON_INTERFACE_DOWN = "interface down"
