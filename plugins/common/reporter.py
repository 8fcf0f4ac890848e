"""Deliver a back-end's status reports to the core's StatusReporterService.

Any Python back-end can use :class:`StatusSender`: it queues reports without ever blocking
the caller, and a background task delivers them in order, in batches, retrying with
backoff until the core takes them. A report is never dropped or reordered, because the
core applies reports in order and a lost "done" would leave a resource PROVISIONING until
the next re-assertion.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import re
from typing import Any

import grpc

from quantum_api.errors import BackendInputRejected, error_from_rpc
from quantum_api.plugin.v1 import (
    resource_status_pb2,
    status_reporter_pb2,
    status_reporter_pb2_grpc,
)

__all__ = ["StatusSender"]

_LOG = logging.getLogger(__name__)

# gRPC's own reconnect backoff grows to 120 s by default, and while a channel is in
# TRANSIENT_FAILURE every call fails at once: without these options our retries would keep
# failing long after the core came back. Keep the channel's backoff in step with ours.
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
]


class StatusSender:
    """Queues ``ResourceStatus`` reports and pushes them to ``ReportStatus`` in order.

    Use it from one event loop: :meth:`send` and :meth:`set_target` are plain methods that
    only touch in-memory state, so they never block; the task started by :meth:`start`
    does all the network work.
    """

    def __init__(
        self,
        backend_name: str,
        *,
        batch_size: int = 100,
        deadline: float = 5.0,
        initial_backoff: float = 0.1,
        max_backoff: float = 2.0,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        """Create a sender whose reports name ``backend_name`` as their back-end.

        With ``credentials`` (e.g. ``grpc.ssl_channel_credentials`` with the back-end's
        client certificate) reports go over TLS to the core's internal listener, which
        knows the back-end by its certificate; without, in plain text.
        """
        self._name = backend_name
        self._credentials = credentials
        self._batch_size = batch_size
        self._deadline = deadline
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._queue: collections.deque[Any] = collections.deque()
        self._target: str | None = None
        self._channel: Any = None
        self._channel_target: str | None = None
        self._stub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._has_work = asyncio.Event()
        self._target_changed = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._failing = False
        self._delivered = 0

    @property
    def backend_name(self) -> str:
        """The back-end name carried by every ReportStatus call."""
        return self._name

    @property
    def target(self) -> str | None:
        """The gRPC target reports go to, or None before :meth:`set_target`."""
        return self._target

    @property
    def pending(self) -> int:
        """How many reports are not yet delivered (queued or in flight)."""
        return len(self._queue)

    @property
    def delivered(self) -> int:
        """How many reports the core has acknowledged since this sender was created."""
        return self._delivered

    def set_target(self, target: str) -> None:
        """Send reports to ``target`` from now on (a core restart may move it).

        A call in flight to the old target is abandoned and its batch goes to the new one,
        so nothing is lost; the core treats a report it already had as a no-op.
        """
        if target == self._target:
            return
        _LOG.info("status reports go to %s", target)
        self._target = target
        self._target_changed.set()

    def send(self, status: Any) -> None:
        """Queue one ``ResourceStatus`` for delivery; never blocks, never drops."""
        # Copy: the caller may reuse or mutate its message after handing it over.
        copy = resource_status_pb2.ResourceStatus()
        copy.CopyFrom(status)
        self._queue.append(copy)
        self._idle.clear()
        self._has_work.set()

    def start(self) -> None:
        """Start the delivery task on the running event loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"status-sender-{self._name}"
            )

    # A plain timeout argument (not asyncio.timeout) keeps tests and callers one-liners.
    async def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued report is delivered; False if ``timeout`` ran out first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self, flush_timeout: float = 0.0) -> None:
        """Stop delivering, after waiting up to ``flush_timeout`` seconds for the queue."""
        if flush_timeout > 0 and self._queue:
            await self.wait_idle(flush_timeout)
        if self._queue:
            _LOG.warning("closing with %d undelivered status reports", len(self._queue))
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_channel()

    async def _run(self) -> None:
        backoff = self._initial_backoff
        while True:
            if not self._queue:
                self._idle.set()
                self._has_work.clear()
                await self._has_work.wait()
                continue
            if self._target is None:
                # Nowhere to deliver yet: DescribeBackend has not told us; wait for it.
                await self._target_changed.wait()
                continue
            if self._target != self._channel_target:
                await self._open_channel()
                backoff = self._initial_backoff
            else:
                # The target changed and changed back: the open channel is still right.
                self._target_changed.clear()
            # Retry the same head of the queue until it goes through: order is preserved
            # because nothing behind it is sent first.
            batch = list(itertools.islice(self._queue, self._batch_size))
            outcome = await self._deliver(batch)
            if outcome is not None:
                self._drop_refused(batch, outcome)
                backoff = self._initial_backoff
                continue
            with contextlib.suppress(TimeoutError):
                # A new target cuts the wait short: the core may just have moved.
                await asyncio.wait_for(self._target_changed.wait(), backoff)
            backoff = min(backoff * 2, self._max_backoff)

    def _drop_refused(self, batch: list[Any], refused: int) -> None:
        """Take the delivered batch (or the one refused entry, ``refused >= 0``) off the
        queue; what follows a refused entry is sent again at once."""
        if refused < 0:
            for _ in batch:
                self._queue.popleft()
            self._delivered += len(batch)
            return
        del self._queue[refused]

    async def _deliver(self, batch: list[Any]) -> int | None:
        """-1 when delivered, the index of an entry the core refused for good (it will
        never take it, so resending would block every report behind it), None to retry."""
        request = status_reporter_pb2.ReportStatusRequest(backend=self._name, statuses=batch)

        async def call() -> Any:
            return await self._stub.ReportStatus(request, timeout=self._deadline)

        call_task = asyncio.ensure_future(call())
        changed = asyncio.ensure_future(self._target_changed.wait())
        try:
            done, _ = await asyncio.wait({call_task, changed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            if not call_task.done():
                call_task.cancel()
        if call_task not in done:
            return None  # the target changed under us; resend to the new one
        try:
            call_task.result()
        except grpc.aio.AioRpcError as exc:
            refused = _refused_entry(exc, len(batch))
            if refused is not None:
                _LOG.warning("the core refused status report %r: %s", batch[refused], exc.details())
                return refused
            self._log_failure(exc, len(batch))
            return None
        except Exception as exc:  # anything else means "retry later"
            self._log_failure(exc, len(batch))
            return None
        if self._failing:
            _LOG.info("status reports to %s delivered again", self._channel_target)
            self._failing = False
        return -1

    def _log_failure(self, exc: BaseException, size: int) -> None:
        # Warn once per outage, not once per retry, so a long outage does not flood logs.
        detail = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else repr(exc)
        level = logging.DEBUG if self._failing else logging.WARNING
        _LOG.log(
            level,
            "cannot deliver %d status reports to %s (%d pending), will retry: %s",
            size,
            self._channel_target,
            len(self._queue),
            detail,
        )
        self._failing = True

    async def _open_channel(self) -> None:
        await self._close_channel()
        self._target_changed.clear()
        target = self._target
        assert target is not None
        if self._credentials is None:
            self._channel = grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
        else:
            self._channel = grpc.aio.secure_channel(
                target, self._credentials, options=_CHANNEL_OPTIONS
            )
        self._stub = status_reporter_pb2_grpc.StatusReporterServiceStub(self._channel)
        self._channel_target = target

    async def _close_channel(self) -> None:
        channel, self._channel, self._stub = self._channel, None, None
        self._channel_target = None
        if channel is not None:
            await channel.close()


_ENTRY_FIELD = re.compile(r"^statuses\[(\d+)\]")


def _refused_entry(exc: grpc.aio.AioRpcError, size: int) -> int | None:
    """The entry an INVALID_ARGUMENT BACKEND_INPUT_REJECTED names (docs/plugin-guide.md,
    "Limits on what a back-end sends"); None for any other failure."""
    if exc.code() is not grpc.StatusCode.INVALID_ARGUMENT:
        return None
    error = error_from_rpc(exc)
    if error.reason != BackendInputRejected.reason:
        return None
    match = _ENTRY_FIELD.match(error.field)
    index = int(match.group(1)) if match else 0
    return index if index < size else 0
