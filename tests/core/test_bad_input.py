"""Bad input is refused with the right code, reason and field, and changes nothing.

Every case runs against a real core on a sync sim with a populated database, on SQLite
and on PostgreSQL: tenant A has a network with an unplugged port and a plugged one plus
an empty network, tenant B has a network with a port. "Changes nothing" is checked on the
whole state: every row of every table (the revision counter and the event log included),
what each tenant lists, and how many changes the back-end was asked to apply. After each
case the core must still be SERVING: bad input is the client's error, never an outage.

The cases only read, so they share one populated stack per database (module scope);
tests that change the state get a world of their own.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio
from google.protobuf.descriptor import MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from sqlalchemy import make_url

from quantum_api.plugin.v1 import status_reporter_pb2 as reporter_pb
from quantum_api.v1 import (
    attachment_service_pb2 as att_pb,
    network_pb2,
    network_service_pb2 as net_pb,
    port_pb2,
    port_service_pb2 as port_pb,
    watch_service_pb2 as watch_pb,
)
from quantum_grpc.config import BackendTarget, Settings
from quantum_grpc.server import App, build_server
from quantum_plugins.sim.backend import SimBackend
from quantum_plugins.sim.profiles import make_profile
from quantum_plugins.sim.server import build_sim_server
from tests.helpers import Api, eventually, rpc_error
from tests.helpers.database import dump, query
from tests.helpers.postgres import pg_schema

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
SHARED = pytest.mark.asyncio(loop_scope="module")  # tests on the module's shared world
INTERNALS = ("Unexpected", "<class", "Traceback", "protobuf", "Error")  # never in a message
NET_REQUEST = "0b6f1f0e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"  # the request_id that created `net`
PORT_REQUEST = "7d2c9e4a-1b3f-4a6d-9e8c-5f4a3b2c1d0e"  # the request_id that created `port`


# --- whole-state snapshots ---------------------------------------------------------------


async def listed(api: Api) -> tuple[list[bytes], list[bytes]]:
    """What a tenant sees in ListNetworks and ListPorts, serialized."""
    nets = await api.networks.ListNetworks(net_pb.ListNetworksRequest(), metadata=api.md)
    ports = await api.ports.ListPorts(port_pb.ListPortsRequest(), metadata=api.md)
    return (
        [n.SerializeToString(deterministic=True) for n in nets.networks],
        [p.SerializeToString(deterministic=True) for p in ports.ports],
    )


def database_of(stack: Any) -> str:
    """The database URL of a stack's core (SQLite file or PostgreSQL schema)."""
    return str(stack.app.core.settings.database_url)


def db_path(stack: Any) -> str:
    """The SQLite file of a stack's core (for tests about SQLite itself)."""
    path = make_url(database_of(stack)).database
    assert path
    return path


def db_rows(stack: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, whichever the database."""
    return dump(database_of(stack))


async def state(stack: Any, *apis: Api) -> dict[str, Any]:
    """The full observable state: database rows, each tenant's lists, back-end calls."""
    snapshot: dict[str, Any] = dict(db_rows(stack))
    for api in apis:
        snapshot[f"list:{api.tenant}"] = await listed(api)
    snapshot["backend_changes"] = stack.sim.backend.applied_changes
    return snapshot


async def quiet(stack: Any) -> None:
    """Wait until every recorded change was handed to the back-end (outbox empty)."""

    async def outbox() -> list[Any]:
        return query(database_of(stack), "SELECT id FROM outbox")

    await eventually(outbox, lambda rows: rows == [], timeout=5)


def head_revision(stack: Any) -> int:
    """The global revision counter, straight from the database."""
    return int(db_rows(stack)["revision_counter"][0][1])


async def health_of(api: Api) -> int:
    """The core's overall health (grpc.health.v1 Check, service "")."""
    stub = health_pb2_grpc.HealthStub(api.channel)
    answer = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    return int(answer.status)


# --- the populated world -----------------------------------------------------------------


@dataclass
class World:
    """A stack (conftest's Stack or the shared one: app, sim.backend, api) with data for
    two tenants."""

    stack: Any
    a: Api
    b: Api
    net: Any  # tenant A, made with request_id NET_REQUEST; holds `port` and `plugged`
    spare: Any  # tenant A, an empty network
    port: Any  # tenant A, made with request_id PORT_REQUEST; nothing plugged
    plugged: Any  # tenant A, "vif-a" plugged
    b_net: Any
    b_port: Any

    async def state(self) -> dict[str, Any]:
        return await state(self.stack, self.a, self.b)

    async def assert_unharmed(self, before: dict[str, Any], since: float) -> None:
        """Nothing changed, and the core neither is nor is about to be NOT_SERVING.

        ``since`` is when the case started (time.monotonic()).
        """
        assert await self.state() == before
        assert await health_of(self.a) == health_pb2.HealthCheckResponse.SERVING
        # A failed write turns health NOT_SERVING at the next database check (seconds
        # later): that the store recorded none during the case is that fact, without a wait.
        during = time.monotonic() - since
        failed = self.stack.app.store.failed_within(during)
        assert not failed, "a write failed: health will drop"


async def populate(stack: Any) -> World:
    a = stack.api
    b = a.as_tenant("tenant-b")
    net = await a.create_network("blue", request_id=NET_REQUEST)
    spare = await a.create_network("spare")
    port = await a.create_port(net.id, request_id=PORT_REQUEST)
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


async def make_world(stack_factory: Any) -> World:
    return await populate(await stack_factory("sync"))


@pytest.fixture
async def world(stack_factory: Any) -> World:
    """A world of its own, for tests that change it."""
    return await make_world(stack_factory)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def shared_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Like conftest's database_url, for the one world the read-only cases share."""
    if request.param == "sqlite":
        folder: Path = tmp_path_factory.mktemp("bad-input")
        yield f"sqlite:///{folder}/quantum.db"
        return
    with pg_schema() as url:
        yield url


@dataclass
class SharedSim:
    backend: SimBackend


@dataclass
class SharedStack:
    """The shape of conftest's Stack, for a stack that outlives one test."""

    app: App
    sim: SharedSim
    api: Api


@contextlib.asynccontextmanager
async def running_world(database_url: str) -> AsyncIterator[World]:
    """A sync sim, a core on ``database_url`` and a populated world, stopped afterwards."""
    _server, sim_port, backend = await build_sim_server(
        make_profile("sync"), name="sim", listen="127.0.0.1:0", reassert_interval=10.0
    )
    try:
        settings = Settings(
            database_url=database_url,
            backends=(BackendTarget(backend.name, f"127.0.0.1:{sim_port}"),),
            listen="127.0.0.1:0",
            health_retry=0.1,
            backend_retry_max=0.2,
            grace=0,
        )
        app = await build_server(settings)
        try:
            link = app.links.get(backend.name)
            assert link is not None
            await link.ready.wait()
            async with grpc.aio.insecure_channel(app.address) as channel:
                yield await populate(SharedStack(app, SharedSim(backend), Api(channel)))
        finally:
            await app.stop(0)
    finally:
        await backend.stop(0)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_world(shared_database_url: str) -> AsyncIterator[World]:
    async with running_world(shared_database_url) as world:
        yield world


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


def old_style_token(after: int) -> str:
    """The token the server once issued (base64 JSON, unsigned), rebuilt by a client."""
    filters = {"tenant": "tenant-a", "name": "", "status": None}
    fingerprint = hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]
    return forged(json.dumps({"after": after, "filters": fingerprint}).encode())


def tampered(list_method: str) -> Call:
    """A real ListNetworks token with one bit of it flipped, sent back."""

    async def call(w: World) -> Any:
        raw = bytearray(base64.urlsafe_b64decode(await token_of(w)))
        raw[len(raw) // 3] ^= 0x01
        service, name = list_method.split(".")
        request = net_pb.ListNetworksRequest(page_size=1, page_token=forged(bytes(raw)))
        return await getattr(getattr(w.a, service), name)(request, metadata=w.a.md)

    return call


def port_token_reused(list_method: str, build: Callable[[World, str], Any]) -> Call:
    """A real ListPorts token of network `net`, sent with other filters."""

    async def call(w: World) -> Any:
        first = await w.a.ports.ListPorts(
            port_pb.ListPortsRequest(page_size=1, network_id=w.net.id), metadata=w.a.md
        )
        assert first.next_page_token
        service, name = list_method.split(".")
        request = build(w, first.next_page_token)
        return await getattr(getattr(w.a, service), name)(request, metadata=w.a.md)

    return call


MALFORMED = b"\xff\xff\xff"  # a field tag whose varint never ends: no message parses it
SERVICES = (
    net_pb.DESCRIPTOR.services_by_name["NetworkService"],
    port_pb.DESCRIPTOR.services_by_name["PortService"],
    att_pb.DESCRIPTOR.services_by_name["AttachmentService"],
    watch_pb.DESCRIPTOR.services_by_name["WatchService"],
    reporter_pb.DESCRIPTOR.services_by_name["StatusReporterService"],
    health_pb2.DESCRIPTOR.services_by_name["Health"],
    reflection_pb2.DESCRIPTOR.services_by_name["ServerReflection"],
)
METHODS = [method for service in SERVICES for method in service.methods]


def raw(method: MethodDescriptor) -> Call:
    """``MALFORMED`` sent as the request (or first stream message) of ``method``."""
    path = f"/{method.containing_service.full_name}/{method.name}"

    internal = method.containing_service.full_name.startswith("quantum.plugin.")

    async def call(w: World) -> Any:
        if internal:  # back-ends' services are served on the internal listener only
            async with grpc.aio.insecure_channel(w.stack.app.internal_address) as channel:
                return await _send(channel, w.a.md)
        return await _send(w.a.channel, w.a.md)

    async def _send(channel: grpc.aio.Channel, md: Any) -> Any:
        if method.client_streaming:

            async def one() -> AsyncIterator[bytes]:
                yield MALFORMED

            if method.server_streaming:
                return [r async for r in channel.stream_stream(path)(one(), metadata=md)]
            return await channel.stream_unary(path)(one(), metadata=md)
        if method.server_streaming:
            return [r async for r in channel.unary_stream(path)(MALFORMED, metadata=md)]
        return await channel.unary_unary(path)(MALFORMED, metadata=md)

    return call


def kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


ADMIN_MD = (("x-tenant-id", "tenant-a"), ("x-quantum-admin", "true"))
REUSED = {"code": grpc.StatusCode.ALREADY_EXISTS, "reason": "REQUEST_ID_REUSED"}
MAX_RATE_KBPS = 1_000_000_000  # docs/architecture.md, "Limits of client input"
MAX_BURST_KBYTES = 4_194_304
QOS_CASES = [
    ("rate-2^63", {"rate_kbps": 2**63}, "qos.rate_kbps"),
    ("rate-2^64-1", {"rate_kbps": 2**64 - 1}, "qos.rate_kbps"),
    ("rate-above-maximum", {"rate_kbps": MAX_RATE_KBPS + 1}, "qos.rate_kbps"),
    ("burst-2^63", {"rate_kbps": 1000, "burst_kbytes": 2**63}, "qos.burst_kbytes"),
    ("burst-2^64-1", {"rate_kbps": 1000, "burst_kbytes": 2**64 - 1}, "qos.burst_kbytes"),
    (
        "burst-above-maximum",
        {"rate_kbps": 1, "burst_kbytes": MAX_BURST_KBYTES + 1},
        "qos.burst_kbytes",
    ),
]


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


# Bidi overrides, embeddings, isolates and marks; zero-width characters; the BOM.
INVISIBLE = (
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi
    "\u200b\u200c\u200d\u200e\u200f\ufeff\u2060"  # zero-width, marks, BOM
)

NAME_CASES = [
    ("empty", ""),
    ("whitespace-only", " \t "),
    ("256-chars", "n" * 256),
    ("control-char-bel", "blue\x07net"),
    ("control-char-newline", "blue\nnet"),
    ("control-char-del", "blue\x7f"),
    ("control-char-nul", "blue\x00"),
    ("line-separator-u2028", "blue\u2028net"),
    *((f"invisible-u{ord(ch):04x}", f"blue{ch}net") for ch in INVISIBLE),
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
            reason="INVALID_PAGE_TOKEN",
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
        reason="INVALID_PAGE_TOKEN",
    ),
    case(
        "list-ports-garbage-token",
        rpc("ports.ListPorts", lambda w: port_pb.ListPortsRequest(page_token="garbage")),
        "page_token",
        reason="INVALID_PAGE_TOKEN",
    ),
    case(
        "list-networks-token-reused-with-other-name",
        with_token(
            "networks.ListNetworks",
            lambda w, t: net_pb.ListNetworksRequest(page_size=1, page_token=t, name="blue"),
        ),
        "page_token",
        reason="INVALID_PAGE_TOKEN",
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
        reason="INVALID_PAGE_TOKEN",
    ),
    case(
        "list-networks-token-reused-without-its-filter",
        with_token(
            "networks.ListNetworks",
            lambda w, t: net_pb.ListNetworksRequest(page_size=1, page_token=t),
            status=network_pb2.NETWORK_STATUS_AVAILABLE,
        ),
        "page_token",
        reason="INVALID_PAGE_TOKEN",
    ),
    case(
        "list-networks-token-reused-by-another-tenant",
        lambda w: _token_as(w, w.b),
        "page_token",
        reason="INVALID_PAGE_TOKEN",
    ),
    case(
        "list-ports-with-a-list-networks-token",
        with_token(
            "ports.ListPorts",
            lambda w, t: port_pb.ListPortsRequest(page_size=1, page_token=t),
        ),
        "page_token",
        reason="INVALID_PAGE_TOKEN",
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
    *(
        case(
            f"create-port-qos-{label}",
            rpc(
                "ports.CreatePort",
                lambda w, q=qos: port_pb.CreatePortRequest(
                    network_id=w.net.id, qos=port_pb2.QosPolicy(**q)
                ),
            ),
            field,
        )
        for label, qos, field in QOS_CASES
    ),
    *(
        case(
            f"update-port-qos-{label}",
            rpc(
                "ports.UpdatePort",
                lambda w, q=qos: port_pb.UpdatePortRequest(
                    port_id=w.port.id, qos=port_pb2.QosPolicy(**q)
                ),
            ),
            field,
        )
        for label, qos, field in QOS_CASES
    ),
    # other numbers at the edges of their wire types
    *(
        case(
            f"list-{kind}-page-size-{label}",
            rpc(method, lambda w, m=message, s=size: m(page_size=s)),
            "page_size",
        )
        for kind, method, message in (
            ("networks", "networks.ListNetworks", net_pb.ListNetworksRequest),
            ("ports", "ports.ListPorts", port_pb.ListPortsRequest),
        )
        for label, size in (("int32-max", 2**31 - 1), ("int32-min", -(2**31)))
    ),
    case(
        "update-network-revision-int64-min",
        rpc(
            "networks.UpdateNetwork",
            lambda w: net_pb.UpdateNetworkRequest(
                network_id=w.net.id, name="x", expected_revision=-(2**63)
            ),
        ),
        "expected_revision",
    ),
    # more strings
    *(
        case(
            f"plug-interface-id-invisible-u{ord(ch):04x}",
            rpc(
                "attachments.PlugAttachment",
                lambda w, c=ch: att_pb.PlugAttachmentRequest(
                    port_id=w.port.id, interface_id=f"vif{c}1"
                ),
            ),
            "interface_id",
        )
        for ch in "\u202e\u2066\u200b\ufeff"
    ),
    *(
        case(
            f"list-networks-name-filter-{label}",
            rpc("networks.ListNetworks", lambda w, n=name: net_pb.ListNetworksRequest(name=n)),
            "name",
        )
        for label, name in (
            ("256-chars", "n" * 256),
            ("control-char", "blue\n"),
            ("rlo", "\u202eblue"),
        )
    ),
    case(
        "get-network-megabyte-id",
        rpc("networks.GetNetwork", lambda w: net_pb.GetNetworkRequest(network_id="x" * 2**20)),
        "network_id",
    ),
    case(
        "create-network-megabyte-tenant-id",
        rpc(
            "networks.CreateNetwork",
            lambda w: net_pb.CreateNetworkRequest(tenant_id="t" * 2**20, name="x"),
        ),
        "tenant_id",
    ),
    case(
        "create-network-admin-names-256-char-tenant",
        rpc(
            "networks.CreateNetwork",
            lambda w: net_pb.CreateNetworkRequest(tenant_id="t" * 256, name="x"),
            md=ADMIN_MD,
        ),
        "tenant_id",
    ),
    case(
        "create-port-admin-names-malformed-tenant",
        rpc(
            "ports.CreatePort",
            lambda w: port_pb.CreatePortRequest(tenant_id="tenant b", network_id=w.b_net.id),
            md=ADMIN_MD,
        ),
        "tenant_id",
    ),
    case(
        "list-networks-admin-names-malformed-tenant",
        rpc(
            "networks.ListNetworks",
            lambda w: net_pb.ListNetworksRequest(tenant_id="tenant\u202eb"),
            md=ADMIN_MD,
        ),
        "tenant_id",
    ),
    # page tokens a client made or changed
    *(
        case(
            f"list-networks-client-made-token-after-{label}",
            rpc(
                "networks.ListNetworks",
                lambda w, a=after: net_pb.ListNetworksRequest(page_token=old_style_token(a)),
            ),
            "page_token",
            reason="INVALID_PAGE_TOKEN",
        )
        for label, after in (("0", 0), ("2^64", 2**64), ("-1", -1))
    ),
    case(
        "list-networks-tampered-token",
        tampered("networks.ListNetworks"),
        "page_token",
        reason="INVALID_PAGE_TOKEN",
    ),
    *(
        case(
            f"list-networks-token-{label}",
            rpc(
                "networks.ListNetworks", lambda w, t=token: net_pb.ListNetworksRequest(page_token=t)
            ),
            "page_token",
            reason="INVALID_PAGE_TOKEN",
        )
        for label, token in (("64-kib", "A" * 65536), ("non-ascii", "\u00fc" * 32))
    ),
    case(
        "list-networks-token-reused-by-admin-for-every-tenant",
        lambda w: _token_as(w, w.a.as_tenant("tenant-a", admin=True)),
        "page_token",
        reason="INVALID_PAGE_TOKEN",
    ),
    case(
        "list-ports-token-reused-on-another-network",
        port_token_reused(
            "ports.ListPorts",
            lambda w, t: port_pb.ListPortsRequest(page_size=1, network_id=w.spare.id, page_token=t),
        ),
        "page_token",
        reason="INVALID_PAGE_TOKEN",
    ),
    case(
        "list-networks-with-a-list-ports-token",
        port_token_reused(
            "networks.ListNetworks",
            lambda w, t: net_pb.ListNetworksRequest(page_size=1, page_token=t),
        ),
        "page_token",
        reason="INVALID_PAGE_TOKEN",
    ),
    # request_id reused for another create (AIP-155)
    case(
        "create-network-request-id-reused-with-another-name",
        rpc(
            "networks.CreateNetwork",
            lambda w: net_pb.CreateNetworkRequest(name="red", request_id=NET_REQUEST),
        ),
        "request_id",
        **REUSED,
    ),
    *(
        case(
            f"create-port-request-id-reused-with-{label}",
            rpc("ports.CreatePort", build),
            "request_id",
            **REUSED,
        )
        for label, build in (
            (
                "another-network",
                lambda w: port_pb.CreatePortRequest(network_id=w.spare.id, request_id=PORT_REQUEST),
            ),
            (
                "admin-state-down",
                lambda w: port_pb.CreatePortRequest(
                    network_id=w.net.id, admin_state_up=False, request_id=PORT_REQUEST
                ),
            ),
            (
                "a-qos",
                lambda w: port_pb.CreatePortRequest(
                    network_id=w.net.id,
                    qos=port_pb2.QosPolicy(rate_kbps=1000),
                    request_id=PORT_REQUEST,
                ),
            ),
        )
    ),
    # bytes that are no protobuf message, to every RPC the core serves
    *(
        case(
            f"malformed-bytes-{kebab(m.containing_service.name)}-{kebab(m.name)}",
            raw(m),
            "",
            mentions="not a valid",
        )
        for m in METHODS
    ),
]


async def _token_as(w: World, caller: Api) -> Any:
    token = await token_of(w)
    return await caller.networks.ListNetworks(
        net_pb.ListNetworksRequest(page_size=1, page_token=token), metadata=caller.md
    )


@SHARED
@pytest.mark.parametrize("bad", CASES)
async def test_bad_input_is_refused_and_changes_nothing(shared_world: World, bad: Bad) -> None:
    world = shared_world
    before, since = await world.state(), time.monotonic()
    error = await rpc_error(bad.call(world))
    assert (error.code, error.reason) == (bad.code, bad.reason), error
    assert not any(internal in error.message for internal in INTERNALS), error
    assert error.field == bad.field, error
    if bad.field:
        assert bad.field in error.message, error
    else:
        assert bad.mentions in error.message, error
    await world.assert_unharmed(before, since)


@SHARED
async def test_a_retry_with_the_same_request_id_returns_the_first_resource(
    shared_world: World,
) -> None:
    """AIP-155: the same create again (however its defaults are spelled) changes nothing."""
    world, api = shared_world, shared_world.a
    before, since = await world.state(), time.monotonic()
    again = await api.create_network("blue", request_id=NET_REQUEST)
    assert again == world.net
    for spelled in (
        {},
        {"admin_state_up": True},
        {"qos": port_pb2.QosPolicy(rate_kbps=0)},
        {"require_ready": True},
    ):
        port = await api.create_port(world.net.id, request_id=PORT_REQUEST, **spelled)
        assert port == world.port, spelled
    await world.assert_unharmed(before, since)


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


@SHARED
@pytest.mark.parametrize(
    ("kind", "op"),
    [("network", op) for op in FOREIGN_NETWORK_CALLS] + [("port", op) for op in FOREIGN_PORT_CALLS],
)
async def test_another_tenants_resource_is_not_found(
    shared_world: World, kind: str, op: str
) -> None:
    """Tenant B gets exactly the answer it would get for an id that does not exist."""
    world = shared_world
    if kind == "network":
        call, target = FOREIGN_NETWORK_CALLS[op], world.net.id
        reason, field = "NETWORK_NOT_FOUND", "network_id"
    else:
        call, target = FOREIGN_PORT_CALLS[op], world.plugged.id
        reason, field = "PORT_NOT_FOUND", "port_id"
    before, since = await world.state(), time.monotonic()
    error = await rpc_error(call(world.b, target))
    assert (error.code, error.reason, error.field) == (NOT_FOUND, reason, field), error
    await world.assert_unharmed(before, since)

    unknown = str(uuid.uuid4())
    nobody = await rpc_error(call(world.b, unknown))
    assert (nobody.code, nobody.reason, nobody.field) == (error.code, error.reason, error.field)
    assert error.message == nobody.message.replace(unknown, target)
    # Each call's own request id aside (docs/operations.md, "Request ids and logs").
    assert error.metadata.pop("request_id") != nobody.metadata.pop("request_id")
    assert error.metadata == nobody.metadata
    # The owner, asking the same, is served (or refused for another reason).
    if op in ("get-network", "get-port", "list-ports", "get-attachment"):
        await call(world.a, target)


@SHARED
async def test_lists_of_tenant_b_hold_none_of_tenant_a(shared_world: World) -> None:
    world = shared_world
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

    before, since = await world.state(), time.monotonic()
    error = await rpc_error(cas.call(world, now, seen.revision))
    assert (error.code, error.reason) == (grpc.StatusCode.ABORTED, "REVISION_MISMATCH"), error
    assert error.field == "expected_revision"
    assert error.metadata["current_revision"] == str(now.revision)
    await world.assert_unharmed(before, since)

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
    widest = port_pb2.QosPolicy(rate_kbps=MAX_RATE_KBPS, burst_kbytes=MAX_BURST_KBYTES)
    port = await api.update_port(port.id, qos=widest)
    assert (port.qos.rate_kbps, port.qos.burst_kbytes) == (MAX_RATE_KBPS, MAX_BURST_KBYTES)
    newest = await rpc_error(
        api.update_port(port.id, admin_state_up=False, expected_revision=2**63 - 1)
    )
    assert newest.reason == "REVISION_MISMATCH", newest
    walk = await api.networks.ListNetworks(net_pb.ListNetworksRequest(page_size=2), metadata=api.md)
    seen = [n.id for n in walk.networks]
    while walk.next_page_token:
        walk = await api.networks.ListNetworks(
            net_pb.ListNetworksRequest(page_size=2, page_token=walk.next_page_token),
            metadata=api.md,
        )
        seen.extend(n.id for n in walk.networks)
    assert seen == [n.id async for n in api.list_networks()] and len(seen) == 4
