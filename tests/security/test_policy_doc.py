"""docs/security.md prints the policy the server enforces, role for role."""

from __future__ import annotations

import re
from pathlib import Path

from quantum_api.v1 import (
    attachment_service_pb2,
    network_service_pb2,
    port_service_pb2,
    watch_service_pb2,
)
from quantum_grpc.service.policy import POLICY, Role

SECURITY = Path(__file__).resolve().parents[2] / "docs" / "security.md"
CLIENT_MODULES = (network_service_pb2, port_service_pb2, attachment_service_pb2, watch_service_pb2)


def _doc_table() -> dict[str, frozenset[str]]:
    section = re.search(
        r"^## Roles and policy\n(.*?)(?=^## |\Z)", SECURITY.read_text(), re.S | re.M
    )
    assert section, "docs/security.md has no 'Roles and policy' section"
    lines = [line for line in section.group(1).splitlines() if line.startswith("| ")]
    header = [cell.strip().strip("`") for cell in lines[0].strip("|").split("|")]
    table = {}
    for line in lines[1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        table["/" + cells[0].strip("`")] = frozenset(
            role for role, cell in zip(header[2:], cells[2:], strict=True) if cell == "yes"
        )
    return table


def test_the_doc_table_is_the_code_table() -> None:
    assert _doc_table() == {method: frozenset(roles) for method, roles in POLICY.items()}


def test_the_table_names_every_rpc_of_the_client_api() -> None:
    declared = {
        f"/{service.full_name}/{method.name}"
        for module in CLIENT_MODULES
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert set(POLICY) == declared


def test_no_client_rpc_is_open_to_the_service_role() -> None:
    assert not [method for method, roles in POLICY.items() if Role.SERVICE in roles]
