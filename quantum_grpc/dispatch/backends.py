"""Links to back-ends: channels, the health they report, and what follows from it.

The core follows each back-end's grpc.health.v1 Watch stream. When the stream breaks or
says NOT_SERVING, the back-end's ports go link DOWN "backend unavailable" at once
and dispatch to it pauses; when it serves again, the core introduces itself
(DescribeBackend, which tells the back-end where to report), resynchronises from its
status listing, and resumes dispatch (docs/status-model.md, "Liveness is status";
docs/architecture.md, "Back-end links"). With `--internal-tls-*` the channels are TLS:
a back-end must present a certificate signed by the internal CA for the host dialled,
and the core presents its own (docs/security.md, "Back-ends and mTLS").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quantum_api.errors import QuantumError, StorageUnavailable
from quantum_api.plugin.v1 import backend_pb2, backend_pb2_grpc
from quantum_grpc.config import BackendTarget
from quantum_grpc.service.reports import mark_backend_unavailable
from quantum_grpc.service.resync import resync
from quantum_grpc.store.store import Store

log = logging.getLogger(__name__)
# How long a health check may take before it counts as missed; two misses in a row mark
# the back-end unavailable.
HANG_TIMEOUT = 1.0


class BackendLink:
    """One back-end: its stubs, whether it is ready, and the task following its health."""

    def __init__(
        self,
        target: BackendTarget,
        store: Store,
        *,
        call_timeout: float,
        retry: float,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.name = target.name
        self.target = target.target
        self.channel = (
            grpc.aio.insecure_channel(target.target)
            if credentials is None
            else grpc.aio.secure_channel(target.target, credentials)
        )
        self.backend = backend_pb2_grpc.BackendServiceStub(self.channel)
        self._health = health_pb2_grpc.HealthStub(self.channel)
        self._store = store
        self._call_timeout = call_timeout
        self._retry = retry
        self.ready = asyncio.Event()
        self.description: backend_pb2.DescribeBackendResponse | None = None
        self._down_marked = False
        self._task: asyncio.Task[None] | None = None

    def start(self, reporter_target: str, core_id: str) -> None:
        """Begin following the back-end's health."""
        self._task = asyncio.create_task(self._follow(reporter_target, core_id))

    async def stop(self) -> None:
        """Stop following (another replica leads now); the channel stays open."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.ready.clear()
        # The next leader, this one again or another, marks an outage it sees itself.
        self._down_marked = False

    async def close(self) -> None:
        """Stop following and close the channel."""
        await self.stop()
        await self.channel.close()

    async def _follow(self, reporter_target: str, core_id: str) -> None:
        while True:
            watch = asyncio.create_task(self._watch(reporter_target, core_id))
            watchdog = asyncio.create_task(self._watchdog())
            try:
                done, _ = await asyncio.wait({watch, watchdog}, return_when=asyncio.FIRST_COMPLETED)
                reason = next(iter(done)).result()
            finally:
                for task in (watch, watchdog):
                    task.cancel()
                await asyncio.gather(watch, watchdog, return_exceptions=True)
            await self._down(reason)
            await asyncio.sleep(self._retry)

    async def _watch(self, reporter_target: str, core_id: str) -> str:
        """Follow the health stream; returns why it stopped. A crash ends it at once."""
        try:
            stream = self._health.Watch(health_pb2.HealthCheckRequest(service=""))
            async for answer in stream:
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    if not self.ready.is_set():
                        await self._up(reporter_target, core_id)
                else:
                    await self._down("not serving")
        except grpc.aio.AioRpcError as exc:
            return f"{exc.code().name}: {exc.details()}"
        except StorageUnavailable:
            return "database unavailable during resync"
        except QuantumError as error:
            # Such as a listing value the database refused: try again like after an outage
            # rather than stop following the back-end.
            return f"resync failed: {error}"
        return "health stream ended"

    async def _watchdog(self) -> str:
        """Poll Check with a deadline: a hung back-end keeps its stream open but answers
        nothing, and only a deadline tells."""
        misses = 0
        while True:
            await asyncio.sleep(self._retry)
            try:
                await self._health.Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=HANG_TIMEOUT
                )
                misses = 0
            except grpc.aio.AioRpcError as exc:
                misses += 1
                if misses >= 2:
                    return f"no health answer ({exc.code().name})"

    async def _up(self, reporter_target: str, core_id: str) -> None:
        timeout = self._call_timeout
        self.description = await self.backend.DescribeBackend(
            backend_pb2.DescribeBackendRequest(reporter_target=reporter_target, core_id=core_id),
            timeout=timeout,
        )
        if self.description.name != self.name:
            log.warning(
                "back-end at %s calls itself %r; the core knows it as %r",
                self.target,
                self.description.name,
                self.name,
            )
        listing = await self.backend.ListStatus(backend_pb2.ListStatusRequest(), timeout=timeout)
        tally, enqueued = await resync(self._store, self.name, listing.statuses)
        self._down_marked = False
        self.ready.set()
        log.info(
            "back-end %s at %s is up: %d status(es) applied, %d change(s) re-sent",
            self.name,
            self.target,
            tally.applied,
            enqueued,
        )

    async def _down(self, reason: str) -> None:
        self.ready.clear()
        if self._down_marked:
            return
        try:
            marked = await mark_backend_unavailable(self._store, self.name)
        except StorageUnavailable:
            return
        self._down_marked = True
        log.warning(
            "back-end %s at %s is unavailable (%s): %d port(s) marked link DOWN",
            self.name,
            self.target,
            reason,
            marked,
        )


class BackendLinks:
    """Every back-end the core knows, by name."""

    def __init__(
        self,
        targets: Iterable[BackendTarget],
        store: Store,
        *,
        call_timeout: float,
        retry: float,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self._links = {
            t.name: BackendLink(
                t, store, call_timeout=call_timeout, retry=retry, credentials=credentials
            )
            for t in targets
        }

    def get(self, name: str) -> BackendLink | None:
        """The link to back-end ``name``, if configured."""
        return self._links.get(name)

    def start(self, reporter_target: str, core_id: str) -> None:
        """Start following every back-end."""
        for link in self._links.values():
            link.start(reporter_target, core_id)

    async def stop(self) -> None:
        """Stop following every back-end (this replica no longer leads)."""
        await asyncio.gather(*(link.stop() for link in self._links.values()))

    async def close(self) -> None:
        """Stop every link."""
        await asyncio.gather(*(link.close() for link in self._links.values()))
