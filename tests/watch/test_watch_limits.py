"""A slow reader is cut with RESOURCE_EXHAUSTED; the server's memory stays bounded."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from quantum_api.errors import error_from_rpc
from quantum_api.v1 import (
    network_pb2,
    network_service_pb2 as net_pb,
    watch_service_pb2 as pb,
    watch_service_pb2_grpc,
)
from tests.helpers import Api, eventually, rpc_error

MAX_LAG = 20


async def test_a_reader_that_stops_reading_is_cut_and_can_resume(
    stack_factory, channel_factory
) -> None:
    stack = await stack_factory("sync", core={"watch_max_lag": MAX_LAG})
    writer = stack.api
    # A client that stops reading: small flow-control window so the server feels it soon.
    slow_channel = grpc.aio.insecure_channel(
        stack.app.address,
        options=[("grpc.http2.bdp_probe", 0), ("grpc.max_receive_message_length", 1 << 20)],
    )
    slow = Api(slow_channel)
    call = watch_service_pb2_grpc.WatchServiceStub(slow_channel).WatchStatus(
        pb.WatchStatusRequest(), metadata=slow.md
    )
    first = await call.read()
    assert first.events[-1].type == pb.EVENT_TYPE_SYNCED

    longest_queue = 0
    created = 0
    hub = stack.app.hub
    while hub.watcher_count and created < 3000:
        await writer.networks.CreateNetwork(
            net_pb.CreateNetworkRequest(name=f"n{created}"), metadata=writer.md
        )
        created += 1
        longest_queue = max([longest_queue, *(w.pending for w in hub._all())])
    assert hub.watcher_count == 0, "the lagging watcher was never cut"
    assert longest_queue <= MAX_LAG  # the server never held more than the bound for it

    last_seen = first.events[-1].revision
    code = None
    try:
        while (response := await call.read()) is not grpc.aio.EOF:
            last_seen = response.events[-1].revision
    except grpc.aio.AioRpcError as exc:
        code, error = exc.code(), error_from_rpc(exc)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.reason == "WATCH_LAGGING"
    await slow_channel.close()

    # It resumes from the last revision it received and gets everything after it.
    resumed = watch_service_pb2_grpc.WatchServiceStub(
        channel_factory(stack.app.address)
    ).WatchStatus(pb.WatchStatusRequest(start_revision=last_seen), metadata=writer.md)
    head = await stack.app.store.head_revision()
    revisions: list[int] = []
    async with asyncio.timeout(10):
        async for response in resumed:
            revisions += [e.revision for e in response.events if e.type != pb.EVENT_TYPE_PROGRESS]
            if revisions and revisions[-1] >= head:
                break
    assert revisions == list(range(last_seen + 1, head + 1))
    resumed.cancel()
    print(f"cut after {created} creates")


LIMIT = 3


def _watch(api: Api) -> Any:
    return api.stubs.watch.WatchStatus(pb.WatchStatusRequest(), metadata=api.md)


def _wait(api: Api, network_id: str, timeout: float | None = None) -> Any:
    request = pb.WaitForStatusRequest(
        kind=pb.RESOURCE_KIND_NETWORK,
        resource_id=network_id,
        network_statuses=[network_pb2.NETWORK_STATUS_ERROR],  # never happens here
    )
    return api.stubs.watch.WaitForStatus(request, metadata=api.md, timeout=timeout)


async def _opened(api: Api) -> Any:
    stream = _watch(api)
    await stream.read()  # registered once the first answer came
    return stream


async def _refused(call: Any) -> None:
    error = await rpc_error(call)
    assert (error.code, error.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "TOO_MANY_WATCHES")
    assert error.metadata["limit"] == str(LIMIT)


async def test_a_tenant_holds_at_most_the_watch_limit_and_gets_slots_back_however_calls_end(
    stack_factory,
) -> None:
    stack = await stack_factory("sync", core={"max_watches_per_tenant": LIMIT})
    api, hub = stack.api, stack.app.hub

    async def held(count: int) -> None:
        await eventually(lambda: asyncio.sleep(0, hub.watcher_count), lambda n: n == count)

    net = await api.create_network("n")
    first, second = await _opened(api), await _opened(api)
    waiting = asyncio.ensure_future(_wait(api, net.id))
    await held(LIMIT)

    # WatchStatus and WaitForStatus count alike; another tenant has its own count.
    await _refused(_watch(api).read())
    await _refused(_wait(api, net.id))
    (await _opened(api.as_tenant("tenant-b"))).cancel()
    await held(LIMIT)

    # A slot comes back when a client cancels a stream, and a new watch gets it ...
    first.cancel()
    await held(LIMIT - 1)
    third = await _opened(api)
    await _refused(_watch(api).read())
    # ... when a WaitForStatus is cancelled ...
    waiting.cancel()
    await held(LIMIT - 1)
    # ... when a WaitForStatus reaches its deadline ...
    expired = await rpc_error(_wait(api, net.id, timeout=0.5))
    assert expired.code == grpc.StatusCode.DEADLINE_EXCEEDED
    await held(LIMIT - 1)
    # ... and when the connection goes away with a stream open.
    gone = grpc.aio.insecure_channel(stack.app.address)
    await _opened(Api(gone))
    await _refused(_watch(api).read())
    await gone.close()
    await held(LIMIT - 1)
    fourth = await _opened(api)
    for stream in (second, third, fourth):
        stream.cancel()
    await held(0)
