"""Child processes the core starts (the default sim back-end), never left behind.

A child started here arms PR_SET_PDEATHSIG on itself at start-up (:func:`follow_parent`),
so the kernel sends it SIGTERM when the core dies, even by SIGKILL. The kernel ties that
signal to the *thread* that forked the child, so :func:`spawn_plugin` forks from the event
loop's thread, which lives as long as the core; no ``preexec_fn`` is needed, which is
unsafe in a process that already runs threads (gRPC's).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1
PARENT_ENV = "QUANTUM_PARENT_PID"


def follow_parent() -> None:
    """In a child started by :func:`spawn_plugin`: exit when the parent does."""
    expected = os.environ.pop(PARENT_ENV, "")
    if not expected:
        return
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(expected):  # the parent died before the signal was armed
        sys.exit(0)


async def spawn_plugin(
    args: Sequence[str], *, timeout: float = 20.0, log_level: str = "INFO"
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``quantum-grpc plugin ARGS --port-file F`` and wait until it listens.

    Returns the process and its bound port. Raises RuntimeError if it dies or is not
    listening within ``timeout`` seconds.
    """
    folder = Path(tempfile.mkdtemp(prefix="quantum-plugin-"))
    port_file = folder / "port"
    command = [
        *(sys.executable, "-m", "quantum_grpc", "--log-level", log_level, "plugin"),
        *(*args, "--port-file", str(port_file)),
    ]
    # Forking from this (the event loop's) thread is deliberate: see the module docstring.
    process = subprocess.Popen(command, env={**os.environ, PARENT_ENV: str(os.getpid())})  # noqa: ASYNC220
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_file.exists():
                return process, int(port_file.read_text())
            if process.poll() is not None:
                raise RuntimeError(f"plugin {' '.join(args)} exited with {process.returncode}")
            await asyncio.sleep(0.05)
        stop(process)
        raise RuntimeError(f"plugin {' '.join(args)} did not listen within {timeout}s")
    except asyncio.CancelledError:  # e.g. the core stops while a restart is under way
        process.kill()
        process.wait()
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def exited(process: subprocess.Popen[bytes]) -> int:
    """Wait, without polling, until ``process`` exits; returns its exit code.

    A pidfd becomes readable when the process ends (Linux 5.3 and later).
    """
    try:
        pidfd = os.pidfd_open(process.pid)
    except ProcessLookupError:  # already reaped
        return process.wait()
    loop = asyncio.get_running_loop()
    ended = loop.create_future()

    def on_readable() -> None:
        if not ended.done():
            ended.set_result(None)

    loop.add_reader(pidfd, on_readable)
    try:
        await ended
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
    return process.wait()


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: the child is gone when this returns."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
