"""Fixtures of the linuxbridge end-to-end tests: a lab, a back-end, agents and a core.

The back-end and the agents run as real subprocesses (``python -m ...``) so an agent can
be SIGKILLed; the core runs in-process (tests/conftest.py's ``core_factory``). Every
namespace and process is removed after each test, pass or fail. Everything talks mTLS,
as deployed (docs/security.md): core and back-end both ways, agents to the back-end, each
with a certificate of the lab's CA naming who it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest

from quantum_grpc.config import BackendTarget
from tests.conftest import CoreFactory
from tests.helpers import Api, need
from tests.helpers.processes import wait_serving

from .certs import LabPki, files, tls_flags
from .lab import Lab, prerequisites
from .watch import StatusWatch

REPO = Path(__file__).resolve().parents[2]
HEARTBEAT = 1.0  # seconds: "agent not running" after 3 s of silence
GRACE = 1.0  # seconds a plugged interface's tap may take to appear


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A fresh lab; skipped (failed under CI=true) when this machine cannot run one."""
    problem = prerequisites()
    need(problem is None, problem or "")
    made = Lab()
    try:
        yield made
    finally:
        made.cleanup()


def quantum_grpc(*args: str, log: Path) -> subprocess.Popen[bytes]:
    """``quantum-grpc ARGS`` (the installed commands: `plugin linuxbridge`, `agent ...`)."""
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "quantum_grpc", *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.fixture
def pki(tmp_path: Path) -> LabPki:
    """The lab's CA and the certificates of the core, the back-end and the agents."""
    return LabPki(tmp_path / "pki")


async def start_backend(
    lab: Lab,
    logs: Path,
    pki: LabPki,
    listen: str = "127.0.0.1:0",
    *,
    kind: str = "linuxbridge",
    extra: tuple[str, ...] = (),
) -> tuple[Any, str]:
    """Start an mTLS back-end subprocess (``quantum-grpc plugin KIND``, with ``extra``
    options) on ``listen``; the process and its address once serving (health checked with
    the core's certificate)."""
    port_file = logs / "backend.port"
    port_file.unlink(missing_ok=True)
    backend = quantum_grpc(
        "plugin", kind,
        "--listen", listen, "--port-file", str(port_file), "--grace-period", str(GRACE),
        *extra, *tls_flags(pki.backend),
        log=logs / "backend.log",
    )  # fmt: skip
    lab.processes.append(backend)
    deadline = time.monotonic() + 20
    while not port_file.exists():
        assert backend.poll() is None, (logs / "backend.log").read_text()
        assert time.monotonic() < deadline, "the back-end did not start"
        await asyncio.sleep(0.05)
    address = f"127.0.0.1:{int(port_file.read_text())}"
    await wait_serving(address, credentials=files(pki.core).channel_credentials())
    return backend, address


def start_agent(
    lab: Lab,
    logs: Path,
    pki: LabPki,
    host: str,
    netns: str,
    backend: str,
    log: str = "",
    *,
    kind: str = "linuxbridge",
    where: tuple[str, ...] = (),
    tunnel_ip: str = "",
) -> subprocess.Popen[bytes]:
    """Start the agent of ``host`` (its certificate names it), wiring namespace ``netns``
    (or, with ``where``, what those options say), with the underlay address ``tunnel_ip``
    if given; it logs to ``log`` (default ``agent-HOST.log``) in ``logs``."""
    tunnel = ("--tunnel-ip", tunnel_ip) if tunnel_ip else ()
    agent = quantum_grpc(
        "agent", kind,
        "--host", host, *(where or ("--netns", netns)), *tunnel, "--backend", backend,
        "--heartbeat", str(HEARTBEAT), *tls_flags(pki.agent(host)),
        log=logs / (log or f"agent-{host}.log"),
    )  # fmt: skip
    lab.processes.append(agent)
    return agent


@dataclass
class Stack:
    """A back-end (linuxbridge or ovs), its agents, a core, a client and a status watch."""

    lab: Lab
    logs: Path
    pki: LabPki
    backend: subprocess.Popen[bytes]
    backend_address: str
    api: Api
    watch: StatusWatch
    agents: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kind: str = "linuxbridge"
    #: The back-end's own options.
    backend_extra: tuple[str, ...] = ()
    #: Hypervisor namespace -> the agent's options saying what it wires (default --netns).
    where: Callable[[str], tuple[str, ...]] | None = None

    async def restart_backend(self) -> None:
        """SIGKILL the back-end and start a new one on the same address."""
        self.backend.send_signal(signal.SIGKILL)
        self.backend.wait()
        self.backend, _ = await start_backend(
            self.lab,
            self.logs,
            self.pki,
            self.backend_address,
            kind=self.kind,
            extra=self.backend_extra,
        )

    def start_agent(self, host: str, netns: str, tunnel_ip: str = "") -> subprocess.Popen[bytes]:
        """Start (or restart) the agent of ``host``, wiring namespace ``netns``."""
        agent = start_agent(
            self.lab,
            self.logs,
            self.pki,
            host,
            netns,
            self.backend_address,
            kind=self.kind,
            where=self.where(netns) if self.where else (),
            tunnel_ip=tunnel_ip,
        )
        self.agents[host] = agent
        return agent

    def kill_agent(self, host: str) -> float:
        """SIGKILL the agent of ``host``; returns the monotonic time of the kill."""
        agent = self.agents.pop(host)
        agent.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        agent.wait()
        return killed

    def dump_logs(self) -> None:
        for log in sorted(self.logs.glob("*.log")):
            print(f"----- {log.name} -----\n{log.read_text()[-6000:]}")


@contextlib.asynccontextmanager
async def open_stack(
    lab: Lab,
    logs: Path,
    pki: LabPki,
    core_factory: CoreFactory,
    channel_factory: Callable[[str], grpc.aio.Channel],
    request: pytest.FixtureRequest,
    *,
    kind: str = "linuxbridge",
    backend_extra: tuple[str, ...] = (),
    where: Callable[[str], tuple[str, ...]] | None = None,
) -> AsyncIterator[Stack]:
    """A back-end subprocess and an in-process core that dispatches to it, over mTLS; the
    logs are printed if the test failed (or LB_LOGS is set)."""
    backend, address = await start_backend(lab, logs, pki, kind=kind, extra=backend_extra)
    app = await core_factory(BackendTarget(kind, address), internal_tls=pki.core_tls())
    link = app.links.get(kind)
    assert link is not None
    await asyncio.wait_for(link.ready.wait(), 20)
    channel = channel_factory(app.address)
    tenant = f"{kind[:3]}-{uuid.uuid4().hex[:8]}"
    watch = StatusWatch(channel, tenant)
    await watch.start()
    made = Stack(
        lab,
        logs,
        pki,
        backend,
        address,
        Api(channel, tenant),
        watch,
        kind=kind,
        backend_extra=backend_extra,
        where=where,
    )
    try:
        yield made
    finally:
        await watch.close()
        report: Any = getattr(request.node, "rep_call", None)
        if report is None or report.failed or os.environ.get("LB_LOGS"):
            made.dump_logs()


@pytest.fixture
async def stack(
    lab: Lab,
    tmp_path: Path,
    pki: LabPki,
    core_factory: CoreFactory,
    channel_factory: Callable[[str], grpc.aio.Channel],
    request: pytest.FixtureRequest,
) -> AsyncIterator[Stack]:
    """A linuxbridge back-end subprocess and an in-process core, over mTLS."""
    async with open_stack(lab, tmp_path, pki, core_factory, channel_factory, request) as made:
        yield made


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures can print logs on failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
