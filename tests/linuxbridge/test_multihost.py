"""A linuxbridge network across two hypervisors, joined by kernel VXLAN devices over a veth
underlay (docs/linuxbridge.md, "Networks across hosts")."""

from __future__ import annotations

import pytest

from .conftest import Stack
from .lab import Lab
from .steps import network_spans_two_hypervisors

pytestmark = pytest.mark.root


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_network_spans_two_hypervisors(stack: Stack, lab: Lab) -> None:
    figures = await network_spans_two_hypervisors(stack, lab)
    print(f"\nfigures: {figures}")
