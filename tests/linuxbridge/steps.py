"""Steps the end-to-end tests share (linuxbridge and OVS): plug, probe, tear down, and
the conformance suite's interfaces as VMs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from quantum_api.v1 import network_service_pb2 as net_pb, port_service_pb2 as port_pb
from tests.helpers import eventually

from .conftest import Stack
from .lab import Lab, Vm
from .watch import ACTIVE

__all__ = [
    "LabInterfaces",
    "all_reach",
    "network_spans_two_hypervisors",
    "plugged",
    "print_logs",
    "tear_down",
]


async def plugged(stack: Stack, network_id: str, vm: Vm, **port: Any) -> str:
    """Create a port on ``network_id`` and plug ``vm``'s interface into it; the port id."""
    created = await stack.api.create_port(network_id, **port)
    await stack.api.plug(created.id, vm.interface_id)
    return str(created.id)


async def tear_down(
    stack: Stack, plugged_ports: list[str], ports: list[str], networks: list[str]
) -> None:
    """Unplug, delete the ports, delete the networks, each step confirmed by the watch."""
    api, watch = stack.api, stack.watch
    for port_id in plugged_ports:
        await api.unplug(port_id)
    for port_id in plugged_ports:
        await watch.unplugged(port_id)
    for port_id in ports:
        await api.ports.DeletePort(port_pb.DeletePortRequest(port_id=port_id), metadata=api.md)
    for network_id in networks:
        await api.networks.DeleteNetwork(
            net_pb.DeleteNetworkRequest(network_id=network_id), metadata=api.md
        )
    await watch.gone(ports, networks)


async def all_reach(lab: Lab, pairs: list[tuple[Vm, Vm]], timeout: float = 3.0) -> list[bool]:
    """Probe several (source, destination) pairs at once."""
    return list(await asyncio.gather(*(lab.reaches(a, b, timeout) for a, b in pairs)))


def print_logs(folder: Path) -> None:
    """Print the tail of every log in ``folder``."""
    for log in sorted(folder.glob("*.log")):
        print(f"----- {log.name} -----\n{log.read_text()[-4000:]}")


class LabInterfaces:
    """Interfaces as VMs: a namespace whose veth peer is the tap in the hypervisor."""

    def __init__(self, lab: Lab, hypervisor: str) -> None:
        self._lab = lab
        self._hypervisor = hypervisor
        self._vms: dict[str, Vm] = {}
        self._made = 0

    async def create(self, interface_id: str) -> None:
        self._made += 1
        vm = await asyncio.to_thread(
            self._lab.vm, self._hypervisor, 10 + self._made % 200, interface_id
        )
        self._vms[interface_id] = vm

    async def remove(self, interface_id: str) -> None:
        vm = self._vms.pop(interface_id, None)
        if vm is not None:
            await asyncio.to_thread(self._lab.delete_vm, vm)


async def network_spans_two_hypervisors(stack: Stack, lab: Lab) -> dict[str, float]:
    """Two hypervisors joined by an underlay, two networks each with a VM on both: VMs of
    a network reach each other across hosts, VMs of different networks do not; a network's
    tunnels go when its last port on a host does. Returns the figures it measured."""
    api, watch = stack.api, stack.watch
    hv1, hv2 = lab.hypervisor("hv1"), lab.hypervisor("hv2")
    underlay = lab.underlay(hv1, hv2)
    vm1, vm4 = lab.vm(hv1, 1), lab.vm(hv1, 4)
    vm2, vm3 = lab.vm(hv2, 2), lab.vm(hv2, 3)
    started = time.monotonic()
    for host, ns in (("hv1", hv1), ("hv2", hv2)):
        stack.start_agent(host, ns, tunnel_ip=underlay[ns])
    net_a = (await api.create_network("a")).id
    net_b = (await api.create_network("b")).id
    ports_a = [await plugged(stack, net_a, vm) for vm in (vm1, vm2)]
    ports_b = [await plugged(stack, net_b, vm) for vm in (vm3, vm4)]
    for port_id in ports_a + ports_b:
        await watch.port(port_id, ACTIVE)
    # From the agents' start (a process start each, while the ports are plugged).
    figures = {"two_hosts_agents_start_to_active_s": time.monotonic() - started}
    assert await all_reach(lab, [(vm1, vm2), (vm2, vm1), (vm3, vm4), (vm4, vm3)]) == [True] * 4
    figures["two_hosts_agents_start_to_reach_s"] = time.monotonic() - started
    # Same subnet everywhere: only the segments keep the networks apart, on a host and
    # across hosts.
    crossing = [(vm1, vm3), (vm1, vm4), (vm2, vm3), (vm2, vm4), (vm4, vm1)]
    assert await all_reach(lab, crossing, timeout=1.5) == [False] * len(crossing)
    assert len(lab.tunnels(hv1)) == len(lab.tunnels(hv2)) == 2  # one per network (and peer)

    # Network A's last port on hv2 leaves: A's tunnel goes on both hosts, B's stays.
    await api.unplug(ports_a[1])
    await watch.unplugged(ports_a[1])

    async def tunnels() -> tuple[int, int]:
        return len(lab.tunnels(hv1)), len(lab.tunnels(hv2))

    await eventually(tunnels, lambda counts: counts == (1, 1))
    assert await all_reach(lab, [(vm3, vm4)]) == [True]
    await tear_down(stack, [ports_a[0], *ports_b], ports_a + ports_b, [net_a, net_b])
    await eventually(tunnels, lambda counts: counts == (0, 0))
    return figures
