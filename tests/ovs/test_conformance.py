"""The conformance suite against the ovs back-end, with VMs on real Open vSwitch, on both
databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantum_plugins.conformance.runner import run_conformance
from quantum_plugins.conformance.scenarios import SCENARIOS
from quantum_plugins.ovs.names import DEAD_VLAN
from tests.linuxbridge.certs import LabPki
from tests.linuxbridge.conftest import start_agent, start_backend
from tests.linuxbridge.steps import LabInterfaces, print_logs

from .conftest import backend_options
from .lab import OvsLab

pytestmark = pytest.mark.root


async def test_ovs_passes_every_scenario(
    ovs_lab: OvsLab, tmp_path: Path, ovs_pki: LabPki, database_url: str
) -> None:
    hv = ovs_lab.hypervisor("hv")
    _backend, address = await start_backend(
        ovs_lab, tmp_path, ovs_pki, kind="ovs", extra=backend_options(tmp_path)
    )
    start_agent(ovs_lab, tmp_path, ovs_pki, "hv1", hv, address, kind="ovs", where=ovs_lab.where(hv))
    results = await run_conformance(
        address,
        interfaces=LabInterfaces(ovs_lab, hv),
        timeout=20,
        database_url=database_url,
        internal_tls=ovs_pki.core_tls(),
    )
    print({r.scenario: round(r.seconds, 2) for r in results})
    failures = [f"{r.scenario} ({r.policy}): {r.detail}" for r in results if not r.passed]
    if failures:
        print_logs(tmp_path)
    assert not failures, "\n".join(failures)
    assert {r.scenario for r in results} == {s.name for s in SCENARIOS}
    # Every scenario removed its VMs (their ports) and resources: nothing is tagged for a
    # network any more, and no meter is left.
    assert set(ovs_lab.tags(hv).values()) <= {DEAD_VLAN}
    assert ovs_lab.state(hv)["meters"] == []
