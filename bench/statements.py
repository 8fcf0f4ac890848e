"""Database work per operation, counted: sessions, statements and commits.

    .venv/bin/python -m bench.statements [--database-url URL]

Unlike timings these counts do not move with the machine's load, so they show what a step
of issue 14 saved even on a busy machine. The core runs in this process (no gRPC, no
dispatcher: a create's back-end round trip is left out), on a fresh SQLite file by
default; its watch hub runs as in ``serve`` and is waited for after each operation, so its
log reads are counted. ``create_port (whole, sync sim)`` is the whole of a CreatePort
instead: a real server and a ``sync`` sim in this process, called over gRPC, counted
until the call returns (dispatch, the back-end's answer and the reply included). Prints
one JSON object: per operation, the averages over ``--n``.
``bench.ab --sections statements`` runs it for an earlier copy of the code as well.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event

from quantum_api.plugin.v1 import resource_status_pb2 as rs
from quantum_api.v1 import port_pb2
from quantum_client import AsyncClient
from quantum_grpc.config import BackendTarget, Settings
from quantum_grpc.convert import snapshot_of
from quantum_grpc.server import build_server
from quantum_grpc.service import networks, ports
from quantum_grpc.service.caller import Caller
from quantum_grpc.service.core import Core
from quantum_grpc.service.reports import receive_report
from quantum_grpc.store.engine import create_engine, is_sqlite, upgrade
from quantum_grpc.store.store import Store
from quantum_grpc.watch.hub import WatchHub
from quantum_plugins.sim.profiles import make_profile
from quantum_plugins.sim.server import build_sim_server

BACKEND = "sim"
TENANT = "bench"


def _count(engine: Any, counts: Counter[str]) -> None:
    def statement(*args: Any) -> None:
        counts["statements"] += 1

    def checkout(*args: Any) -> None:
        counts["sessions"] += 1

    def commit(*args: Any) -> None:
        counts["commits"] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    event.listen(engine.sync_engine, "checkout", checkout)
    event.listen(engine.sync_engine, "commit", commit)


async def _settled(hub: WatchHub, store: Store) -> None:
    """Until the hub has fanned out everything committed (its pump may still be reading)."""
    head = await store.head_revision()
    while hub.head < head:  # noqa: ASYNC110 - the hub has no event to wait on
        await asyncio.sleep(0.001)


async def measure(url: str, n: int) -> dict[str, dict[str, float]]:
    """Average sessions, statements and commits per create, report and get."""
    await asyncio.to_thread(upgrade, url)
    settings = Settings(database_url=url, backends=(BackendTarget(BACKEND, "unused"),))
    store = Store(create_engine(url), serialize_writes=is_sqlite(url), encode_snapshot=snapshot_of)
    counts: Counter[str] = Counter()
    _count(store.engine, counts)
    hub = WatchHub(store, settings)
    await hub.start()
    core = Core(store, settings)
    caller = Caller(TENANT)
    try:
        network = await networks.create_network(
            core, caller, tenant_id=TENANT, name="n", request_id=""
        )
        ready = rs.ResourceStatus(
            kind=rs.RESOURCE_KIND_NETWORK,
            resource_id=network.id,
            generation=1,
            state=rs.OBSERVED_STATE_READY,
        )
        await receive_report(store, frozenset({BACKEND}), BACKEND, [ready])
        made: list[str] = []

        async def create() -> None:
            port = await ports.create_port(
                core,
                caller,
                tenant_id=TENANT,
                network_id=network.id,
                admin_state_up=True,
                qos=None,
                request_id="",
                require_ready=False,
            )
            made.append(port.id)

        link = [False]

        async def report() -> None:
            link[0] = not link[0]
            status = rs.ResourceStatus(
                kind=rs.RESOURCE_KIND_PORT,
                resource_id=made[0],
                generation=1,
                state=rs.OBSERVED_STATE_READY,
                link_status=port_pb2.LINK_STATUS_UP if link[0] else port_pb2.LINK_STATUS_DOWN,
            )
            await receive_report(store, frozenset({BACKEND}), BACKEND, [status])

        async def get() -> None:
            await ports.get_port(core, caller, TENANT, made[0])

        found: dict[str, dict[str, float]] = {}
        operations: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("create_port (no dispatch)", create),
            ("report (link toggle)", report),
            ("get_port", get),
        ]
        for name, operation in operations:
            await _settled(hub, store)
            counts.clear()
            for _ in range(n):
                await operation()
                await _settled(hub, store)
            # _settled's own head reads are not the operation's.
            own = {"sessions": n, "statements": n, "commits": 0}
            found[name] = {k: round((counts[k] - own[k]) / n, 2) for k in own}
        return found
    finally:
        await hub.close()
        await store.close()


async def measure_whole_create(url: str, n: int) -> dict[str, float]:
    """Average sessions, statements and commits of a whole CreatePort on a ``sync`` sim."""
    _server, port, sim = await build_sim_server(make_profile("sync"), listen="127.0.0.1:0")
    settings = Settings(
        database_url=url,
        backends=(BackendTarget(sim.name, f"127.0.0.1:{port}"),),
        listen="127.0.0.1:0",
        grace=0,
    )
    app = await build_server(settings)
    client = AsyncClient(f"127.0.0.1:{app.port}", TENANT, admin=False)
    try:
        link = app.links.get(sim.name)
        assert link is not None
        await link.ready.wait()
        network = await client.create_network("whole")
        await client.wait_for_status("network", network.id, "AVAILABLE", timeout=30)
        await client.create_port(network.id)
        counts: Counter[str] = Counter()
        _count(app.store.engine, counts)
        for _ in range(n):
            await client.create_port(network.id)
        return {k: round(counts[k] / n, 2) for k in ("sessions", "statements", "commits")}
    finally:
        await client.close()
        await app.stop(0)
        await sim.stop(0)


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m bench.statements``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.statements", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--n", type=int, default=50, help="operations of each kind")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'quantum.db'}"
        found = asyncio.run(measure(url, args.n))
        whole = args.database_url or f"sqlite:///{Path(scratch) / 'whole.db'}"
        found["create_port (whole, sync sim)"] = asyncio.run(measure_whole_create(whole, args.n))
        print(json.dumps(found, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
