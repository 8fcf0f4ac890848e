"""Fixtures of the OVS end-to-end tests: an OVS lab, the ovs back-end, agents and a core.

Built on the linuxbridge tests' machinery (tests/linuxbridge/conftest.py): the back-end and
the agents run as real subprocesses over mTLS, the core in-process on both databases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import grpc
import pytest

from tests.conftest import CoreFactory
from tests.helpers import need
from tests.linuxbridge.certs import LabPki
from tests.linuxbridge.conftest import Stack, open_stack, pytest_runtest_makereport

from .lab import OvsLab, prerequisites

__all__ = ["backend_options", "pytest_runtest_makereport"]


def backend_options(logs: Path) -> tuple[str, ...]:
    """The ovs back-end's options in the lab: its store in the test's folder."""
    return ("--state-file", str(logs / "ovs-backend.sqlite"), "--vlan-range", "100:199")


@pytest.fixture
def ovs_lab() -> Iterator[OvsLab]:
    """A fresh OVS lab; skipped (failed under CI=true) without root, netns or OVS."""
    problem = prerequisites()
    need(problem is None, problem or "")
    made = OvsLab()
    try:
        yield made
    finally:
        made.cleanup()


@pytest.fixture
def ovs_pki(tmp_path: Path) -> LabPki:
    """The lab's CA and certificates, the back-end's naming "ovs"."""
    return LabPki(tmp_path / "pki", backend_name="ovs")


@pytest.fixture
async def ovs_stack(
    ovs_lab: OvsLab,
    tmp_path: Path,
    ovs_pki: LabPki,
    core_factory: CoreFactory,
    channel_factory: Callable[[str], grpc.aio.Channel],
    request: pytest.FixtureRequest,
) -> AsyncIterator[Stack]:
    """An ovs back-end subprocess and an in-process core, over mTLS."""
    async with open_stack(
        ovs_lab,
        tmp_path,
        ovs_pki,
        core_factory,
        channel_factory,
        request,
        kind="ovs",
        backend_extra=backend_options(tmp_path),
        where=ovs_lab.where,
    ) as made:
        yield made
