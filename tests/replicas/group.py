"""Several real `quantum-grpc serve` replicas on one PostgreSQL schema, for the replica tests.

Each replica is its own process on free loopback ports (client and internal listeners),
dispatching to a sim back-end the test runs in-process (so it can count what reaches it).
The kernel stops the replicas if the test process dies (children.PARENT_ENV); teardown
stops them all.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from quantum_grpc import children
from tests.helpers import Api
from tests.helpers.processes import free_port, start_command, wait_serving

LEADER_LINE = "this replica is the leader"


@dataclass
class Replica:
    """One running `serve`."""

    name: str
    address: str
    internal_address: str
    log: Path
    flags: tuple[str, ...] = ()
    process: Any = None
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def times_elected(self) -> int:
        """How often this replica logged that it became the leader."""
        return self.output().count(LEADER_LINE)

    def api(self, tenant: str = "tenant-a", admin: bool = False) -> Api:
        channel = grpc.aio.insecure_channel(self.address)
        self.channels.append(channel)
        return Api(channel, tenant, admin)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


class Group:
    """Replicas of one database; :meth:`close` stops every one."""

    def __init__(self, tmp_path: Path, database_url: str, backend: str, sim: Any = None) -> None:
        self._tmp = tmp_path
        self.sim = sim  # the back-end's handle, for the test (tests/conftest.py Sim)
        self.database_url = database_url
        self.backend = backend
        self.replicas: list[Replica] = []

    async def start(self, count: int = 1, *flags: str) -> list[Replica]:
        """Start ``count`` more replicas; return them once every one is SERVING."""
        started = [self._spawn(flags) for _ in range(count)]
        for replica in started:
            try:
                await wait_serving(replica.address, 30)
            except AssertionError:
                raise AssertionError(f"{replica.name} did not start:\n{replica.output()}") from None
        return started

    def _spawn(self, flags: tuple[str, ...]) -> Replica:
        name = f"replica-{len(self.replicas)}"
        replica = Replica(
            name,
            f"127.0.0.1:{free_port()}",
            f"127.0.0.1:{free_port()}",
            self._tmp / f"{name}.log",
            flags=flags,
        )
        self._run(replica)
        self.replicas.append(replica)
        return replica

    def _run(self, replica: Replica) -> None:
        args = [
            "serve",
            "--listen",
            replica.address,
            "--internal-listen",
            replica.internal_address,
            "--database-url",
            self.database_url,
            "--backend",
            self.backend,
            "--grace",
            "0",
            *replica.flags,
        ]
        # No drain delay (a load balancer's time to notice NOT_SERVING): these tests have
        # none to wait for, and the restarts stay quick.
        env = {children.PARENT_ENV: str(os.getpid()), "QUANTUM_DRAIN_DELAY": "0"}
        replica.process = start_command(args, replica.log, env=env)

    async def restart(self, replica: Replica) -> None:
        """SIGTERM ``replica`` (it drains), wait until it exited, start it again on the
        same addresses, and wait until it is SERVING: one step of a rolling restart."""
        await asyncio.to_thread(children.stop, replica.process, 15)
        self._run(replica)
        await wait_serving(replica.address, 30)

    async def leader(self, among: list[Replica] | None = None, timeout: float = 10.0) -> Replica:
        """The replica that logged its election last, among the live ones, once one did."""
        deadline = time.monotonic() + timeout
        candidates = among or self.replicas
        while True:
            elected = [r for r in candidates if r.times_elected()]
            if elected:
                return _latest(elected)
            if time.monotonic() > deadline:
                raise AssertionError("no replica became the leader")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        for replica in self.replicas:
            for channel in replica.channels:
                await channel.close()
        await asyncio.gather(
            *(asyncio.to_thread(children.stop, r.process, 15) for r in self.replicas)
        )


def _latest(elected: list[Replica]) -> Replica:
    # Election lines carry the log's timestamp first; the newest one wins.
    def stamp(replica: Replica) -> str:
        lines = [line for line in replica.output().splitlines() if LEADER_LINE in line]
        return lines[-1].split(" ")[0] + " " + lines[-1].split(" ")[1]

    return max(elected, key=stamp)
