"""WaitForStatus: the server-side `kubectl wait`."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import grpc
import pytest

from quantum_api.errors import NetworkNotFound
from quantum_api.v1 import attachment_pb2, network_pb2, port_pb2, watch_service_pb2 as pb
from tests.helpers import rpc_error
from tests.helpers.watch import watch_stub

ACTIVE = port_pb2.PORT_STATUS_ACTIVE


def _wait_port(port_id: str) -> pb.WaitForStatusRequest:
    return pb.WaitForStatusRequest(
        kind=pb.RESOURCE_KIND_PORT, resource_id=port_id, port_statuses=[ACTIVE]
    )


async def test_returns_when_the_port_becomes_active(stack_factory) -> None:
    stack = await stack_factory("async", step_delay=0.1)
    api = stack.api
    net = await api.create_network("n")
    port = await api.create_port(net.id)
    plugged = await api.plug(port.id, "vif-1")
    assert plugged.port.status != ACTIVE
    answer = await watch_stub(api).WaitForStatus(_wait_port(port.id), metadata=api.md, timeout=10)
    assert answer.resource.port.status == ACTIVE
    assert answer.revision == answer.resource.port.revision
    assert (await api.get_port(port.id)).status == ACTIVE


async def test_returns_at_once_when_already_there(stack_factory) -> None:
    stack = await stack_factory("sync")
    api = stack.api
    net = await api.create_network("n")
    started = time.monotonic()
    answer = await watch_stub(api).WaitForStatus(
        pb.WaitForStatusRequest(
            kind=pb.RESOURCE_KIND_NETWORK,
            resource_id=net.id,
            network_statuses=[network_pb2.NETWORK_STATUS_AVAILABLE],
        ),
        metadata=api.md,
        timeout=5,
    )
    assert answer.resource.network.id == net.id
    assert time.monotonic() - started < 1


async def test_fails_fast_with_the_backend_error(stack_factory) -> None:
    stack = await stack_factory("faulty", failure_rate=1.0, step_delay=0.05)
    api = stack.api
    net = await api.create_network("n")
    port = await api.create_port(net.id)
    started = time.monotonic()
    error = await rpc_error(
        watch_stub(api).WaitForStatus(_wait_port(port.id), metadata=api.md, timeout=30)
    )
    assert time.monotonic() - started < 5  # at the ERROR, not at the deadline
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.reason == "RESOURCE_FAILED"
    assert error.metadata["error_code"] == "SIM_INJECTED_FAULT"


async def test_honours_the_deadline(stack_factory) -> None:
    stack = await stack_factory("async", step_delay=5)
    api = stack.api
    net = await api.create_network("n")
    started = time.monotonic()
    error = await rpc_error(
        watch_stub(api).WaitForStatus(
            pb.WaitForStatusRequest(
                kind=pb.RESOURCE_KIND_NETWORK,
                resource_id=net.id,
                network_statuses=[network_pb2.NETWORK_STATUS_AVAILABLE],
            ),
            metadata=api.md,
            timeout=0.5,
        )
    )
    assert error.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 3


async def test_deleted_or_unknown_resources_are_not_found(stack_factory) -> None:
    stack = await stack_factory("async", step_delay=0.2)
    api = stack.api
    net = await api.create_network("n")
    port = await api.create_port(net.id)
    waiting = asyncio.ensure_future(
        watch_stub(api).WaitForStatus(_wait_port(port.id), metadata=api.md, timeout=10)
    )
    await asyncio.sleep(0.1)
    from quantum_api.v1 import port_service_pb2 as port_pb

    await api.ports.DeletePort(port_pb.DeletePortRequest(port_id=port.id), metadata=api.md)
    error = await rpc_error(waiting)
    assert (error.code, error.reason) == (grpc.StatusCode.NOT_FOUND, "RESOURCE_DELETED")
    # Another tenant's port is as unknown as a missing one.
    other = await rpc_error(
        watch_stub(api.as_tenant("mallory")).WaitForStatus(
            _wait_port(net.id), metadata=(("x-tenant-id", "mallory"),), timeout=2
        )
    )
    assert other.code == grpc.StatusCode.NOT_FOUND


async def test_requires_a_status_to_wait_for(stack_factory) -> None:
    stack = await stack_factory("sync")
    error = await rpc_error(
        watch_stub(stack.api).WaitForStatus(
            pb.WaitForStatusRequest(
                kind=pb.RESOURCE_KIND_PORT, resource_id="6f1c0a9e-5b1d-4c1e-9a55-0d5e2b8c7f10"
            ),
            metadata=stack.api.md,
        )
    )
    assert (error.code, error.field) == (grpc.StatusCode.INVALID_ARGUMENT, "port_statuses")


async def test_an_id_that_never_existed_is_not_found_one_deleted_is_deleted(
    stack_factory,
) -> None:
    stack = await stack_factory("sync", core={"event_retention": 1, "event_retention_seconds": 0})
    api = stack.api
    net = await api.create_network("n")
    port = await api.create_port(net.id)
    gone = await api.create_network("gone")
    await api.delete_network(gone.id)
    network = {"network_statuses": [network_pb2.NETWORK_STATUS_AVAILABLE]}
    attachment = {"attachment_statuses": [attachment_pb2.ATTACHMENT_STATUS_AVAILABLE]}

    async def wait(kind: int, resource_id: str, wanted: dict[str, Any]) -> tuple[str, str]:
        request = pb.WaitForStatusRequest(kind=kind, resource_id=resource_id, **wanted)
        call = watch_stub(api).WaitForStatus(request, metadata=api.md, timeout=5)
        error = await rpc_error(call)
        assert error.code == grpc.StatusCode.NOT_FOUND, error
        return error.reason, error.message

    never = str(uuid.uuid4())
    assert (await wait(pb.RESOURCE_KIND_NETWORK, never, network))[0] == "NETWORK_NOT_FOUND"
    reason, message = await wait(pb.RESOURCE_KIND_PORT, never, {"port_statuses": [ACTIVE]})
    assert reason == "PORT_NOT_FOUND" and "never existed" in message
    assert (await wait(pb.RESOURCE_KIND_ATTACHMENT, never, attachment))[0] == "PORT_NOT_FOUND"
    assert (await wait(pb.RESOURCE_KIND_ATTACHMENT, port.id, attachment))[0] == (
        "ATTACHMENT_NOT_FOUND"
    )
    assert (await wait(pb.RESOURCE_KIND_NETWORK, gone.id, network))[0] == "RESOURCE_DELETED"
    with pytest.raises(NetworkNotFound):  # the SDK's server-side wait raises the same
        await api.wait_for_status("network", never, "AVAILABLE", timeout=5)

    # Once the log is compacted, nobody can tell a deleted id from one that never was.
    floor = await stack.app.hub.compact()
    assert floor > gone.revision
    reason, message = await wait(pb.RESOURCE_KIND_NETWORK, never, network)
    assert reason == "RESOURCE_DELETED" and "deleted, or it never existed" in message
