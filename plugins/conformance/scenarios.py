"""The scenarios: what a user does, and what they must see, whatever the back-end.

Each scenario gets a :class:`Context` whose API client calls a core dispatching to the
back-end under test. It uses its own resources and removes them at the end. Waits go
through WatchStatus/WaitForStatus; every watched sequence is checked against the status
model's transitions.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc

from quantum_api.v1 import attachment_pb2, network_pb2, port_pb2, watch_service_pb2 as watch_pb
from quantum_client.resources import APPLIED
from quantum_grpc.service.status_rules import Readiness
from quantum_plugins.conformance.checks import (
    expect_error,
    refused_while_not_ready,
    wait_gone,
    wait_status,
    watched,
)
from quantum_plugins.conformance.client import Api

AVAILABLE = network_pb2.NETWORK_STATUS_AVAILABLE
ACTIVE, DOWN = port_pb2.PORT_STATUS_ACTIVE, port_pb2.PORT_STATUS_DOWN
ATTACHED = attachment_pb2.ATTACHMENT_STATUS_AVAILABLE
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION


class Interfaces(Protocol):
    """Makes a VM interface exist on some host (a tap device for a real datapath)."""

    async def create(self, interface_id: str) -> None:
        """Make ``interface_id`` exist."""

    async def remove(self, interface_id: str) -> None:
        """Remove it again."""


class NoInterfaces:
    """For back-ends that need no real interface (the sim)."""

    async def create(self, interface_id: str) -> None:
        return None

    async def remove(self, interface_id: str) -> None:
        return None


@dataclass
class Context:
    """What a scenario works with."""

    api: Api
    readiness: Readiness
    interfaces: Interfaces = field(default_factory=NoInterfaces)
    timeout: float = 30.0

    def name(self, what: str) -> str:
        """A unique name for a resource of this run."""
        return f"conf-{what}-{uuid.uuid4().hex[:8]}"

    async def network(self) -> network_pb2.Network:
        """A network that is AVAILABLE."""
        net = await self.api.create_network(self.name("net"))
        ready: network_pb2.Network = await wait_status(
            self.api, "network", net.id, AVAILABLE, timeout=self.timeout
        )
        return ready

    async def active_port(self, network_id: str) -> tuple[port_pb2.Port, str]:
        """A port with an interface plugged, ACTIVE; returns it and the interface id."""
        port = await self.api.create_port(network_id)
        await wait_status(self.api, "port", port.id, DOWN, timeout=self.timeout)
        interface = f"conf-{uuid.uuid4()}"
        await self.interfaces.create(interface)
        await self.api.plug(port.id, interface)
        return await wait_status(self.api, "port", port.id, ACTIVE, timeout=self.timeout), interface

    async def remove(self, network_id: str, ports: dict[str, str] | None = None) -> None:
        """Unplug, delete the ports, delete the network, and wait until all is gone.

        ``ports`` maps each port to its interface ("" for a port never plugged).
        """
        for port_id, interface in (ports or {}).items():
            if not interface:
                continue
            await self.api.unplug(port_id)
            await self.interfaces.remove(interface)
        for port_id in ports or {}:
            await self.api.delete_port(port_id)
        await self.api.delete_network(network_id)
        await wait_gone(self.api, "network", network_id, self.timeout)


Scenario = Callable[[Context], Awaitable[None]]


@dataclass(frozen=True)
class Entry:
    """A scenario, and the readiness policy it needs (None: any)."""

    name: str
    run: Scenario
    policy: Readiness | None = None


async def network_lifecycle(ctx: Context) -> None:
    """Create, read, list, rename and delete a network."""
    async with watched(ctx.api):
        net = await ctx.network()
        assert net.status == AVAILABLE and not net.HasField("error")
        assert net.id in [n.id async for n in ctx.api.list_networks()]
        renamed = await ctx.api.update_network(net.id, name="renamed")
        assert renamed.name == "renamed"
        done = await wait_status(ctx.api, "network", net.id, AVAILABLE, timeout=ctx.timeout)
        assert done.name == "renamed"
        await ctx.api.delete_network(net.id)
        await wait_gone(ctx.api, "network", net.id, ctx.timeout)


async def port_lifecycle(ctx: Context) -> None:
    """Create a port: DOWN with "no attachment"; change it; delete it."""
    net = await ctx.network()
    async with watched(ctx.api, net.id):
        port = await ctx.api.create_port(net.id)
        port = await wait_status(ctx.api, "port", port.id, DOWN, timeout=ctx.timeout)
        assert port.link_status_reason == "no attachment" and port.admin_state_up
        changed = await ctx.api.update_port(port.id, admin_state_up=False)
        assert changed.status == DOWN and not changed.admin_state_up
        await ctx.api.delete_port(port.id)
        await wait_gone(ctx.api, "port", port.id, ctx.timeout)
    await ctx.remove(net.id)


async def plug_and_unplug(ctx: Context) -> None:
    """Plug an interface: the port becomes ACTIVE; unplug: DOWN with "no attachment"."""
    net = await ctx.network()
    async with watched(ctx.api, net.id):
        port, interface = await ctx.active_port(net.id)
        assert port.link_status == port_pb2.LINK_STATUS_UP and port.interface_id == interface
        attachment = await ctx.api.get_attachment(port.id)
        assert attachment.status == ATTACHED and attachment.interface_id == interface
        await ctx.api.unplug(port.id)
        await wait_gone(ctx.api, "attachment", port.id, ctx.timeout)
        port = await ctx.api.get_port(port.id)
        assert port.status == DOWN and port.link_status_reason == "no attachment"
        await ctx.interfaces.remove(interface)
    await ctx.remove(net.id)


async def admin_down_and_up(ctx: Context) -> None:
    """Admin down makes an ACTIVE port DOWN at once; admin up brings ACTIVE back."""
    net = await ctx.network()
    async with watched(ctx.api, net.id):
        port, interface = await ctx.active_port(net.id)
        down = await ctx.api.update_port(port.id, admin_state_up=False)
        assert down.status == DOWN
        up = await ctx.api.update_port(port.id, admin_state_up=True)
        await wait_status(ctx.api, "port", up.id, ACTIVE, timeout=ctx.timeout)
    await ctx.remove(net.id, {port.id: interface})


async def qos_change(ctx: Context) -> None:
    """Setting and clearing QoS on an ACTIVE port keeps it ACTIVE and shows the policy."""
    net = await ctx.network()
    async with watched(ctx.api, net.id):
        port, interface = await ctx.active_port(net.id)
        limited = await ctx.api.update_port(
            port.id, qos=port_pb2.QosPolicy(rate_kbps=1000, burst_kbytes=64)
        )
        assert (limited.qos.rate_kbps, limited.qos.burst_kbytes) == (1000, 64)
        port = await wait_status(ctx.api, "port", port.id, ACTIVE, timeout=ctx.timeout)
        cleared = await ctx.api.update_port(port.id, qos=port_pb2.QosPolicy(rate_kbps=0))
        assert not cleared.HasField("qos")
        await wait_status(ctx.api, "port", port.id, ACTIVE, timeout=ctx.timeout)
    await ctx.remove(net.id, {port.id: interface})


async def changes_are_applied(ctx: Context) -> None:
    """Every change is confirmed: ``observed_generation`` catches up with ``generation``
    for a network and for a port's QoS and admin-state changes, and never goes back."""
    net = await ctx.network()
    net = await _applied(ctx, "network", net.id)
    assert net.observed_generation == net.generation >= 1
    async with watched(ctx.api, net.id) as follower:
        port, interface = await ctx.active_port(net.id)
        changes: list[dict[str, Any]] = [
            {"qos": port_pb2.QosPolicy(rate_kbps=3000)},
            {"admin_state_up": False},
            {"admin_state_up": True},
        ]
        for change in changes:
            changed = await ctx.api.update_port(port.id, **change)
            assert changed.generation > port.generation
            port = await _applied(ctx, "port", port.id)
            assert port.observed_generation == port.generation == changed.generation
    _check_observed_never_goes_back(follower.events)
    await ctx.remove(net.id, {port.id: interface})


async def _applied(ctx: Context, kind: str, resource_id: str) -> Any:
    """WaitForStatus until the back-end confirmed the resource's latest change."""
    return await ctx.api.wait_for_status(kind, resource_id, APPLIED, timeout=ctx.timeout)


def _check_observed_never_goes_back(events: Sequence[watch_pb.WatchEvent]) -> None:
    seen: dict[str, int] = {}
    for event in events:
        kind = event.resource.WhichOneof("kind")
        if kind not in ("network", "port"):
            continue
        resource = getattr(event.resource, kind)
        assert resource.observed_generation <= resource.generation, (
            f"{kind} {resource.id} observed generation {resource.observed_generation} is "
            f"ahead of its generation {resource.generation} at revision {event.revision}"
        )
        assert resource.observed_generation >= seen.get(resource.id, 0), (
            f"{kind} {resource.id} observed generation went back to "
            f"{resource.observed_generation} at revision {event.revision}"
        )
        seen[resource.id] = resource.observed_generation


async def delete_while_provisioning(ctx: Context) -> None:
    """A network deleted right after its create is gone in the end, without an error."""
    async with watched(ctx.api):
        net = await ctx.api.create_network(ctx.name("short"))
        answer = await ctx.api.delete_network(net.id)
        assert answer.deleted or answer.network.deleting
        await wait_gone(ctx.api, "network", net.id, ctx.timeout)


async def fire_and_forget(ctx: Context) -> None:
    """Create, plug, limit and disable a port without waiting: all four apply, in order."""
    net = await ctx.api.create_network(ctx.name("ff"))
    async with watched(ctx.api, net.id):
        interface = f"conf-{uuid.uuid4()}"
        await ctx.interfaces.create(interface)
        port = await ctx.api.create_port(net.id)
        await ctx.api.plug(port.id, interface)
        await ctx.api.update_port(port.id, qos=port_pb2.QosPolicy(rate_kbps=2000))
        await ctx.api.update_port(port.id, admin_state_up=False)
        await wait_status(ctx.api, "attachment", port.id, ATTACHED, timeout=ctx.timeout)
        final = await wait_status(ctx.api, "port", port.id, DOWN, timeout=ctx.timeout)
        assert not final.admin_state_up and final.qos.rate_kbps == 2000
        assert final.interface_id == interface
    await ctx.remove(net.id, {port.id: interface})


async def not_ready_under_reject(ctx: Context) -> None:
    """Under `reject`, a change to a resource not yet ready is refused until it is ready."""
    await _strict_changes(ctx, require_ready=False)


async def require_ready_flag(ctx: Context) -> None:
    """Under `accept`, `require_ready` asks for the strict behaviour for one request."""
    await _strict_changes(ctx, require_ready=True)


async def _strict_changes(ctx: Context, *, require_ready: bool) -> None:
    async with watched(ctx.api) as follower:
        net = await ctx.api.create_network(ctx.name("strict"))
        ports: dict[str, str] = {}
        if net.status != AVAILABLE:
            early = await refused_while_not_ready(
                ctx.api.create_port(net.id, require_ready=require_ready),
                follower,
                net.id,
                net.status,
                lambda made: int(made.revision),
            )
            if early is not None:
                ports[early.id] = ""
        await wait_status(ctx.api, "network", net.id, AVAILABLE, timeout=ctx.timeout)
        port = await ctx.api.create_port(net.id, require_ready=require_ready)
        interface = f"conf-{uuid.uuid4()}"
        await ctx.interfaces.create(interface)
        plugged = None
        if port.status == port_pb2.PORT_STATUS_PROVISIONING:
            plugged = await refused_while_not_ready(
                ctx.api.plug(port.id, interface, require_ready=require_ready),
                follower,
                port.id,
                port.status,
                lambda reply: int(reply.port.revision),
            )
        if plugged is None:
            await wait_status(ctx.api, "port", port.id, DOWN, timeout=ctx.timeout)
            await ctx.api.plug(port.id, interface, require_ready=require_ready)
        await wait_status(ctx.api, "port", port.id, ACTIVE, timeout=ctx.timeout)
        ports[port.id] = interface
        await ctx.remove(net.id, ports)


async def revision_conflicts(ctx: Context) -> None:
    """A stale expected revision is ABORTED (REVISION_MISMATCH); the current one applies."""
    net = await ctx.network()
    stale = net.revision
    renamed = await ctx.api.update_network(net.id, name="first", expected_revision=stale)
    await expect_error(
        ctx.api.update_network(net.id, name="second", expected_revision=stale),
        grpc.StatusCode.ABORTED,
        "REVISION_MISMATCH",
    )
    await expect_error(
        ctx.api.delete_network(net.id, expected_revision=stale),
        grpc.StatusCode.ABORTED,
        "REVISION_MISMATCH",
    )
    current = await wait_status(ctx.api, "network", net.id, AVAILABLE, timeout=ctx.timeout)
    assert current.name == renamed.name == "first"
    await ctx.api.delete_network(net.id, expected_revision=current.revision)
    await wait_gone(ctx.api, "network", net.id, ctx.timeout)


async def quantum_faults(ctx: Context) -> None:
    """NetworkInUse, PortInUse, AlreadyAttached and a missing attachment."""
    net = await ctx.network()
    port, interface = await ctx.active_port(net.id)
    other = await ctx.api.create_port(net.id)
    await expect_error(ctx.api.delete_network(net.id), FAILED_PRECONDITION, "NETWORK_IN_USE")
    await expect_error(ctx.api.delete_port(port.id), FAILED_PRECONDITION, "PORT_IN_USE")
    await expect_error(
        ctx.api.plug(port.id, f"conf-{uuid.uuid4()}"), FAILED_PRECONDITION, "PORT_IN_USE"
    )
    await expect_error(
        ctx.api.plug(other.id, interface), grpc.StatusCode.ALREADY_EXISTS, "ALREADY_ATTACHED"
    )
    await expect_error(
        ctx.api.get_attachment(other.id), grpc.StatusCode.NOT_FOUND, "ATTACHMENT_NOT_FOUND"
    )
    await ctx.api.delete_port(other.id)
    await ctx.remove(net.id, {port.id: interface})


SCENARIOS: tuple[Entry, ...] = (
    Entry("network lifecycle", network_lifecycle),
    Entry("port lifecycle", port_lifecycle),
    Entry("plug and unplug", plug_and_unplug),
    Entry("admin down and up", admin_down_and_up),
    Entry("qos change", qos_change),
    Entry("changes are applied", changes_are_applied),
    Entry("delete while provisioning", delete_while_provisioning),
    Entry("fire and forget", fire_and_forget, Readiness.ACCEPT),
    Entry("require_ready flag", require_ready_flag, Readiness.ACCEPT),
    Entry("not ready under reject", not_ready_under_reject, Readiness.REJECT),
    Entry("revision conflicts", revision_conflicts),
    Entry("quantum faults", quantum_faults),
)
