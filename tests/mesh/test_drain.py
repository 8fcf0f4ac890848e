"""SIGTERM of one of two cores behind the shipped Envoy (deploy/envoy/grpc.yaml), on one
PostgreSQL database: Envoy sees NOT_SERVING and moves traffic before the core stops
serving, no unary call fails, and every watcher resumes on the other core with exactly the
events of the log (docs/operations.md, "Behind a proxy or mesh")."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quantum_client import AsyncClient, QuantumError, RetryPolicy
from quantum_client.resources import is_marker
from quantum_client.types import WatchEvent
from quantum_grpc import children
from quantum_grpc.config import DEFAULT_DRAIN_DELAY
from tests.helpers import Api, eventually
from tests.helpers.database import log_events
from tests.helpers.postgres import pg_schema
from tests.helpers.processes import free_port, start_command, wait_gone, wait_serving
from tests.helpers.proxy import Proxy
from tests.helpers.serve import Cores, Served, cores
from tests.helpers.watch import key
from tests.mesh.conftest import Shipped
from tests.mesh.test_request_ids import delete_missing

__all__ = ["cores"]
WATCHERS = 12
FAST = RetryPolicy(initial_backoff=0.05, max_backoff=0.2)


@pytest.fixture
def shared_database() -> Iterator[str]:
    with pg_schema() as url:
        yield url


@pytest.fixture
async def sim_process(tmp_path: Path) -> AsyncIterator[str]:
    """One sim back-end both cores dispatch to."""
    address = f"127.0.0.1:{free_port()}"
    process = start_command(
        ["plugin", "sim", "--listen", address, "--profile", "sync"], tmp_path / "sim.log"
    )
    try:
        await wait_serving(address)
        yield address
    finally:
        children.stop(process)


class Watcher:
    """An SDK watch through the proxy: what it received and the cuts it resumed after."""

    def __init__(self, client: AsyncClient) -> None:
        self.events: list[WatchEvent] = []
        self.retries: list[QuantumError | None] = []
        stream = client.watch(on_retry=lambda error, _: self.retries.append(error))
        self.task = asyncio.create_task(self._follow(stream))

    async def _follow(self, stream: object) -> None:
        async for event in stream:  # type: ignore[attr-defined]
            self.events.append(event)

    @property
    def synced_at(self) -> int | None:
        return next((e.revision for e in self.events if is_marker(e)), None)

    def changes(self, after: int) -> list[tuple[int, str, str]]:
        return [key(e) for e in self.events if not is_marker(e) and e.revision > after]


@pytest.mark.postgres
async def test_sigterm_drains_one_core_behind_envoy(
    cores: Cores, shipped: Shipped, shared_database: str, sim_process: str
) -> None:
    flags = ["--database-url", shared_database, "--backend", f"sim={sim_process}"]
    # The documented default against the shipped health check settings.
    leaving = await cores.start(*flags, "--drain-delay", f"{DEFAULT_DRAIN_DELAY:g}")
    staying = await cores.start(*flags)  # its drain, at teardown, is not under test
    async with shipped("grpc.yaml", [leaving.address, staying.address]) as proxy:
        await eventually(lambda: asyncio.to_thread(proxy.healthy), lambda h: all(h.values()))
        async with AsyncClient(proxy.address, "tenant-a", retry=FAST) as client:
            net = await client.create_network("drain")
            watchers = [Watcher(client) for _ in range(WATCHERS)]
            try:
                await eventually(
                    lambda: asyncio.sleep(0, watchers),
                    lambda ws: all(w.synced_at is not None for w in ws),
                )
                async with grpc.aio.insecure_channel(proxy.address) as channel:
                    calls = await _unary_calls_during_drain(Api(channel), net.id, leaving, proxy)

                async def equal_to_the_log() -> bool:
                    rows = await asyncio.to_thread(log_events, shared_database)
                    return all(
                        w.changes(w.synced_at or 0)
                        == [(r[0], r[2], r[3]) for r in rows if r[0] > (w.synced_at or 0)]
                        for w in watchers
                    )

                await eventually(equal_to_the_log, bool, timeout=30)
            finally:
                for watcher in watchers:
                    watcher.task.cancel()
                await asyncio.gather(*(w.task for w in watchers), return_exceptions=True)
    assert calls > 0
    # Some watchers were on the core that left, and came back on the other one.
    cut = [w for w in watchers if w.retries]
    assert cut, "no watcher was on the draining core"
    for watcher in cut:
        assert {e.code for e in watcher.retries if e is not None} <= {
            grpc.StatusCode.UNAVAILABLE
        }, watcher.retries


async def _unary_calls_during_drain(api: Api, net_id: str, leaving: Served, proxy: Proxy) -> int:
    """SIGTERM ``leaving`` and make calls through the proxy until it is gone; every one
    must succeed. Envoy must mark it unhealthy while it still answers directly."""
    process, address = leaving.process, leaving.address
    port = await api.create_port(net_id)
    up, calls = True, 0
    process.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    marked_at = None
    async with grpc.aio.insecure_channel(address) as direct:
        direct_api = Api(direct)
        while process.poll() is None:
            assert time.monotonic() - signalled < DEFAULT_DRAIN_DELAY + 15, "never stopped"
            up = not up
            await api.update_port(port.id, admin_state_up=up)  # raises on any failure
            calls += 1
            if marked_at is None and not (await asyncio.to_thread(proxy.healthy))[address]:
                marked_at = time.monotonic() - signalled
                # Out of Envoy's rotation, and still serving.
                await direct_api.get_network(net_id)
    assert marked_at is not None, "Envoy never saw the draining core as unhealthy"
    assert marked_at < DEFAULT_DRAIN_DELAY, marked_at
    assert process.returncode == 0, leaving
    await api.update_port(port.id, admin_state_up=not up)  # after it left, too
    return calls + 1


async def test_serve_drains_until_a_second_sigterm_logging_json(tmp_path: Path) -> None:
    """One `serve` for two things a process shows: a second SIGTERM ends a long drain at
    once, and `--log-format json` writes nothing but JSON lines, request ids included."""
    address = f"127.0.0.1:{free_port()}"
    log = tmp_path / "serve.log"
    flags = ["--listen", address, "--data-dir", str(tmp_path), "--drain-delay", "60"]
    process = start_command(["--log-format", "json", "serve", *flags], log)
    try:
        await wait_serving(address)
        await delete_missing(address, ("x-request-id", "req-json"))
        process.send_signal(signal.SIGTERM)
        await eventually(lambda: asyncio.sleep(0, log.read_text()), lambda t: "draining" in t)
        # Answering, NOT_SERVING, for the whole minute unless told again.
        async with grpc.aio.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            answer = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
        process.send_signal(signal.SIGTERM)
        assert await wait_gone(process.pid, timeout=15), "the second SIGTERM did not end it"
        assert process.wait() == 0
    finally:
        children.stop(process)
    lines = [json.loads(line) for line in log.read_text().splitlines()]  # each one JSON
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert any(
        line.get("request_id") == "req-json" and line["logger"] == "quantum_grpc.audit"
        for line in lines
    )
    assert any(line["message"].startswith("draining: NOT_SERVING") for line in lines)
