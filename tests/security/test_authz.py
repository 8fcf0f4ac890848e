"""Authorization with real tokens: roles, tenants, watches and waits, expiry mid-stream,
and the audit log (docs/security.md, "Roles and policy").

Every test runs a core with ``--auth jwt`` (an HS256 secret made here) and a sim back-end,
and calls it with tokens minted by quantum_grpc.auth.tokens, as ``token issue`` does.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest

from quantum_api.errors import QuantumError, error_from_rpc
from quantum_api.v1 import (
    attachment_service_pb2 as att_pb,
    network_service_pb2 as net_pb,
    port_pb2,
    port_service_pb2 as port_pb,
    watch_service_pb2 as pb,
)
from quantum_client._stubs import Stubs
from quantum_grpc.auth.keys import signing_key
from quantum_grpc.auth.tokens import issue
from quantum_grpc.config import AuthMode
from tests.helpers.database import log_events

Metadata = tuple[tuple[str, str], ...]
OK = "OK"
DENIED = "PERMISSION_DENIED"
A, B = "tenant-a", "tenant-b"


@dataclass
class World:
    """A core with --auth jwt, a way to mint tokens, and a network and port in A and B."""

    stubs: Stubs
    secret: Path
    database_url: str
    net_a: str
    port_a: str
    net_b: str

    def md(self, tenant: str, *roles: str, ttl: float = 600, subject: str = "") -> Metadata:
        token = issue(
            signing_key(self.secret),
            tenant=tenant,
            roles=roles,
            ttl=ttl,
            subject=subject or f"{'+'.join(roles) or 'nobody'}@{tenant}",
        )
        return (("authorization", f"Bearer {token}"),)


async def _create_network(stubs: Stubs, md: Metadata, name: str) -> str:
    answer = await stubs.networks.CreateNetwork(net_pb.CreateNetworkRequest(name=name), metadata=md)
    return str(answer.network.id)


@pytest.fixture
async def world(stack_factory: Callable[..., Awaitable[Any]], tmp_path: Path) -> World:
    secret = tmp_path / "jwt.secret"
    secret.write_text(secrets.token_hex(32))
    stack = await stack_factory(
        "sync", core={"auth": AuthMode.JWT, "jwt_keys": (secret,), "jwt_leeway": 0.0}
    )
    stubs = stack.api.stubs
    w = World(stubs, secret, stack.app.core.settings.database_url, "", "", "")
    w.net_a = await _create_network(stubs, w.md(A, "member"), "a")
    w.net_b = await _create_network(stubs, w.md(B, "member"), "b")
    port = await stubs.ports.CreatePort(
        port_pb.CreatePortRequest(network_id=w.net_a), metadata=w.md(A, "member")
    )
    w.port_a = port.port.id
    return w


async def _first_message(call: Any) -> Any:
    """The first message of a stream (to see whether it was refused), then cancel it."""
    try:
        return await call.read()
    finally:
        call.cancel()


Call = Callable[[World, Metadata], Awaitable[Any]]


@dataclass(frozen=True)
class Case:
    name: str
    tenant: str
    roles: tuple[str, ...]
    call: Call
    code: str
    reason: str = ""


def _get_b(w: World, md: Metadata) -> Awaitable[Any]:
    return w.stubs.networks.GetNetwork(net_pb.GetNetworkRequest(network_id=w.net_b), metadata=md)


def _list_b(w: World, md: Metadata) -> Awaitable[Any]:
    return w.stubs.networks.ListNetworks(net_pb.ListNetworksRequest(tenant_id=B), metadata=md)


def _watch_b(w: World, md: Metadata) -> Awaitable[Any]:
    return _first_message(
        w.stubs.watch.WatchStatus(pb.WatchStatusRequest(tenant_id=B), metadata=md)
    )


def _watch_own(w: World, md: Metadata) -> Awaitable[Any]:
    return _first_message(w.stubs.watch.WatchStatus(pb.WatchStatusRequest(), metadata=md))


def _wait_b(w: World, md: Metadata) -> Awaitable[Any]:
    request = pb.WaitForStatusRequest(
        kind=pb.RESOURCE_KIND_NETWORK, resource_id=w.net_b, condition=pb.WAIT_CONDITION_APPLIED
    )
    return w.stubs.watch.WaitForStatus(request, metadata=md, timeout=5)


def _delete_b(w: World, md: Metadata) -> Awaitable[Any]:
    request = net_pb.DeleteNetworkRequest(network_id=w.net_b)
    return w.stubs.networks.DeleteNetwork(request, metadata=md)


def _create_in_b(w: World, md: Metadata) -> Awaitable[Any]:
    request = net_pb.CreateNetworkRequest(tenant_id=B, name="intruder")
    return w.stubs.networks.CreateNetwork(request, metadata=md)


def _create(w: World, md: Metadata) -> Awaitable[Any]:
    return w.stubs.networks.CreateNetwork(net_pb.CreateNetworkRequest(name="n"), metadata=md)


def _rename_a(w: World, md: Metadata) -> Awaitable[Any]:
    request = net_pb.UpdateNetworkRequest(network_id=w.net_a, name="renamed")
    return w.stubs.networks.UpdateNetwork(request, metadata=md)


def _plug_a(w: World, md: Metadata) -> Awaitable[Any]:
    request = att_pb.PlugAttachmentRequest(port_id=w.port_a, interface_id="vif-x")
    return w.stubs.attachments.PlugAttachment(request, metadata=md)


def _list_own(w: World, md: Metadata) -> Awaitable[Any]:
    return w.stubs.networks.ListNetworks(net_pb.ListNetworksRequest(), metadata=md)


CASES = [
    # A member of A and B's resources: named by id they do not exist, naming B is refused.
    Case("member of A gets B's network", A, ("member",), _get_b, "NOT_FOUND", "NETWORK_NOT_FOUND"),
    Case("member of A lists B", A, ("member",), _list_b, DENIED, "TENANT_MISMATCH"),
    Case("member of A watches B", A, ("member",), _watch_b, DENIED, "TENANT_MISMATCH"),
    Case("member of A waits on B's", A, ("member",), _wait_b, "NOT_FOUND", "NETWORK_NOT_FOUND"),
    Case("member of A deletes B's", A, ("member",), _delete_b, "NOT_FOUND", "NETWORK_NOT_FOUND"),
    Case("member of A creates in B", A, ("member",), _create_in_b, DENIED, "TENANT_MISMATCH"),
    # A reader reads and watches, never mutates.
    Case("reader creates", A, ("reader",), _create, DENIED, "ROLE_FORBIDDEN"),
    Case("reader updates", A, ("reader",), _rename_a, DENIED, "ROLE_FORBIDDEN"),
    Case("reader plugs", A, ("reader",), _plug_a, DENIED, "ROLE_FORBIDDEN"),
    Case("reader lists its tenant", A, ("reader",), _list_own, OK),
    Case("reader watches its tenant", A, ("reader",), _watch_own, OK),
    Case("reader of A watches B", A, ("reader",), _watch_b, DENIED, "TENANT_MISMATCH"),
    # An admin acts across tenants.
    Case("admin gets B's network", A, ("admin",), _get_b, OK),
    Case("admin lists B", A, ("admin",), _list_b, OK),
    Case("admin watches B", A, ("admin",), _watch_b, OK),
    Case("admin creates in B", A, ("admin",), _create_in_b, OK),
    Case("admin deletes B's", A, ("admin",), _delete_b, OK),
    # A back-end's identity on the client API, or a token with no role at all.
    Case("service lists", A, ("service",), _list_own, DENIED, "ROLE_FORBIDDEN"),
    Case("service watches", A, ("service",), _watch_own, DENIED, "ROLE_FORBIDDEN"),
    Case("service creates", A, ("service",), _create, DENIED, "ROLE_FORBIDDEN"),
    Case("no role lists", A, (), _list_own, DENIED, "ROLE_FORBIDDEN"),
]


async def _outcome(call: Awaitable[Any]) -> tuple[str, str]:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        error = error_from_rpc(exc)
        return error.code.name, error.reason
    return OK, ""


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_identity_cases(world: World, case: Case) -> None:
    md = world.md(case.tenant, *case.roles)
    assert await _outcome(case.call(world, md)) == (case.code, case.reason)


async def test_a_refused_mutation_changes_nothing(world: World) -> None:
    """The reader's and the other tenant's attempts leave B's and A's networks as they were."""
    await _outcome(_delete_b(world, world.md(A, "member")))
    await _outcome(_rename_a(world, world.md(A, "reader")))
    b = await _get_b(world, world.md(B, "reader"))
    a = await world.stubs.networks.GetNetwork(
        net_pb.GetNetworkRequest(network_id=world.net_a), metadata=world.md(A, "reader")
    )
    assert (b.network.name, a.network.name) == ("b", "a")


# -- watches ------------------------------------------------------------------------------


class Stream:
    """A WatchStatus call and every event received on it."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self.events: list[pb.WatchEvent] = []

    async def until(self, done: Callable[[list[pb.WatchEvent]], bool], timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while not done(self.events):
                message = await self.call.read()
                assert message is not grpc.aio.EOF, "the stream ended"
                self.events.extend(message.events)

    async def error(self, timeout: float = 10) -> QuantumError:
        """Read to the end; the error the stream ended with."""
        try:
            async with asyncio.timeout(timeout):
                while (message := await self.call.read()) is not grpc.aio.EOF:
                    self.events.extend(message.events)
        except grpc.aio.AioRpcError as exc:
            return error_from_rpc(exc)
        raise AssertionError("the stream ended without an error")

    def changes(self) -> list[pb.WatchEvent]:
        markers = (pb.EVENT_TYPE_SYNCED, pb.EVENT_TYPE_PROGRESS)
        return [e for e in self.events if e.type not in markers]


def _expiry(md: Metadata) -> float:
    token = md[0][1].removeprefix("Bearer ")
    return float(jwt.decode(token, options={"verify_signature": False})["exp"])


def _tenant_of(event: pb.WatchEvent) -> str:
    which = event.resource.WhichOneof("kind")
    return str(getattr(event.resource, which).tenant_id)


def _has(resource_id: str) -> Callable[[list[pb.WatchEvent]], bool]:
    def found(events: list[pb.WatchEvent]) -> bool:
        return any(e.resource.network.id == resource_id for e in events)

    return found


def _synced(events: list[pb.WatchEvent]) -> bool:
    return any(e.type == pb.EVENT_TYPE_SYNCED for e in events)


@pytest.mark.parametrize("role", ["reader", "member"])
async def test_a_watch_carries_only_its_own_tenants_events(world: World, role: str) -> None:
    """Current state, live changes and a resumed history: never another tenant's event."""
    live = Stream(
        world.stubs.watch.WatchStatus(pb.WatchStatusRequest(), metadata=world.md(A, role))
    )
    await live.until(_synced)
    await _create_network(world.stubs, world.md(B, "member"), "b2")
    mine = await _create_network(world.stubs, world.md(A, "member"), "a2")
    await live.until(_has(mine))  # B's change came first: had it been sent, it is here
    live.call.cancel()
    resumed = Stream(
        world.stubs.watch.WatchStatus(
            pb.WatchStatusRequest(start_revision=1), metadata=world.md(A, role)
        )
    )
    await resumed.until(_has(mine))
    resumed.call.cancel()
    for stream in (live, resumed):
        assert stream.changes() and {_tenant_of(e) for e in stream.changes()} == {A}
    # Every change of A's in the log after revision 1 came through the resumed watch.
    logged = [row[0] for row in log_events(world.database_url) if row[1] == A and row[0] > 1]
    assert [e.revision for e in resumed.changes()] == logged


async def test_an_admin_watch_carries_every_tenant(world: World) -> None:
    admin = Stream(
        world.stubs.watch.WatchStatus(pb.WatchStatusRequest(), metadata=world.md("ops", "admin"))
    )
    await admin.until(_synced)
    admin.call.cancel()
    assert {_tenant_of(e) for e in admin.changes()} == {A, B}


async def test_a_watch_ends_with_token_expired_when_its_token_expires(world: World) -> None:
    """After its last event; resumed with a fresh token, nothing is lost or repeated."""
    md = world.md(A, "reader", ttl=2)
    watch = Stream(world.stubs.watch.WatchStatus(pb.WatchStatusRequest(), metadata=md, timeout=30))
    await watch.until(_synced)
    before = await _create_network(world.stubs, world.md(A, "member"), "before-expiry")
    error = await watch.error(timeout=15)
    assert (error.code.name, error.reason) == ("UNAUTHENTICATED", "TOKEN_EXPIRED")
    assert time.time() >= _expiry(md)  # not before the token's exp
    last = watch.events[-1].revision
    assert error.metadata["revision"] == str(last)
    after = await _create_network(world.stubs, world.md(A, "member"), "after-expiry")
    resumed = Stream(
        world.stubs.watch.WatchStatus(
            pb.WatchStatusRequest(start_revision=last), metadata=world.md(A, "reader")
        )
    )
    await resumed.until(_has(after))
    synced_at = next(e.revision for e in watch.events if e.type == pb.EVENT_TYPE_SYNCED)
    logged = [
        row[0] for row in log_events(world.database_url) if row[1] == A and row[0] > synced_at
    ]
    # The back-end may still be moving `after` on: compare up to what the log held when read.
    await resumed.until(lambda events: any(e.revision >= logged[-1] for e in events))
    resumed.call.cancel()
    received = [
        e.revision
        for e in watch.changes() + resumed.changes()
        if synced_at < e.revision <= logged[-1]
    ]
    assert received == logged and before and after


async def test_an_idle_watch_ends_when_its_token_expires(world: World) -> None:
    """No event to wake it: the expiry itself ends the stream (a timer, not a check)."""
    watch = Stream(
        world.stubs.watch.WatchStatus(
            pb.WatchStatusRequest(), metadata=world.md(A, "reader", ttl=2)
        )
    )
    error = await watch.error(timeout=15)
    assert (error.code.name, error.reason) == ("UNAUTHENTICATED", "TOKEN_EXPIRED")
    assert watch.events and watch.events[-1].type in (pb.EVENT_TYPE_SYNCED, pb.EVENT_TYPE_PROGRESS)


async def test_a_wait_ends_with_token_expired_when_its_token_expires(world: World) -> None:
    # An unplugged port stays DOWN: the wait would last until its deadline.
    request = pb.WaitForStatusRequest(
        kind=pb.RESOURCE_KIND_PORT,
        resource_id=world.port_a,
        port_statuses=[port_pb2.PORT_STATUS_ACTIVE],
    )
    call = world.stubs.watch.WaitForStatus(
        request, metadata=world.md(A, "reader", ttl=2), timeout=20
    )
    assert await _outcome(call) == ("UNAUTHENTICATED", "TOKEN_EXPIRED")


# -- audit --------------------------------------------------------------------------------


def _audit_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "quantum_grpc.audit"]


async def test_every_mutation_is_audited_once_without_token_contents(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="quantum_grpc.audit")
    member = world.md(A, "member", subject="alice")
    admin = world.md("ops", "admin", subject="root")
    created = await _create_network(world.stubs, member, "audited")
    await _rename_a(world, member)
    await _plug_a(world, member)
    await _list_own(world, member)  # a read: not audited
    await _outcome(_delete_b(world, member))  # B's network, by a member of A: NOT_FOUND
    await _outcome(_create(world, world.md(A, "reader", subject="rita")))  # refused by role
    await _delete_b(world, admin)
    lines = _audit_lines(caplog)
    assert len(lines) == 6, lines
    expected = [
        (
            "NetworkService/CreateNetwork",
            "subject=alice",
            f"tenant={A}",
            f"resource={created}",
            "outcome=OK",
        ),
        (
            "NetworkService/UpdateNetwork",
            "subject=alice",
            f"tenant={A}",
            f"resource={world.net_a}",
            "outcome=OK",
        ),
        ("AttachmentService/PlugAttachment", "subject=alice", f"tenant={A}", "outcome=OK"),
        (
            "NetworkService/DeleteNetwork",
            "subject=alice",
            f"resource={world.net_b}",
            "outcome=NOT_FOUND:NETWORK_NOT_FOUND",
        ),
        (
            "NetworkService/CreateNetwork",
            "subject=rita",
            f"tenant={A}",
            "outcome=PERMISSION_DENIED:ROLE_FORBIDDEN",
        ),
        (
            "NetworkService/DeleteNetwork",
            "subject=root",
            f"tenant={B}",
            "caller_tenant=ops",
            f"resource={world.net_b}",
            "outcome=OK",
        ),
    ]
    for line, parts in zip(lines, expected, strict=True):
        assert all(part in line for part in parts), (line, parts)
    tokens = [value.removeprefix("Bearer ") for md in (member, admin) for _k, value in md]
    text = caplog.text
    assert not any(token in text or token.split(".")[1] in text for token in tokens)
