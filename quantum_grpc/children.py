"""Child processes the core starts (the default sim back-end), never left behind."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Even if the core is SIGKILLed, the kernel sends the child SIGTERM.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn_plugin(
    args: Sequence[str], *, timeout: float = 20.0
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``quantum-grpc plugin ARGS --port-file F`` and wait until it listens.

    Returns the process and its bound port. Raises RuntimeError if it dies or is not
    listening within ``timeout`` seconds.
    """
    with tempfile.TemporaryDirectory(prefix="quantum-plugin-") as tmp:
        port_file = Path(tmp, "port")
        command = [
            sys.executable,
            "-m",
            "quantum_grpc",
            "plugin",
            *args,
            "--port-file",
            str(port_file),
        ]
        process = subprocess.Popen(command, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_file.exists():
                return process, int(port_file.read_text())
            if process.poll() is not None:
                raise RuntimeError(f"plugin {' '.join(args)} exited with {process.returncode}")
            time.sleep(0.05)
        stop(process)
        raise RuntimeError(f"plugin {' '.join(args)} did not listen within {timeout}s")


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: the child is gone when this returns."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def plugin(args: Sequence[str]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A plugin process for the duration of a block."""
    process, port = spawn_plugin(args)
    try:
        yield process, port
    finally:
        stop(process)


def pid_alive(pid: int) -> bool:
    """Whether a process exists (for tests that check nothing was left behind)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
