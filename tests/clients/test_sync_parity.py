"""The blocking Client (generated from the AsyncClient) offers the same calls."""

from __future__ import annotations

import inspect

from quantum_client import AsyncClient, Client


def _surface(cls: type) -> dict[str, list[tuple[str, object, object]]]:
    methods = inspect.getmembers(cls, callable)
    return {
        name: [(p.name, p.kind, p.default) for p in inspect.signature(member).parameters.values()]
        for name, member in methods
        if not name.startswith("_")
    }


def test_both_clients_offer_the_same_calls() -> None:
    assert _surface(Client) == _surface(AsyncClient)
    with Client(tenant="t") as client:
        assert {"networks", "ports", "attachments", "watch"} <= set(vars(client.stubs))
        assert client.metadata == (("x-tenant-id", "t"),)
