"""What every Python back-end's servicer shares: its name, its report sender, its server.

A back-end subclasses :class:`BackendBase` and implements ``ApplyChange`` and
``ListStatus`` (docs/plugin-guide.md), :meth:`BackendBase.reassert` (what it re-sends
every ``reassert_interval``) and :meth:`BackendBase._close_own` (stopping its own tasks).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from quantum_plugins.common.health import enter_graceful_shutdown
from quantum_plugins.common.reporter import StatusSender

_LOG = logging.getLogger(__name__)


class BackendBase:
    """Name, StatusSender, DescribeBackend's reporter target, re-assertion and shutdown."""

    def __init__(self, name: str, *, reassert_interval: float, sender: StatusSender | None):
        self._name = name
        self._reassert_interval = reassert_interval
        self._sender = sender or StatusSender(name)
        self._server: Any = None
        self._health: Any = None
        self._reassert_task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        """The back-end name, as DescribeBackend and every report give it."""
        return self._name

    @property
    def sender(self) -> StatusSender:
        """The sender that pushes this back-end's reports."""
        return self._sender

    def start(self) -> None:
        """Start the sender and the periodic re-assertion on the running loop."""
        self._sender.start()
        if self._reassert_interval > 0 and self._reassert_task is None:
            self._reassert_task = asyncio.get_running_loop().create_task(
                self._reassert_forever(), name=f"{self._name}-reassert"
            )

    def attach_server(self, server: Any, health: Any = None) -> None:
        """Let :meth:`stop` drain this gRPC server and flip its health servicer."""
        self._server, self._health = server, health

    async def stop(self, grace: float | None = None) -> None:
        """Shut down: health NOT_SERVING, stop the server within ``grace``, close the rest."""
        if self._health is not None:
            await enter_graceful_shutdown(self._health)
        if self._server is not None:
            await self._server.stop(grace)
        await self.close(flush_timeout=grace or 0.0)

    async def close(self, flush_timeout: float = 0.0) -> None:
        """Stop re-assertion and the back-end's own tasks, then close the sender
        (flushing undelivered reports up to ``flush_timeout`` seconds)."""
        task, self._reassert_task = self._reassert_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._close_own()
        await self._sender.close(flush_timeout)

    async def _close_own(self) -> None:
        """Stop what the back-end itself runs (workers, tickers)."""

    def follow_reporter(self, request: Any) -> None:
        """DescribeBackend: report to the core that described us last."""
        if request.reporter_target:
            self._sender.set_target(request.reporter_target)
        _LOG.info(
            "%s described to core %r; reporting to %s",
            self._name,
            request.core_id,
            request.reporter_target,
        )

    def reassert(self) -> None:
        """Send every status again (a core that missed a report learns it this way)."""

    async def _reassert_forever(self) -> None:
        while True:
            await asyncio.sleep(self._reassert_interval)
            # Skip while earlier reports are still undelivered: the core is unreachable or
            # slow, and piling up copies of the same statuses would only grow the queue.
            if self._sender.target is None or self._sender.pending:
                continue
            self.reassert()
