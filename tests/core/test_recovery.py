"""Nothing is lost when either side dies.

docs/architecture.md, "Outbox and dispatcher"; docs/status-model.md, "Liveness is status".
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import grpc

from quantum_api.v1 import network_pb2, port_pb2
from quantum_grpc.service.status_rules import REASON_BACKEND_UNAVAILABLE
from tests.helpers import Api, eventually
from tests.helpers.database import query
from tests.helpers.processes import children_of, free_port, start_command, wait_gone, wait_serving


async def test_backend_death_marks_ports_down_and_return_restores_them(
    stack_factory, sim_factory
) -> None:
    stack = await stack_factory("sync")
    api = stack.api
    net = await api.create_network("n")
    port = await api.create_port(net.id)
    assert (await api.plug(port.id, "vif-1")).port.status == port_pb2.PORT_STATUS_ACTIVE

    await stack.sim.backend.stop(0)
    killed = time.monotonic()
    down = await eventually(
        lambda: api.get_port(port.id),
        lambda p: p.link_status_reason == REASON_BACKEND_UNAVAILABLE,
        timeout=5,
    )
    assert time.monotonic() - killed < 5
    assert (
        down.status == port_pb2.PORT_STATUS_DOWN and down.link_status == port_pb2.LINK_STATUS_DOWN
    )

    # A new sim on the same address knows nothing: the core resyncs it from the database.
    fresh = await sim_factory("sync", listen=f"127.0.0.1:{stack.sim.port}")
    back = await eventually(
        lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_ACTIVE
    )
    assert back.link_status == port_pb2.LINK_STATUS_UP and back.interface_id == "vif-1"
    assert (await api.get_network(net.id)).status == network_pb2.NETWORK_STATUS_AVAILABLE
    assert fresh.backend.applied_changes == 2  # the network and the port, once each


async def test_core_killed_between_commit_and_dispatch_completes_once(
    tmp_path: Path, database_url: str, sim_factory, channel_factory
) -> None:
    sim = await sim_factory("sync")
    db = database_url
    address = f"127.0.0.1:{free_port()}"
    args = [
        "serve",
        "--listen",
        address,
        "--database-url",
        db,
        "--backend",
        f"sim={sim.target.target}",
    ]
    core = start_command(args, tmp_path / "core.log")
    try:
        await wait_serving(address)
        api = Api(channel_factory(address))
        net = await eventually(
            lambda: api.create_network("n"),
            lambda n: n.status == network_pb2.NETWORK_STATUS_AVAILABLE,
        )

        await sim.backend.stop(0)  # the back-end is gone: the next change cannot be applied
        port = await api.create_port(net.id)
        assert port.status == port_pb2.PORT_STATUS_PROVISIONING
        assert query(db, "select resource_id from outbox") == [(port.id,)]
        core.send_signal(signal.SIGKILL)
        core.wait()

        fresh = await sim_factory("sync", listen=f"127.0.0.1:{sim.port}")
        core = start_command(args, tmp_path / "core.log")
        await wait_serving(address)
        api = Api(channel_factory(address))
        done = await eventually(
            lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_DOWN
        )
        assert done.link_status_reason == "no attachment"
        await eventually(
            lambda: asyncio.sleep(0, query(db, "select * from outbox")), lambda rows: rows == []
        )
        assert fresh.backend.applied_changes == 2  # network + port, exactly once each
        added = query(
            db,
            f"select count(*) from events where resource_id = '{port.id}' and event_kind = 'ADDED'",
        )
        assert added == [(1,)]
    finally:
        core.send_signal(signal.SIGTERM)
        core.wait(10)


async def test_serve_defaults_start_sim_and_leave_no_child(tmp_path: Path, channel_factory) -> None:
    address = f"127.0.0.1:{free_port()}"
    core = start_command(
        ["serve", "--listen", address],
        tmp_path / "serve.log",
        env={"QUANTUM_DATA_DIR": str(tmp_path)},
    )
    try:
        await wait_serving(address)
        api = Api(channel_factory(address))
        net = await api.create_network("default")
        assert (
            net.status == network_pb2.NETWORK_STATUS_AVAILABLE
        )  # mixed: network create is synchronous
        port = await api.create_port(net.id)
        await api.plug(port.id, "vif-1")
        await eventually(
            lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_ACTIVE
        )
        assert (tmp_path / "quantum.db").exists()
        kids = children_of(core.pid)
        assert len(kids) == 1
        log = (tmp_path / "serve.log").read_text()
        assert f"listening on {address}" in log and "sim at 127.0.0.1:" in log
        core.send_signal(signal.SIGTERM)
        assert core.wait(15) == 0
        assert await wait_gone(kids[0])
    finally:
        if core.poll() is None:
            core.kill()


async def test_sigkilled_serve_takes_its_sim_along(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    core = start_command(
        ["serve", "--listen", address],
        tmp_path / "serve.log",
        env={"QUANTUM_DATA_DIR": str(tmp_path)},
    )
    await wait_serving(address)
    kids = children_of(core.pid)
    assert len(kids) == 1
    core.send_signal(signal.SIGKILL)
    core.wait()
    assert await wait_gone(kids[0]), "the sim outlived a SIGKILLed core"


async def test_shutdown_flips_health_before_stopping(stack_factory) -> None:
    stack = await stack_factory("sync")
    async with grpc.aio.insecure_channel(stack.app.address) as channel:
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        stub = health_pb2_grpc.HealthStub(channel)
        stream = stub.Watch(health_pb2.HealthCheckRequest(service=""))
        first = await stream.read()
        assert first.status == health_pb2.HealthCheckResponse.SERVING
        stopping = asyncio.create_task(stack.app.stop(1))
        second = await stream.read()
        assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
        await stopping
