"""Request ids and logs: a call's x-request-id (the caller's, Envoy's, or one the core
makes) is in every log line about it, in its error's ErrorInfo and in the back-end calls
made for it; a valid traceparent is logged and passed on with it (`serve --log-format
json` itself: tests/mesh/test_drain.py)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Callable, Iterator

import grpc
import pytest

from quantum_api.v1 import network_service_pb2, port_service_pb2
from quantum_grpc import logs
from quantum_grpc.config import BackendTarget
from quantum_grpc.server import App
from quantum_plugins.common.changes import CallIds
from tests.conftest import CoreFactory, SimFactory
from tests.helpers import Api, eventually, rpc_error
from tests.helpers.processes import free_port
from tests.mesh.conftest import Shipped

MISSING = "00000000-0000-4000-8000-000000000000"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the core logs meanwhile, as `--log-format json` writes it."""
    written = io.StringIO()
    capture = logs.handler("json", written)
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.INFO)
    try:
        yield written
    finally:
        root.removeHandler(capture)
        root.setLevel(level)


def _lines(written: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in written.getvalue().splitlines()]


async def delete_missing(address: str, *metadata: tuple[str, str]) -> dict[str, str]:
    """A DeleteNetwork that fails (NOT_FOUND, audited); its ErrorInfo metadata."""
    async with grpc.aio.insecure_channel(address) as channel:
        api = Api(channel)
        request = network_service_pb2.DeleteNetworkRequest(network_id=MISSING)
        call = api.networks.DeleteNetwork(request, metadata=(*api.md, *metadata))
        error = await rpc_error(call)
    assert error.code == grpc.StatusCode.NOT_FOUND
    return dict(error.metadata)


def _audit(written: io.StringIO) -> list[dict[str, str]]:
    return [line for line in _lines(written) if line["logger"] == "quantum_grpc.audit"]


async def test_the_callers_request_id_is_in_its_error_and_its_log_lines(
    sqlite_core: App, json_log: io.StringIO
) -> None:
    given = await delete_missing(
        sqlite_core.address, ("x-request-id", "req-42"), ("traceparent", TRACEPARENT)
    )
    assert given["request_id"] == "req-42"
    (audited,) = _audit(json_log)
    assert (audited["request_id"], audited["traceparent"]) == ("req-42", TRACEPARENT)
    assert "outcome=NOT_FOUND:NETWORK_NOT_FOUND" in audited["message"]
    # None given, or one that could forge a log field: the core makes one.
    made = await delete_missing(sqlite_core.address, ("x-request-id", "a b level=ERROR"))
    assert re.fullmatch(r"[0-9a-f]{32}", made["request_id"]), made
    assert _audit(json_log)[-1]["request_id"] == made["request_id"]
    assert "traceparent" not in _audit(json_log)[-1]


async def test_envoy_gives_each_call_a_request_id_and_keeps_the_callers(
    sqlite_core: App, shipped: Shipped
) -> None:
    async with shipped("grpc.yaml", [sqlite_core.address]) as proxy:
        made = await delete_missing(proxy.address)
        kept = await delete_missing(proxy.address, ("x-request-id", "req-7"))
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    assert re.fullmatch(uuid, made["request_id"]), made  # Envoy's, not the core's
    assert kept["request_id"] == "req-7"


async def test_each_change_reaches_its_back_end_with_its_own_calls_ids(
    core_factory: CoreFactory,
    sim_factory: SimFactory,
    channel_factory: Callable[[str], grpc.aio.Channel],
) -> None:
    # The back-end is down while two calls record a change of one network each; both wait
    # in the outbox after their calls ended and go out, once it is up, from one drain task
    # started during the first call: the ids must come with each change, not that task.
    listen = f"127.0.0.1:{free_port()}"
    app = await core_factory(BackendTarget("sim", listen), sync_wait=0.05)
    api = Api(channel_factory(app.address))
    network = await api.networks.CreateNetwork(
        network_service_pb2.CreateNetworkRequest(name="traced"),
        metadata=(*api.md, ("x-request-id", "req-net"), ("traceparent", TRACEPARENT)),
    )
    await api.ports.CreatePort(
        port_service_pb2.CreatePortRequest(network_id=network.network.id),
        metadata=(*api.md, ("x-request-id", "req-port")),
    )
    sim = await sim_factory("sync", listen=listen)
    received = await eventually(
        lambda: asyncio.sleep(0, sim.backend.received_calls), lambda calls: len(calls) >= 2
    )
    assert received == [
        CallIds("req-net", TRACEPARENT, "req-net", TRACEPARENT),
        CallIds("req-port", "", "req-port", ""),
    ]
