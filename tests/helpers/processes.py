"""Real processes for crash tests: the `quantum-grpc` command on free loopback ports."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# free_port() hands out ports below the kernel's ephemeral range (32768-60999 by default),
# which servers bound to port 0 (sim children, back-ends, test servers) draw from: a port
# picked here cannot be taken by one of those between the pick and the bind. Each xdist
# worker has a slice of its own, walked in turn, so no two workers pick the same port.
_PORT_BASE = 10_000
_PORT_SLICE = 2_000
_picks = itertools.count()


def _worker_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    return int(worker) if worker.isdigit() else 0


def free_port() -> int:
    """A loopback port nobody listens on right now, and that no other test will pick."""
    first = _PORT_BASE + (_worker_index() % 10) * _PORT_SLICE
    for _ in range(_PORT_SLICE):
        port = first + next(_picks) % _PORT_SLICE
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            return port
    raise RuntimeError(f"no free port in {first}-{first + _PORT_SLICE - 1}")


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:``port``; fail early if
    ``process`` (the one meant to listen there) exits, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        assert process.poll() is None, f"exited with {process.returncode} before listening"
        assert time.monotonic() < deadline, f"nothing listens on port {port} after {timeout} s"
        time.sleep(0.05)


def start_command(
    args: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Run ``python -m quantum_grpc ARGS`` with output to ``log``."""
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "quantum_grpc", *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )


async def wait_serving(
    address: str, timeout: float = 30.0, credentials: grpc.ChannelCredentials | None = None
) -> None:
    """Wait until grpc.health.v1 at ``address`` says SERVING (over TLS with ``credentials``)."""
    deadline = time.monotonic() + timeout
    if credentials is None:
        dialled = grpc.aio.insecure_channel(address)
    else:
        dialled = grpc.aio.secure_channel(address, credentials)
    async with dialled as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{address} not serving within {timeout}s")
            await asyncio.sleep(0.1)


def children_of(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (from /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found += [int(p) for p in text.split()]
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


async def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    """Wait until ``pid`` is gone; False if it outlived ``timeout``."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
