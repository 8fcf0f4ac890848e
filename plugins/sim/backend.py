"""The simulated back-end: a BackendService servicer holding its resources in memory.

Changes of one network and its ports are applied one at a time in arrival order, by one
asyncio worker per network, so a synchronous change never overtakes an asynchronous one
queued before it (the core relies on that order: create, plug, then admin down must end
admin down). Asynchronous results travel through a :class:`StatusSender`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
from dataclasses import dataclass
from typing import Any

import grpc

from quantum_api.plugin.v1 import backend_pb2, resource_status_pb2
from quantum_api.v1 import backend_error_pb2, port_pb2
from quantum_plugins.common.base import BackendBase
from quantum_plugins.common.changes import (
    DELETE,
    NETWORK,
    PORT,
    CallIds,
    change_label,
    log_change,
    validate_change,
)
from quantum_plugins.common.reporter import StatusSender
from quantum_plugins.sim.profiles import Profile

__all__ = ["FAULT_CODE", "SimBackend"]

_LOG = logging.getLogger(__name__)

#: The BackendError code of an injected failure.
FAULT_CODE = "SIM_INJECTED_FAULT"

_READY = resource_status_pb2.OBSERVED_STATE_READY
_ERROR = resource_status_pb2.OBSERVED_STATE_ERROR
_DELETED = resource_status_pb2.OBSERVED_STATE_DELETED
_UP = port_pb2.LINK_STATUS_UP
_DOWN = port_pb2.LINK_STATUS_DOWN


@dataclass
class _Record:
    """What the sim holds for one resource: its desired spec and what it reached."""

    kind: resource_status_pb2.ResourceKind
    spec: Any  # NetworkSpec or PortSpec
    generation: int
    state: resource_status_pb2.ObservedState
    link: port_pb2.LinkStatus = port_pb2.LINK_STATUS_UNSPECIFIED
    reason: str = ""
    error: Any = None  # BackendError when state is ERROR

    def status(self) -> Any:
        """This record as a ``ResourceStatus``."""
        return resource_status_pb2.ResourceStatus(
            kind=self.kind,
            resource_id=self.spec.id,
            generation=self.generation,
            state=self.state,
            link_status=self.link,
            link_status_reason=self.reason,
            error=self.error,
        )


@dataclass
class _Job:
    """One accepted change waiting for its network's worker."""

    request: Any  # ApplyChangeRequest
    fail: bool
    # Set for a synchronous change: the handler waits on it for the resulting status.
    result: asyncio.Future[Any] | None


def _port_link(spec: Any, state: int) -> tuple[port_pb2.LinkStatus, str]:
    """The logical link status the sim sees for a port in ``state``."""
    if state == _ERROR:
        return _DOWN, "backend error"
    if not spec.interface_id:
        return _DOWN, "no attachment"
    if not spec.admin_state_up:
        return _DOWN, "admin down"
    return _UP, ""


class SimBackend(BackendBase):
    """The ``quantum.plugin.v1.BackendService`` servicer of the sim, and its state."""

    def __init__(
        self,
        profile: Profile,
        *,
        name: str = "sim",
        reassert_interval: float = 10.0,
        sender: StatusSender | None = None,
        memory: int = 100_000,
    ) -> None:
        """Create the servicer; ``memory`` bounds the operation ids and tombstones kept."""
        super().__init__(name, reassert_interval=reassert_interval, sender=sender)
        self._profile = profile
        self._memory = memory
        self._rng = random.Random(profile.seed)
        self._records: dict[str, _Record] = {}
        # Generation of each deleted resource, so a late change cannot resurrect it.
        self._tombstones: collections.OrderedDict[str, int] = collections.OrderedDict()
        # operation_id -> the pending/known result (None: accepted asynchronously).
        self._operations: collections.OrderedDict[str, asyncio.Future[Any] | None] = (
            collections.OrderedDict()
        )
        self._queues: dict[str, collections.deque[_Job]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._applied = 0
        # The API calls behind the changes received, newest last (see received_calls).
        self._calls: collections.deque[CallIds] = collections.deque(maxlen=memory)
        # Set unless a test holds asynchronous work (hold/release below).
        self._released = asyncio.Event()
        self._released.set()

    @property
    def profile(self) -> Profile:
        """The behaviour profile."""
        return self._profile

    @property
    def received_calls(self) -> list[CallIds]:
        """The request ids each ApplyChange arrived with, oldest first (bounded by
        ``memory``): what the sim's debug log shows too."""
        return list(self._calls)

    @property
    def applied_changes(self) -> int:
        """How many changes were applied (retried operation ids and stale ones excluded)."""
        return self._applied

    def hold(self) -> None:
        """Apply no asynchronous change until :meth:`release`: a test can then look at a
        resource that is certainly not ready, however slow the machine (a step delay only
        makes that likely). Synchronous answers are not held."""
        self._released.clear()

    def release(self) -> None:
        """Apply the held changes, and the ones after them, as usual."""
        self._released.set()

    async def _close_own(self) -> None:
        tasks = list(self._workers.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- BackendService -------------------------------------------------------------------

    async def DescribeBackend(self, request: Any, context: Any) -> Any:
        """Remember where to report, and say who we are and what is synchronous."""
        self.follow_reporter(request)
        return backend_pb2.DescribeBackendResponse(
            name=self._name,
            description=f"simulated back-end, {self._profile.describe()}",
            synchronous_changes=self._profile.synchronous_labels(),
        )

    async def ApplyChange(self, request: Any, context: Any) -> Any:
        """Queue one change behind its network's earlier ones; answer DONE or ACCEPTED."""
        problem = validate_change(request)
        if problem is not None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        op = request.operation_id
        self._calls.append(log_change(_LOG, request, context))
        if op in self._operations:
            # A retry: same outcome, applied once.
            return await self._answer(self._operations[op])
        kind, action = request.kind, request.action
        synchronous = self._profile.is_synchronous(kind, action)
        # Draw at arrival, in arrival order, so a seeded run is reproducible.
        fail = self._profile.may_fail(action) and self._rng.random() < self._profile.failure_rate
        result = asyncio.get_running_loop().create_future() if synchronous else None
        self._remember(self._operations, op, result)
        key = request.network.id if kind == NETWORK else request.port.network_id
        self._enqueue(key, _Job(request, fail, result))
        return await self._answer(result)

    async def ListStatus(self, request: Any, context: Any) -> Any:
        """The status of every resource held."""
        return backend_pb2.ListStatusResponse(
            statuses=[record.status() for record in self._records.values()]
        )

    # --- internals ------------------------------------------------------------------------

    @staticmethod
    async def _answer(result: asyncio.Future[Any] | None) -> Any:
        if result is None:
            return backend_pb2.ApplyChangeResponse(outcome=backend_pb2.APPLY_OUTCOME_ACCEPTED)
        # Shield: a caller that gives up must not cancel the change; its retry gets the result.
        status = await asyncio.shield(result)
        return backend_pb2.ApplyChangeResponse(
            outcome=backend_pb2.APPLY_OUTCOME_DONE, status=status
        )

    def _remember(self, table: collections.OrderedDict[str, Any], key: str, value: Any) -> None:
        table[key] = value
        while len(table) > self._memory:
            table.popitem(last=False)

    def _enqueue(self, key: str, job: _Job) -> None:
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = collections.deque()
            self._workers[key] = asyncio.get_running_loop().create_task(self._drain(key, queue))
        queue.append(job)

    async def _drain(self, key: str, queue: collections.deque[_Job]) -> None:
        # One worker per network while it has work; it exits when idle so an idle network
        # costs nothing. No await between the emptiness check and the removal below, so a
        # change arriving meanwhile always finds either this worker or none.
        try:
            while queue:
                await self._process(queue[0])
                queue.popleft()
        finally:
            for job in queue:  # only left on cancellation (shutdown)
                if job.result is not None and not job.result.done():
                    job.result.cancel()
            del self._queues[key], self._workers[key]

    async def _process(self, job: _Job) -> None:
        request = job.request
        try:
            status = self._stale_status(request)
            if status is None:
                if job.result is None:
                    await self._released.wait()
                    for _ in range(self._profile.steps):
                        await asyncio.sleep(self._profile.step_delay)
                status = self._apply(request, job.fail)
        except Exception as exc:  # a bug here must not stop the network's worker
            _LOG.exception("applying operation %s failed", request.operation_id)
            if job.result is not None and not job.result.done():
                job.result.set_exception(exc)
            return
        if job.result is None:
            self._sender.send(status)
        elif not job.result.done():
            job.result.set_result(status)

    def _stale_status(self, request: Any) -> Any | None:
        """The current status if ``request`` is older than what is held, else None."""
        spec = request.network if request.kind == NETWORK else request.port
        record = self._records.get(spec.id)
        if record is not None:
            return record.status() if request.generation < record.generation else None
        deleted = self._tombstones.get(spec.id)
        if deleted is None or request.generation > deleted:
            return None
        if request.generation == deleted and request.action == DELETE:
            return None  # the same delete again: harmless
        return resource_status_pb2.ResourceStatus(
            kind=request.kind, resource_id=spec.id, generation=deleted, state=_DELETED
        )

    def _apply(self, request: Any, fail: bool) -> Any:
        kind, action, generation = request.kind, request.action, request.generation
        spec = request.network if kind == NETWORK else request.port
        self._applied += 1
        if action == DELETE:
            self._records.pop(spec.id, None)
            self._remember(self._tombstones, spec.id, generation)
            if kind == NETWORK:  # a network takes its ports with it
                for port_id in [
                    rid
                    for rid, held in self._records.items()
                    if held.kind == PORT and held.spec.network_id == spec.id
                ]:
                    self._remember(self._tombstones, port_id, self._records.pop(port_id).generation)
            return resource_status_pb2.ResourceStatus(
                kind=kind, resource_id=spec.id, generation=generation, state=_DELETED
            )
        self._tombstones.pop(spec.id, None)
        record = _Record(kind, spec, generation, _ERROR if fail else _READY)
        if fail:
            record.error = backend_error_pb2.BackendError(
                code=FAULT_CODE,
                message=(
                    f"injected fault: {change_label(kind, action)} of {spec.id} at generation "
                    f"{generation} (operation {request.operation_id}) failed"
                ),
            )
        if kind == PORT:
            record.link, record.reason = _port_link(spec, record.state)
        self._records[spec.id] = record
        return record.status()

    def reassert(self) -> None:
        """Send the status of every resource held again."""
        for record in list(self._records.values()):
            self._sender.send(record.status())
