"""The Prometheus endpoint (serve --metrics-listen), scraped around a bounded load: each
counter moves by exactly what the load did (docs/operations.md, "Metrics")."""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

import grpc
from prometheus_client.parser import text_string_to_metric_families

from quantum_api.v1 import watch_service_pb2 as pb
from quantum_grpc.server import App
from tests.helpers import eventually, rpc_error
from tests.helpers.database import log_events

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
CREATES = 7
NETWORKS = "quantum.v1.NetworkService"
WATCH = "quantum.v1.WatchService"


def _scrape(app: App) -> Samples:
    assert app.metrics is not None
    url = f"http://127.0.0.1:{app.metrics.port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(app: App) -> Samples:
    return await asyncio.to_thread(_scrape, app)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def rpc(service: str, method: str, kind: str = "UNARY") -> dict[str, str]:
    return {"grpc_service": service, "grpc_method": method, "grpc_type": kind}


async def test_the_metrics_move_by_what_the_load_did(stack_factory: Any) -> None:
    stack = await stack_factory("sync", core={"metrics_listen": "127.0.0.1:0"})
    api, app = stack.api, stack.app
    before = await scrape(app)
    create = rpc(NETWORKS, "CreateNetwork")
    get = rpc(NETWORKS, "GetNetwork")
    watch = rpc(WATCH, "WatchStatus", "SERVER_STREAM")

    stream = api.stubs.watch.WatchStatus(pb.WatchStatusRequest(), metadata=api.md)
    responses = [await stream.read()]  # the (empty) state and SYNCED
    opened = await scrape(app)
    assert value(opened, "quantum_watches_open", tenant=api.tenant) == 1
    nets = [await api.create_network(f"n{i}") for i in range(CREATES)]
    missing = await rpc_error(api.get_network("00000000-0000-4000-8000-000000000000"))
    assert missing.code == grpc.StatusCode.NOT_FOUND
    # Read everything the log holds (each network: ADDED, then MODIFIED as it becomes
    # AVAILABLE), in however many messages the server sends it.
    head = max(row[0] for row in log_events(app.core.settings.database_url))
    while max(e.revision for r in responses for e in r.events) < head:
        responses.append(await stream.read())
    stream.cancel()
    after = await eventually(
        lambda: scrape(app),
        lambda s: value(s, "grpc_server_handled_total", **watch, grpc_code="CANCELLED") == 1,
    )

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("grpc_server_started_total", **create) == CREATES
    assert moved("grpc_server_handled_total", **create, grpc_code="OK") == CREATES
    assert moved("grpc_server_handling_seconds_count", **create) == CREATES
    assert moved("grpc_server_handled_total", **get, grpc_code="NOT_FOUND") == 1
    assert moved("grpc_server_handled_total", **get, grpc_code="OK") == 0
    assert moved("grpc_server_started_total", **watch) == 1
    # Each stream message counted, as the client read them (a PROGRESS marker may add one).
    sent = moved("grpc_server_msg_sent_total", **watch)
    assert len(responses) <= sent <= len(responses) + 1, (sent, len(responses))
    assert value(after, "quantum_watches_open", tenant=api.tenant) == 0
    assert value(after, "quantum_resources", kind="network", status="AVAILABLE") == CREATES
    assert value(after, "quantum_backend_up", backend="sim") == 1
    assert value(after, "quantum_outbox_depth") == 0
    assert value(after, "quantum_event_log_head_revision") >= max(n.revision for n in nets)


async def _read_to(stream: Any, revision: int) -> int:
    """Read ``stream`` until it sent ``revision``; returns how many events it sent."""
    seen, events = 0, 0
    while seen < revision:
        response = await stream.read()
        events += sum(1 for e in response.events if e.type != pb.EVENT_TYPE_SYNCED)
        seen = max([seen, *(e.revision for e in response.events)])
    return events


async def test_the_watch_and_dispatch_figures_move_by_what_the_load_did(
    stack_factory: Any,
) -> None:
    # A ring of 4 events, watchers ended at 2 queued, compaction kept to what the test asks.
    stack = await stack_factory(
        "sync",
        core={
            "metrics_listen": "127.0.0.1:0",
            "watch_ring": 4,
            "watch_max_lag": 2,
            "event_retention": 2,
            "event_retention_seconds": 0.0,
            "compaction_interval": 3600.0,
        },
    )
    api, app = stack.api, stack.app
    doomed = await api.create_network("doomed")
    for _ in range(2):
        await api.create_port(doomed.id)
    before = await scrape(app)

    def watch(start_revision: int = 0) -> Any:
        request = pb.WatchStatusRequest(start_revision=start_revision)
        return api.stubs.watch.WatchStatus(request, metadata=api.md)

    # A live watcher sees one network created: 2 events (ADDED, then AVAILABLE).
    live = watch()
    synced = (await live.read()).events[-1].revision
    await api.create_network("live")
    head = app.hub.head
    assert await _read_to(live, head) == 2
    live.cancel()
    # Resumed from the ring (it holds the events after `synced`), then from the log.
    for start in (synced, 1):
        resumed = watch(start)
        await _read_to(resumed, head)
        resumed.cancel()
    # Deleting a network with 2 ports is one commit of 3 events: more than 2 queued.
    lagging = watch()
    await lagging.read()
    await api.delete_network(doomed.id)
    ended = await rpc_error(_read_to(lagging, 10**9))
    assert ended.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    # Compaction keeps the newest 2 events; a resume from before them is refused.
    head = max(row[0] for row in log_events(app.core.settings.database_url))
    await app.hub.compact()
    refused = await rpc_error(_read_to(watch(1), 10**9))
    assert refused.code == grpc.StatusCode.OUT_OF_RANGE
    after = await scrape(app)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("quantum_watch_event_delivery_seconds_count") == 2
    assert 0 < moved("quantum_watch_event_delivery_seconds_sum") < 5
    assert 1 <= moved("quantum_watch_lag_events_count") <= 2  # one take per batch
    for source in ("ring", "log", "compacted"):
        assert moved("quantum_watch_resumes_total", source=source) == 1, source
    assert moved("quantum_watches_ended_lagging_total") == 1
    assert moved("quantum_event_log_compactions_total") == 1
    assert moved("quantum_event_log_compacted_events_total") == head - 2
    # Two changes dispatched: the create of "live" and the delete of "doomed".
    assert moved("quantum_dispatch_seconds_count", backend="sim") == 2
    assert moved("quantum_backend_apply_seconds_count", backend="sim") == 2
    assert moved("quantum_dispatch_retries_total", backend="sim") == 0
