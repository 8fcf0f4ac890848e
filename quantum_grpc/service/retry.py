"""Retry: send a resource left in ERROR to its back-end again (docs/status-model.md,
"Retrying a failed resource").

A retry is not a new desired change: the generation stays. The failure is cleared, the
status goes back to what it is before the back-end answers (a network PROVISIONING, a
port derived anew), and the resource's full desired state is queued as a new operation
(ENSURE, as a resync sends it), in the same transaction as its event. ``observed_generation``
drops below ``generation``: the failed observation is withdrawn, so a wait for the change
to be applied waits for the back-end's new answer.
"""

from __future__ import annotations

from quantum_api.errors import ResourceNotInError
from quantum_api.plugin.v1 import backend_pb2
from quantum_grpc.convert import network_change, port_change
from quantum_grpc.service import validation as v
from quantum_grpc.service.caller import Caller
from quantum_grpc.service.core import (
    Core,
    check_not_deleting,
    check_revision,
    find_network,
    find_port,
    record_port,
)
from quantum_grpc.service.networks import get_network
from quantum_grpc.service.ports import get_port, retry_failed_attachment
from quantum_grpc.service.status_rules import NetworkStatus
from quantum_grpc.store.models import NetworkRow, PortRow
from quantum_grpc.store.store import EventKind, Resource

ERROR = "ERROR"


def _check_failed(row: Resource, what: str) -> None:
    if row.status != ERROR:
        raise ResourceNotInError(
            f"{what} {row.id} is {row.status}, not ERROR: only a failed {what} is retried; "
            "to change it, update it",
            metadata={"id": row.id, "status": row.status},
        )


def _withdraw_observation(row: NetworkRow | PortRow) -> None:
    # The failure was the back-end's answer to this generation; until it answers the
    # retry, this generation is not confirmed (docs/status-model.md, "Observed generation").
    row.observed_generation = min(row.observed_generation, row.generation - 1)
    row.error_code = row.error_message = ""


async def retry_network(
    core: Core, caller: Caller, *, tenant_id: str, network_id: str, expected_revision: int
) -> NetworkRow:
    """Send a network in ERROR to its back-end again, at the same generation."""
    caller.acting_tenant(tenant_id)
    network_id = v.uuid_field(network_id, "network_id")
    expected = v.expected_revision(expected_revision)
    async with core.store.write() as tx:
        row = await find_network(tx.connection, caller, network_id, lock=True)
        check_revision(row, expected)
        check_not_deleting(row, "network")
        _check_failed(row, "network")
        row.status = NetworkStatus.PROVISIONING.value
        _withdraw_observation(row)
        await tx.record(row, EventKind.MODIFIED)
        tx.enqueue(
            row.backend, row.id, row.id, network_change(row, backend_pb2.CHANGE_ACTION_ENSURE)
        )
    return await core.settle_then(
        tx, NetworkRow, network_id, lambda: get_network(core, caller, tenant_id, network_id)
    )


async def retry_port(
    core: Core,
    caller: Caller,
    *,
    tenant_id: str,
    network_id: str,
    port_id: str,
    expected_revision: int,
) -> PortRow:
    """Send a port in ERROR to its back-end again, at the same generation; a failed
    attachment goes back to PROVISIONING with it, as the port's state carries its interface."""
    caller.acting_tenant(tenant_id)
    port_id = v.uuid_field(port_id, "port_id")
    network_id = v.optional_uuid(network_id, "network_id")
    expected = v.expected_revision(expected_revision)
    async with core.store.write() as tx:
        row = await find_port(tx.connection, caller, port_id, network_id, lock=True)
        check_revision(row, expected)
        check_not_deleting(row, "port")
        _check_failed(row, "port")
        row.failed = False
        _withdraw_observation(row)
        attachment = await retry_failed_attachment(tx, row.id)
        await record_port(tx, row, attachment)
        tx.enqueue(
            row.backend, row.network_id, row.id, port_change(row, backend_pb2.CHANGE_ACTION_ENSURE)
        )
    return await core.settle_then(
        tx, PortRow, port_id, lambda: get_port(core, caller, tenant_id, port_id)
    )
