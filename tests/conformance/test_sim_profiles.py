"""The conformance suite against every sim profile: the same outcome whatever the plugin."""

from __future__ import annotations

import pytest

from quantum_plugins.conformance.runner import run_conformance
from quantum_plugins.conformance.scenarios import SCENARIOS

PROFILES = {
    "sync": {},
    "async": {"step_delay": 0.02},
    "mixed": {"step_delay": 0.02},
    "faulty-0%": {"failure_rate": 0.0, "step_delay": 0.02},
}


@pytest.mark.parametrize("profile", list(PROFILES))
async def test_every_scenario_passes(sim_factory, database_url: str, profile: str) -> None:
    options = PROFILES[profile]
    sim = await sim_factory(profile.split("-")[0], **options)
    results = await run_conformance(sim.target.target, timeout=20, database_url=database_url)
    failures = [f"{r.scenario} ({r.policy}): {r.detail}" for r in results if not r.passed]
    assert not failures, "\n".join(failures)
    assert {r.scenario for r in results} == {s.name for s in SCENARIOS}
