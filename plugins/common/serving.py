"""Running a back-end process: announce the port, serve until a signal, stop gracefully."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path


def write_port_file(path: Path, port: int) -> None:
    """Write ``port`` to ``path`` atomically: a reader sees no file or the whole number."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{port}\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def serve_until_signal(
    log: logging.Logger,
    what: str,
    listen: str,
    port: int,
    port_file: Path | None,
    stop: Callable[[], Awaitable[None]],
) -> int:
    """Announce ``what`` as listening, wait for SIGTERM/SIGINT, then ``stop()``; returns 0."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        loop.add_signal_handler(sig, stopping.set)
    try:
        if port_file is not None:
            write_port_file(port_file, port)
        log.info("%s listening on %s:%d", what, listen.rsplit(":", 1)[0], port)
        await stopping.wait()
        log.info("shutting down")
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await stop()
    return 0
