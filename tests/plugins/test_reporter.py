"""StatusSender: reports reach the core in order, in batches, and survive core outages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from quantum_api.plugin.v1 import resource_status_pb2
from quantum_plugins.common import StatusSender
from tests.helpers.database import query

from . import ReportCollector


def _status(n: int) -> resource_status_pb2.ResourceStatus:
    return resource_status_pb2.ResourceStatus(
        kind=resource_status_pb2.RESOURCE_KIND_NETWORK,
        resource_id=f"net-{n}",
        generation=n + 1,
        state=resource_status_pb2.OBSERVED_STATE_READY,
    )


def _ids(reports: list[resource_status_pb2.ResourceStatus]) -> list[str]:
    return [r.resource_id for r in reports]


@pytest.fixture
async def sender() -> AsyncIterator[StatusSender]:
    s = StatusSender("sim-test")
    s.start()
    yield s
    await s.close()


@pytest.fixture
async def core() -> AsyncIterator[ReportCollector]:
    c = ReportCollector()
    await c.start()
    yield c
    await c.stop()


async def test_delivers_in_order_in_batches_of_at_most_100(
    sender: StatusSender, core: ReportCollector
) -> None:
    sender.set_target(core.target)
    for n in range(250):
        sender.send(_status(n))
    assert await sender.wait_idle(5)
    assert sender.pending == 0
    assert _ids(core.reports) == [f"net-{n}" for n in range(250)]
    # Queued before the sender ran, so they go in full batches.
    assert [len(r.statuses) for r in core.requests] == [100, 100, 50]
    assert {r.backend for r in core.requests} == {"sim-test"}


async def test_holds_reports_until_a_target_is_known(
    sender: StatusSender, core: ReportCollector
) -> None:
    for n in range(3):
        sender.send(_status(n))
    await asyncio.sleep(0.2)
    assert sender.pending == 3
    assert not await sender.wait_idle(0.05)
    sender.set_target(core.target)
    assert await sender.wait_idle(5)
    assert _ids(core.reports) == ["net-0", "net-1", "net-2"]


async def test_keeps_reports_while_the_core_is_down_and_delivers_them_in_order(
    sender: StatusSender,
) -> None:
    first = ReportCollector()
    port = await first.start()
    await first.stop()  # the core is down; its address is known
    sender.set_target(f"127.0.0.1:{port}")
    for n in range(10):
        sender.send(_status(n))
    await asyncio.sleep(0.6)  # several failed attempts with backoff
    assert sender.pending == 10
    assert sender.delivered == 0

    restarted = ReportCollector()
    await restarted.start(port)  # the core comes back on the same port
    try:
        for n in range(10, 15):
            sender.send(_status(n))
        assert await sender.wait_idle(10)
        assert _ids(restarted.reports) == [f"net-{n}" for n in range(15)]
    finally:
        await restarted.stop()


async def test_a_new_target_takes_over_at_once(sender: StatusSender, core: ReportCollector) -> None:
    dead = ReportCollector()
    dead_port = await dead.start()
    await dead.stop()
    sender.set_target(f"127.0.0.1:{dead_port}")
    sender.send(_status(0))
    await asyncio.sleep(1.7)  # the next retry is over a second away
    sender.set_target(core.target)  # e.g. the core restarted on another address
    sender.send(_status(1))
    assert await sender.wait_idle(0.5)
    assert _ids(core.reports) == ["net-0", "net-1"]


async def test_send_copies_the_report(sender: StatusSender, core: ReportCollector) -> None:
    status = _status(0)
    sender.send(status)
    status.generation = 99  # the caller reuses its message
    sender.set_target(core.target)
    assert await sender.wait_idle(5)
    assert core.reports[0].generation == 1


async def test_an_entry_the_core_refuses_for_good_does_not_block_the_rest(stack_factory) -> None:
    stack = await stack_factory("sync")
    net = await stack.api.create_network("n")
    [(generation,)] = query(
        stack.app.core.settings.database_url,
        "select generation from networks where id = :id",
        {"id": net.id},
    )
    sender = StatusSender(stack.sim.backend.name, initial_backoff=0.05)
    sender.start()
    try:
        sender.set_target(stack.app.internal_address)  # docs/security.md
        undefined_state = resource_status_pb2.ResourceStatus(
            kind=resource_status_pb2.RESOURCE_KIND_NETWORK,
            resource_id=net.id,
            generation=generation,
            state=999,  # no such ObservedState: the core refuses it with BACKEND_INPUT_REJECTED
        )
        ready = resource_status_pb2.ResourceStatus(
            kind=resource_status_pb2.RESOURCE_KIND_NETWORK,
            resource_id=net.id,
            generation=generation,
            state=resource_status_pb2.OBSERVED_STATE_READY,
        )
        sender.send(undefined_state)
        sender.send(ready)
        # Before, the refused entry was resent for ever and nothing behind it went out.
        assert await sender.wait_idle(10)
        assert sender.pending == 0 and sender.delivered == 1
    finally:
        await sender.close()
