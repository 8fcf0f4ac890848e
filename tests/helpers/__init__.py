"""Shared test helpers: real cores and sim back-ends on loopback, and the SDK client."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
import pytest

from quantum_client import NO_RETRY, AsyncClient
from quantum_plugins.conformance.client import rpc_error

__all__ = ["IN_CI", "Api", "eventually", "need", "rpc_error"]

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() == "true"


class Api(AsyncClient):
    """The SDK's AsyncClient as the tests build it: on a channel the test owns, with no
    retries or deadlines of its own (a test sees each failure as it is), and the raw stubs
    and metadata under the short names the tests use (``api.ports.GetPort(..., metadata=api.md)``).
    """

    def __init__(self, channel: grpc.aio.Channel, tenant: str = "tenant-a", admin: bool = False):
        super().__init__(tenant=tenant, admin=admin, timeout=None, retry=NO_RETRY, channel=channel)
        self.channel = channel
        self.networks = self.stubs.networks
        self.ports = self.stubs.ports
        self.attachments = self.stubs.attachments
        self.md = self.metadata

    @property
    def tenant(self) -> str:
        """The caller's tenant."""
        return self.settings.tenant

    @property
    def admin(self) -> bool:
        """Whether it calls as an administrator."""
        return self.settings.admin

    def as_tenant(self, tenant: str, admin: bool = False) -> Api:
        """The same channel, another caller."""
        return Api(self.channel, tenant, admin)


def need(condition: bool, reason: str) -> None:
    """Skip outside CI when a prerequisite is missing; fail in CI (the bar for done)."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"prerequisite missing in CI: {reason}")
    pytest.skip(reason)


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
