"""Keep the sim child of `serve` running: restart it when it dies (docs/operations.md).

The child is restarted on the port it had, so the core's link to it (which follows the
back-end's health at one target) reconnects and resyncs by itself; meanwhile the core
marks the back-end's ports "backend unavailable", as for any back-end that goes away.
Restarts back off (0.5 s doubling to 10 s) so a child that cannot start does not spin;
a child that stayed up for a while starts the backoff over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import time
from collections.abc import Sequence

from quantum_grpc import children

log = logging.getLogger(__name__)


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class PluginSupervisor:
    """One plugin child (``quantum-grpc plugin ARGS``) on a loopback port, kept alive."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        *,
        log_level: str = "INFO",
        first_delay: float = 0.5,
        max_delay: float = 10.0,
        steady_after: float = 30.0,
    ) -> None:
        self.name = name
        self._args = list(args)
        self._log_level = log_level
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._steady_after = steady_after
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def target(self) -> str:
        """Where the child listens (the same after every restart)."""
        return f"127.0.0.1:{self.port}"

    async def start(self) -> int:
        """Start the child on a free port and begin supervising; returns the port.

        Raises RuntimeError if the first start fails: then `serve` fails too.
        """
        await self._spawn()
        self._task = asyncio.create_task(self._supervise())
        return self.port

    async def stop(self) -> None:
        """Stop supervising, then stop the child (SIGTERM, then SIGKILL)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._process is not None:
            await asyncio.to_thread(children.stop, self._process)

    async def _spawn(self) -> subprocess.Popen[bytes]:
        # Forked from the event loop's thread, like the first start (see children.py).
        self._started_at = time.monotonic()
        process, self.port = await children.spawn_plugin(
            [*self._args, "--listen", self.target], log_level=self._log_level
        )
        self._process = process
        return process

    async def _supervise(self) -> None:
        delay = self._first_delay
        while True:
            process = self._process
            assert process is not None
            code = await children.exited(process)
            if time.monotonic() - self._started_at >= self._steady_after:
                delay = self._first_delay
            log.warning(
                "%s back-end (pid %d) %s; restarting it on %s in %.1fs",
                self.name,
                process.pid,
                _describe_exit(code),
                self.target,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_delay)
            try:
                restarted = await self._spawn()
            except RuntimeError as exc:  # the dead process stays current: try again later
                log.warning("restarting the %s back-end failed: %s", self.name, exc)
                continue
            log.info("%s back-end restarted (pid %d) on %s", self.name, restarted.pid, self.target)
