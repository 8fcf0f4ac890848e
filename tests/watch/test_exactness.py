"""Watches lose nothing, repeat nothing, reorder nothing: across cuts, resumes and restarts."""

from __future__ import annotations

import asyncio
import os
import random
import time

import grpc

from quantum_api.errors import QuantumError
from quantum_api.v1 import watch_service_pb2 as pb
from tests.helpers import Api
from tests.helpers.database import query
from tests.helpers.watch import MARKERS, Follower, key

SOAK_SECONDS = float(os.environ.get("QUANTUM_SOAK_SECONDS", "10"))
MIN_OPERATIONS_PER_WRITER = 20


def _log(
    database_url: str, tenant: str | None, kinds: set[str], network_id: str, after: int
) -> list[tuple[int, str, str]]:
    rows = query(
        database_url,
        "select revision, tenant_id, resource_kind, resource_id, network_id from events "
        "where revision > :after order by revision",
        {"after": after},
    )
    return [
        (revision, kind, resource_id)
        for revision, row_tenant, kind, resource_id, row_network in rows
        if (tenant is None or row_tenant == tenant)
        and (not kinds or kind in kinds)
        and (not network_id or row_network == network_id)
    ]


async def _writer(api: Api, seed: int, stop_at: float, network_ids: list[str]) -> int:
    rng = random.Random(seed)
    ports: list[str] = []
    plugged: set[str] = set()
    operations = 0
    # For the soak's time, and however loaded the machine, enough changes to mean something.
    while time.monotonic() < stop_at or operations < MIN_OPERATIONS_PER_WRITER:
        choice = rng.random()
        try:
            if choice < 0.25 or not ports:
                ports.append((await api.create_port(rng.choice(network_ids))).id)
            elif choice < 0.5:
                port = rng.choice(ports)
                if port in plugged:
                    await api.unplug(port)
                    plugged.discard(port)
                else:
                    await api.plug(port, f"vif-{seed}-{port[:13]}")
                    plugged.add(port)
            elif choice < 0.8:
                await api.update_port(rng.choice(ports), admin_state_up=rng.random() < 0.5)
            else:
                port = rng.choice([p for p in ports if p not in plugged] or ports)
                if port not in plugged:
                    await api.delete_port(port)
                    ports.remove(port)
        except QuantumError as error:
            # Racing our own asynchronous back-end is allowed to refuse (being deleted...).
            assert error.code in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND), (
                error
            )
        operations += 1
    return operations


async def _cutting_watcher(
    api: Api, request: pb.WatchStatusRequest, seed: int, stop_at: float
) -> list[pb.WatchEvent]:
    """Follow the stream, cutting it at random moments and resuming from the last revision."""
    rng = random.Random(seed)
    received: list[pb.WatchEvent] = []
    start = request.start_revision
    while True:
        resume = pb.WatchStatusRequest()
        resume.CopyFrom(request)
        resume.start_revision = start
        follower = Follower(api, resume).start()
        if time.monotonic() >= stop_at:
            return received, follower
        await asyncio.sleep(rng.uniform(0.05, 0.8))
        await follower.cancel()
        received += follower.events
        start = follower.last_revision if follower.events else start


async def test_cut_and_resumed_watchers_see_exactly_the_log(stack_factory) -> None:
    stack = await stack_factory("async", step_delay=0.01, core={"watch_progress_interval": 0.3})
    api = stack.api
    other = api.as_tenant("tenant-b")
    nets = [(await api.create_network(f"n{i}")).id for i in range(2)]
    other_nets = [(await other.create_network("b")).id]
    base = await stack.app.store.head_revision()

    watchers = {
        "all": (api, pb.WatchStatusRequest(start_revision=base), "tenant-a", set(), ""),
        "ports": (
            api,
            pb.WatchStatusRequest(start_revision=base, kinds=[pb.RESOURCE_KIND_PORT]),
            "tenant-a",
            {"PORT"},
            "",
        ),
        "network": (
            api,
            pb.WatchStatusRequest(start_revision=base, network_id=nets[0]),
            "tenant-a",
            set(),
            nets[0],
        ),
        "admin": (
            api.as_tenant("ops", admin=True),
            pb.WatchStatusRequest(start_revision=base),
            None,
            set(),
            "",
        ),
    }
    stop_at = time.monotonic() + SOAK_SECONDS
    writers = [
        asyncio.create_task(_writer(api, 1, stop_at, nets)),
        asyncio.create_task(_writer(api, 2, stop_at, nets)),
        asyncio.create_task(_writer(other, 3, stop_at, other_nets)),
    ]
    cutters = {
        name: asyncio.create_task(_cutting_watcher(client, request, seed, stop_at))
        for seed, (name, (client, request, *_)) in enumerate(watchers.items())
    }
    operations = sum(await asyncio.gather(*writers))
    assert operations > 50
    # Every watcher catches up to the head as it is now; the asynchronous back-end may
    # still be finishing, so what is compared is the log up to that head.
    head = await stack.app.store.head_revision()
    for name, task in cutters.items():
        received, final = await task
        await final.until(lambda ev: ev and ev[-1].revision >= head, timeout=15)
        await final.cancel()
        events = [
            e for e in received + final.events if e.type not in MARKERS and e.revision <= head
        ]
        _client, _request, tenant, kinds, network_id = watchers[name]
        logged = _log(stack.app.core.settings.database_url, tenant, kinds, network_id, base)
        expected = [entry for entry in logged if entry[0] <= head]
        got = [key(e) for e in events]
        assert len(got) == len(set(got)), f"{name}: duplicates"
        assert got == expected, f"{name}: {len(got)} events received, {len(expected)} in the log"


async def test_graceful_shutdown_ends_watches_resumably(
    stack_factory, core_factory, channel_factory
) -> None:
    stack = await stack_factory("sync")
    api = stack.api
    net = await api.create_network("n")
    follower = Follower(api, pb.WatchStatusRequest()).start()
    await follower.until(lambda ev: any(e.type == pb.EVENT_TYPE_SYNCED for e in ev))
    port = await api.create_port(net.id)
    await follower.until(lambda ev: ev[-1].revision >= port.revision)
    await stack.app.stop(2)
    await follower.ended.wait()
    assert follower.error is not None
    assert (follower.error.code, follower.error.reason) == (
        grpc.StatusCode.UNAVAILABLE,
        "SERVER_SHUTTING_DOWN",
    )
    last = follower.last_revision

    # A new server on the same database: changes made there reach the resumed watch.
    app = await core_factory(stack.sim.target)
    link = app.links.get("sim")
    assert link is not None
    await link.ready.wait()
    again = Api(channel_factory(app.address))
    plugged = await again.plug(port.id, "vif-after")
    resumed = Follower(again, pb.WatchStatusRequest(start_revision=last)).start()
    events = await resumed.until(lambda ev: ev and ev[-1].revision >= plugged.port.revision)
    changes = [key(e) for e in events if e.type not in MARKERS]
    assert changes == _log(app.core.settings.database_url, "tenant-a", set(), "", last)
    await resumed.cancel()
