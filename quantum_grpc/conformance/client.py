"""A thin client over the v1 stubs for the conformance suite (and the project's tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import grpc

from quantum_api.errors import QuantumError, error_from_rpc
from quantum_api.v1 import (
    attachment_service_pb2 as att_pb,
    attachment_service_pb2_grpc,
    network_service_pb2 as net_pb,
    network_service_pb2_grpc,
    port_service_pb2 as port_pb,
    port_service_pb2_grpc,
    watch_service_pb2 as watch_pb,
    watch_service_pb2_grpc,
)

MARKERS = (watch_pb.EVENT_TYPE_SYNCED, watch_pb.EVENT_TYPE_PROGRESS)


@dataclass
class Api:
    """The v1 services over one channel, calling as ``tenant``."""

    channel: grpc.aio.Channel
    tenant: str = "tenant-a"
    admin: bool = False

    def __post_init__(self) -> None:
        self.networks = network_service_pb2_grpc.NetworkServiceStub(self.channel)
        self.ports = port_service_pb2_grpc.PortServiceStub(self.channel)
        self.attachments = attachment_service_pb2_grpc.AttachmentServiceStub(self.channel)
        self.watch = watch_service_pb2_grpc.WatchServiceStub(self.channel)

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        """Call metadata for this tenant."""
        pairs = [("x-tenant-id", self.tenant)]
        if self.admin:
            pairs.append(("x-quantum-admin", "true"))
        return tuple(pairs)

    def as_tenant(self, tenant: str, admin: bool = False) -> Api:
        """The same channel, another caller."""
        return Api(self.channel, tenant, admin)

    async def create_network(self, name: str = "net", **kw: Any) -> Any:
        request = net_pb.CreateNetworkRequest(name=name, **kw)
        return (await self.networks.CreateNetwork(request, metadata=self.md)).network

    async def get_network(self, network_id: str) -> Any:
        request = net_pb.GetNetworkRequest(network_id=network_id)
        return (await self.networks.GetNetwork(request, metadata=self.md)).network

    async def update_network(self, network_id: str, **kw: Any) -> Any:
        request = net_pb.UpdateNetworkRequest(network_id=network_id, **kw)
        return (await self.networks.UpdateNetwork(request, metadata=self.md)).network

    async def delete_network(self, network_id: str, **kw: Any) -> Any:
        request = net_pb.DeleteNetworkRequest(network_id=network_id, **kw)
        return await self.networks.DeleteNetwork(request, metadata=self.md)

    async def list_networks(self, **kw: Any) -> list[Any]:
        request = net_pb.ListNetworksRequest(page_size=1000, **kw)
        return list((await self.networks.ListNetworks(request, metadata=self.md)).networks)

    async def create_port(self, network_id: str, **kw: Any) -> Any:
        request = port_pb.CreatePortRequest(network_id=network_id, **kw)
        return (await self.ports.CreatePort(request, metadata=self.md)).port

    async def get_port(self, port_id: str) -> Any:
        request = port_pb.GetPortRequest(port_id=port_id)
        return (await self.ports.GetPort(request, metadata=self.md)).port

    async def update_port(self, port_id: str, **kw: Any) -> Any:
        request = port_pb.UpdatePortRequest(port_id=port_id, **kw)
        return (await self.ports.UpdatePort(request, metadata=self.md)).port

    async def delete_port(self, port_id: str, **kw: Any) -> Any:
        request = port_pb.DeletePortRequest(port_id=port_id, **kw)
        return await self.ports.DeletePort(request, metadata=self.md)

    async def plug(self, port_id: str, interface_id: str, **kw: Any) -> Any:
        request = att_pb.PlugAttachmentRequest(port_id=port_id, interface_id=interface_id, **kw)
        return await self.attachments.PlugAttachment(request, metadata=self.md)

    async def unplug(self, port_id: str, **kw: Any) -> Any:
        request = att_pb.UnplugAttachmentRequest(port_id=port_id, **kw)
        return await self.attachments.UnplugAttachment(request, metadata=self.md)

    async def get_attachment(self, port_id: str) -> Any:
        request = att_pb.GetAttachmentRequest(port_id=port_id)
        return (await self.attachments.GetAttachment(request, metadata=self.md)).attachment


async def rpc_error(call: Any) -> QuantumError:
    """Await a call that must fail; the decoded catalogue error."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return error_from_rpc(exc)
    raise AssertionError("the call succeeded but was expected to fail")


@dataclass
class Follower:
    """Reads one WatchStatus stream in the background into ``events``."""

    api: Api
    request: watch_pb.WatchStatusRequest
    events: list[watch_pb.WatchEvent] = field(default_factory=list)
    error: QuantumError | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _call: Any = None

    def start(self) -> Follower:
        """Open the stream and start reading it."""
        self._call = self.api.watch.WatchStatus(self.request, metadata=self.api.md)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        try:
            async for response in self._call:
                self.events.extend(response.events)
                self.changed.set()
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = error_from_rpc(exc)
        finally:
            self.ended.set()
            self.changed.set()

    @property
    def changes(self) -> list[watch_pb.WatchEvent]:
        """The events that are changes, markers left out."""
        return [e for e in self.events if e.type not in MARKERS]

    @property
    def last_revision(self) -> int:
        """The revision to resume from."""
        return self.events[-1].revision if self.events else self.request.start_revision

    async def until(self, predicate: Any, timeout: float = 10.0) -> list[watch_pb.WatchEvent]:
        """Wait until ``predicate(events)`` holds; fail if the stream ends first."""
        async with asyncio.timeout(timeout):
            while not predicate(self.events):
                if self.ended.is_set():
                    raise AssertionError(f"stream ended ({self.error}) before the condition held")
                self.changed.clear()
                await self.changed.wait()
        return self.events

    async def cancel(self) -> None:
        """Close the stream."""
        if self._call is not None:
            self._call.cancel()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
