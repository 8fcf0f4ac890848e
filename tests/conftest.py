"""Fixtures: real sim back-ends and real cores on 127.0.0.1, SQLite files in tmp_path."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from quantum_grpc.config import BackendTarget, Settings
from quantum_grpc.server import App, build_server
from quantum_plugins.sim.backend import SimBackend
from quantum_plugins.sim.profiles import make_profile
from quantum_plugins.sim.server import build_sim_server
from tests.helpers import Api
from tests.helpers.postgres import pg_schema

# `serve` started by a test stops at once on SIGTERM; the drain tests (tests/mesh) pass
# --drain-delay themselves.
os.environ.setdefault("QUANTUM_DRAIN_DELAY", "0")


@dataclasses.dataclass
class Sim:
    """A running sim back-end."""

    backend: SimBackend
    port: int

    @property
    def target(self) -> BackendTarget:
        return BackendTarget(self.backend.name, f"127.0.0.1:{self.port}")


SimFactory = Callable[..., Awaitable[Sim]]
CoreFactory = Callable[..., Awaitable[App]]


@pytest.fixture
async def sim_factory() -> AsyncIterator[SimFactory]:
    """Start sim back-ends: ``await sim_factory("async", listen=..., step_delay=...)``."""
    started: list[Sim] = []

    async def start(
        profile: str = "sync",
        *,
        listen: str = "127.0.0.1:0",
        name: str = "sim",
        reassert_interval: float = 10.0,
        **options: Any,
    ) -> Sim:
        _server, port, backend = await build_sim_server(
            make_profile(profile, **options),
            name=name,
            listen=listen,
            reassert_interval=reassert_interval,
        )
        sim = Sim(backend, port)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        await sim.backend.stop(0)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file per test (for tests about SQLite itself)."""
    return f"sqlite:///{tmp_path}/quantum.db"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Every test that starts a core runs twice: on a fresh SQLite file and on a fresh
    schema of the PostgreSQL server (which fails rather than skips under CI=true).

    The schema is checked and dropped in a thread, so the event loop keeps running
    meanwhile: sessions the core is still ending get to finish.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/quantum.db"
        return
    request.applymarker(pytest.mark.postgres)
    with contextlib.ExitStack() as schema:
        yield schema.enter_context(pg_schema())
        await asyncio.to_thread(schema.close)


@pytest.fixture
async def core_factory(database_url: str) -> AsyncIterator[CoreFactory]:
    """Start cores: ``await core_factory(sim.target, readiness=Readiness.REJECT)``."""
    started: list[App] = []

    async def start(*backends: BackendTarget, **overrides: Any) -> App:
        settings = Settings(
            database_url=overrides.pop("database_url", database_url),
            backends=tuple(backends),
            listen="127.0.0.1:0",
            health_retry=0.1,
            backend_retry_max=0.2,
            grace=0,
            **overrides,
        )
        app = await build_server(settings)
        started.append(app)
        return app

    yield start
    for app in started:
        await app.stop(0)


@pytest.fixture
async def channel_factory() -> AsyncIterator[Callable[[str], grpc.aio.Channel]]:
    """Insecure channels, closed after the test."""
    channels: list[grpc.aio.Channel] = []

    def open_channel(address: str) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(address)
        channels.append(channel)
        return channel

    yield open_channel
    for channel in channels:
        await channel.close()


@dataclasses.dataclass
class Stack:
    """A core with one sim back-end and a client."""

    app: App
    sim: Sim
    api: Api


@pytest.fixture
def stack_factory(
    sim_factory: SimFactory,
    core_factory: CoreFactory,
    channel_factory: Callable[[str], grpc.aio.Channel],
) -> Callable[..., Awaitable[Stack]]:
    """``await stack_factory("async", step_delay=0.01)``: sim + core + client, ready to use."""

    async def start(
        profile: str = "sync", core: dict[str, Any] | None = None, **sim_options: Any
    ) -> Stack:
        sim = await sim_factory(profile, **sim_options)
        app = await core_factory(sim.target, **(core or {}))
        link = app.links.get(sim.target.name)
        assert link is not None
        await link.ready.wait()
        return Stack(app, sim, Api(channel_factory(app.address)))

    return start
