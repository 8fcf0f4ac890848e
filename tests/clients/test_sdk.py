"""The Python SDK against real cores and sim back-ends on loopback.

The blocking ``Client`` runs in a worker thread (``asyncio.to_thread``): the servers under
test share the test's event loop, which a blocking call on it would freeze.
"""

from __future__ import annotations

import ast
import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from quantum_api.errors import (
    AlreadyAttached,
    InvalidArgument,
    NetworkInUse,
    PortNotFound,
    TenantRequired,
)
from quantum_api.v1 import (
    attachment_service_pb2,
    network_service_pb2,
    port_service_pb2,
    watch_service_pb2,
)
from quantum_client import (
    AsyncClient,
    Client,
    Network,
    Port,
    QosPolicy,
    QuantumError,
    ResourceDeleted,
    ResourceFailed,
    RetryPolicy,
    WaitTimeout,
)
from quantum_client.resources import is_marker, resource_of

# The generated wrappers: these tests compare message fields with the proto's full names
# (quantum_client.PortStatus is the named IntEnum, tests/clients/test_statuses.py).
from quantum_client.types import EventType, NetworkStatus, PortStatus, WatchEvent
from tests.helpers.processes import free_port, start_command, wait_serving

TENANT = "tenant-a"
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.01, max_backoff=0.2)
ACTIVE = PortStatus.PORT_STATUS_ACTIVE


# -- the API surface -------------------------------------------------------------------------
RENAMED = {
    "PlugAttachment": "plug",
    "UnplugAttachment": "unplug",
    "WatchStatus": "watch",
}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def test_every_rpc_has_a_method_on_both_clients() -> None:
    files = (network_service_pb2, port_service_pb2, attachment_service_pb2, watch_service_pb2)
    rpcs = [
        m.name for f in files for s in f.DESCRIPTOR.services_by_name.values() for m in s.methods
    ]
    assert len(rpcs) == 17
    for rpc in rpcs:
        name = RENAMED.get(rpc, _snake(rpc))
        for cls in (Client, AsyncClient):
            method = getattr(cls, name, None)
            assert callable(method), f"{cls.__name__} has no {name} for {rpc}"
            assert method.__doc__, f"{cls.__name__}.{name} has no docstring"


def test_the_sdk_depends_on_the_stubs_and_the_catalogue_only() -> None:
    probe = (
        "import sys, quantum_client, quantum_client.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'alembic', 'quantum_plugins') or m.startswith('quantum_grpc.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert ast.literal_eval(done.stdout) == []


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUANTUM_URL", raising=False)
    monkeypatch.delenv("QUANTUM_TENANT", raising=False)
    monkeypatch.delenv("QUANTUM_ADMIN", raising=False)
    with pytest.raises(TenantRequired) as missing:
        Client()
    assert missing.value.code == grpc.StatusCode.UNAUTHENTICATED
    monkeypatch.setenv("QUANTUM_TENANT", "t-env")
    monkeypatch.setenv("QUANTUM_ADMIN", "true")
    with Client() as client:
        assert client.settings.url == "127.0.0.1:9696"
        assert client.settings.metadata == (("x-tenant-id", "t-env"), ("x-quantum-admin", "true"))
    monkeypatch.setenv("QUANTUM_URL", "grpc://10.0.0.1:1234")
    with Client(tenant="t-arg", admin=False) as client:
        assert client.settings.target == "10.0.0.1:1234"
        assert client.settings.metadata == (("x-tenant-id", "t-arg"),)


# -- CRUD ------------------------------------------------------------------------------------
def _sync_crud(address: str) -> None:
    with Client(address, TENANT, retry=FAST) as client:
        nets = [client.create_network(f"net-{i}") for i in range(3)]
        assert all(isinstance(n, Network) for n in nets)
        assert nets[0].status == NetworkStatus.NETWORK_STATUS_AVAILABLE  # sync back-end
        # page_size=1: the iterator walks every page.
        assert [n.id for n in client.list_networks(page_size=1)] == [n.id for n in nets]
        events = client.watch(kinds=["network"])
        listed = [next(events) for _ in nets]
        assert [e.resource.network.id for e in listed] == [n.id for n in nets]
        assert next(events).type == EventType.EVENT_TYPE_SYNCED
        events.close()
        assert [n.name for n in client.list_networks(name="net-1")] == ["net-1"]
        assert client.get_network(nets[0].id).name == "net-0"
        renamed = client.update_network(nets[0].id, name="front")
        assert renamed.name == "front" and renamed.revision > nets[0].revision

        port = client.create_port(
            nets[0].id, admin_state_up=False, qos=QosPolicy(rate_kbps=1000, burst_kbytes=64)
        )
        assert isinstance(port, Port)
        assert port.status == PortStatus.PORT_STATUS_DOWN and not port.admin_state_up
        assert port.qos.rate_kbps == 1000 and port.qos.burst_kbytes == 64
        up = client.update_port(port.id, admin_state_up=True)
        assert up.admin_state_up
        plugged = client.plug(port.id, "vif-sync")
        assert plugged.port.status == ACTIVE and plugged.attachment.interface_id == "vif-sync"
        assert client.get_attachment(port.id).interface_id == "vif-sync"
        assert [p.id for p in client.list_ports(nets[0].id, status="ACTIVE")] == [port.id]
        assert list(client.list_ports(nets[1].id)) == []
        assert client.unplug(port.id).deleted
        assert client.delete_port(port.id).deleted
        assert client.delete_network(nets[0].id).deleted
        assert [n.id for n in client.list_networks()] == [nets[1].id, nets[2].id]


async def test_sync_client_crud(stack_factory) -> None:
    stack = await stack_factory("sync")
    await asyncio.to_thread(_sync_crud, stack.app.address)


async def test_async_client_crud(stack_factory) -> None:
    stack = await stack_factory("sync")
    async with AsyncClient(stack.app.address, TENANT, retry=FAST) as client:
        nets = [await client.create_network(f"net-{i}") for i in range(3)]
        listed = [n.id async for n in client.list_networks(page_size=2)]
        assert listed == [n.id for n in nets]
        assert (await client.get_network(nets[1].id)).name == "net-1"
        assert (await client.update_network(nets[1].id, name="b")).name == "b"
        port = await client.create_port(nets[1].id)
        assert port.status == PortStatus.PORT_STATUS_DOWN
        assert port.link_status_reason == "no attachment"
        plugged = await client.plug(port.id, "vif-async")
        assert plugged.port.status == ACTIVE
        assert (await client.get_port(port.id)).interface_id == "vif-async"
        assert (await client.get_attachment(port.id)).port_id == port.id
        assert [p.id async for p in client.list_ports()] == [port.id]
        shaped = await client.update_port(port.id, qos=QosPolicy(rate_kbps=500))
        assert shaped.qos.rate_kbps == 500
        assert (await client.unplug(port.id)).port.status == PortStatus.PORT_STATUS_DOWN
        assert (await client.delete_port(port.id)).deleted
        assert (await client.delete_network(nets[1].id)).deleted


# -- errors ----------------------------------------------------------------------------------
async def test_errors_are_typed_with_code_and_reason(stack_factory) -> None:
    stack = await stack_factory("sync")
    async with AsyncClient(stack.app.address, TENANT) as client:
        net = await client.create_network("n")
        port = await client.create_port(net.id)
        other = await client.create_port(net.id)
        await client.plug(port.id, "vif-1")

        with pytest.raises(PortNotFound) as missing:
            await client.get_port("00000000-0000-4000-8000-000000000000")
        assert missing.value.code == grpc.StatusCode.NOT_FOUND
        assert missing.value.reason == "PORT_NOT_FOUND"
        with pytest.raises(NetworkInUse) as in_use:
            await client.delete_network(net.id)
        assert in_use.value.code == grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(AlreadyAttached) as attached:
            await client.plug(other.id, "vif-1")
        assert attached.value.code == grpc.StatusCode.ALREADY_EXISTS
        with pytest.raises(InvalidArgument) as bad:
            await client.get_network("not-a-uuid")
        assert bad.value.field == "network_id"
        with pytest.raises(QuantumError) as stale:
            await client.update_network(net.id, name="x", expected_revision=1)
        assert (stale.value.code, stale.value.reason) == (
            grpc.StatusCode.ABORTED,
            "REVISION_MISMATCH",
        )
    # Another tenant does not see the network at all.
    async with AsyncClient(stack.app.address, "tenant-b") as intruder:
        with pytest.raises(QuantumError) as hidden:
            await intruder.get_network(net.id)
        assert hidden.value.reason == "NETWORK_NOT_FOUND"


def _sync_errors(address: str) -> None:
    with Client(address, TENANT) as client, pytest.raises(PortNotFound) as missing:
        client.get_port("00000000-0000-4000-8000-000000000000")
    assert missing.value.code == grpc.StatusCode.NOT_FOUND
    assert str(missing.value).startswith("NOT_FOUND PORT_NOT_FOUND: ")


async def test_sync_errors_are_typed(stack_factory) -> None:
    stack = await stack_factory("sync")
    await asyncio.to_thread(_sync_errors, stack.app.address)


# -- retries ---------------------------------------------------------------------------------
class _Unavailable(grpc.RpcError):
    """What a call whose answer was lost looks like to the client."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "injected: connection reset"

    def trailing_metadata(self) -> tuple[()]:
        return ()


class _LoseAnswers(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Sends each call, then fails the first ``lose`` of each method as if the answer was lost."""

    def __init__(self, lose: int) -> None:
        self.lose = lose
        self.requests: dict[str, list[Any]] = {}

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        seen = self.requests.setdefault(details.method.rsplit("/", 1)[-1], [])
        seen.append(request)
        outcome = continuation(details, request)
        outcome.result()  # the server did the work...
        if len(seen) <= self.lose:
            raise _Unavailable()  # ...but the client never heard
        return outcome


def _retries(address: str) -> dict[str, list[Any]]:
    lossy = _LoseAnswers(lose=2)
    channel = grpc.intercept_channel(grpc.insecure_channel(address), lossy)
    try:
        client = Client(address, TENANT, retry=FAST, channel=channel)
        net = client.create_network("once")
        # Retried with the same request id: one network, the one the first try made.
        assert [n.id for n in client.list_networks()] == [net.id]
        assert client.get_network(net.id).id == net.id
        with pytest.raises(QuantumError) as lost:
            client.update_network(net.id, name="twice")  # not idempotent: never retried
        assert lost.value.code == grpc.StatusCode.UNAVAILABLE
        return lossy.requests
    finally:
        channel.close()


async def test_unavailable_is_retried_only_when_safe(stack_factory) -> None:
    stack = await stack_factory("sync")
    requests = await asyncio.to_thread(_retries, stack.app.address)
    creates = requests["CreateNetwork"]
    assert len(creates) == 3 and len({r.request_id for r in creates}) == 1
    assert creates[0].request_id  # generated
    assert len(requests["GetNetwork"]) == 3
    assert len(requests["UpdateNetwork"]) == 1


# -- wait_for --------------------------------------------------------------------------------
async def test_wait_for_returns_the_port_once_active(stack_factory) -> None:
    stack = await stack_factory("async", step_delay=0.05)
    async with AsyncClient(stack.app.address, TENANT) as client:
        net = await client.create_network("n")
        port = await client.create_port(net.id)
        plugged = await client.plug(port.id, "vif-1")
        assert plugged.port.status != ACTIVE
        seen: list[int] = []
        ready = await client.wait_for(
            plugged.port, "ACTIVE", timeout=10, on_update=lambda r: seen.append(r.status)
        )
        assert isinstance(ready, Port) and ready.id == port.id and ready.status == ACTIVE
        assert seen[0] != ACTIVE and seen[-1] == ACTIVE
        # Already there: at once; by kind and id, several statuses, and a network.
        again = await client.wait_for("port", port.id, ["ACTIVE", "DOWN"], timeout=5)
        assert again.revision == ready.revision
        available = await client.wait_for(net, NetworkStatus.NETWORK_STATUS_AVAILABLE, timeout=5)
        assert isinstance(available, Network)
        server_side = await client.wait_for_status("port", port.id, "ACTIVE", timeout=5)
        assert server_side.id == port.id
        # An attachment is followed through its port.
        attached = await client.wait_for(plugged.attachment, "AVAILABLE", timeout=5)
        assert attached.port_id == port.id and attached.interface_id == "vif-1"


def _sync_wait(address: str, port: Port) -> Port:
    with Client(address, TENANT) as client:
        return client.wait_for(port, "ACTIVE", timeout=10)


async def test_sync_wait_for_returns_the_port_once_active(stack_factory) -> None:
    stack = await stack_factory("async", step_delay=0.05)
    net = await stack.api.create_network("n")
    port = await stack.api.create_port(net.id)
    await stack.api.plug(port.id, "vif-1")
    ready = await asyncio.to_thread(_sync_wait, stack.app.address, port)
    assert ready.status == ACTIVE and ready.interface_id == "vif-1"


async def test_wait_for_raises_at_once_on_error_with_the_backend_detail(stack_factory) -> None:
    stack = await stack_factory("faulty", failure_rate=1.0, step_delay=0.05)
    async with AsyncClient(stack.app.address, TENANT) as client:
        net = await client.create_network("n")
        port = await client.create_port(net.id)
        started = time.monotonic()
        with pytest.raises(ResourceFailed) as failed:
            await client.wait_for(port, "ACTIVE", timeout=30)
        assert time.monotonic() - started < 5  # at the ERROR, not at the deadline
        error = failed.value
        assert (error.code, error.reason) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "RESOURCE_FAILED",
        )
        assert error.metadata["error_code"] == "SIM_INJECTED_FAULT"
        assert "SIM_INJECTED_FAULT" in error.message
        # The server-side wait agrees.
        with pytest.raises(ResourceFailed):
            await client.wait_for_status("port", port.id, "ACTIVE", timeout=5)


async def test_wait_for_times_out(stack_factory) -> None:
    stack = await stack_factory("async", step_delay=5)
    async with AsyncClient(stack.app.address, TENANT) as client:
        net = await client.create_network("n")
        started = time.monotonic()
        with pytest.raises(WaitTimeout) as late:
            await client.wait_for(net, "AVAILABLE", timeout=0.5)
        assert 0.4 < time.monotonic() - started < 3
        assert late.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert late.value.metadata["last_status"] == "PROVISIONING"
        with pytest.raises(ResourceDeleted):
            await client.wait_for("port", "00000000-0000-4000-8000-000000000000", "ACTIVE")
        with pytest.raises(InvalidArgument):
            await client.wait_for(net, "ACTIVE")  # not a network status
        with pytest.raises(WaitTimeout):
            await client.wait_for_status("network", net.id, "AVAILABLE", timeout=0.3)


# -- watch -----------------------------------------------------------------------------------
async def test_watch_lists_then_follows_and_resumes(stack_factory) -> None:
    stack = await stack_factory("sync")
    async with AsyncClient(stack.app.address, TENANT) as client:
        net = await client.create_network("n")
        stream = client.watch(kinds=["port", "network"])
        first = await anext(stream)
        assert first.type == EventType.EVENT_TYPE_ADDED and first.resource.network.id == net.id
        synced = await anext(stream)
        assert synced.type == EventType.EVENT_TYPE_SYNCED
        port = await client.create_port(net.id)
        live = await anext(stream)
        assert live.type == EventType.EVENT_TYPE_ADDED and live.resource.port.id == port.id
        await stream.aclose()

        await client.update_port(port.id, admin_state_up=False)
        # Resumed: exactly the events after the revision, no initial list.
        resumed = client.watch(start_revision=live.revision, resource_ids=[port.id])
        after: list[WatchEvent] = []
        while not after or after[-1].resource.port.admin_state_up:
            after.append(await anext(resumed))
        await resumed.aclose()
        assert all(e.type == EventType.EVENT_TYPE_MODIFIED for e in after)
        assert [e.revision for e in after] == sorted({e.revision for e in after})
        assert after[0].revision > live.revision


# -- surviving a restart ---------------------------------------------------------------------
async def _follow(client: AsyncClient, port_id: str, into: list[WatchEvent]) -> None:
    async for event in client.watch(kinds=["port"], resource_ids=[port_id]):
        into.append(event)
        resource = resource_of(event.resource)
        if isinstance(resource, Port) and resource.status == ACTIVE:
            return


async def test_wait_for_and_watch_survive_a_server_restart(tmp_path: Path, sim_factory) -> None:
    # The sim lives in this process and outlives the core, which runs as a real process.
    sim = await sim_factory("async", steps=1, step_delay=1.0)
    address = f"127.0.0.1:{free_port()}"
    args = [
        "serve",
        "--listen",
        address,
        "--database-url",
        f"sqlite:///{tmp_path}/core.db",
        "--backend",
        f"sim={sim.target.target}",
        "--grace",
        "1",
    ]
    core = start_command(args, tmp_path / "core.log")
    try:
        await wait_serving(address)
        async with AsyncClient(address, TENANT, retry=FAST) as client:
            net = await client.create_network("n")
            port = await client.create_port(net.id)
            await client.plug(port.id, "vif-1")  # applied in order once the back-end is ready

            watching = asyncio.Event()
            retries: list[Any] = []
            wait = asyncio.create_task(
                client.wait_for(
                    port,
                    "ACTIVE",
                    timeout=30,
                    on_update=lambda _: watching.set(),
                    on_retry=lambda error, _pause: retries.append(error),
                )
            )
            events: list[WatchEvent] = []
            follow = asyncio.create_task(_follow(client, port.id, events))
            await asyncio.wait_for(watching.wait(), 5)
            assert not wait.done()

            core.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(core.wait, 15) == 0
            first_pid = core.pid
            core = start_command(args, tmp_path / "core.log")
            assert core.pid != first_pid

            ready = await asyncio.wait_for(wait, 30)
            assert ready.id == port.id and ready.status == ACTIVE
            assert retries, "the wait never lost its stream"
            assert {e.code for e in retries if e is not None} <= {grpc.StatusCode.UNAVAILABLE}

            await asyncio.wait_for(follow, 10)
            changes = [e for e in events if not is_marker(e)]
            revisions = [e.revision for e in changes]
            assert revisions == sorted(set(revisions))  # resumed: nothing seen twice
            assert changes[-1].resource.port.status == ACTIVE
    finally:
        core.send_signal(signal.SIGTERM)
        await asyncio.to_thread(core.wait, 15)
