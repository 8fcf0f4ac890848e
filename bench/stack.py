"""Real servers for the benchmarks: a sim back-end and a core, each its own process.

Both are started exactly as an operator would (``python -m quantum_grpc plugin sim`` and
``python -m quantum_grpc serve``), on loopback, with the core's SQLite file in a scratch
directory. :class:`Client` is the SDK's AsyncClient on a connection of its own, plus the
back-end side the benchmarks play (``StatusReporterService/ReportStatus`` and the sim's
``BackendService/ListStatus``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quantum_api.plugin.v1 import (
    backend_pb2,
    backend_pb2_grpc,
    resource_status_pb2 as rs,
    status_reporter_pb2,
    status_reporter_pb2_grpc,
)
from quantum_api.v1 import port_pb2
from quantum_client import AsyncClient
from quantum_grpc import children

BACKEND = "sim"
# Separate channels get separate TCP connections (grpc shares subchannels otherwise), so
# "32 clients" or "100 channels of watchers" really are that many connections.
CHANNEL_OPTIONS: list[tuple[str, Any]] = [("grpc.use_local_subchannel_pool", 1)]
_CLK_TCK = os.sysconf("SC_CLK_TCK")


# Ports the benchmark's servers are given: below the kernel's ephemeral range (a port the
# kernel chose and we released could be handed to anyone's next outgoing or port-0
# socket before the core binds it) and above the tests' (tests/helpers/processes.py).
_BENCH_PORTS = range(30000, 32700)


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports nobody listens on right now, unlikely to be taken
    before use (each is held until all are found, so none is handed out twice)."""
    with contextlib.ExitStack() as held:
        found: list[int] = []
        for _ in range(len(_BENCH_PORTS)):
            if len(found) == count:
                return found
            port = random.choice(_BENCH_PORTS)
            sock = held.enter_context(socket.socket())
            with contextlib.suppress(OSError):
                sock.bind(("127.0.0.1", port))
                found.append(port)
    raise RuntimeError(f"no {count} free ports in {_BENCH_PORTS.start}-{_BENCH_PORTS.stop - 1}")


def free_port() -> int:
    """A loopback port nobody listens on right now, unlikely to be taken before use."""
    return free_ports(1)[0]


# How many times a core is started on fresh ports when one was taken before it bound it.
CORE_START_ATTEMPTS = 3


def rss_kib(pid: int) -> int:
    """Resident memory of ``pid`` (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the ")" closing comm: state is field 0, utime 11, stime 12.
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


#: When set, the core runs with ``gc.set_threshold(*CORE_GC_THRESHOLD)``: a what-if for
#: the garbage collector's share of the fan-out cost (``bench.watch --core-gc-threshold``).
CORE_GC_THRESHOLD: tuple[int, int, int] | None = None
#: When set, the servers import quantum_grpc from this directory first (PYTHONPATH): how
#: ``bench.ab`` measures an earlier copy of the server code against the working tree.
CORE_PATH: str | None = None


def _spawn(
    args: Sequence[str], log: Path, *, gc_threshold: Sequence[int] = ()
) -> subprocess.Popen[bytes]:
    """``python -m quantum_grpc ARGS``, optionally with other GC thresholds."""
    # `serve` applies its own GC thresholds (quantum_grpc.cli.tune_garbage_collector); a
    # what-if overrides them through the environment.
    # The kernel stops the servers if the benchmark dies (quantum_grpc.children).
    env = {**os.environ, children.PARENT_ENV: str(os.getpid())}
    if CORE_PATH:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (CORE_PATH, env.get("PYTHONPATH")) if p)
    if gc_threshold:
        env["QUANTUM_GC_THRESHOLD"] = ",".join(str(int(t)) for t in gc_threshold)
    start = ["-m", "quantum_grpc"]
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *start, "--log-level", "WARNING", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            # `python -m` puts the working directory first on sys.path, before PYTHONPATH.
            cwd=CORE_PATH,
        )


def _log_text(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


def _read_port(path: Path) -> int | None:
    # The sim writes the file atomically: no file, or the whole number.
    return int(path.read_text()) if path.exists() else None


async def _wait_port_file(path: Path, process: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        port = _read_port(path)
        if port is not None:
            return port
        if process.poll() is not None:
            raise RuntimeError(f"sim exited with {process.returncode}; see {log}")
        await asyncio.sleep(0.02)
    raise RuntimeError(f"sim did not listen within 30 s; see {log}")


async def _wait_serving(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                # The log's last line says why (and outlives the workdir in a test's output).
                last = (_log_text(log).strip().splitlines() or [""])[-1]
                raise RuntimeError(f"core exited with {process.returncode} ({last}); see {log}")
            with contextlib.suppress(grpc.aio.AioRpcError):
                answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if answer.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"core not serving within 30 s; see {log}")


@dataclass
class Stack:
    """A running sim back-end and core; ``core_pid`` is the process to measure."""

    core: subprocess.Popen[bytes]
    sim: subprocess.Popen[bytes]
    address: str
    sim_address: str
    workdir: Path
    #: Where back-ends report (the core's --internal-listen).
    internal_address: str = ""

    @property
    def core_pid(self) -> int:
        """Process id of the core."""
        return self.core.pid


@contextlib.asynccontextmanager
async def running_stack(
    workdir: Path, profile: str, *, sim_args: Sequence[str] = (), database_url: str = ""
) -> AsyncIterator[Stack]:
    """Start a sim (``profile``) and a core using it; stop both afterwards.

    The core uses ``database_url``, by default a fresh SQLite file in ``workdir``.

    The sim's periodic re-assertion is off, so the only events are the ones the benchmark
    causes. Yields once the core is SERVING and has a usable link to the sim.
    """
    os.makedirs(workdir, exist_ok=True)
    port_file = workdir / "sim.port"
    sim_log, core_log = workdir / "sim.log", workdir / "core.log"
    sim = _spawn(
        [
            "plugin",
            "sim",
            "--listen",
            "127.0.0.1:0",
            "--port-file",
            str(port_file),
            "--profile",
            profile,
            "--reassert-interval",
            "0",
            *sim_args,
        ],
        sim_log,
    )
    core: subprocess.Popen[bytes] | None = None
    try:
        sim_address = f"127.0.0.1:{await _wait_port_file(port_file, sim, sim_log)}"
        for attempt in range(1, CORE_START_ATTEMPTS + 1):
            address, internal_address = (f"127.0.0.1:{p}" for p in free_ports(2))
            logged = core_log.stat().st_size if core_log.exists() else 0
            core = _spawn_core(address, internal_address, sim_address, workdir, database_url)
            try:
                await _wait_serving(address, core, core_log)
                break
            except RuntimeError:
                # Another process took a port between our check and the core's bind (this
                # attempt's core says so and exits): start it again on others. (Not a
                # database another core holds, which says "is in use" too.)
                with core_log.open("rb") as log:
                    log.seek(logged)
                    taken = b"is in use: stop what listens there" in log.read()
                if not taken or attempt == CORE_START_ATTEMPTS:
                    raise
                await asyncio.to_thread(children.stop, core)
        stack = Stack(core, sim, address, sim_address, workdir, internal_address)
        async with Client(stack, "bench-warmup") as client:
            # The first network reaches AVAILABLE only once the core's link to the sim works.
            network = await client.create_network("warmup")
            await client.wait_for_status("network", network.id, "AVAILABLE", timeout=30)
        yield stack
    finally:
        if core is not None:
            await asyncio.to_thread(children.stop, core)
        await asyncio.to_thread(children.stop, sim)


def _spawn_core(
    address: str, internal_address: str, sim_address: str, workdir: Path, database_url: str
) -> subprocess.Popen[bytes]:
    return _spawn(
        [
            "serve",
            "--listen",
            address,
            "--internal-listen",
            internal_address,
            "--database-url",
            database_url or f"sqlite:///{workdir}/quantum.db",
            "--backend",
            f"{BACKEND}={sim_address}",
            "--grace",
            "0",
            # A create answers with its back-end's synchronous answer; on a loaded
            # machine 32 concurrent ones may wait longer than the default 2 s, and the
            # creates figures would then mix confirmed and unconfirmed creates.
            "--sync-wait",
            "30",
            # The fan-out section opens 10,000 watches as one tenant (default cap 1,000).
            "--max-watches-per-tenant",
            "20000",
        ],
        workdir / "core.log",
        gc_threshold=CORE_GC_THRESHOLD or (),
    )


class Client(AsyncClient):
    """The SDK's AsyncClient on a channel of its own (one TCP connection), calling as
    ``tenant``; it also plays the back-end's side of a link report (ReportStatus)."""

    def __init__(self, stack: Stack, tenant: str) -> None:
        self.stack = stack
        self.channel = grpc.aio.insecure_channel(stack.address, options=CHANNEL_OPTIONS)
        super().__init__(stack.address, tenant, admin=False, channel=self.channel)
        # Reports go to the internal listener, over a connection of their own.
        self.internal = grpc.aio.insecure_channel(stack.internal_address, options=CHANNEL_OPTIONS)
        self.reporter = status_reporter_pb2_grpc.StatusReporterServiceStub(self.internal)

    async def close(self) -> None:
        """Close the channels (the SDK leaves a channel it was given open)."""
        await self.channel.close()
        await self.internal.close()

    async def active_port(self, network_id: str, interface_id: str) -> Any:
        """A new port with an attachment, once it is ACTIVE."""
        port = await self.create_port(network_id)
        await self.plug(port.id, interface_id)
        return await self.wait_for_status("port", port.id, "ACTIVE", timeout=30)

    async def report_link(self, port_id: str, generation: int, up: bool) -> Any:
        """As the back-end: the port's link went UP or DOWN (at its current generation)."""
        status = rs.ResourceStatus(
            kind=rs.RESOURCE_KIND_PORT,
            resource_id=port_id,
            generation=generation,
            state=rs.OBSERVED_STATE_READY,
            link_status=port_pb2.LINK_STATUS_UP if up else port_pb2.LINK_STATUS_DOWN,
            link_status_reason="" if up else "bench: carrier lost",
        )
        request = status_reporter_pb2.ReportStatusRequest(backend=BACKEND, statuses=[status])
        return await self.reporter.ReportStatus(request)


async def sim_generations(stack: Stack) -> dict[str, int]:
    """The generation the sim holds for each of its resources (BackendService/ListStatus)."""
    async with grpc.aio.insecure_channel(stack.sim_address) as channel:
        stub = backend_pb2_grpc.BackendServiceStub(channel)
        answer = await stub.ListStatus(backend_pb2.ListStatusRequest())
    return {s.resource_id: s.generation for s in answer.statuses}
