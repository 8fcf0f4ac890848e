"""The sim back-end over real gRPC: profiles, link status, ordering, retries, faults, CLI."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from quantum_api.plugin.v1 import (
    backend_pb2,
    backend_pb2_grpc,
    resource_status_pb2 as rs,
)
from quantum_api.v1 import port_pb2
from quantum_plugins.sim import SimBackend, build_sim_server, make_profile

from . import ReportCollector

REPO = Path(__file__).resolve().parents[2]
NETWORK, PORT = rs.RESOURCE_KIND_NETWORK, rs.RESOURCE_KIND_PORT
CREATE, UPDATE, DELETE = (
    backend_pb2.CHANGE_ACTION_CREATE,
    backend_pb2.CHANGE_ACTION_UPDATE,
    backend_pb2.CHANGE_ACTION_DELETE,
)
PLUG, UNPLUG = backend_pb2.CHANGE_ACTION_PLUG, backend_pb2.CHANGE_ACTION_UNPLUG
DONE, ACCEPTED = backend_pb2.APPLY_OUTCOME_DONE, backend_pb2.APPLY_OUTCOME_ACCEPTED
READY, ERROR, DELETED = rs.OBSERVED_STATE_READY, rs.OBSERVED_STATE_ERROR, rs.OBSERVED_STATE_DELETED
UP, DOWN = port_pb2.LINK_STATUS_UP, port_pb2.LINK_STATUS_DOWN
NETWORK_CHANGES = ["NETWORK/CREATE", "NETWORK/DELETE", "NETWORK/ENSURE", "NETWORK/UPDATE"]


def net(
    net_id: str, generation: int, action: backend_pb2.ChangeAction = CREATE, op: str | None = None
) -> Any:
    return backend_pb2.ApplyChangeRequest(
        operation_id=str(uuid.uuid4()) if op is None else op,
        kind=NETWORK,
        action=action,
        generation=generation,
        network=backend_pb2.NetworkSpec(id=net_id, tenant_id="t1", name="n"),
    )


def port(
    port_id: str,
    net_id: str,
    generation: int,
    action: backend_pb2.ChangeAction = CREATE,
    *,
    interface: str = "",
    admin_up: bool = True,
    op: str | None = None,
) -> Any:
    return backend_pb2.ApplyChangeRequest(
        operation_id=str(uuid.uuid4()) if op is None else op,
        kind=PORT,
        action=action,
        generation=generation,
        port=backend_pb2.PortSpec(
            id=port_id,
            tenant_id="t1",
            network_id=net_id,
            admin_state_up=admin_up,
            interface_id=interface,
        ),
    )


def summary(status: Any) -> tuple[Any, ...]:
    """What the core takes from a status: id, generation, state, link, reason."""
    return (
        status.resource_id,
        status.generation,
        status.state,
        status.link_status,
        status.link_status_reason,
    )


@dataclass
class Sim:
    stub: Any
    backend: SimBackend
    channel: Any
    port: int

    async def listed(self) -> dict[str, tuple[Any, ...]]:
        response = await self.stub.ListStatus(backend_pb2.ListStatusRequest())
        return {s.resource_id: summary(s) for s in response.statuses}


MakeSim = Callable[..., Awaitable[Sim]]


@pytest.fixture
async def core() -> AsyncIterator[ReportCollector]:
    collector = ReportCollector()
    await collector.start()
    yield collector
    await collector.stop()


@pytest.fixture
async def make_sim(core: ReportCollector) -> AsyncIterator[MakeSim]:
    started: list[Sim] = []

    async def factory(
        profile: str, *, reassert_interval: float = 0.0, step_delay: float = 0.01, **options: Any
    ) -> Sim:
        _server, bound, backend = await build_sim_server(
            make_profile(profile, step_delay=step_delay, **options),
            reassert_interval=reassert_interval,
        )
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{bound}")
        sim = Sim(backend_pb2_grpc.BackendServiceStub(channel), backend, channel, bound)
        started.append(sim)
        await sim.stub.DescribeBackend(
            backend_pb2.DescribeBackendRequest(reporter_target=core.target, core_id="test")
        )
        return sim

    yield factory
    for sim in started:
        await sim.channel.close()
        await sim.backend.stop(0)


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (
            "sync",
            [
                *NETWORK_CHANGES,
                *("PORT/CREATE", "PORT/DELETE", "PORT/ENSURE", "PORT/PLUG", "PORT/UNPLUG"),
                "PORT/UPDATE",
            ],
        ),
        ("async", []),
        ("faulty", []),
        (
            "mixed",
            [*NETWORK_CHANGES, "PORT/CREATE", "PORT/DELETE"],
        ),
    ],
)
async def test_describe_says_which_changes_are_synchronous(
    make_sim: MakeSim, profile: str, expected: list[str]
) -> None:
    sim = await make_sim(profile)
    described = await sim.stub.DescribeBackend(backend_pb2.DescribeBackendRequest())
    assert described.name == "sim"
    assert f"profile {profile}" in described.description
    assert sorted(described.synchronous_changes) == expected


async def test_sync_profile_answers_done_with_the_port_link_status(
    make_sim: MakeSim, core: ReportCollector
) -> None:
    sim = await make_sim("sync")
    apply = sim.stub.ApplyChange

    created = await apply(net("n1", 1))
    assert created.outcome == DONE
    assert summary(created.status) == ("n1", 1, READY, 0, "")

    steps = [
        (port("p1", "n1", 1), (DOWN, "no attachment")),
        (port("p1", "n1", 2, PLUG, interface="vif-1"), (UP, "")),
        (port("p1", "n1", 3, UPDATE, interface="vif-1", admin_up=False), (DOWN, "admin down")),
        (port("p1", "n1", 4, UNPLUG, admin_up=False), (DOWN, "no attachment")),
    ]
    for request, (link, reason) in steps:
        answer = await apply(request)
        assert answer.outcome == DONE
        assert summary(answer.status) == ("p1", request.generation, READY, link, reason)

    deleted = await apply(port("p1", "n1", 5, DELETE))
    assert (deleted.outcome, deleted.status.state, deleted.status.generation) == (DONE, DELETED, 5)
    assert core.reports == []  # synchronous answers are not pushed again


async def test_async_profile_accepts_then_reports_ready(
    make_sim: MakeSim, core: ReportCollector
) -> None:
    sim = await make_sim("async", steps=3)
    assert (await sim.stub.ApplyChange(net("n1", 1))).outcome == ACCEPTED
    await sim.stub.ApplyChange(port("p1", "n1", 1, interface="vif-1"))
    await core.wait_for(lambda reports: len(reports) == 2)
    assert [summary(r) for r in core.reports] == [
        ("n1", 1, READY, 0, ""),
        ("p1", 1, READY, UP, ""),
    ]
    assert {r.backend for r in core.requests} == {"sim"}


async def test_mixed_profile_creates_synchronously_and_plugs_through_the_agent(
    make_sim: MakeSim, core: ReportCollector
) -> None:
    sim = await make_sim("mixed")
    assert (await sim.stub.ApplyChange(net("n1", 1))).outcome == DONE
    created = await sim.stub.ApplyChange(port("p1", "n1", 1))
    assert created.outcome == DONE
    assert summary(created.status) == ("p1", 1, READY, DOWN, "no attachment")

    plugged = await sim.stub.ApplyChange(port("p1", "n1", 2, PLUG, interface="vif-1"))
    assert plugged.outcome == ACCEPTED
    await core.wait_for(lambda reports: len(reports) == 1)
    assert summary(core.reports[0]) == ("p1", 2, READY, UP, "")

    unplugged = await sim.stub.ApplyChange(port("p1", "n1", 3, UNPLUG))
    assert unplugged.outcome == ACCEPTED
    await core.wait_for(lambda reports: len(reports) == 2)
    assert summary(core.reports[1]) == ("p1", 3, READY, DOWN, "no attachment")


async def test_changes_of_a_network_apply_in_arrival_order(
    make_sim: MakeSim, core: ReportCollector
) -> None:
    sim = await make_sim("async", steps=3, step_delay=0.02)
    requests = [
        net("n1", 1),
        port("p1", "n1", 1),
        port("p1", "n1", 2, PLUG, interface="vif-1"),
        port("p1", "n1", 3, UPDATE, interface="vif-1", admin_up=False),
    ]
    for request in requests:  # back to back: each is only accepted
        assert (await sim.stub.ApplyChange(request)).outcome == ACCEPTED
    await core.wait_for(lambda reports: len(reports) == 4)
    assert [(r.resource_id, r.generation) for r in core.reports] == [
        ("n1", 1),
        ("p1", 1),
        ("p1", 2),
        ("p1", 3),
    ]
    assert (await sim.listed())["p1"] == ("p1", 3, READY, DOWN, "admin down")


async def test_a_synchronous_change_waits_for_earlier_asynchronous_ones(
    make_sim: MakeSim, core: ReportCollector
) -> None:
    sim = await make_sim("mixed", step_delay=0.3)
    await sim.stub.ApplyChange(net("n1", 1))
    await sim.stub.ApplyChange(port("p1", "n1", 1))
    assert (await sim.stub.ApplyChange(port("p1", "n1", 2, PLUG, interface="v"))).outcome == (
        ACCEPTED
    )
    started = time.monotonic()
    deleted = await sim.stub.ApplyChange(port("p1", "n1", 3, DELETE))
    assert time.monotonic() - started >= 0.2  # it queued behind the plug's agent step
    assert (deleted.outcome, deleted.status.state) == (DONE, DELETED)
    await core.wait_for(lambda reports: len(reports) == 1)
    assert summary(core.reports[0]) == ("p1", 2, READY, UP, "")
    assert set(await sim.listed()) == {"n1"}


async def test_a_retried_operation_is_applied_once(
    make_sim: MakeSim, core: ReportCollector
) -> None:
    sim = await make_sim("mixed")
    first = await sim.stub.ApplyChange(net("n1", 1, op="op-create"))
    again = await sim.stub.ApplyChange(net("n1", 1, op="op-create"))
    assert again == first
    assert sim.backend.applied_changes == 1

    plug = port("p1", "n1", 1, PLUG, interface="vif-1", op="op-plug")
    assert (await sim.stub.ApplyChange(plug)).outcome == ACCEPTED
    assert (await sim.stub.ApplyChange(plug)).outcome == ACCEPTED
    await core.wait_for(lambda reports: len(reports) == 1)
    await asyncio.sleep(0.1)  # ten times the step delay: a second report would be here
    assert len(core.reports) == 1
    assert sim.backend.applied_changes == 2


async def test_a_stale_change_is_not_applied(make_sim: MakeSim) -> None:
    sim = await make_sim("sync")
    await sim.stub.ApplyChange(net("n1", 1))
    await sim.stub.ApplyChange(port("p1", "n1", 1, interface="vif-1"))
    down = port("p1", "n1", 3, UPDATE, interface="vif-1", admin_up=False)
    await sim.stub.ApplyChange(down)

    # A late generation-2 "admin up" must never bring the admin-down port's link back up.
    late = await sim.stub.ApplyChange(port("p1", "n1", 2, UPDATE, interface="vif-1"))
    assert late.outcome == DONE
    assert summary(late.status) == ("p1", 3, READY, DOWN, "admin down")
    assert (await sim.listed())["p1"] == ("p1", 3, READY, DOWN, "admin down")

    # Nor may a late change resurrect a deleted port.
    await sim.stub.ApplyChange(port("p1", "n1", 4, DELETE))
    ghost = await sim.stub.ApplyChange(port("p1", "n1", 3, UPDATE, interface="vif-1"))
    assert (ghost.status.state, ghost.status.generation) == (DELETED, 4)
    assert set(await sim.listed()) == {"n1"}


async def test_faulty_at_rate_one_fails_changes_but_deletes_succeed(
    make_sim: MakeSim, core: ReportCollector
) -> None:
    sim = await make_sim("faulty", failure_rate=1.0, steps=1)
    create = net("n1", 1)
    for request in (create, port("p1", "n1", 1), port("p1", "n1", 2, PLUG, interface="v")):
        assert (await sim.stub.ApplyChange(request)).outcome == ACCEPTED
    await core.wait_for(lambda reports: len(reports) == 3)
    assert [(r.resource_id, r.generation, r.state) for r in core.reports] == [
        ("n1", 1, ERROR),
        ("p1", 1, ERROR),
        ("p1", 2, ERROR),
    ]
    assert {r.error.code for r in core.reports} == {"SIM_INJECTED_FAULT"}
    assert "NETWORK/CREATE" in core.reports[0].error.message
    assert create.operation_id in core.reports[0].error.message
    assert core.reports[2].link_status == DOWN

    await sim.stub.ApplyChange(port("p1", "n1", 3, DELETE))
    await sim.stub.ApplyChange(net("n1", 2, DELETE))
    await core.wait_for(lambda reports: len(reports) == 5)
    assert [(r.resource_id, r.state) for r in core.reports[3:]] == [
        ("p1", DELETED),
        ("n1", DELETED),
    ]
    assert await sim.listed() == {}


async def test_faulty_with_a_seed_fails_the_same_changes_every_run(
    make_sim: MakeSim, core: ReportCollector
) -> None:
    patterns: list[list[int]] = []
    for run in range(1, 3):
        sim = await make_sim("faulty", failure_rate=0.5, seed=7, steps=1, step_delay=0)
        ids = [f"n{i}" for i in range(20)]
        for net_id in ids:
            await sim.stub.ApplyChange(net(net_id, 1))
        expected = 20 * run
        await core.wait_for(lambda reports: len(reports) == expected)  # noqa: B023
        by_id = {r.resource_id: r.state for r in core.reports[-20:]}
        patterns.append([by_id[i] for i in ids])
    assert patterns[0] == patterns[1]
    assert {ERROR, READY} <= set(patterns[0])  # some fail, some do not


async def test_list_status_lists_everything_held(make_sim: MakeSim) -> None:
    sim = await make_sim("sync")
    for request in (
        net("n1", 1),
        net("n2", 2),
        port("p1", "n1", 1, interface="vif-1"),
        port("p2", "n1", 1, admin_up=False, interface="vif-2"),
        port("p3", "n2", 5),
    ):
        await sim.stub.ApplyChange(request)
    assert await sim.listed() == {
        "n1": ("n1", 1, READY, 0, ""),
        "n2": ("n2", 2, READY, 0, ""),
        "p1": ("p1", 1, READY, UP, ""),
        "p2": ("p2", 1, READY, DOWN, "admin down"),
        "p3": ("p3", 5, READY, DOWN, "no attachment"),
    }


async def test_status_is_reasserted_so_a_lost_report_heals(
    make_sim: MakeSim, core: ReportCollector
) -> None:
    sim = await make_sim("sync", reassert_interval=0.1)
    await sim.stub.ApplyChange(net("n1", 1))  # answered DONE; no report is pushed for it
    await core.wait_for(lambda reports: len(reports) >= 2, timeout=3)
    assert [summary(r) for r in core.reports[:2]] == [("n1", 1, READY, 0, "")] * 2


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (net("n1", 1, op=""), "operation_id"),
        (backend_pb2.ApplyChangeRequest(operation_id="x", action=CREATE, generation=1), "kind"),
        (net("n1", 1, action=backend_pb2.CHANGE_ACTION_UNSPECIFIED), "action"),
        (net("n1", 0), "generation"),
        (net("", 1), "id"),
        (port("p1", "", 1), "network_id"),
        (net("n1", 1, action=PLUG), "action"),
        (port("p1", "n1", 2, PLUG), "interface_id"),
        (
            backend_pb2.ApplyChangeRequest(
                operation_id="x", kind=PORT, action=CREATE, generation=1, network={"id": "n"}
            ),
            "spec",
        ),
    ],
)
async def test_malformed_changes_are_rejected(make_sim: MakeSim, request_: Any, field: str) -> None:
    sim = await make_sim("sync")
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await sim.stub.ApplyChange(request_)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (failure.value.details() or "")
    assert sim.backend.applied_changes == 0


async def test_health_serves_and_reflection_lists_the_backend(make_sim: MakeSim) -> None:
    sim = await make_sim("mixed")
    health = health_pb2_grpc.HealthStub(sim.channel)
    for service in ("", "quantum.plugin.v1.BackendService"):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING

    reflection = reflection_pb2_grpc.ServerReflectionStub(sim.channel)
    call = reflection.ServerReflectionInfo()
    await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
    answer = await call.read()
    await call.done_writing()
    names = {s.name for s in answer.list_services_response.service}
    assert {"quantum.plugin.v1.BackendService", "grpc.health.v1.Health"} <= names


async def test_stop_tells_health_watchers_not_serving(make_sim: MakeSim) -> None:
    sim = await make_sim("mixed")
    health = health_pb2_grpc.HealthStub(sim.channel)
    watch = health.Watch(health_pb2.HealthCheckRequest(service="quantum.plugin.v1.BackendService"))
    assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
    stopping = asyncio.create_task(sim.backend.stop(1.0))
    assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
    await stopping


async def test_cli_serves_until_sigterm_and_exits_cleanly(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "quantum_grpc",
        "plugin",
        "sim",
        "--listen",
        "127.0.0.1:0",
        "--profile",
        "sync",
        "--port-file",
        str(port_file),
        cwd=REPO,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        # A start-up on a loaded 2-core machine can take many seconds (imports).
        async with asyncio.timeout(60):
            while not port_file.exists():  # noqa: ASYNC110 -- another process writes it
                await asyncio.sleep(0.05)
        bound = int(port_file.read_text())
        async with grpc.aio.insecure_channel(f"127.0.0.1:{bound}") as channel:
            stub = backend_pb2_grpc.BackendServiceStub(channel)
            described = await stub.DescribeBackend(backend_pb2.DescribeBackendRequest(), timeout=5)
        assert described.name == "sim"
        assert "NETWORK/CREATE" in described.synchronous_changes

        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            _, stderr = await process.communicate()
        assert process.returncode == 0
        assert f"sim back-end (profile sync) listening on 127.0.0.1:{bound}" in stderr.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_deleting_a_network_drops_its_ports() -> None:
    """The core deletes only the network; the back-end must forget its ports too."""
    _server, port, backend = await build_sim_server(make_profile("sync"))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = backend_pb2_grpc.BackendServiceStub(channel)
            net = backend_pb2.NetworkSpec(id="n1", tenant_id="t", name="n")
            port_spec = backend_pb2.PortSpec(
                id="p1", tenant_id="t", network_id="n1", admin_state_up=True
            )
            await stub.ApplyChange(
                backend_pb2.ApplyChangeRequest(
                    operation_id="o1",
                    kind=rs.RESOURCE_KIND_NETWORK,
                    action=backend_pb2.CHANGE_ACTION_CREATE,
                    generation=1,
                    network=net,
                )
            )
            await stub.ApplyChange(
                backend_pb2.ApplyChangeRequest(
                    operation_id="o2",
                    kind=rs.RESOURCE_KIND_PORT,
                    action=backend_pb2.CHANGE_ACTION_CREATE,
                    generation=1,
                    port=port_spec,
                )
            )
            await stub.ApplyChange(
                backend_pb2.ApplyChangeRequest(
                    operation_id="o3",
                    kind=rs.RESOURCE_KIND_NETWORK,
                    action=backend_pb2.CHANGE_ACTION_DELETE,
                    generation=2,
                    network=net,
                )
            )
            listing = await stub.ListStatus(backend_pb2.ListStatusRequest())
            assert list(listing.statuses) == []
    finally:
        await backend.stop(0)
