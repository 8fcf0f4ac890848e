"""The real `quantum-grpc serve` as a subprocess: private data dir, free port, bounded waits."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from quantum_grpc import children
from tests.helpers.processes import free_port, start_command, wait_serving

START_TIMEOUT = 30.0


@dataclass
class Served:
    """A running `serve`."""

    process: subprocess.Popen[bytes]
    address: str
    data_dir: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class Cores:
    """Starts `serve` processes and stops every one of them in teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self._tmp = tmp_path
        self._started: list[Served] = []

    def folder(self, name: str) -> Path:
        return self._tmp / name

    async def start(self, *flags: str, data_dir: Path | None = None) -> Served:
        """``serve --listen <free port> --data-dir <private> FLAGS``, once it is SERVING."""
        address = f"127.0.0.1:{free_port()}"
        folder = data_dir or self.folder(f"data-{len(self._started)}")
        log = self._tmp / f"serve-{len(self._started)}.log"
        process = start_command(
            ["serve", "--listen", address, "--data-dir", str(folder), *flags], log
        )
        served = Served(process, address, folder, log)
        self._started.append(served)
        try:
            await wait_serving(address, START_TIMEOUT)
        except AssertionError:
            raise AssertionError(f"serve did not start:\n{served.output()}") from None
        return served

    def close(self) -> None:
        for served in self._started:
            children.stop(served.process, timeout=15)


@pytest.fixture
def cores(tmp_path: Path) -> Iterator[Cores]:
    """Real `serve` processes, stopped after the test."""
    started = Cores(tmp_path)
    yield started
    started.close()


def run_serve(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """``quantum-grpc ARGS`` expected to exit by itself (killed after ``timeout``)."""
    return subprocess.run(
        [sys.executable, "-m", "quantum_grpc", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line a failed start printed; fails on a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if " error: " in line]
    assert len(errors) == 1, result.stderr
    return errors[0]
