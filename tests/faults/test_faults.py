"""Faults survived, nothing lost: each one kills or stops a real process or file."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quantum_api.v1 import network_pb2, network_service_pb2 as net_pb, port_pb2
from quantum_grpc import children
from quantum_grpc.config import BackendTarget
from quantum_grpc.service.status_rules import REASON_BACKEND_UNAVAILABLE
from tests.helpers import Api, eventually, need, rpc_error
from tests.helpers.processes import free_port, start_command, wait_serving

ACTIVE = port_pb2.PORT_STATUS_ACTIVE


async def test_a_hung_backend_is_detected_and_nothing_else_waits_for_it(
    core_factory, channel_factory
) -> None:
    process, port = await children.spawn_plugin(
        ["sim", "--listen", "127.0.0.1:0", "--profile", "sync"]
    )
    try:
        app = await core_factory(
            BackendTarget("sim", f"127.0.0.1:{port}"), sync_wait=1.0, backend_call_timeout=2.0
        )
        link = app.links.get("sim")
        assert link is not None
        await link.ready.wait()
        api = Api(channel_factory(app.address))
        net = await api.create_network("n")
        plugged = await api.plug((await api.create_port(net.id)).id, "vif-1")
        assert plugged.port.status == ACTIVE

        process.send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        down = await eventually(
            lambda: api.get_port(plugged.port.id),
            lambda p: p.link_status_reason == REASON_BACKEND_UNAVAILABLE,
            timeout=5,
        )
        assert down.status == port_pb2.PORT_STATUS_DOWN
        assert time.monotonic() - stopped < 5
        # The API does not wait for the hung back-end: a change is recorded and answered.
        started = time.monotonic()
        pending = await api.create_network("while-hung")
        assert pending.status == network_pb2.NETWORK_STATUS_PROVISIONING
        assert time.monotonic() - started < 3

        process.send_signal(signal.SIGCONT)
        await eventually(
            lambda: api.get_port(plugged.port.id), lambda p: p.status == ACTIVE, timeout=10
        )
        done = await eventually(
            lambda: api.get_network(pending.id),
            lambda n: n.status == network_pb2.NETWORK_STATUS_AVAILABLE,
            timeout=10,
        )
        assert done.name == "while-hung"
    finally:
        process.send_signal(signal.SIGCONT)
        children.stop(process)


async def test_reports_made_while_the_core_is_down_are_delivered_later(
    tmp_path: Path, sim_factory, channel_factory
) -> None:
    sim = await sim_factory("async", step_delay=0.4, steps=2)
    address = f"127.0.0.1:{free_port()}"
    args = [
        "serve",
        "--listen",
        address,
        "--database-url",
        f"sqlite:///{tmp_path}/db",
        "--backend",
        f"sim={sim.target.target}",
    ]
    core = start_command(args, tmp_path / "core.log")
    try:
        await wait_serving(address)
        api = Api(channel_factory(address))
        net = await api.create_network("n")
        await eventually(
            lambda: api.get_network(net.id),
            lambda n: n.status == network_pb2.NETWORK_STATUS_AVAILABLE,
        )
        port = await api.create_port(net.id)
        await eventually(
            lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_DOWN
        )
        await api.plug(port.id, "vif-1")
        core.send_signal(signal.SIGKILL)  # the plug is still in the back-end's hands
        core.wait()
        delivered = sim.backend.sender.delivered
        await eventually(
            lambda: asyncio.sleep(0, sim.backend.sender.pending), lambda n: n > 0, timeout=5
        )

        core = start_command(args, tmp_path / "core.log")
        await wait_serving(address)
        api = Api(channel_factory(address))
        await eventually(lambda: api.get_port(port.id), lambda p: p.status == ACTIVE, timeout=10)
        # The resync may have shown ACTIVE first; the report itself still gets through.
        await eventually(
            lambda: asyncio.sleep(0, sim.backend.sender.pending), lambda n: n == 0, timeout=10
        )
        assert sim.backend.sender.delivered > delivered
    finally:
        core.send_signal(signal.SIGTERM)
        core.wait(10)


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.mark.root
async def test_an_unwritable_database_fails_cleanly_and_recovers(
    tmp_path: Path, sim_factory, core_factory, channel_factory
) -> None:
    need(os.geteuid() == 0 and shutil.which("mount") is not None, "needs root to mount a tmpfs")
    volume = tmp_path / "volume"
    volume.mkdir()
    _mount("-t", "tmpfs", "-o", "size=16m", "tmpfs", str(volume))
    try:
        sim = await sim_factory("sync")
        app = await core_factory(sim.target, database_url=f"sqlite:///{volume}/quantum.db")
        api = Api(channel_factory(app.address))
        health = health_pb2_grpc.HealthStub(api.channel)
        net = await api.create_network("before")
        head = await app.store.head_revision()

        # Fill the volume: every write the database tries now fails (SQLITE_FULL).
        filler = volume / "filler"
        with filler.open("wb") as sink:
            try:
                while True:
                    sink.write(b"\0" * (1 << 20))
                    sink.flush()
            except OSError:
                pass
        error = await rpc_error(api.create_network("during"))
        assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "STORAGE_UNAVAILABLE")
        error = await rpc_error(
            api.update_port("6f1c0a9e-5b1d-4c1e-9a55-0d5e2b8c7f10", admin_state_up=False)
        )
        assert error.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND)
        await eventually(
            lambda: health.Check(health_pb2.HealthCheckRequest()),
            lambda a: a.status == health_pb2.HealthCheckResponse.NOT_SERVING,
            timeout=8,
        )

        filler.unlink()
        await eventually(
            lambda: health.Check(health_pb2.HealthCheckRequest()),
            lambda a: a.status == health_pb2.HealthCheckResponse.SERVING,
            timeout=8,
        )
        assert await app.store.head_revision() == head  # nothing half-written
        listed = await api.networks.ListNetworks(net_pb.ListNetworksRequest(), metadata=api.md)
        assert [n.name for n in listed.networks] == ["before"]
        after = await api.create_network("after")
        assert after.status == network_pb2.NETWORK_STATUS_AVAILABLE
        assert (await api.get_network(net.id)).name == "before"
        await app.stop(0)
    finally:
        await asyncio.to_thread(subprocess.run, ["umount", "-l", str(volume)], check=False)


@pytest.mark.postgres
async def test_postgresql_going_away_fails_cleanly_and_recovers(
    sim_factory, core_factory, channel_factory
) -> None:
    import uuid

    import psycopg

    from tests.helpers.postgres import PG_URL

    try:
        admin = await psycopg.AsyncConnection.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        need(False, f"PostgreSQL at {PG_URL} is not reachable: {exc}")
        raise
    role = f"qg_{uuid.uuid4().hex[:10]}"
    await admin.execute(f"CREATE ROLE {role} LOGIN")
    await admin.execute(f"CREATE SCHEMA {role} AUTHORIZATION {role}")
    url = PG_URL.replace("postgres@", f"{role}@", 1) + f"?options=-csearch_path%3D{role}"
    try:
        sim = await sim_factory("sync")
        app = await core_factory(sim.target, database_url=url)
        api = Api(channel_factory(app.address))
        health = health_pb2_grpc.HealthStub(api.channel)
        await api.create_network("before")
        head = await app.store.head_revision()

        # The server refuses this role from now on, and its sessions are gone.
        await admin.execute(f"ALTER ROLE {role} NOLOGIN")
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
        error = await rpc_error(api.create_network("during"))
        assert (error.code, error.reason) == (grpc.StatusCode.UNAVAILABLE, "STORAGE_UNAVAILABLE")
        await eventually(
            lambda: health.Check(health_pb2.HealthCheckRequest()),
            lambda a: a.status == health_pb2.HealthCheckResponse.NOT_SERVING,
            timeout=8,
        )

        await admin.execute(f"ALTER ROLE {role} LOGIN")
        await eventually(
            lambda: health.Check(health_pb2.HealthCheckRequest()),
            lambda a: a.status == health_pb2.HealthCheckResponse.SERVING,
            timeout=10,
        )
        assert await app.store.head_revision() == head
        after = await api.create_network("after")
        assert after.status == network_pb2.NETWORK_STATUS_AVAILABLE
        listed = await api.networks.ListNetworks(net_pb.ListNetworksRequest(), metadata=api.md)
        assert [n.name for n in listed.networks] == ["before", "after"]
        await app.stop(0)
    finally:
        await admin.execute(f"ALTER ROLE {role} LOGIN")
        await admin.execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
        )
        await admin.execute(f"DROP SCHEMA {role} CASCADE")
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()
