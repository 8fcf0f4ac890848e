"""Quantum's faults (docs/status-model.md, "Error reasons"), the readiness policy,
idempotent retries and paging, against a real core and sim back-end.

Every refused call is checked for its code and ErrorInfo reason and for having changed
nothing: the whole database (revision counter, event log, resources, outbox), what each
tenant lists, and the back-end's count of applied changes.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from quantum_api.errors import QuantumError
from quantum_api.v1 import (
    network_pb2,
    network_service_pb2 as net_pb,
    port_pb2,
    port_service_pb2 as port_pb,
)
from quantum_grpc.service.status_rules import Readiness
from tests.core.test_bad_input import World, db_rows, make_world, quiet, state
from tests.helpers import Api, eventually, rpc_error
from tests.helpers.database import query

FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
NET_AVAILABLE = network_pb2.NETWORK_STATUS_AVAILABLE
NET_PROVISIONING = network_pb2.NETWORK_STATUS_PROVISIONING
PORT_PROVISIONING = port_pb2.PORT_STATUS_PROVISIONING
PORT_DOWN = port_pb2.PORT_STATUS_DOWN
PORT_ACTIVE = port_pb2.PORT_STATUS_ACTIVE
# Asynchronous sim: each change takes 3 steps of 0.3 s, so a fresh resource stays
# PROVISIONING for ~0.9 s: ample time for the few milliseconds a refused call takes.
SLOW = {"step_delay": 0.3}


@pytest.fixture
async def world(stack_factory: Any) -> World:
    return await make_world(stack_factory)


def delete_network(api: Api, network_id: str, **kw: Any) -> Any:
    return api.networks.DeleteNetwork(
        net_pb.DeleteNetworkRequest(network_id=network_id, **kw), metadata=api.md
    )


def delete_port(api: Api, port_id: str, **kw: Any) -> Any:
    return api.ports.DeletePort(port_pb.DeletePortRequest(port_id=port_id, **kw), metadata=api.md)


def update_network(api: Api, network_id: str, **kw: Any) -> Any:
    return api.networks.UpdateNetwork(
        net_pb.UpdateNetworkRequest(network_id=network_id, **kw), metadata=api.md
    )


async def refused(stack: Any, apis: tuple[Api, ...], call: Any) -> Any:
    """Await a call that must fail and must leave the whole state as it was."""
    before = await state(stack, *apis)
    error = await rpc_error(call)
    assert await state(stack, *apis) == before, f"state changed by a refused call: {error}"
    return error


# --- NotFound / InUse / AlreadyAttached ------------------------------------------------------


async def test_delete_network_with_a_plugged_port_is_network_in_use(world: World) -> None:
    a = world.a
    error = await refused(world.stack, (a, world.b), delete_network(a, world.net.id))
    assert (error.code, error.reason) == (FAILED_PRECONDITION, "NETWORK_IN_USE"), error
    assert error.metadata["port_id"] == world.plugged.id
    # Same with a matching expected revision: the attachment is what blocks it.
    error = await refused(
        world.stack,
        (a, world.b),
        delete_network(a, world.net.id, expected_revision=world.net.revision),
    )
    assert error.reason == "NETWORK_IN_USE"
    assert (await a.get_network(world.net.id)).deleting is False

    await a.unplug(world.plugged.id)
    gone = await delete_network(a, world.net.id)
    assert gone.deleted is True
    assert (await rpc_error(a.get_network(world.net.id))).reason == "NETWORK_NOT_FOUND"


async def test_delete_port_with_an_attachment_is_port_in_use(world: World) -> None:
    a = world.a
    error = await refused(world.stack, (a, world.b), delete_port(a, world.plugged.id))
    assert (error.code, error.reason) == (FAILED_PRECONDITION, "PORT_IN_USE"), error
    assert error.metadata["interface_id"] == "vif-a"
    port = await a.get_port(world.plugged.id)
    assert (port.interface_id, port.status, port.deleting) == ("vif-a", PORT_ACTIVE, False)
    # The unplugged port of the same network deletes fine.
    assert (await delete_port(a, world.port.id)).deleted is True


async def test_plugging_a_second_interface_is_port_in_use(world: World) -> None:
    a = world.a
    error = await refused(world.stack, (a, world.b), a.plug(world.plugged.id, "vif-other"))
    assert (error.code, error.reason) == (FAILED_PRECONDITION, "PORT_IN_USE"), error
    assert error.metadata["interface_id"] == "vif-a"
    assert (await a.get_attachment(world.plugged.id)).interface_id == "vif-a"
    # vif-other was not reserved by the failed plug: it plugs into a free port.
    assert (await a.plug(world.port.id, "vif-other")).attachment.interface_id == "vif-other"


async def test_an_interface_plugged_elsewhere_is_already_attached(world: World) -> None:
    a = world.a
    error = await refused(world.stack, (a, world.b), a.plug(world.port.id, "vif-a"))
    assert (error.code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "ALREADY_ATTACHED")
    assert error.field == "interface_id"
    port = await a.get_port(world.port.id)
    assert (port.interface_id, port.revision) == ("", world.port.revision)
    assert (await rpc_error(a.get_attachment(world.port.id))).reason == "ATTACHMENT_NOT_FOUND"


async def test_already_attached_in_another_tenant_reveals_nothing_of_it(world: World) -> None:
    b = world.b
    error = await refused(world.stack, (world.a, b), b.plug(world.b_port.id, "vif-a"))
    assert (error.code, error.reason) == (grpc.StatusCode.ALREADY_EXISTS, "ALREADY_ATTACHED")
    assert error.field == "interface_id"
    revealed = " ".join([error.message, error.field, *error.metadata, *error.metadata.values()])
    for secret in (world.plugged.id, world.net.id, "tenant-a"):
        assert secret not in revealed, error
    assert (await b.get_port(world.b_port.id)).interface_id == ""


async def test_a_port_with_nothing_plugged_has_no_attachment(world: World) -> None:
    a = world.a
    error = await refused(world.stack, (a,), a.get_attachment(world.port.id))
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "ATTACHMENT_NOT_FOUND")
    error = await refused(world.stack, (a,), a.unplug(world.port.id))
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "ATTACHMENT_NOT_FOUND")
    # A port that does not exist is a different fault.
    missing = await rpc_error(a.get_attachment("6f1c0a9e-5b1d-4c1e-9a55-0d5e2b8c7f10"))
    assert missing.reason == "PORT_NOT_FOUND"


# --- readiness policy (docs/status-model.md, "Readiness") --------------------------------


def _not_ready(error: Any, resource_id: str) -> None:
    assert (error.code, error.reason) == (FAILED_PRECONDITION, "RESOURCE_NOT_READY"), error
    assert error.metadata["id"] == resource_id


async def test_reject_policy_refuses_changes_to_resources_not_yet_ready(stack_factory) -> None:
    stack = await stack_factory("async", core={"readiness": Readiness.REJECT}, **SLOW)
    api, sim = stack.api, stack.sim.backend
    sim.hold()  # nothing becomes ready until released, however loaded the machine
    net = await api.create_network("blue")
    assert net.status == NET_PROVISIONING

    _not_ready(await refused(stack, (api,), api.create_port(net.id)), net.id)
    _not_ready(await refused(stack, (api,), update_network(api, net.id, name="red")), net.id)
    # Reads are never rejected.
    assert (await api.get_network(net.id)).status == NET_PROVISIONING
    assert (
        len(
            (
                await api.networks.ListNetworks(net_pb.ListNetworksRequest(), metadata=api.md)
            ).networks
        )
        == 1
    )
    await api.ports.ListPorts(port_pb.ListPortsRequest(network_id=net.id), metadata=api.md)

    sim.release()
    await eventually(lambda: api.get_network(net.id), lambda n: n.status == NET_AVAILABLE)
    sim.hold()
    port = await api.create_port(net.id)
    assert port.status == PORT_PROVISIONING
    _not_ready(await refused(stack, (api,), api.plug(port.id, "vif-1")), port.id)
    _not_ready(
        await refused(stack, (api,), api.update_port(port.id, admin_state_up=False)), port.id
    )
    assert (await api.get_port(port.id)).status == PORT_PROVISIONING

    sim.release()
    await eventually(lambda: api.get_port(port.id), lambda p: p.status == PORT_DOWN)
    await api.plug(port.id, "vif-1")
    await eventually(lambda: api.get_port(port.id), lambda p: p.status == PORT_ACTIVE)


async def test_accept_policy_records_changes_and_applies_them_in_order(stack_factory) -> None:
    stack = await stack_factory("async", core={"readiness": Readiness.ACCEPT}, **SLOW)
    api = stack.api
    net = await api.create_network("blue")
    assert net.status == NET_PROVISIONING
    port = await api.create_port(net.id)
    assert port.status == PORT_PROVISIONING and port.network_id == net.id
    plugged = await api.plug(port.id, "vif-1")
    assert plugged.attachment.interface_id == "vif-1"
    assert plugged.port.status == PORT_PROVISIONING
    assert (await api.get_network(net.id)).status == NET_PROVISIONING  # all still in flight

    port = await eventually(
        lambda: api.get_port(port.id), lambda p: p.status == PORT_ACTIVE, timeout=10
    )
    assert port.interface_id == "vif-1" and port.link_status == port_pb2.LINK_STATUS_UP
    assert (await api.get_network(net.id)).status == NET_AVAILABLE


async def test_require_ready_asks_for_the_strict_behaviour_under_accept(stack_factory) -> None:
    stack = await stack_factory("async", **SLOW)
    assert stack.app.core.settings.readiness is Readiness.ACCEPT
    api, sim = stack.api, stack.sim.backend
    sim.hold()  # nothing becomes ready until released, however loaded the machine
    net = await api.create_network("blue")
    assert net.status == NET_PROVISIONING

    _not_ready(await refused(stack, (api,), api.create_port(net.id, require_ready=True)), net.id)
    _not_ready(
        await refused(stack, (api,), update_network(api, net.id, name="red", require_ready=True)),
        net.id,
    )
    port = await api.create_port(net.id)  # without the flag: accepted
    assert port.status == PORT_PROVISIONING
    _not_ready(
        await refused(stack, (api,), api.plug(port.id, "vif-1", require_ready=True)), port.id
    )
    _not_ready(
        await refused(
            stack, (api,), api.update_port(port.id, admin_state_up=False, require_ready=True)
        ),
        port.id,
    )
    assert (await api.get_port(port.id)).status == PORT_PROVISIONING  # reads still served

    # Once ready, the flag is satisfied.
    sim.release()
    await eventually(lambda: api.get_port(port.id), lambda p: p.status == PORT_DOWN)
    second = await api.create_port(net.id, require_ready=True)
    assert second.network_id == net.id


async def test_changes_to_a_resource_being_deleted_are_refused(stack_factory) -> None:
    stack = await stack_factory("async", **SLOW)
    api = stack.api
    net = await api.create_network("blue")
    port = await api.create_port(net.id)
    await eventually(lambda: api.get_port(port.id), lambda p: p.status == PORT_DOWN)
    net = await api.get_network(net.id)
    assert net.status == NET_AVAILABLE

    # Neither delete completes until released, however loaded the machine.
    stack.sim.backend.hold()
    deleting_port = await delete_port(api, port.id)
    assert (deleting_port.deleted, deleting_port.port.deleting) == (False, True)
    for call in (
        api.update_port(port.id, admin_state_up=False),
        api.plug(port.id, "vif-1"),
    ):
        error = await refused(stack, (api,), call)
        assert (error.code, error.reason) == (FAILED_PRECONDITION, "RESOURCE_DELETING"), error

    deleting = await delete_network(api, net.id)
    assert (deleting.deleted, deleting.network.deleting) == (False, True)
    for call in (update_network(api, net.id, name="renamed"), api.create_port(net.id)):
        error = await refused(stack, (api,), call)
        assert (error.code, error.reason) == (FAILED_PRECONDITION, "RESOURCE_DELETING"), error
    # Reads still answer while the back-end works on it.
    seen = await api.get_network(net.id)
    assert (seen.name, seen.deleting) == ("blue", True)
    stack.sim.backend.release()

    async def network_reason() -> str:
        try:
            await api.get_network(net.id)
        except QuantumError as error:
            return error.reason
        return "present"

    await eventually(network_reason, lambda reason: reason == "NETWORK_NOT_FOUND")
    names = [
        network_pb2.Network.FromString(snapshot).name
        for (kind, snapshot) in _events(stack)
        if kind == "NETWORK"
    ]
    assert set(names) == {"blue"}


def _events(stack: Any) -> list[tuple[str, bytes]]:
    """(resource kind, snapshot) of every event in the log, oldest first."""
    rows = query(
        stack.app.core.settings.database_url,
        "SELECT resource_kind, snapshot FROM events ORDER BY revision",
    )
    return [(str(kind), bytes(snapshot)) for kind, snapshot in rows]


# --- idempotency -------------------------------------------------------------------------


async def test_plugging_the_same_interface_again_returns_it_unchanged(world: World) -> None:
    a = world.a
    first = await a.plug(world.port.id, "vif-1")
    await quiet(world.stack)
    before = await state(world.stack, a)
    again = await a.plug(world.port.id, "vif-1")
    assert again.attachment == first.attachment
    assert again.port.revision == first.port.revision
    assert await state(world.stack, a) == before


async def test_create_with_the_same_request_id_returns_the_same_network(world: World) -> None:
    a, b = world.a, world.b
    request_id = "0b9e4e52-3a64-4c55-9f7e-0f3e3c2f1a11"
    first = await a.create_network("orange", request_id=request_id)
    await quiet(world.stack)
    before = await state(world.stack, a, b)
    again = await a.create_network("orange", request_id=request_id)
    assert again.id == first.id
    assert await state(world.stack, a, b) == before
    listed = await a.networks.ListNetworks(net_pb.ListNetworksRequest(name="orange"), metadata=a.md)
    assert [n.id for n in listed.networks] == [first.id]

    # Request ids are per tenant: another tenant's create is its own network.
    theirs = await b.create_network("orange", request_id=request_id)
    assert theirs.id != first.id and theirs.tenant_id == "tenant-b"

    port_request = "5d3f7a2e-7c1b-4d7e-8f60-2b7d9c1e4a22"
    port = await a.create_port(world.net.id, request_id=port_request)
    again_port = await a.create_port(world.net.id, request_id=port_request)
    assert again_port.id == port.id


# --- paging and filters ------------------------------------------------------------------


async def _list(api: Api, **kw: Any) -> Any:
    return await api.networks.ListNetworks(net_pb.ListNetworksRequest(**kw), metadata=api.md)


async def test_pages_and_filters_return_exactly_what_they_name(stack_factory) -> None:
    stack = await stack_factory("async", **SLOW)
    api = stack.api
    names = ["red", "blue", "red", "green", "blue", "red", "white"]
    created = [await api.create_network(name) for name in names]
    ids = [n.id for n in created]
    await eventually(lambda: _list(api, status=NET_AVAILABLE), lambda r: len(r.networks) == 7)

    pages, token = [], ""
    while True:
        page = await _list(api, page_size=3, page_token=token)
        pages.append([n.id for n in page.networks])
        token = page.next_page_token
        if not token:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == ids  # each once, in creation order

    reds, token = [], ""
    while True:
        page = await _list(api, name="red", page_size=2, page_token=token)
        assert all(n.name == "red" for n in page.networks)
        reds.extend(n.id for n in page.networks)
        token = page.next_page_token
        if not token:
            break
    assert reds == [ids[0], ids[2], ids[5]]
    assert [n.id for n in (await _list(api, name="white")).networks] == [ids[6]]
    assert list((await _list(api, name="Red")).networks) == []

    late = await api.create_network("late")
    assert late.status == NET_PROVISIONING
    provisioning = await _list(api, status=NET_PROVISIONING)
    available = await _list(api, status=NET_AVAILABLE)
    assert [n.id for n in provisioning.networks] == [late.id]
    assert [n.id for n in available.networks] == ids
    assert list((await _list(api, status=network_pb2.NETWORK_STATUS_ERROR)).networks) == []
    everything = await _list(api)
    assert [n.id for n in everything.networks] == [*ids, late.id]
    assert everything.next_page_token == ""


async def test_port_status_filter_returns_exactly_that_status(world: World) -> None:
    a = world.a

    async def ports(**kw: Any) -> list[str]:
        reply = await a.ports.ListPorts(port_pb.ListPortsRequest(**kw), metadata=a.md)
        return [p.id for p in reply.ports]

    assert await ports(status=PORT_ACTIVE) == [world.plugged.id]
    assert await ports(status=PORT_DOWN) == [world.port.id]
    assert await ports(status=PORT_DOWN, network_id=world.spare.id) == []
    assert await ports() == [world.port.id, world.plugged.id]
    first = await a.ports.ListPorts(port_pb.ListPortsRequest(page_size=1), metadata=a.md)
    assert [p.id for p in first.ports] == [world.port.id] and first.next_page_token
    second = await a.ports.ListPorts(
        port_pb.ListPortsRequest(page_size=1, page_token=first.next_page_token), metadata=a.md
    )
    assert [p.id for p in second.ports] == [world.plugged.id]
    assert second.next_page_token == ""


async def test_unplug_then_replug_elsewhere(world: World) -> None:
    """After an unplug the interface is free again (the ALREADY_ATTACHED fault is not sticky)."""
    a = world.a
    await a.unplug(world.plugged.id)
    moved = await a.plug(world.port.id, "vif-a")
    assert moved.port.status == PORT_ACTIVE
    assert (await rpc_error(a.get_attachment(world.plugged.id))).reason == "ATTACHMENT_NOT_FOUND"
    await eventually(lambda: a.get_port(world.plugged.id), lambda p: p.status == PORT_DOWN)
    assert (await rpc_error(a.plug(world.port.id, "vif-z"))).reason == "PORT_IN_USE"
    assert len(db_rows(world.stack)["attachments"]) == 1
