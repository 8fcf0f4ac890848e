"""RetryNetwork / RetryPort: a resource left in ERROR is sent to its back-end again, at the
same generation, and leaves ERROR only through the back-end's new answer
(docs/status-model.md, "Retrying a failed resource")."""

from __future__ import annotations

from typing import Any

import grpc

from quantum_api.plugin.v1 import backend_pb2, resource_status_pb2 as rs
from quantum_api.v1 import network_pb2, port_pb2, watch_service_pb2 as pb
from tests.helpers import Api, rpc_error
from tests.helpers.watch import watch_stub

# The faulty sim fails half the changes; these seeds make its draws, in order:
FAIL_THEN_OK = 1  # fail, ok
OK_FAIL_OK = 10  # ok, fail, ok
FAULTY = {"failure_rate": 0.5, "step_delay": 0.02}


async def _failed(api: Api, kind: int, resource_id: str, wanted: dict[str, Any]) -> pb.Resource:
    """The resource once it is in ERROR (waited for on the server)."""
    request = pb.WaitForStatusRequest(kind=kind, resource_id=resource_id, **wanted)
    answer = await watch_stub(api).WaitForStatus(request, metadata=api.md, timeout=10)
    return answer.resource


async def _history(
    api: Api, resource_id: str, after: int, final: str
) -> list[tuple[str, int, int]]:
    """(status, generation, observed_generation) of each event of the resource after
    revision ``after``, until its status is ``final``."""
    request = pb.WatchStatusRequest(resource_ids=[resource_id], start_revision=after)
    call = watch_stub(api).WatchStatus(request, metadata=api.md, timeout=10)
    seen: list[tuple[str, int, int]] = []
    try:
        async for response in call:
            for event in response.events:
                kind = event.resource.WhichOneof("kind")
                if kind not in ("network", "port"):
                    continue
                message = getattr(event.resource, kind)
                status = type(message).DESCRIPTOR.fields_by_name["status"].enum_type
                name = status.values_by_number[message.status].name.split("_STATUS_")[1]
                seen.append((name, message.generation, message.observed_generation))
                if name == final:
                    return seen
    finally:
        call.cancel()
    raise AssertionError(f"the watch ended before {final}: {seen}")


async def _held(stack: Any, resource_id: str) -> rs.ResourceStatus:
    listing = await stack.sim.backend.ListStatus(backend_pb2.ListStatusRequest(), None)
    return next(s for s in listing.statuses if s.resource_id == resource_id)


async def test_a_failed_network_is_sent_again_at_the_same_generation(stack_factory) -> None:
    stack = await stack_factory("faulty", seed=FAIL_THEN_OK, **FAULTY)
    api = stack.api
    net = await api.create_network("n")
    failed = (
        await _failed(
            api,
            pb.RESOURCE_KIND_NETWORK,
            net.id,
            {"network_statuses": [network_pb2.NETWORK_STATUS_ERROR]},
        )
    ).network
    assert failed.error.code == "SIM_INJECTED_FAULT"
    assert stack.sim.backend.applied_changes == 1
    stale = await rpc_error(api.retry_network(net.id, expected_revision=failed.revision - 1))
    assert (stale.code, stale.reason) == (grpc.StatusCode.ABORTED, "REVISION_MISMATCH")

    retried = await api.retry_network(net.id, expected_revision=failed.revision)
    assert retried.status == network_pb2.NETWORK_STATUS_PROVISIONING
    assert not retried.error.code
    assert (retried.generation, retried.observed_generation) == (1, 0)

    history = await _history(api, net.id, failed.revision, "AVAILABLE")
    assert history == [("PROVISIONING", 1, 0), ("AVAILABLE", 1, 1)]
    assert stack.sim.backend.applied_changes == 2  # the back-end got the change again
    held = await _held(stack, net.id)
    assert (held.state, held.generation) == (rs.OBSERVED_STATE_READY, 1)


async def test_a_failed_port_is_sent_again_and_a_retry_needs_an_error(stack_factory) -> None:
    stack = await stack_factory("faulty", seed=OK_FAIL_OK, **FAULTY)
    api = stack.api
    net = await api.create_network("n")
    port = await api.create_port(net.id)
    failed = (
        await _failed(
            api, pb.RESOURCE_KIND_PORT, port.id, {"port_statuses": [port_pb2.PORT_STATUS_ERROR]}
        )
    ).port

    retried = await api.retry_port(port.id)
    assert retried.status == port_pb2.PORT_STATUS_PROVISIONING
    assert (retried.generation, retried.observed_generation) == (1, 0)
    history = await _history(api, port.id, failed.revision, "DOWN")
    assert history == [("PROVISIONING", 1, 0), ("DOWN", 1, 1)]
    assert stack.sim.backend.applied_changes == 3
    assert (await _held(stack, port.id)).state == rs.OBSERVED_STATE_READY

    # Only a failed resource is retried; the answer says what it is instead.
    for call in (api.retry_port(port.id), api.retry_network(net.id)):
        error = await rpc_error(call)
        assert (error.code, error.reason) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "RESOURCE_NOT_IN_ERROR",
        )
        assert error.metadata["status"] in ("DOWN", "AVAILABLE")
        assert "update it" in error.message
    assert stack.sim.backend.applied_changes == 3  # nothing was sent
