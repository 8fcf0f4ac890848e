"""End to end: the ovs back-end and its agent on real Open vSwitch (userspace datapath).

Every status change is observed through WatchStatus (tests/linuxbridge/watch.py); traffic
runs between "VM" namespaces through the integration bridge of a "hypervisor" namespace,
which has its own ovsdb-server and ovs-vswitchd.
"""

from __future__ import annotations

import time
import uuid

import pytest

from quantum_api.v1 import port_pb2
from quantum_plugins.common.reasons import (
    REASON_ADMIN_DOWN,
    REASON_AGENT_NOT_RUNNING,
    REASON_INTERFACE_DOWN,
    REASON_NOT_FOUND,
)
from quantum_plugins.ovs.names import DEAD_VLAN
from tests.linuxbridge.conftest import HEARTBEAT, Stack
from tests.linuxbridge.steps import all_reach, network_spans_two_hypervisors, plugged, tear_down
from tests.linuxbridge.watch import ACTIVE, AVAILABLE, DOWN

from .lab import OvsLab

pytestmark = pytest.mark.root

#: Figures the tests measured, printed at the end of each test (run with -s to see them).
FIGURES: dict[str, float] = {}
#: The policed rate (kbit/s): high enough that the meter's burst is a small share of a 2 s
#: measurement, low enough to be far below what the userspace datapath carries.
QOS_KBPS = 10_000
#: One database is enough for the tests whose subject is the datapath, not the core.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_ping_isolation_and_admin_down(ovs_stack: Stack, ovs_lab: OvsLab) -> None:
    lab, api, watch = ovs_lab, ovs_stack.api, ovs_stack.watch
    hv = lab.hypervisor("hv1")
    vm1, vm2, vm3 = lab.vm(hv, 1), lab.vm(hv, 2), lab.vm(hv, 3)
    started = time.monotonic()
    ovs_stack.start_agent("hv1", hv)
    net_a = (await api.create_network("a")).id
    net_b = (await api.create_network("b")).id
    p1 = await plugged(ovs_stack, net_a, vm1, qos=port_pb2.QosPolicy(rate_kbps=QOS_KBPS))
    p2 = await plugged(ovs_stack, net_a, vm2)
    p3 = await plugged(ovs_stack, net_b, vm3)
    for port_id in (p1, p2, p3):
        await watch.port(port_id, ACTIVE)
    # From the agent's start (a process start, while the ports are plugged).
    FIGURES["agent_start_to_active_s"] = time.monotonic() - started
    # ACTIVE means packets flow already: reachable at once (a probe retries every 50 ms).
    assert await all_reach(lab, [(vm1, vm2), (vm2, vm1)], timeout=1.0) == [True, True]
    tags = lab.tags(hv)
    assert tags[vm1.tap] == tags[vm2.tap] != tags[vm3.tap]
    assert {tags[vm1.tap], tags[vm3.tap]} <= set(range(100, 200))
    # Same subnet: only the VLANs keep network B's VM apart.
    assert await all_reach(lab, [(vm3, vm1), (vm3, vm2), (vm1, vm3)], timeout=1.5) == [
        False,
        False,
        False,
    ]

    # Admin down: the dead VLAN, cut off; admin up: back on its network's VLAN.
    await api.update_port(p2, admin_state_up=False)
    down = await watch.port(p2, DOWN, REASON_ADMIN_DOWN)
    assert down.link_status == port_pb2.LINK_STATUS_DOWN
    assert lab.tags(hv)[vm2.tap] == DEAD_VLAN
    assert await all_reach(lab, [(vm1, vm2), (vm2, vm1)], timeout=1.5) == [False, False]
    await api.update_port(p2, admin_state_up=True)
    await watch.port(p2, ACTIVE)
    assert await all_reach(lab, [(vm1, vm2), (vm2, vm1)], timeout=1.0) == [True, True]

    # A port plugged once the agent runs: the time from the plug to ACTIVE.
    vm4 = lab.vm(hv, 4)
    plug = time.monotonic()
    p4 = await plugged(ovs_stack, net_a, vm4)
    await watch.port(p4, ACTIVE)
    FIGURES["plug_to_active_s"] = time.monotonic() - plug
    assert await all_reach(lab, [(vm4, vm1)], timeout=1.0) == [True]

    await tear_down(ovs_stack, [p1, p2, p3, p4], [p1, p2, p3, p4], [net_a, net_b])
    # Interfaces bound to no port are dead, and no meter is left (p1 had one).
    assert set(lab.tags(hv).values()) == {DEAD_VLAN}
    assert lab.state(hv)["meters"] == []
    print(f"\nfigures: {FIGURES}")


@sqlite_only
async def test_interface_id_not_found_then_appears_and_goes_down(
    ovs_stack: Stack, ovs_lab: OvsLab
) -> None:
    lab, api, watch = ovs_lab, ovs_stack.api, ovs_stack.watch
    hv = lab.hypervisor("hv1")
    peer = lab.vm(hv, 2)
    ovs_stack.start_agent("hv1", hv)
    network = (await api.create_network("late")).id
    p_peer = await plugged(ovs_stack, network, peer)
    await watch.port(p_peer, ACTIVE)

    # Plugged before the hypervisor has an interface with that iface-id.
    interface_id = str(uuid.uuid4())
    port = await api.create_port(network)
    await api.plug(port.id, interface_id)
    await watch.port(port.id, DOWN, REASON_NOT_FOUND)
    assert watch.attachments[port.id].status == AVAILABLE

    # The VM boots: os-vif adds its port to br-int; the agent tags it; ACTIVE.
    vm = lab.vm(hv, 1, interface_id=interface_id)
    await watch.port(port.id, ACTIVE)
    assert await all_reach(lab, [(vm, peer), (peer, vm)], timeout=1.0) == [True, True]

    # Its link drops (link_state down in OVSDB), then comes back.
    lab.set_vm_link(vm, up=False)
    await watch.port(port.id, DOWN, REASON_INTERFACE_DOWN)
    lab.set_vm_link(vm, up=True)
    await watch.port(port.id, ACTIVE)

    # The VM goes, and its port with it: not found again.
    lab.delete_vm(vm)
    await watch.port(port.id, DOWN, REASON_NOT_FOUND)
    await tear_down(ovs_stack, [port.id, p_peer], [port.id, p_peer], [network])


@sqlite_only
async def test_qos_then_agent_killed_and_restarted_losing_no_packet(
    ovs_stack: Stack, ovs_lab: OvsLab
) -> None:
    lab, api, watch = ovs_lab, ovs_stack.api, ovs_stack.watch
    hv = lab.hypervisor("hv1")
    vm1, vm2, vm3 = lab.vm(hv, 1), lab.vm(hv, 2), lab.vm(hv, 3)
    ovs_stack.start_agent("hv1", hv)
    network = (await api.create_network("a")).id
    ports = [await plugged(ovs_stack, network, vm) for vm in (vm1, vm2, vm3)]
    p1, p2, p3 = ports
    # QoS on p2 polices what vm2 sends (OVS ingress policing), measured on the wire.
    await api.update_port(p2, qos=port_pb2.QosPolicy(rate_kbps=QOS_KBPS))
    for port_id in ports:
        await watch.port(port_id, ACTIVE)
    policed = await lab.throughput(vm2, vm1, seconds=1.5) * 1000  # kbit/s of UDP payload
    FIGURES["qos_limit_kbps"] = QOS_KBPS
    FIGURES["qos_measured_kbps"] = policed
    assert abs(policed - QOS_KBPS) <= 0.10 * QOS_KBPS, f"{policed:.0f} kbit/s vs {QOS_KBPS}"
    wired = lab.state(hv)

    # Echoed datagrams every 10 ms between two healthy VMs, across the kill and restart.
    stream = await lab.stream(vm1, vm2)
    killed = ovs_stack.kill_agent("hv1")
    seen = await watch.until(
        lambda: all(
            watch.ports[p].status == DOWN
            and watch.ports[p].link_status_reason == REASON_AGENT_NOT_RUNNING
            for p in ports
        ),
        "agent not running",
    )
    FIGURES["agent_not_running_s"] = seen - killed
    # Three missed heartbeats, plus the back-end's check tick and the core's dispatch.
    assert seen - killed < 3 * HEARTBEAT + 1.5

    # While the agent is away vm3 is unplugged: only the restarted agent can cut it off.
    await api.unplug(p3)
    await watch.unplugged(p3)
    restarted = time.monotonic()
    ovs_stack.start_agent("hv1", hv)
    await watch.port(p1, ACTIVE)
    await watch.port(p2, ACTIVE)
    FIGURES["agent_restart_to_active_s"] = time.monotonic() - restarted
    flow = await stream.result()
    FIGURES["stream_gap_s"] = flow["gap"]
    FIGURES["stream_lost"] = flow["sent"] - flow["echoed"]
    assert flow["echoed"] == flow["sent"], flow
    assert flow["gap"] < 0.5, flow

    assert lab.tags(hv)[vm3.tap] == DEAD_VLAN
    assert await all_reach(lab, [(vm3, vm1)], timeout=1.5) == [False]
    after = lab.state(hv)
    # vm1 and vm2 kept their tags, vm2 its meter: nothing was rewired.
    assert {k: after["tags"][k] for k in (vm1.tap, vm2.tap)} == {
        k: wired["tags"][k] for k in (vm1.tap, vm2.tap)
    }
    assert after["meters"] == wired["meters"]
    await tear_down(ovs_stack, [p1, p2], ports, [network])
    print(f"\nfigures: {FIGURES}")


@sqlite_only
async def test_a_network_spans_two_hypervisors(ovs_stack: Stack, ovs_lab: OvsLab) -> None:
    figures = await network_spans_two_hypervisors(ovs_stack, ovs_lab)
    print(f"\nfigures: {figures}")
