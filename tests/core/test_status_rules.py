"""The port status derivation, as port.proto states it."""

from __future__ import annotations

import itertools

import pytest

from quantum_grpc.service.status_rules import (
    AttachmentStatus,
    LinkStatus,
    PortFacts,
    PortStatus,
    derive_port_status,
)


def expected(facts: PortFacts) -> PortStatus:
    """The rule in words: ERROR, else PROVISIONING, else ACTIVE only when all is well."""
    if facts.failed:
        return PortStatus.ERROR
    if not facts.create_confirmed:
        return PortStatus.PROVISIONING
    all_well = (
        facts.admin_state_up
        and facts.link_status is LinkStatus.UP
        and facts.attachment_status is AttachmentStatus.AVAILABLE
    )
    return PortStatus.ACTIVE if all_well else PortStatus.DOWN


CASES = [
    PortFacts(confirmed, failed, admin, link, attachment)
    for confirmed, failed, admin, link, attachment in itertools.product(
        [True, False], [True, False], [True, False], list(LinkStatus), [None, *AttachmentStatus]
    )
]


@pytest.mark.parametrize("facts", CASES, ids=str)
def test_derivation_matches_the_contract(facts: PortFacts) -> None:
    assert derive_port_status(facts) is expected(facts)


def test_admin_down_is_never_active() -> None:
    for facts in CASES:
        if not facts.admin_state_up:
            assert derive_port_status(facts) is not PortStatus.ACTIVE
