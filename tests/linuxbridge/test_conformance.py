"""The conformance suite against linuxbridge: the same outcomes as the sim, on a real datapath."""

from __future__ import annotations

from pathlib import Path

from quantum_plugins.conformance.runner import run_conformance
from quantum_plugins.conformance.scenarios import SCENARIOS

from .certs import LabPki
from .conftest import start_agent, start_backend
from .lab import Lab
from .steps import LabInterfaces, print_logs


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
        print_logs(tmp_path)
    assert not failures, "\n".join(failures)
    assert {r.scenario for r in results} == {s.name for s in SCENARIOS}
    # Every scenario removed what it made: the host is as clean as it started.
    assert lab.bridges(hypervisor) == []
