"""Shared test helpers: real cores and sim back-ends on loopback, and a thin API client."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import pytest

from quantum_grpc._proto.quantum.v1 import (
    attachment_service_pb2 as att_pb,
    attachment_service_pb2_grpc,
    network_service_pb2 as net_pb,
    network_service_pb2_grpc,
    port_service_pb2 as port_pb,
    port_service_pb2_grpc,
)
from quantum_grpc.errors import QuantumError, error_from_rpc

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(condition: bool, reason: str) -> None:
    """Skip outside CI when a prerequisite is missing; fail in CI (the bar for done)."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"prerequisite missing in CI: {reason}")
    pytest.skip(reason)


@dataclass
class Api:
    """The three v1 services over one channel, calling as ``tenant``."""

    channel: grpc.aio.Channel
    tenant: str = "tenant-a"
    admin: bool = False

    def __post_init__(self) -> None:
        self.networks = network_service_pb2_grpc.NetworkServiceStub(self.channel)
        self.ports = port_service_pb2_grpc.PortServiceStub(self.channel)
        self.attachments = attachment_service_pb2_grpc.AttachmentServiceStub(self.channel)

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
        return (
            await self.networks.CreateNetwork(
                net_pb.CreateNetworkRequest(name=name, **kw), metadata=self.md
            )
        ).network

    async def get_network(self, network_id: str) -> Any:
        return (
            await self.networks.GetNetwork(
                net_pb.GetNetworkRequest(network_id=network_id), metadata=self.md
            )
        ).network

    async def create_port(self, network_id: str, **kw: Any) -> Any:
        return (
            await self.ports.CreatePort(
                port_pb.CreatePortRequest(network_id=network_id, **kw), metadata=self.md
            )
        ).port

    async def get_port(self, port_id: str) -> Any:
        return (
            await self.ports.GetPort(port_pb.GetPortRequest(port_id=port_id), metadata=self.md)
        ).port

    async def update_port(self, port_id: str, **kw: Any) -> Any:
        return (
            await self.ports.UpdatePort(
                port_pb.UpdatePortRequest(port_id=port_id, **kw), metadata=self.md
            )
        ).port

    async def plug(self, port_id: str, interface_id: str, **kw: Any) -> Any:
        return await self.attachments.PlugAttachment(
            att_pb.PlugAttachmentRequest(port_id=port_id, interface_id=interface_id, **kw),
            metadata=self.md,
        )

    async def unplug(self, port_id: str, **kw: Any) -> Any:
        return await self.attachments.UnplugAttachment(
            att_pb.UnplugAttachmentRequest(port_id=port_id, **kw), metadata=self.md
        )

    async def get_attachment(self, port_id: str) -> Any:
        return (
            await self.attachments.GetAttachment(
                att_pb.GetAttachmentRequest(port_id=port_id), metadata=self.md
            )
        ).attachment


async def eventually(
    probe: Callable[[], Awaitable[T]],
    check: Callable[[T], bool],
    *,
    timeout: float = 10.0,
    every: float = 0.02,
) -> T:
    """Call ``probe`` until ``check`` holds on its result; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s; last value:\n{value}")
        await asyncio.sleep(every)


async def rpc_error(call: Awaitable[Any]) -> QuantumError:
    """Await a call that must fail; the decoded catalogue error."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return error_from_rpc(exc)
    raise AssertionError("the call succeeded but was expected to fail")
