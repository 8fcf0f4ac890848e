"""Shared test helpers: real cores and sim back-ends on loopback, and a thin API client."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from quantum_grpc.conformance.client import Api, rpc_error

__all__ = ["IN_CI", "Api", "eventually", "need", "rpc_error"]

T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() == "true"


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
