"""Bad input is refused with the right code, reason and field, and changes nothing.

Every case runs against a real core on a sync sim with a populated database: tenant A has
a network with an unplugged port and a plugged one plus an empty network, tenant B has a
network with a port. "Changes nothing" is checked on the whole state: every row of every
table in the SQLite file (the revision counter and the event log included), what each
tenant lists, and how many changes the back-end was asked to apply.
"""

from __future__ import annotations

import base64
import contextlib
import sqlite3
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from sqlalchemy import make_url

from quantum_grpc._proto.quantum.v1 import (
    attachment_service_pb2 as att_pb,
    network_pb2,
    network_service_pb2 as net_pb,
    port_pb2,
    port_service_pb2 as port_pb,
)
from tests.helpers import Api, eventually, rpc_error

TABLES = ("revision_counter", "networks", "ports", "attachments", "events", "outbox")

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


# --- whole-state snapshots ---------------------------------------------------------------


def db_path(stack: Any) -> str:
    """The SQLite file of a stack's core."""
    path = make_url(stack.app.core.settings.database_url).database
    assert path
    return path


def db_rows(stack: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, straight from the SQLite file."""
    with contextlib.closing(sqlite3.connect(db_path(stack))) as db:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES}


async def listed(api: Api) -> tuple[list[bytes], list[bytes]]:
    """What a tenant sees in ListNetworks and ListPorts, serialized."""
    nets = await api.networks.ListNetworks(net_pb.ListNetworksRequest(), metadata=api.md)
    ports = await api.ports.ListPorts(port_pb.ListPortsRequest(), metadata=api.md)
    return (
        [n.SerializeToString(deterministic=True) for n in nets.networks],
        [p.SerializeToString(deterministic=True) for p in ports.ports],
    )


async def state(stack: Any, *apis: Api) -> dict[str, Any]:
    """The full observable state: database rows, each tenant's lists, back-end calls."""
    snapshot: dict[str, Any] = dict(db_rows(stack))
    for api in apis:
        snapshot[f"list:{api.tenant}"] = await listed(api)
    snapshot["backend_changes"] = stack.sim.backend.applied_changes
    return snapshot


async def quiet(stack: Any) -> None:
    """Wait until every recorded change was handed to the back-end (outbox empty)."""

    async def outbox() -> list[tuple[Any, ...]]:
        return db_rows(stack)["outbox"]

    await eventually(outbox, lambda rows: rows == [], timeout=5)


def head_revision(stack: Any) -> int:
    """The global revision counter, straight from the database."""
    return int(db_rows(stack)["revision_counter"][0][1])


# --- the populated world -----------------------------------------------------------------


@dataclass
class World:
    """A stack with data for two tenants."""

    stack: Any
    a: Api
    b: Api
    net: Any  # tenant A, holds `port` and `plugged`
    spare: Any  # tenant A, an empty network
    port: Any  # tenant A, nothing plugged
    plugged: Any  # tenant A, "vif-a" plugged
    b_net: Any
    b_port: Any

    async def state(self) -> dict[str, Any]:
        return await state(self.stack, self.a, self.b)


async def make_world(stack_factory: Any) -> World:
    stack = await stack_factory("sync")
    a = stack.api
    b = a.as_tenant("tenant-b")
    net = await a.create_network("blue")
    spare = await a.create_network("spare")
    port = await a.create_port(net.id)
    plugged = await a.create_port(net.id)
    await a.plug(plugged.id, "vif-a")
    b_net = await b.create_network("green")
    b_port = await b.create_port(b_net.id)
    await quiet(stack)
    return World(
        stack,
        a,
        b,
        await a.get_network(net.id),
        await a.get_network(spare.id),
        await a.get_port(port.id),
        await a.get_port(plugged.id),
        await b.get_network(b_net.id),
        await b.get_port(b_port.id),
    )


@pytest.fixture
async def world(stack_factory: Any) -> World:
    return await make_world(stack_factory)


Call = Callable[[World], Awaitable[Any]]


def rpc(method: str, make: Callable[[World], Any], *, caller: str = "a", md: Any = None) -> Call:
    """A call of ``service.Method`` with the request ``make(world)`` builds."""
    service, name = method.split(".")

    def call(w: World) -> Awaitable[Any]:
        api = w.a if caller == "a" else w.b
        metadata = api.md if md is None else md
        return getattr(getattr(api, service), name)(make(w), metadata=metadata)

    return call


def token_of(w: World, **filters: Any) -> Awaitable[str]:
    """A next_page_token tenant A really got for these filters (page_size 1)."""

    async def get() -> str:
        page = await w.a.networks.ListNetworks(
            net_pb.ListNetworksRequest(page_size=1, **filters), metadata=w.a.md
        )
        assert page.next_page_token
        return str(page.next_page_token)

    return get()


def with_token(list_method: str, build: Callable[[World, str], Any], **source_filters: Any) -> Call:
    """Fetch a real ListNetworks token, then send it with other filters."""

    async def call(w: World) -> Any:
        token = await token_of(w, **source_filters)
        service, name = list_method.split(".")
        return await getattr(getattr(w.a, service), name)(build(w, token), metadata=w.a.md)

    return call


def forged(raw: bytes) -> str:
    """A page token shaped like the server's (urlsafe base64) around arbitrary bytes."""
    return base64.urlsafe_b64encode(raw).decode()


@dataclass(frozen=True)
class Bad:
    """One bad request and how it must be refused."""

    call: Call
    field: str  # the BadRequest field the error must name ("" when none applies)
    reason: str = "INVALID_ARGUMENT"
    code: grpc.StatusCode = INVALID
    mentions: str = ""  # text the message must contain when no field is reported


def case(id_: str, *args: Any, marks: Any = (), **kw: Any) -> Any:
    return pytest.param(Bad(*args, **kw), id=id_, marks=marks)


NAME_CASES = [
    ("empty", ""),
    ("whitespace-only", " \t "),
    ("256-chars", "n" * 256),
    ("control-char-bel", "blue\x07net"),
    ("control-char-newline", "blue\nnet"),
    ("control-char-del", "blue\x7f"),
    ("control-char-nul", "blue\x00"),
]

UUID_LIKE_BUT_NOT = "6f1c0a9e-5b1d-4c1e-9a55-0d5e2b8c7f1"  # one hex digit short

CASES = [
    # names
    *(
        case(
            f"create-network-name-{label}",
            rpc("networks.CreateNetwork", lambda w, n=name: net_pb.CreateNetworkRequest(name=n)),
            "name",
        )
        for label, name in NAME_CASES
    ),
    case(
        "create-network-name-c1-control-char",
        rpc("networks.CreateNetwork", lambda w: net_pb.CreateNetworkRequest(name="blue\x9b2J")),
        "name",
    ),
    *(
        case(
            f"update-network-name-{label}",
            rpc(
                "networks.UpdateNetwork",
                lambda w, n=name: net_pb.UpdateNetworkRequest(network_id=w.net.id, name=n),
            ),
            "name",
        )
        for label, name in NAME_CASES
    ),
    # malformed ids
    case(
        "get-network-malformed-id",
        rpc("networks.GetNetwork", lambda w: net_pb.GetNetworkRequest(network_id="blue")),
        "network_id",
    ),
    case(
        "get-network-missing-id",
        rpc("networks.GetNetwork", lambda w: net_pb.GetNetworkRequest()),
        "network_id",
    ),
    case(
        "update-network-malformed-id",
        rpc(
            "networks.UpdateNetwork",
            lambda w: net_pb.UpdateNetworkRequest(network_id=UUID_LIKE_BUT_NOT, name="x"),
        ),
        "network_id",
    ),
    case(
        "delete-network-malformed-id",
        rpc("networks.DeleteNetwork", lambda w: net_pb.DeleteNetworkRequest(network_id="1")),
        "network_id",
    ),
    case(
        "create-port-malformed-network-id",
        rpc("ports.CreatePort", lambda w: port_pb.CreatePortRequest(network_id="net-1")),
        "network_id",
    ),
    case(
        "list-ports-malformed-network-id",
        rpc("ports.ListPorts", lambda w: port_pb.ListPortsRequest(network_id="net-1")),
        "network_id",
    ),
    case(
        "get-port-malformed-id",
        rpc("ports.GetPort", lambda w: port_pb.GetPortRequest(port_id="port-1")),
        "port_id",
    ),
    case(
        "get-port-malformed-network-id",
        rpc(
            "ports.GetPort",
            lambda w: port_pb.GetPortRequest(port_id=w.port.id, network_id="blue"),
        ),
        "network_id",
    ),
    case(
        "update-port-malformed-id",
        rpc(
            "ports.UpdatePort",
            lambda w: port_pb.UpdatePortRequest(port_id="port-1", admin_state_up=False),
        ),
        "port_id",
    ),
    case(
        "delete-port-malformed-id",
        rpc("ports.DeletePort", lambda w: port_pb.DeletePortRequest(port_id=UUID_LIKE_BUT_NOT)),
        "port_id",
    ),
    case(
        "plug-malformed-port-id",
        rpc(
            "attachments.PlugAttachment",
            lambda w: att_pb.PlugAttachmentRequest(port_id="port-1", interface_id="vif-9"),
        ),
        "port_id",
    ),
    case(
        "unplug-malformed-port-id",
        rpc(
            "attachments.UnplugAttachment",
            lambda w: att_pb.UnplugAttachmentRequest(port_id="port-1"),
        ),
        "port_id",
    ),
    case(
        "get-attachment-malformed-port-id",
        rpc("attachments.GetAttachment", lambda w: att_pb.GetAttachmentRequest(port_id="x")),
        "port_id",
    ),
    case(
        "create-network-malformed-request-id",
        rpc(
            "networks.CreateNetwork",
            lambda w: net_pb.CreateNetworkRequest(name="red", request_id="retry-1"),
        ),
        "request_id",
    ),
    case(
        "create-port-malformed-request-id",
        rpc(
            "ports.CreatePort",
            lambda w: port_pb.CreatePortRequest(network_id=w.net.id, request_id="retry-1"),
        ),
        "request_id",
    ),
    # list filters and paging
    case(
        "list-networks-unknown-status-99",
        rpc("networks.ListNetworks", lambda w: net_pb.ListNetworksRequest(status=99)),
        "status",
    ),
    case(
        "list-ports-unknown-status-99",
        rpc("ports.ListPorts", lambda w: port_pb.ListPortsRequest(status=99)),
        "status",
    ),
    *(
        case(
            f"list-networks-page-size-{size}",
            rpc(
                "networks.ListNetworks",
                lambda w, s=size: net_pb.ListNetworksRequest(page_size=s),
            ),
            "page_size",
        )
        for size in (-1, 1001)
    ),
    *(
        case(
            f"list-ports-page-size-{size}",
            rpc("ports.ListPorts", lambda w, s=size: port_pb.ListPortsRequest(page_size=s)),
            "page_size",
        )
        for size in (-1, 1001)
    ),
    *(
        case(
            f"list-networks-garbage-token-{label}",
            rpc(
                "networks.ListNetworks",
                lambda w, t=token: net_pb.ListNetworksRequest(page_token=t),
            ),
            "page_token",
        )
        for label, token in (
            ("text", "garbage"),
            ("punctuation", "!!!***"),
            ("base64-not-json", forged(b"\xff\xfe\x00")),
            ("json-list", forged(b"[1, 2]")),
            ("json-wrong-keys", forged(b'{"page": 3}')),
            ("json-forged-after", forged(b'{"after": 0, "filters": "0000000000000000"}')),
        )
    ),
    case(
        "list-networks-forged-token-infinite-after",
        rpc(
            "networks.ListNetworks",
            lambda w: net_pb.ListNetworksRequest(
                page_token=forged(b'{"after": 1e999, "filters": "0000000000000000"}')
            ),
        ),
        "page_token",
    ),
    case(
        "list-ports-garbage-token",
        rpc("ports.ListPorts", lambda w: port_pb.ListPortsRequest(page_token="garbage")),
        "page_token",
    ),
    case(
        "list-networks-token-reused-with-other-name",
        with_token(
            "networks.ListNetworks",
            lambda w, t: net_pb.ListNetworksRequest(page_size=1, page_token=t, name="blue"),
        ),
        "page_token",
    ),
    case(
        "list-networks-token-reused-with-other-status",
        with_token(
            "networks.ListNetworks",
            lambda w, t: net_pb.ListNetworksRequest(
                page_size=1, page_token=t, status=network_pb2.NETWORK_STATUS_AVAILABLE
            ),
        ),
        "page_token",
    ),
    case(
        "list-networks-token-reused-without-its-filter",
        with_token(
            "networks.ListNetworks",
            lambda w, t: net_pb.ListNetworksRequest(page_size=1, page_token=t),
            status=network_pb2.NETWORK_STATUS_AVAILABLE,
        ),
        "page_token",
    ),
    case(
        "list-networks-token-reused-by-another-tenant",
        lambda w: _token_as_b(w),
        "page_token",
    ),
    case(
        "list-ports-with-a-list-networks-token",
        with_token(
            "ports.ListPorts",
            lambda w, t: port_pb.ListPortsRequest(page_size=1, page_token=t),
        ),
        "page_token",
    ),
    # tenant scoping
    case(
        "create-network-no-tenant-metadata",
        rpc("networks.CreateNetwork", lambda w: net_pb.CreateNetworkRequest(name="x"), md=()),
        "",
        reason="TENANT_REQUIRED",
        code=grpc.StatusCode.UNAUTHENTICATED,
        mentions="x-tenant-id",
    ),
    case(
        "list-networks-no-tenant-metadata",
        rpc("networks.ListNetworks", lambda w: net_pb.ListNetworksRequest(), md=()),
        "",
        reason="TENANT_REQUIRED",
        code=grpc.StatusCode.UNAUTHENTICATED,
        mentions="x-tenant-id",
    ),
    case(
        "delete-network-empty-tenant-metadata",
        rpc(
            "networks.DeleteNetwork",
            lambda w: net_pb.DeleteNetworkRequest(network_id=w.spare.id),
            md=(("x-tenant-id", ""),),
        ),
        "",
        reason="TENANT_REQUIRED",
        code=grpc.StatusCode.UNAUTHENTICATED,
        mentions="x-tenant-id",
    ),
    case(
        "delete-network-malformed-tenant-metadata",
        rpc(
            "networks.DeleteNetwork",
            lambda w: net_pb.DeleteNetworkRequest(network_id=w.spare.id),
            md=(("x-tenant-id", "tenant a; drop"),),
        ),
        "x-tenant-id",
    ),
    case(
        "create-network-tenant-id-of-another-tenant",
        rpc(
            "networks.CreateNetwork",
            lambda w: net_pb.CreateNetworkRequest(tenant_id="tenant-b", name="x"),
        ),
        "tenant_id",
        reason="TENANT_MISMATCH",
        code=grpc.StatusCode.PERMISSION_DENIED,
    ),
    case(
        "delete-network-tenant-id-of-another-tenant",
        rpc(
            "networks.DeleteNetwork",
            lambda w: net_pb.DeleteNetworkRequest(tenant_id="tenant-b", network_id=w.spare.id),
        ),
        "tenant_id",
        reason="TENANT_MISMATCH",
        code=grpc.StatusCode.PERMISSION_DENIED,
    ),
    case(
        "list-networks-tenant-id-of-another-tenant",
        rpc("networks.ListNetworks", lambda w: net_pb.ListNetworksRequest(tenant_id="tenant-b")),
        "tenant_id",
        reason="TENANT_MISMATCH",
        code=grpc.StatusCode.PERMISSION_DENIED,
    ),
    case(
        "plug-tenant-id-of-another-tenant",
        rpc(
            "attachments.PlugAttachment",
            lambda w: att_pb.PlugAttachmentRequest(
                tenant_id="tenant-b", port_id=w.port.id, interface_id="vif-9"
            ),
        ),
        "tenant_id",
        reason="TENANT_MISMATCH",
        code=grpc.StatusCode.PERMISSION_DENIED,
    ),
    # expected_revision
    case(
        "update-network-negative-revision",
        rpc(
            "networks.UpdateNetwork",
            lambda w: net_pb.UpdateNetworkRequest(
                network_id=w.net.id, name="x", expected_revision=-1
            ),
        ),
        "expected_revision",
    ),
    case(
        "delete-network-negative-revision",
        rpc(
            "networks.DeleteNetwork",
            lambda w: net_pb.DeleteNetworkRequest(network_id=w.spare.id, expected_revision=-5),
        ),
        "expected_revision",
    ),
    case(
        "update-port-negative-revision",
        rpc(
            "ports.UpdatePort",
            lambda w: port_pb.UpdatePortRequest(
                port_id=w.port.id, admin_state_up=False, expected_revision=-1
            ),
        ),
        "expected_revision",
    ),
    case(
        "delete-port-negative-revision",
        rpc(
            "ports.DeletePort",
            lambda w: port_pb.DeletePortRequest(port_id=w.port.id, expected_revision=-1),
        ),
        "expected_revision",
    ),
    case(
        "plug-negative-revision",
        rpc(
            "attachments.PlugAttachment",
            lambda w: att_pb.PlugAttachmentRequest(
                port_id=w.port.id, interface_id="vif-9", expected_revision=-1
            ),
        ),
        "expected_revision",
    ),
    case(
        "unplug-negative-revision",
        rpc(
            "attachments.UnplugAttachment",
            lambda w: att_pb.UnplugAttachmentRequest(port_id=w.plugged.id, expected_revision=-1),
        ),
        "expected_revision",
    ),
    # interface ids
    *(
        case(
            f"plug-interface-id-{label}",
            rpc(
                "attachments.PlugAttachment",
                lambda w, i=iface: att_pb.PlugAttachmentRequest(port_id=w.port.id, interface_id=i),
            ),
            "interface_id",
        )
        for label, iface in (
            ("empty", ""),
            ("whitespace-only", "   "),
            ("256-chars", "v" * 256),
            ("control-char", "vif\t1"),
        )
    ),
    case(
        "plug-interface-id-c1-control-char",
        rpc(
            "attachments.PlugAttachment",
            lambda w: att_pb.PlugAttachmentRequest(port_id=w.port.id, interface_id="vif\x851"),
        ),
        "interface_id",
    ),
    # QoS
    case(
        "create-port-qos-burst-without-rate",
        rpc(
            "ports.CreatePort",
            lambda w: port_pb.CreatePortRequest(
                network_id=w.net.id, qos=port_pb2.QosPolicy(burst_kbytes=64)
            ),
        ),
        "qos.burst_kbytes",
    ),
    case(
        "update-port-qos-burst-without-rate",
        rpc(
            "ports.UpdatePort",
            lambda w: port_pb.UpdatePortRequest(
                port_id=w.port.id, qos=port_pb2.QosPolicy(burst_kbytes=64)
            ),
        ),
        "qos.burst_kbytes",
    ),
]


async def _token_as_b(w: World) -> Any:
    token = await token_of(w)
    return await w.b.networks.ListNetworks(
        net_pb.ListNetworksRequest(page_size=1, page_token=token), metadata=w.b.md
    )


@pytest.mark.parametrize("bad", CASES)
async def test_bad_input_is_refused_and_changes_nothing(world: World, bad: Bad) -> None:
    before = await world.state()
    error = await rpc_error(bad.call(world))
    assert (error.code, error.reason) == (bad.code, bad.reason), error
    assert error.field == bad.field, error
    if bad.field:
        assert bad.field in error.message, error
    else:
        assert bad.mentions in error.message, error
    assert await world.state() == before


# --- another tenant's resources ----------------------------------------------------------

# (what is called, the reason, the field): each takes the id of tenant A's resource.
Foreign = Callable[[Api, str], Awaitable[Any]]


def _on_network(method: str, build: Callable[[str], Any]) -> Foreign:
    service, name = method.split(".")
    return lambda api, id_: getattr(getattr(api, service), name)(build(id_), metadata=api.md)


FOREIGN_NETWORK_CALLS = {
    "get-network": _on_network(
        "networks.GetNetwork", lambda i: net_pb.GetNetworkRequest(network_id=i)
    ),
    "update-network": _on_network(
        "networks.UpdateNetwork", lambda i: net_pb.UpdateNetworkRequest(network_id=i, name="mine")
    ),
    "delete-network": _on_network(
        "networks.DeleteNetwork", lambda i: net_pb.DeleteNetworkRequest(network_id=i)
    ),
    "create-port": _on_network(
        "ports.CreatePort", lambda i: port_pb.CreatePortRequest(network_id=i)
    ),
    "list-ports": _on_network("ports.ListPorts", lambda i: port_pb.ListPortsRequest(network_id=i)),
}
FOREIGN_PORT_CALLS = {
    "get-port": _on_network("ports.GetPort", lambda i: port_pb.GetPortRequest(port_id=i)),
    "update-port": _on_network(
        "ports.UpdatePort", lambda i: port_pb.UpdatePortRequest(port_id=i, admin_state_up=False)
    ),
    "delete-port": _on_network("ports.DeletePort", lambda i: port_pb.DeletePortRequest(port_id=i)),
    "plug": _on_network(
        "attachments.PlugAttachment",
        lambda i: att_pb.PlugAttachmentRequest(port_id=i, interface_id="vif-b"),
    ),
    "unplug": _on_network(
        "attachments.UnplugAttachment", lambda i: att_pb.UnplugAttachmentRequest(port_id=i)
    ),
    "get-attachment": _on_network(
        "attachments.GetAttachment", lambda i: att_pb.GetAttachmentRequest(port_id=i)
    ),
}


@pytest.mark.parametrize(
    ("kind", "op"),
    [("network", op) for op in FOREIGN_NETWORK_CALLS] + [("port", op) for op in FOREIGN_PORT_CALLS],
)
async def test_another_tenants_resource_is_not_found(world: World, kind: str, op: str) -> None:
    """Tenant B gets exactly the answer it would get for an id that does not exist."""
    if kind == "network":
        call, target = FOREIGN_NETWORK_CALLS[op], world.net.id
        reason, field = "NETWORK_NOT_FOUND", "network_id"
    else:
        call, target = FOREIGN_PORT_CALLS[op], world.plugged.id
        reason, field = "PORT_NOT_FOUND", "port_id"
    before = await world.state()
    error = await rpc_error(call(world.b, target))
    assert (error.code, error.reason, error.field) == (NOT_FOUND, reason, field), error
    assert await world.state() == before

    unknown = str(uuid.uuid4())
    nobody = await rpc_error(call(world.b, unknown))
    assert (nobody.code, nobody.reason, nobody.field) == (error.code, error.reason, error.field)
    assert error.message == nobody.message.replace(unknown, target)
    assert error.metadata == nobody.metadata
    # The owner, asking the same, is served (or refused for another reason).
    if op in ("get-network", "get-port", "list-ports", "get-attachment"):
        await call(world.a, target)


async def test_lists_of_tenant_b_hold_none_of_tenant_a(world: World) -> None:
    nets, ports = await listed(world.b)
    b_nets = [network_pb2.Network.FromString(n) for n in nets]
    b_ports = [port_pb2.Port.FromString(p) for p in ports]
    assert [n.id for n in b_nets] == [world.b_net.id]
    assert [p.id for p in b_ports] == [world.b_port.id]
    a_nets, a_ports = await listed(world.a)
    assert len(a_nets) == 2 and len(a_ports) == 2
    name_filtered = await world.b.networks.ListNetworks(
        net_pb.ListNetworksRequest(name="blue"), metadata=world.b.md
    )
    assert list(name_filtered.networks) == []


# --- compare-and-swap --------------------------------------------------------------------


async def _bump_network(w: World, network: Any) -> None:
    await w.a.networks.UpdateNetwork(
        net_pb.UpdateNetworkRequest(network_id=network.id, name=network.name + "-2"),
        metadata=w.a.md,
    )


async def _bump_port(w: World, port: Any) -> None:
    await w.a.update_port(port.id, qos=port_pb2.QosPolicy(rate_kbps=port.qos.rate_kbps + 1000))


@dataclass(frozen=True)
class Cas:
    """A compare-and-swap operation: which resource it guards and how it is called."""

    target: Callable[[World], Any]
    bump: Callable[[World, Any], Awaitable[None]]
    call: Callable[[World, Any, int], Awaitable[Any]]


CAS = {
    "update-network": Cas(
        lambda w: w.net,
        _bump_network,
        lambda w, r, rev: w.a.networks.UpdateNetwork(
            net_pb.UpdateNetworkRequest(network_id=r.id, name="other", expected_revision=rev),
            metadata=w.a.md,
        ),
    ),
    "delete-network": Cas(
        lambda w: w.spare,
        _bump_network,
        lambda w, r, rev: w.a.networks.DeleteNetwork(
            net_pb.DeleteNetworkRequest(network_id=r.id, expected_revision=rev), metadata=w.a.md
        ),
    ),
    "update-port": Cas(
        lambda w: w.port,
        _bump_port,
        lambda w, r, rev: w.a.update_port(r.id, admin_state_up=False, expected_revision=rev),
    ),
    "delete-port": Cas(
        lambda w: w.port,
        _bump_port,
        lambda w, r, rev: w.a.ports.DeletePort(
            port_pb.DeletePortRequest(port_id=r.id, expected_revision=rev), metadata=w.a.md
        ),
    ),
    "plug": Cas(
        lambda w: w.port,
        _bump_port,
        lambda w, r, rev: w.a.plug(r.id, "vif-9", expected_revision=rev),
    ),
    "unplug": Cas(
        lambda w: w.plugged,
        _bump_port,
        lambda w, r, rev: w.a.unplug(r.id, expected_revision=rev),
    ),
}


async def _current(w: World, resource: Any) -> Any:
    if isinstance(resource, network_pb2.Network):
        return await w.a.get_network(resource.id)
    return await w.a.get_port(resource.id)


@pytest.mark.parametrize("op", list(CAS))
async def test_stale_expected_revision_is_aborted(world: World, op: str) -> None:
    cas = CAS[op]
    seen = await _current(world, cas.target(world))
    await cas.bump(world, seen)
    await quiet(world.stack)
    now = await _current(world, seen)
    assert now.revision > seen.revision

    before = await world.state()
    error = await rpc_error(cas.call(world, now, seen.revision))
    assert (error.code, error.reason) == (grpc.StatusCode.ABORTED, "REVISION_MISMATCH"), error
    assert error.field == "expected_revision"
    assert error.metadata["current_revision"] == str(now.revision)
    assert await world.state() == before

    # The revision the error reports is the one that works.
    await cas.call(world, now, int(error.metadata["current_revision"]))
    assert head_revision(world.stack) > before["revision_counter"][0][1]


# --- limits are inclusive ----------------------------------------------------------------


async def test_limits_themselves_are_accepted(world: World) -> None:
    api = world.a
    longest = await api.create_network("n" * 255)
    assert longest.name == "n" * 255
    one = await api.create_network("x")
    assert one.name == "x"
    for size in (0, 1, 1000):
        page = await api.networks.ListNetworks(
            net_pb.ListNetworksRequest(page_size=size), metadata=api.md
        )
        assert len(page.networks) == (1 if size == 1 else 4)
    plugged = await api.plug(world.port.id, "i" * 255)
    assert plugged.attachment.interface_id == "i" * 255
    port = await api.create_port(world.net.id, qos=port_pb2.QosPolicy(rate_kbps=1000))
    assert (port.qos.rate_kbps, port.qos.burst_kbytes) == (1000, 0)
