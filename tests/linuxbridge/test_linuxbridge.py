"""End to end: the linuxbridge back-end and its agent on a real datapath, in namespaces.

Every status change is observed through WatchStatus (see watch.py); traffic runs between
"VM" namespaces through the bridges the agent builds in a "hypervisor" namespace.
"""

from __future__ import annotations

import time
import uuid

import pytest

from quantum_api.v1 import (
    port_pb2,
)
from quantum_grpc.service.status_rules import REASON_BACKEND_UNAVAILABLE
from quantum_plugins.linuxbridge.names import (
    REASON_ADMIN_DOWN,
    REASON_AGENT_NOT_RUNNING,
    REASON_INTERFACE_DOWN,
    REASON_NOT_FOUND,
    bridge_name,
)
from tests.helpers import eventually

from .conftest import Stack, start_agent
from .lab import Lab
from .steps import all_reach, plugged, tear_down
from .watch import ACTIVE, AVAILABLE, DOWN

pytestmark = pytest.mark.root

#: Figures the tests measured, printed at the end of each test (run with -s to see them).
FIGURES: dict[str, float] = {}


async def test_isolation_admin_state_and_qos(stack: Stack, lab: Lab) -> None:
    hv = lab.hypervisor("hv1")
    vm1, vm2, vm3 = lab.vm(hv, 1), lab.vm(hv, 2), lab.vm(hv, 3)
    clean = lab.state(hv)
    stack.start_agent("hv1", hv)
    api, watch = stack.api, stack.watch
    net_a = (await api.create_network("a")).id
    net_b = (await api.create_network("b")).id
    qos = port_pb2.QosPolicy(rate_kbps=1000)
    p1 = await plugged(stack, net_a, vm1, qos=qos)
    p2 = await plugged(stack, net_a, vm2)
    p3 = await plugged(stack, net_b, vm3)
    for port_id in (p1, p2, p3):
        await watch.port(port_id, ACTIVE)
    assert lab.bridges(hv) == sorted([bridge_name(net_a), bridge_name(net_b)])

    # Network A carries UDP both ways; the VM on network B reaches neither (same subnet,
    # so only the bridges keep them apart).
    assert await all_reach(lab, [(vm1, vm2), (vm2, vm1)]) == [True, True]
    assert await all_reach(lab, [(vm3, vm1), (vm3, vm2), (vm1, vm3)], timeout=1.5) == [
        False,
        False,
        False,
    ]

    # QoS 1 Mbit/s on p1 (applied before ACTIVE): what reaches vm1 is shaped.
    shaped = await lab.throughput(vm2, vm1)
    FIGURES["qos_1mbit_mbps"] = shaped
    assert shaped < 1.5, f"{shaped:.2f} Mbit/s through a 1 Mbit/s port"

    # Admin down: the port goes DOWN and vm1 is cut off.
    await api.update_port(p1, admin_state_up=False)
    down = await watch.port(p1, DOWN, REASON_ADMIN_DOWN)
    assert down.link_status == port_pb2.LINK_STATUS_DOWN
    assert await all_reach(lab, [(vm2, vm1), (vm1, vm2)], timeout=1.5) == [False, False]

    # Admin up and QoS removed in one change: ACTIVE means the agent applied both.
    await api.update_port(p1, admin_state_up=True, qos=port_pb2.QosPolicy(rate_kbps=0))
    await watch.port(p1, ACTIVE)
    assert await all_reach(lab, [(vm2, vm1), (vm1, vm2)]) == [True, True]
    free = await lab.throughput(vm2, vm1)
    FIGURES["no_qos_mbps"] = free
    assert free >= 10 * shaped, f"{free:.2f} Mbit/s without QoS vs {shaped:.2f} with it"

    await tear_down(stack, [p1, p2, p3], [p1, p2, p3], [net_a, net_b])
    assert lab.state(hv) == clean
    print(f"\nfigures: {FIGURES}")


async def test_tap_appears_late_goes_down_and_vanishes(stack: Stack, lab: Lab) -> None:
    hv = lab.hypervisor("hv1")
    clean = lab.state(hv)
    stack.start_agent("hv1", hv)
    api, watch = stack.api, stack.watch
    network = (await api.create_network("late")).id
    peer = lab.vm(hv, 2)
    p_peer = await plugged(stack, network, peer)
    await watch.port(p_peer, ACTIVE)

    # The interface is plugged before its tap exists: no agent sees it.
    interface_id = str(uuid.uuid4())
    port = await api.create_port(network)
    await api.plug(port.id, interface_id)
    found = await watch.port(port.id, DOWN, REASON_NOT_FOUND)
    assert watch.attachments[port.id].status == AVAILABLE

    # The VM boots: its tap appears, the agent wires it, the port goes ACTIVE.
    vm = lab.vm(hv, 1, interface_id=interface_id)
    await watch.port(port.id, ACTIVE)
    assert found.link_status == port_pb2.LINK_STATUS_DOWN
    assert await all_reach(lab, [(vm, peer), (peer, vm)]) == [True, True]

    # The VM takes its interface down: the tap loses carrier.
    lab.set_vm_link(vm, up=False)
    await watch.port(port.id, DOWN, REASON_INTERFACE_DOWN)
    lab.set_vm_link(vm, up=True)
    await watch.port(port.id, ACTIVE)

    # The VM goes away with its tap: not found again.
    lab.delete_vm(vm)
    await watch.port(port.id, DOWN, REASON_NOT_FOUND)

    await tear_down(stack, [port.id, p_peer], [port.id, p_peer], [network])
    assert lab.state(hv) == clean


async def test_agent_killed_and_restarted(stack: Stack, lab: Lab) -> None:
    hv = lab.hypervisor("hv1")
    vm1, vm2, vm3 = lab.vm(hv, 1), lab.vm(hv, 2), lab.vm(hv, 3)
    clean = lab.state(hv)
    stack.start_agent("hv1", hv)
    api, watch = stack.api, stack.watch
    network = (await api.create_network("a")).id
    ports = [await plugged(stack, network, vm) for vm in (vm1, vm2, vm3)]
    p1, p2, p3 = ports
    await api.update_port(p2, qos=port_pb2.QosPolicy(rate_kbps=50_000))
    for port_id in ports:
        await watch.port(port_id, ACTIVE)

    killed = stack.kill_agent("hv1")
    seen = await watch.until(
        lambda: all(
            watch.ports[p].link_status_reason == REASON_AGENT_NOT_RUNNING
            and watch.ports[p].status == DOWN
            for p in ports
        ),
        "agent not running",
        timeout=15,
    )
    FIGURES["agent_not_running_s"] = seen - killed
    assert seen - killed < 15
    # The datapath outlives the agent: VMs keep talking.
    assert await all_reach(lab, [(vm1, vm2)]) == [True]

    # While the agent is away: vm3 is unplugged and someone leaves a stray bridge behind.
    await api.unplug(p3)
    await watch.unplugged(p3)
    stray = "brqdeadbeef-00"
    lab.add_bridge(hv, stray)

    restarted = time.monotonic()
    stack.start_agent("hv1", hv)
    await watch.port(p1, ACTIVE)
    await watch.port(p2, ACTIVE)
    FIGURES["agent_restart_to_active_s"] = time.monotonic() - restarted
    assert await all_reach(lab, [(vm1, vm2), (vm2, vm1)]) == [True, True]
    assert await all_reach(lab, [(vm3, vm1)], timeout=1.5) == [False]
    bridge = bridge_name(network)
    assert lab.bridges(hv) == [bridge]  # one bridge: no duplicate, the stray one is gone
    assert lab.masters(hv) == {vm1.tap: bridge, vm2.tap: bridge}  # vm3's tap released
    assert (vm2.tap, "tbf") in lab.qdiscs(hv)

    await tear_down(stack, [p1, p2], ports, [network])
    assert lab.state(hv) == clean
    print(f"\nfigures: {FIGURES}")


async def test_backend_restart_leaves_the_datapath_alone(stack: Stack, lab: Lab) -> None:
    hv = lab.hypervisor("hv1")
    vm1, vm2 = lab.vm(hv, 1), lab.vm(hv, 2)
    stack.start_agent("hv1", hv)
    api, watch = stack.api, stack.watch
    network = (await api.create_network("a")).id
    ports = [await plugged(stack, network, vm) for vm in (vm1, vm2)]
    for port_id in ports:
        await watch.port(port_id, ACTIVE)
    wired = lab.state(hv)

    # The back-end starts over with nothing in memory: the core sees it go, ports go DOWN.
    mark = watch.mark()
    await stack.restart_backend()
    await watch.until(
        lambda: all(watch.passed_through(mark, p, DOWN, REASON_BACKEND_UNAVAILABLE) for p in ports),
        "ports DOWN while the back-end is away",
    )
    # The agent does not tear its host down to match the empty newcomer: VMs keep talking
    # while the core resynchronises the back-end, and the ports come back ACTIVE.
    assert await all_reach(lab, [(vm1, vm2)]) == [True]
    for port_id in ports:
        await watch.port(port_id, ACTIVE)
    assert lab.state(hv) == wired
    assert await all_reach(lab, [(vm1, vm2), (vm2, vm1)]) == [True, True]


async def test_a_second_agent_for_a_live_host_is_refused_until_the_first_stops(
    stack: Stack, lab: Lab
) -> None:
    hv = lab.hypervisor("hv1")
    vm1, vm2 = lab.vm(hv, 1), lab.vm(hv, 2)
    stack.start_agent("hv1", hv)
    api, watch = stack.api, stack.watch
    network = (await api.create_network("a")).id
    ports = [await plugged(stack, network, vm) for vm in (vm1, vm2)]
    for port_id in ports:
        await watch.port(port_id, ACTIVE)

    # A second agent with a valid certificate for the same host: refused, not preferred.
    mark = watch.mark()
    second_log = stack.logs / "agent-hv1-second.log"
    second = start_agent(
        lab, stack.logs, stack.pki, "hv1", hv, stack.backend_address, log=second_log.name
    )

    async def second_says() -> str:
        return second_log.read_text() if second_log.exists() else ""

    await eventually(second_says, lambda text: "already has a live agent" in text, timeout=15)
    assert "registered with back-end" not in await second_says()
    assert all(watch.ports[p].status == ACTIVE for p in ports)
    assert all(p.status == ACTIVE for p in watch.port_history[mark:])  # never evicted

    # The first one stops: its claim lapses at once and the second one takes over.
    stack.kill_agent("hv1")
    await eventually(second_says, lambda text: "registered with back-end" in text, timeout=15)
    stack.agents["hv1"] = second
    for port_id in ports:
        await watch.port(port_id, ACTIVE)
    assert await all_reach(lab, [(vm1, vm2)]) == [True]
    await tear_down(stack, ports, ports, [network])
