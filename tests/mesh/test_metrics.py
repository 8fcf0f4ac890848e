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
