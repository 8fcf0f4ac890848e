"""The shipped Envoy configuration (deploy/envoy/grpc.yaml) in front of real cores: long
watches, deadlines, and more watches than Envoy's default limits allow."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import grpc

from quantum_api.v1 import watch_service_pb2 as pb
from quantum_client import AsyncClient, RetryPolicy
from quantum_client.resources import is_marker
from quantum_grpc.server import App
from tests.clients.test_cli import quantum
from tests.helpers import Api, eventually, rpc_error
from tests.helpers.database import log_events
from tests.helpers.pki import channel_credentials, issue, make_ca
from tests.helpers.watch import key
from tests.mesh.conftest import Shipped

IDLE = 60.0  # seconds a watch stays open with nothing happening (the issue's bar)
PROGRESS = pb.EVENT_TYPE_PROGRESS
SYNCED = pb.EVENT_TYPE_SYNCED
FAST = RetryPolicy(initial_backoff=0.01, max_backoff=0.2)


async def _next_events(stream: Any, timeout: float) -> list[pb.WatchEvent]:
    async with asyncio.timeout(timeout):
        response = await stream.read()
    assert response is not grpc.aio.EOF, "the watch ended"
    return list(response.events)


async def test_a_watch_through_envoy_stays_open_idle_and_a_cli_wait_times_out(
    sqlite_core: App, shipped: Shipped
) -> None:
    async with shipped("grpc.yaml", [sqlite_core.address]) as proxy:
        channel = grpc.aio.insecure_channel(proxy.address)
        api = Api(channel)
        try:
            net = await api.create_network("idle")
            port = await api.create_port(net.id)  # never plugged: never ACTIVE
            # The raw stub, not the SDK: a cut would end this stream, not be resumed.
            stream = api.stubs.watch.WatchStatus(pb.WatchStatusRequest(), metadata=api.md)
            # Longer than Envoy's default route timeout (15 s), which would cut the wait.
            waiting = asyncio.create_task(
                quantum(
                    "wait", port.id, "--for", "ACTIVE", "--timeout", "20", address=proxy.address
                )
            )
            started = time.monotonic()
            markers: list[pb.WatchEvent] = []
            while time.monotonic() - started < IDLE:
                events = await _next_events(stream, timeout=10)
                markers += [e for e in events if e.type in (PROGRESS, SYNCED)]
            # A marker every progress interval (5 s): the client always has a revision to
            # resume from, and Envoy's stream idle timeout never fires.
            assert sum(e.type == PROGRESS for e in markers) >= IDLE / 5 - 2, markers
            head = markers[-1].revision
            await api.update_network(net.id, name="awake")
            events: list[pb.WatchEvent] = []
            while not any(e.resource.network.name == "awake" for e in events):
                events += await _next_events(stream, timeout=10)
            assert min(e.revision for e in events if e.type != PROGRESS) > head
            done = await waiting
            stream.cancel()
        finally:
            await channel.close()
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip().startswith("quantum: error: DEADLINE_EXCEEDED WAIT_TIMEOUT")
    assert "reconnecting" not in done.stderr, done.stderr  # never cut on the way


WATCHES = 1500


async def test_1500_watches_through_one_envoy_all_reach_synced(
    sqlite_cores: Any, shipped: Shipped
) -> None:
    app = await sqlite_cores(max_watches_per_tenant=WATCHES)
    async with shipped("grpc.yaml", [app.address]) as proxy:
        channel = grpc.aio.insecure_channel(proxy.address)
        api = Api(channel)
        await api.create_network("n")
        streams = [
            api.stubs.watch.WatchStatus(pb.WatchStatusRequest(), metadata=api.md)
            for _ in range(WATCHES)
        ]

        async def synced(stream: Any) -> int:
            events: list[pb.WatchEvent] = []
            while not any(e.type == SYNCED for e in events):
                events += await _next_events(stream, timeout=60)
            return sum(e.type == pb.EVENT_TYPE_ADDED for e in events)

        try:
            added = await asyncio.gather(*map(synced, streams))
            # All of them open at once, each with the current state, then SYNCED.
            assert app.hub.watcher_count == WATCHES
            assert added == [1] * WATCHES
        finally:
            for stream in streams:
                stream.cancel()
            await channel.close()


async def test_envoy_terminates_tls_in_front_of_a_plain_text_core(
    sqlite_core: App, shipped: Shipped, tmp_path: Path
) -> None:
    ca = make_ca(tmp_path, "edge")
    edge = issue(ca, "envoy")
    files = {"/etc/envoy/tls/tls.crt": str(edge.cert), "/etc/envoy/tls/tls.key": str(edge.key)}
    credentials = channel_credentials(ca)
    async with shipped(
        "grpc-tls.yaml", [sqlite_core.address], replace=files, credentials=credentials
    ) as proxy:
        async with grpc.aio.secure_channel(proxy.address, credentials) as channel:
            api = Api(channel)
            net = await api.create_network("tls")
            assert (await api.get_network(net.id)).name == "tls"
        plain = grpc.aio.insecure_channel(proxy.address)
        try:
            refused = await rpc_error(Api(plain).get_network(net.id))
        finally:
            await plain.close()
        assert refused.code == grpc.StatusCode.UNAVAILABLE  # no plain text on the TLS port


async def test_aged_out_connections_behind_envoy_cut_nothing_a_watch_needs(
    sqlite_cores: Any, shipped: Shipped
) -> None:
    # --max-connection-age: the core closes Envoy's connection to it every second or so;
    # the watch through Envoy is cut with it, resumes, and misses nothing.
    # The grace lets a write in flight finish even on a loaded machine (a mutation cut by
    # the age is not retried: it may have been applied).
    app = await sqlite_cores(max_connection_age=1.0, max_connection_age_grace=2.0)
    async with (
        shipped("grpc.yaml", [app.address]) as proxy,
        AsyncClient(proxy.address, "tenant-a", retry=FAST) as client,
    ):
        net = await client.create_network("aging")
        seen: list[Any] = []
        retries: list[Any] = []
        stream = client.watch(on_retry=lambda error, _: retries.append(error))

        async def follow() -> None:
            async for event in stream:
                seen.append(event)

        following = asyncio.create_task(follow())
        try:
            await eventually(lambda: asyncio.sleep(0, seen), lambda s: any(map(is_marker, s)))
            synced = next(e.revision for e in seen if is_marker(e))
            writes = 0
            while len(retries) < 2:
                assert writes < 2000 and not following.done(), (writes, retries)
                await client.update_network(net.id, name=f"aging-{writes}")
                writes += 1
            head = (await client.get_network(net.id)).revision

            def got() -> list[tuple[int, str, str]]:
                return [key(e) for e in seen if not is_marker(e) and e.revision > synced]

            await eventually(
                lambda: asyncio.sleep(0, got()), lambda g: bool(g) and g[-1][0] >= head
            )
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
    rows = log_events(app.core.settings.database_url)
    assert got() == [(r[0], r[2], r[3]) for r in rows if r[0] > synced]  # each once, in order
    assert len(got()) >= writes
