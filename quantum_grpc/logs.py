"""The log: its two formats, the call's fields on every line, and rate-limited warnings.

`--log-format text` (the default) writes ``TIME LEVEL LOGGER: MESSAGE``, followed by
``request_id=ID`` on the lines written while handling a call; `--log-format json` writes
one JSON object per line with the same fields (docs/operations.md, "Request ids and
logs"). The request id and traceparent are set per call by
quantum_grpc/api/request_ids.py.

Rate-limited warnings: a back-end that sends the same bad data thousands of times (a
report of 20,000 entries, a re-assertion loop) must not flood the core's log: the first
occurrence of a reason is logged, later ones within the interval are counted, and the
next line logged for that reason says how many were suppressed.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

LOG_FORMATS = ("text", "json")
FORMAT_VARIABLE = "QUANTUM_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The call being handled by the current task (set by the request id interceptor).
request_id: ContextVar[str] = ContextVar("quantum_request_id", default="")
traceparent: ContextVar[str] = ContextVar("quantum_traceparent", default="")


class _CallFields(logging.Filter):
    """Gives every record the request id and traceparent of the call it was logged in."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.traceparent = traceparent.get()
        return True


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER: MESSAGE[ request_id=ID]``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        called = getattr(record, "request_id", "")
        if not called:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{first} request_id={called}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the call's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in ("request_id", "traceparent"):
            value = getattr(record, name, "")
            if value:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def handler(log_format: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """A handler writing ``log_format`` lines, with the call's fields, to ``stream``."""
    written = logging.StreamHandler(stream or sys.stderr)
    written.addFilter(_CallFields())
    written.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return written


def configure(level: str, log_format: str = "text") -> None:
    """Log to stderr at ``level`` in ``log_format`` (``text`` or ``json``)."""
    logging.basicConfig(level=level.upper(), handlers=[handler(log_format)])


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
