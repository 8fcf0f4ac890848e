"""The conformance suite against linuxbridge: the same outcomes as the sim, on a real datapath."""

from __future__ import annotations

import asyncio
from pathlib import Path

from quantum_plugins.conformance.runner import run_conformance
from quantum_plugins.conformance.scenarios import SCENARIOS

from .certs import LabPki
from .conftest import start_agent, start_backend
from .lab import Lab, Vm


def _print_logs(folder: Path) -> None:
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


async def test_linuxbridge_passes_every_scenario(lab: Lab, tmp_path: Path, pki: LabPki) -> None:
    hypervisor = lab.hypervisor("hv")
    _backend, address = await start_backend(lab, tmp_path, pki)
    start_agent(lab, tmp_path, pki, "hv1", hypervisor, address)
    # mTLS all the way: the suite's cores dial the back-end and take its reports with it.
    results = await run_conformance(
        address,
        interfaces=LabInterfaces(lab, hypervisor),
        timeout=20,
        internal_tls=pki.core_tls(),
    )
    failures = [f"{r.scenario} ({r.policy}): {r.detail}" for r in results if not r.passed]
    if failures:
        _print_logs(tmp_path)
    assert not failures, "\n".join(failures)
    assert {r.scenario for r in results} == {s.name for s in SCENARIOS}
    # Every scenario removed what it made: the host is as clean as it started.
    assert lab.bridges(hypervisor) == []
