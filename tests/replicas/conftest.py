"""Fixtures of the replica tests: a fresh PostgreSQL schema (these tests need PostgreSQL:
under CI=true they fail without it), in-process cores on it, and `serve` processes on it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from quantum_grpc.config import BackendTarget, Settings
from quantum_grpc.server import App, build_server
from tests.helpers.postgres import pg_schema
from tests.replicas.group import Group
from tests.replicas.tcp import Relay


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh schema, checked and dropped (in a thread) after the test."""
    with contextlib.ExitStack() as schema:
        yield schema.enter_context(pg_schema())
        await asyncio.to_thread(schema.close)


@pytest.fixture
async def relay(pg_url: str) -> AsyncIterator[Relay]:
    """A cuttable relay to the PostgreSQL server; ask for it before ``replica_factory``
    so that it outlives the cores using it."""
    url = make_url(pg_url)
    started = Relay(url.host or "127.0.0.1", url.port or 5432)
    await started.start()
    yield started
    started.restore()
    # Teardown order: the cores stop first (replica_factory), then this.
    await started.close()


ReplicaFactory = Callable[..., Awaitable[App]]


@pytest.fixture
async def replica_factory(pg_url: str) -> AsyncIterator[ReplicaFactory]:
    """In-process cores on one schema: ``await replica_factory(sim.target, url=...)``."""
    started: list[App] = []

    async def start(*backends: BackendTarget, url: str = "", **overrides: Any) -> App:
        settings = Settings(
            database_url=url or pg_url,
            backends=tuple(backends),
            listen="127.0.0.1:0",
            health_retry=0.1,
            backend_retry_max=0.2,
            grace=0,
            event_poll_interval=0.5,
            **overrides,
        )
        app = await build_server(settings)
        started.append(app)
        return app

    yield start
    for app in reversed(started):
        await app.stop(0)


@pytest.fixture
async def group(tmp_path: Path, pg_url: str, sim_factory: Any) -> AsyncIterator[Group]:
    """`serve` processes dispatching to one sim back-end (``group.sim``); none is started
    yet (``await group.start(3)``)."""
    sim = await sim_factory("sync")
    started = Group(tmp_path, pg_url, f"sim={sim.target.target}", sim)
    yield started
    await started.close()
