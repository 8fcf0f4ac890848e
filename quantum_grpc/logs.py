"""Rate-limited warnings: one line per reason per interval, however often it recurs.

A back-end that sends the same bad data thousands of times (a report of 20,000 entries,
a re-assertion loop) must not flood the core's log: the first occurrence of a reason is
logged, later ones within the interval are counted, and the next line logged for that
reason says how many were suppressed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_INTERVAL = 60.0


@dataclass
class _Window:
    logged_at: float
    suppressed: int = 0


class RateLimitedLog:
    """Logs ``warning(reason, ...)`` at most once per ``interval`` seconds per reason."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def warning(self, reason: str, message: str, *args: object) -> None:
        """Log ``message % args`` unless ``reason`` was logged less than an interval ago."""
        now = self._clock()
        window = self._windows.get(reason)
        if window is not None and now - window.logged_at < self._interval:
            window.suppressed += 1
            return
        if window is not None and window.suppressed:
            message += " (%d more like it suppressed in the last %.0fs)"
            args = (*args, window.suppressed, now - window.logged_at)
        self._windows[reason] = _Window(logged_at=now)
        self._logger.warning(message, *args)
