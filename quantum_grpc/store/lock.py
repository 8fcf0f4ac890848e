"""One core per SQLite file: an exclusive lock on ``FILE.lock`` beside it, held while serving.

Two cores on one file would each keep their own watch hub, dispatcher and revision cache,
so clients would see two diverging services (docs/operations.md, "One core per address
and per database").
The lock is ``flock`` on a sidecar file, not on the database itself (SQLite takes its own
POSIX locks there, and closing any descriptor of a file drops a process's POSIX locks).
``flock`` belongs to the open file description, so a second core in the *same* process
(tests start several) is refused too. The kernel drops it when the process dies, however
it dies; the file stays, holding the pid of the last holder for the error message.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from quantum_grpc.startup import StartupError


class DatabaseLock:
    """The held lock of one database file; :meth:`release` is idempotent."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor: int | None = descriptor

    @classmethod
    def acquire(cls, database: Path) -> DatabaseLock:
        """Lock ``database``; StartupError naming the holder if another core has it."""
        path = database.with_name(database.name + ".lock")
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StartupError(f"cannot create {path}: {exc.strerror}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(descriptor)
            os.close(descriptor)
            raise StartupError(
                f"{database} is in use by another core ({holder}): stop it, or give this one "
                "another --data-dir or --database-url"
            ) from None
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        return cls(path, descriptor)

    def release(self) -> None:
        """Let another core open the file."""
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the last descriptor drops the flock
            self._descriptor = None


def _holder(descriptor: int) -> str:
    text = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
    if not text.isdigit():
        return "pid unknown"
    if int(text) == os.getpid():
        return f"pid {text}, this process"
    return f"pid {text}"
