"""The `quantum` CLI in a pseudo-terminal of a fixed size, its screen kept by a VT emulator.

The process gets a real pseudo-terminal of that size (so rich draws its live table as for
a person), pexpect reads it and pyte replays what it writes onto a screen of ``cols`` by
``rows``, so a test asserts on what a person would see: which lines are on screen, not
which bytes went by. The process is started by subprocess (fork and exec in C) rather than
pexpect.spawn, whose fork runs Python code in a child of a process full of gRPC threads.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable

import pexpect
import pyte
from pexpect.fdpexpect import fdspawn

from tests.clients.test_cli import QUANTUM, TENANT, _env

Screen = list[str]


class Terminal:
    """``quantum ARGS`` running in a pseudo-terminal of ``cols`` by ``rows``."""

    def __init__(
        self, *args: str, address: str, cols: int = 80, rows: int = 24, tenant: str = TENANT
    ) -> None:
        env = {**_env(address, tenant), "TERM": "xterm-256color"}
        for variable in ("COLUMNS", "LINES"):  # rich would trust them over the tty
            env.pop(variable, None)
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.process = subprocess.Popen(
            [QUANTUM, *args], stdin=slave, stdout=slave, stderr=slave, env=env,
            start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        self.child = fdspawn(master, encoding="utf-8")
        self.screen = pyte.Screen(cols, rows)
        self._stream = pyte.Stream(self.screen)
        self.ended = False

    @property
    def lines(self) -> Screen:
        """The screen as it shows now, one string per row."""
        return list(self.screen.display)

    def _pump(self, wait: float) -> bool:
        """Feed what the process wrote within ``wait`` seconds; whether it wrote anything."""
        try:
            self._stream.feed(self.child.read_nonblocking(1 << 16, timeout=wait))
        except pexpect.TIMEOUT:
            return False
        except pexpect.EOF:
            self.ended = True
            return False
        return True

    def _until(self, check: Callable[[Screen], bool], timeout: float) -> Screen:
        deadline = time.monotonic() + timeout
        while True:
            # Judge only a whole frame: once the process paused writing for a moment.
            while self._pump(0.05):
                pass
            if check(self.lines):
                return self.lines
            if self.ended or time.monotonic() > deadline:
                shown = "\n".join(self.lines)
                raise AssertionError(f"screen not as expected within {timeout}s:\n{shown}")
            self._pump(0.05)

    async def until(self, check: Callable[[Screen], bool], timeout: float = 10.0) -> Screen:
        """Read output until ``check(screen)`` holds; the screen then (in a thread, so the
        servers on this event loop keep serving)."""
        return await asyncio.to_thread(self._until, check, timeout)

    async def interrupt(self) -> int:
        """Ctrl-C (SIGINT to its process group, as the terminal sends it); the exit status."""
        os.killpg(self.process.pid, signal.SIGINT)

        def finish() -> int:
            deadline = time.monotonic() + 10
            while self.process.poll() is None and time.monotonic() < deadline:
                self._pump(0.05)  # a full pty would block its last frame, and so its exit
            while self._pump(0.05):
                pass
            return self.process.wait(1)

        return await asyncio.to_thread(finish)

    def kill(self) -> None:
        """Stop it for good (teardown)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.child.close()


STATES = ("live · ", "syncing · ", "reconnecting (attempt ")


def state_line(screen: Screen) -> str:
    """The watch's state line: the last non-blank row."""
    filled = [line for line in screen if line.strip()]
    return filled[-1] if filled else ""


def whole(check: Callable[[Screen], bool]) -> Callable[[Screen], bool]:
    """``check``, on a watch frame drawn to its end (its state line last)."""
    return lambda screen: state_line(screen).startswith(STATES) and check(screen)


def shows(*words: str) -> Callable[[Screen], bool]:
    """A check: the state line holds every one of ``words``."""
    return whole(lambda screen: all(word in state_line(screen) for word in words))
