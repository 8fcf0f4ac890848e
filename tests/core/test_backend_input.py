"""Back-end input is bounded like client input: bad data from a back-end is its error,
never an outage (docs/plugin-guide.md, "Limits on what a back-end sends").

Each case checks what an operator relies on afterwards: health stayed SERVING, no write
counted as a storage failure, and the tenant can still list and watch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import insert

from quantum_api.errors import InvalidArgument
from quantum_api.plugin.v1 import (
    backend_pb2,
    backend_pb2_grpc,
    resource_status_pb2 as rs,
    status_reporter_pb2 as sr,
    status_reporter_pb2_grpc,
)
from quantum_api.v1 import (
    network_pb2,
    port_pb2,
    port_service_pb2,
    watch_service_pb2 as watch_pb,
)
from quantum_grpc.config import BackendTarget
from quantum_grpc.server import App
from quantum_grpc.service.backend_input import (
    MAX_ERROR_MESSAGE,
    MAX_REPORT_ENTRIES,
    REPORT_CHUNK,
    TRUNCATED,
)
from quantum_grpc.store.models import NetworkRow
from quantum_grpc.store.rows import fetch_by_id, values_of
from quantum_plugins.common.health import add_health_servicer
from quantum_plugins.sim.backend import SimBackend
from quantum_plugins.sim.profiles import make_profile
from tests.conftest import CoreFactory
from tests.helpers import Api, eventually, rpc_error
from tests.helpers.database import dump, log_events
from tests.helpers.watch import Follower

Spoil = Callable[[backend_pb2.ApplyChangeRequest, backend_pb2.ApplyChangeResponse], None]


class SpoilingBackend(backend_pb2_grpc.BackendServiceServicer):
    """The synchronous sim, served for real, whose answers a test can spoil on the way out."""

    def __init__(self, inner: SimBackend) -> None:
        self.inner = inner
        self.spoil: Spoil | None = None
        self.listing_extra: list[rs.ResourceStatus] = []
        self.health: Any = None

    async def DescribeBackend(self, request: Any, context: Any) -> Any:
        return await self.inner.DescribeBackend(request, context)

    async def ApplyChange(self, request: Any, context: Any) -> Any:
        response = await self.inner.ApplyChange(request, context)
        if self.spoil is not None:
            self.spoil(request, response)
        return response

    async def ListStatus(self, request: Any, context: Any) -> Any:
        response = await self.inner.ListStatus(request, context)
        response.statuses.extend(self.listing_extra)
        return response


@dataclasses.dataclass
class Setup:
    app: App
    backend: SpoilingBackend
    api: Api
    internal: grpc.aio.Channel  # to the internal listener, where back-ends report

    @property
    def reporter(self) -> status_reporter_pb2_grpc.StatusReporterServiceStub:
        return status_reporter_pb2_grpc.StatusReporterServiceStub(self.internal)

    @property
    def name(self) -> str:
        return self.backend.inner.name


@pytest.fixture
async def setup_factory(
    core_factory: CoreFactory, channel_factory: Callable[[str], grpc.aio.Channel]
) -> AsyncIterator[Callable[[], Awaitable[Setup]]]:
    """A core with one spoiling back-end, named uniquely (so rate-limited log lines of one
    test never hide those of the next)."""
    started: list[SimBackend] = []

    async def start() -> Setup:
        inner = SimBackend(
            make_profile("sync"), name=f"sim-{uuid.uuid4().hex[:8]}", reassert_interval=0
        )
        backend = SpoilingBackend(inner)
        server = grpc.aio.server()
        backend_pb2_grpc.add_BackendServiceServicer_to_server(backend, server)
        backend.health = await add_health_servicer(server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        inner.attach_server(server, backend.health)
        inner.start()
        started.append(inner)
        app = await core_factory(BackendTarget(inner.name, f"127.0.0.1:{port}"))
        link = app.links.get(inner.name)
        assert link is not None
        await link.ready.wait()
        internal = channel_factory(app.internal_address)
        return Setup(app, backend, Api(channel_factory(app.address)), internal)

    yield start
    for inner in started:
        await inner.stop(0)


async def _tenant_is_served(setup: Setup) -> None:
    """Health SERVING, no storage failure counted, lists and a fresh watch work."""
    health = health_pb2_grpc.HealthStub(setup.api.channel)
    answer = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    assert not setup.app.store.failed_within(3600), "a write counted as a storage failure"
    api = setup.api
    networks = [n async for n in api.list_networks()]
    for network in networks:
        await api.ports.ListPorts(
            port_service_pb2.ListPortsRequest(network_id=network.id, page_size=1000),
            metadata=api.md,
            timeout=5,
        )
    follower = Follower(api, watch_pb.WatchStatusRequest()).start()
    try:
        await follower.until(
            lambda events: any(e.type == watch_pb.EVENT_TYPE_SYNCED for e in events)
        )
    finally:
        await follower.cancel()


def _cut(value: str, limit: int) -> bool:
    return len(value) == limit and value.endswith(TRUNCATED)


# --- ApplyChange answers --------------------------------------------------------------


async def test_answers_with_oversized_text_are_cut_and_dispatch_goes_on(setup_factory) -> None:
    setup = await setup_factory()
    api, backend = setup.api, setup.backend

    def network_failed(request: Any, response: Any) -> None:
        response.status.state = rs.OBSERVED_STATE_ERROR
        response.status.error.code = "C" * 300  # the column holds 255
        response.status.error.message = "\x00" + "m" * 2_500_000

    backend.spoil = network_failed
    net = await api.create_network("n")
    failed = await eventually(
        lambda: api.get_network(net.id), lambda n: n.status == network_pb2.NETWORK_STATUS_ERROR
    )
    assert _cut(failed.error.code, 255)
    assert _cut(failed.error.message, MAX_ERROR_MESSAGE)
    assert "\x00" not in failed.error.message
    await _tenant_is_served(setup)

    # The network's dispatch goes on: a new change is sent and answered.
    backend.spoil = None
    await api.update_network(net.id, name="again")
    await eventually(
        lambda: api.get_network(net.id),
        lambda n: n.status == network_pb2.NETWORK_STATUS_AVAILABLE and n.name == "again",
    )

    def long_reason(request: Any, response: Any) -> None:
        response.status.link_status = port_pb2.LINK_STATUS_DOWN
        response.status.link_status_reason = "r" * 300

    backend.spoil = long_reason
    port = await api.create_port(net.id)
    down = await eventually(
        lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_DOWN
    )
    assert _cut(down.link_status_reason, 255)
    await _tenant_is_served(setup)


async def test_an_answer_with_an_undefined_enum_fails_only_its_change(setup_factory) -> None:
    setup = await setup_factory()
    api, backend = setup.api, setup.backend
    net = await api.create_network("n")
    port = await api.create_port(net.id)
    await eventually(lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_DOWN)

    def unknown_link(request: Any, response: Any) -> None:
        response.status.link_status = 99  # type: ignore[assignment]

    backend.spoil = unknown_link
    await api.plug(port.id, "vif-1")
    failed = await eventually(
        lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_ERROR
    )
    assert failed.error.code == "BACKEND_INPUT_REJECTED"
    assert "link_status" in failed.error.message
    await _tenant_is_served(setup)

    # Not retried forever, and the network's next change goes through.
    backend.spoil = None
    await api.update_port(port.id, admin_state_up=False)
    await eventually(
        lambda: api.get_port(port.id),
        lambda p: p.status == port_pb2.PORT_STATUS_DOWN and not p.admin_state_up,
    )
    assert await setup.app.store.head_revision() > 0
    await _tenant_is_served(setup)


async def test_a_bad_listing_entry_does_not_keep_the_backend_away(setup_factory) -> None:
    setup = await setup_factory()
    api, backend = setup.api, setup.backend
    net = await api.create_network("n")
    port = await api.create_port(net.id)
    await eventually(lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_DOWN)
    backend.listing_extra = [
        rs.ResourceStatus(
            kind=rs.RESOURCE_KIND_PORT,
            resource_id=port.id,
            generation=1,
            state=rs.OBSERVED_STATE_READY,
            link_status=99,  # type: ignore[arg-type]
        ),
        rs.ResourceStatus(
            kind=rs.RESOURCE_KIND_NETWORK,
            resource_id=net.id,
            generation=1,
            state=rs.OBSERVED_STATE_ERROR,
            error={"code": "X", "message": "m" * 100_000},
        ),
    ]
    link = setup.app.links.get(setup.name)
    assert link is not None
    # An outage of the back-end, then it serves again: the core describes and resyncs it.
    await backend.health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    await eventually(lambda: asyncio.sleep(0, link.ready.is_set()), lambda ready: not ready)
    await backend.health.set("", health_pb2.HealthCheckResponse.SERVING)
    await eventually(lambda: asyncio.sleep(0, link.ready.is_set()), lambda ready: ready)

    errored = await api.get_network(net.id)
    assert errored.status == network_pb2.NETWORK_STATUS_ERROR
    assert _cut(errored.error.message, MAX_ERROR_MESSAGE)
    # Dispatch to the back-end resumed.
    second = await api.create_port(net.id)
    await eventually(
        lambda: api.get_port(second.id), lambda p: p.status == port_pb2.PORT_STATUS_DOWN
    )
    await _tenant_is_served(setup)


# --- ReportStatus ---------------------------------------------------------------------


async def _network_and_port(api: Api) -> tuple[Any, Any]:
    net = await api.create_network("n")
    port = await api.create_port(net.id)
    port = await eventually(
        lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_DOWN
    )
    return net, port


async def test_a_report_with_oversized_text_is_applied_cut(setup_factory) -> None:
    setup = await setup_factory()
    api = setup.api
    net, port = await _network_and_port(api)
    report = [
        rs.ResourceStatus(
            kind=rs.RESOURCE_KIND_PORT,
            resource_id=port.id,
            generation=1,
            state=rs.OBSERVED_STATE_READY,
            link_status=port_pb2.LINK_STATUS_DOWN,
            link_status_reason="r" * 300,
        ),
        rs.ResourceStatus(
            kind=rs.RESOURCE_KIND_NETWORK,
            resource_id=net.id,
            generation=1,
            state=rs.OBSERVED_STATE_ERROR,
            error={"code": "C" * 300, "message": "m" * 2_500_000},
        ),
    ]
    answer = await setup.reporter.ReportStatus(
        sr.ReportStatusRequest(backend=setup.name, statuses=report), timeout=10
    )
    assert answer.applied == 2
    assert _cut((await api.get_port(port.id)).link_status_reason, 255)
    network = await api.get_network(net.id)
    assert _cut(network.error.code, 255) and _cut(network.error.message, MAX_ERROR_MESSAGE)
    await _tenant_is_served(setup)


def _bad_entries(port_id: str) -> dict[str, tuple[rs.ResourceStatus, str]]:
    good = {
        "kind": rs.RESOURCE_KIND_PORT,
        "resource_id": port_id,
        "generation": 1,
        "state": rs.OBSERVED_STATE_READY,
    }
    return {
        "link_status": (rs.ResourceStatus(**{**good, "link_status": 99}), "link_status"),
        "state": (rs.ResourceStatus(**{**good, "state": 42}), "state"),
        "kind": (rs.ResourceStatus(**{**good, "kind": 7}), "kind"),
        "resource_id": (rs.ResourceStatus(**{**good, "resource_id": "p" * 300}), "resource_id"),
    }


@pytest.mark.parametrize("case", ["link_status", "state", "kind", "resource_id"])
async def test_a_report_the_core_cannot_take_is_refused_naming_entry_and_field(
    setup_factory, database_url: str, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    setup = await setup_factory()
    _net, port = await _network_and_port(setup.api)
    bad, field = _bad_entries(port.id)[case]
    fine = rs.ResourceStatus(
        kind=rs.RESOURCE_KIND_PORT,
        resource_id=port.id,
        generation=1,
        state=rs.OBSERVED_STATE_READY,
        link_status=port_pb2.LINK_STATUS_DOWN,
        link_status_reason="changed",
    )
    before = dump(database_url)
    caplog.set_level(logging.WARNING, logger="quantum_grpc")
    for _attempt in range(3):  # a back-end retrying the same report
        error = await rpc_error(
            setup.reporter.ReportStatus(
                sr.ReportStatusRequest(backend=setup.name, statuses=[fine, bad]), timeout=10
            )
        )
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.reason == "BACKEND_INPUT_REJECTED"
        assert error.field == f"statuses[1].{field}"
        assert "statuses[1]" in error.message
    assert dump(database_url) == before, "part of a refused report was applied"
    refused = [r for r in caplog.records if "refused a report" in r.getMessage()]
    assert len(refused) == 1, "a repeated refusal is logged once"
    await _tenant_is_served(setup)


async def test_a_report_over_the_entry_limit_is_refused_naming_it(
    setup_factory, database_url: str
) -> None:
    setup = await setup_factory()
    _net, port = await _network_and_port(setup.api)
    # The report of the incident: 20,000 entries, 0.9 MB.
    entry = rs.ResourceStatus(
        kind=rs.RESOURCE_KIND_PORT,
        resource_id=port.id,
        generation=1,
        state=rs.OBSERVED_STATE_READY,
        link_status=port_pb2.LINK_STATUS_DOWN,
    )
    before = dump(database_url)
    for count in (MAX_REPORT_ENTRIES + 1, 20_000):
        error = await rpc_error(
            setup.reporter.ReportStatus(
                sr.ReportStatusRequest(backend=setup.name, statuses=[entry] * count), timeout=10
            )
        )
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert error.reason == "BACKEND_INPUT_REJECTED" and error.field == "statuses"
        assert str(MAX_REPORT_ENTRIES) in error.message
    assert dump(database_url) == before
    await _tenant_is_served(setup)


async def _ports(api: Api, count: int) -> list[Any]:
    net = await api.create_network("many")
    ports = [await api.create_port(net.id) for _ in range(count)]
    await eventually(
        lambda: api.ports.ListPorts(
            port_service_pb2.ListPortsRequest(network_id=net.id, page_size=1000), metadata=api.md
        ),
        lambda answer: all(p.status == port_pb2.PORT_STATUS_DOWN for p in answer.ports),
    )
    return ports


async def test_a_large_report_is_applied_in_chunks_that_client_writes_get_between(
    setup_factory, database_url: str
) -> None:
    setup = await setup_factory()
    api = setup.api
    ports = await _ports(api, 50)
    # The largest report allowed, every entry a change (a link reason flapping).
    report = [
        rs.ResourceStatus(
            kind=rs.RESOURCE_KIND_PORT,
            resource_id=ports[i % len(ports)].id,
            generation=1,
            state=rs.OBSERVED_STATE_READY,
            link_status=port_pb2.LINK_STATUS_DOWN,
            link_status_reason=f"flap {i}",
        )
        for i in range(MAX_REPORT_ENTRIES)
    ]
    commits: list[int] = []
    first_commit = asyncio.Event()
    start = await setup.app.store.head_revision()

    def on_commit(head: int, _entries: list[Any]) -> None:
        commits.append(head)
        if head > start:
            first_commit.set()

    setup.app.store.add_listener(on_commit)
    reporting = asyncio.ensure_future(
        setup.reporter.ReportStatus(
            sr.ReportStatusRequest(backend=setup.name, statuses=report), timeout=60
        )
    )
    await first_commit.wait()
    # A client write while the report is being applied.
    created = await api.create_network("meanwhile")
    answer = await reporting
    assert answer.applied == MAX_REPORT_ENTRIES

    events = log_events(database_url)
    report_revisions = [r for r, _t, kind, rid, ek in events if r > start and kind == "PORT"]
    assert len(report_revisions) == MAX_REPORT_ENTRIES
    (added,) = [r for r, _t, _k, rid, ek in events if rid == created.id and ek == "ADDED"]
    assert report_revisions[0] < added < report_revisions[-1], "the create waited for the report"
    # Each transaction held at most one chunk of the report.
    boundaries = [start, *sorted(h for h in commits if h > start)]
    per_commit = [
        sum(1 for r in report_revisions if low < r <= high)
        for low, high in itertools.pairwise(boundaries)
    ]
    assert max(per_commit) <= REPORT_CHUNK
    await _tenant_is_served(setup)


async def test_repeated_rejections_in_a_report_are_logged_once(
    setup_factory, caplog: pytest.LogCaptureFixture
) -> None:
    setup = await setup_factory()
    _net, port = await _network_and_port(setup.api)
    ahead = rs.ResourceStatus(
        kind=rs.RESOURCE_KIND_PORT,
        resource_id=port.id,
        generation=99,  # a generation the core never issued
        state=rs.OBSERVED_STATE_READY,
    )
    caplog.set_level(logging.INFO, logger="quantum_grpc")
    answer = await setup.reporter.ReportStatus(
        sr.ReportStatusRequest(backend=setup.name, statuses=[ahead] * MAX_REPORT_ENTRIES),
        timeout=30,
    )
    assert answer.rejected == MAX_REPORT_ENTRIES
    lines = [r for r in caplog.records if r.name.startswith("quantum_grpc")]
    assert len(lines) <= 3, [r.getMessage() for r in lines]
    assert sum("generation ahead" in r.getMessage() for r in lines) == 1
    await _tenant_is_served(setup)


# --- the store ------------------------------------------------------------------------


async def test_a_database_error_about_one_row_is_not_an_outage(
    setup_factory, database_url: str
) -> None:
    setup = await setup_factory()
    net = await setup.api.create_network("n", request_id=str(uuid.uuid4()))
    store = setup.app.store
    async with store.read() as conn:
        row = await fetch_by_id(conn, NetworkRow, net.id)
    assert row is not None
    # The same request id twice for one tenant: a unique constraint, on every database.
    duplicate = NetworkRow.new(
        tenant_id=row.tenant_id,
        name="dup",
        status="PROVISIONING",
        backend=row.backend,
        request_id=row.request_id,
        revision=1,
        create_revision=1,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
    cases: list[NetworkRow] = [duplicate]
    if database_url.startswith("postgresql"):
        # PostgreSQL enforces varchar lengths (SQLite does not).
        too_long = NetworkRow.new(**{**_columns(duplicate), "request_id": None, "name": "x" * 300})
        cases.append(too_long)
    for bad in cases:
        with pytest.raises(InvalidArgument):
            async with store.write() as tx:
                await tx.connection.execute(insert(NetworkRow), values_of(bad))
    assert not store.failed_within(3600)
    assert await store.ping()
    await _tenant_is_served(setup)


def _columns(row: NetworkRow) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in NetworkRow.__table__.columns if c.key != "id"}
