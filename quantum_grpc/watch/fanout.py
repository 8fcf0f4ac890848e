"""Fan-out machinery every watcher shares: a light wake-up, and one progress ticker.

With 10,000 watchers a commit wakes 10,000 tasks, so whatever each wake-up allocates or
schedules is paid 10,000 times per change, and what outlives the young generations makes
the garbage collector walk every watcher again (bench/README.md, "Fan-out"). Hence:

- :class:`Wakeup`, an ``asyncio.Event`` for the one task that waits on it, without the
  Event's waiter deque (one per watcher, ~0.6 KiB even when empty);
- :class:`ProgressTicker`, one task for the whole hub that wakes the streams idle for the
  progress interval, instead of a timer armed and cancelled per watcher per wake-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Protocol

# How often, per progress interval, the ticker looks: an idle stream gets its marker
# between one interval and 1 + 1/TICKS intervals after what it was last sent.
TICKS = 8


class Wakeup:
    """Set by the hub, awaited by the one task that follows a watcher."""

    __slots__ = ("_loop", "_set", "_waiter")

    def __init__(self) -> None:
        # Looked up once: asyncio.get_running_loop() costs a getpid() each call.
        self._loop = asyncio.get_running_loop()
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def is_set(self) -> bool:
        """Whether :meth:`set` was called since the last :meth:`clear`."""
        return self._set

    def set(self) -> None:
        """Wake the waiting task (or let its next :meth:`wait` return at once)."""
        if self._set:
            return
        self._set = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        """Make the next :meth:`wait` block until :meth:`set`."""
        self._set = False

    async def wait(self) -> None:
        """Return once set (at once if it is)."""
        if self._set:
            return
        waiter = self._waiter = self._loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None


class Ticked(Protocol):
    """What the ticker needs of a watcher."""

    # Loop time of the stream's last write; None: not a stream (no PROGRESS markers).
    last_sent: float | None
    progress_due: bool
    wakeup: Wakeup


class ProgressTicker:
    """Marks the streams that sent nothing for ``interval`` as due a PROGRESS marker and
    wakes them; their own task writes it (api/watch.py)."""

    def __init__(self, interval: float, watchers: Callable[[], Iterable[Ticked]]) -> None:
        self._interval = interval
        self._watchers = watchers

    async def run(self) -> None:
        """Tick until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._interval / TICKS)
            idle_since = loop.time() - self._interval
            for watcher in self._watchers():
                if watcher.last_sent is not None and watcher.last_sent <= idle_since:
                    watcher.progress_due = True
                    watcher.wakeup.set()
