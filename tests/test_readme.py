"""The README's examples work, verbatim, against `quantum-grpc serve` as `make run` starts it:
its CLI block, its reflection-based call, its SDK snippet, and the Node client README's
sample output."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.clients.terminal import Terminal, shows
from tests.helpers import need
from tests.helpers.processes import free_port, start_command, wait_serving

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
DOCUMENTED = "127.0.0.1:9696"


def block_after(marker: str, language: str) -> str:
    """The first fenced block of ``language`` after ``marker``."""
    found = re.search(rf"{re.escape(marker)}.*?```{language}\n(.*?)```", README, re.S)
    assert found, f"README has no ```{language} block after {marker!r}"
    return found.group(1)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[str]:
    address = f"127.0.0.1:{free_port()}"
    core = start_command(
        ["serve", "--listen", address],
        tmp_path / "serve.log",
        env={"QUANTUM_DATA_DIR": str(tmp_path)},
    )
    try:
        await wait_serving(address)
        yield address
    finally:
        core.send_signal(signal.SIGTERM)
        core.wait(15)


async def test_the_reflection_call_in_the_readme_works(server: str, tmp_path: Path) -> None:
    need(shutil.which("npx") is not None, "needs npx (Node.js) for buf")
    command = block_after("<!-- reflection-call -->", "sh").replace(DOCUMENTED, server)
    # Run where no node_modules is, as on a fresh clone: npx must fetch the right package.
    done = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    network = json.loads(done.stdout)["network"]
    assert network["name"] == "web" and network["tenantId"] == "demo"
    assert network["status"] == "NETWORK_STATUS_AVAILABLE"


async def test_the_sdk_snippet_in_the_readme_works(server: str) -> None:
    snippet = block_after("with the Python SDK", "python").replace(DOCUMENTED, server)
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", snippet], capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "ACTIVE"


async def test_the_cli_block_in_the_readme_works(server: str, tmp_path: Path) -> None:
    started = (tmp_path / "serve.log").read_text()
    assert f"listening on {server}" in started and "readiness accept" in started
    block = block_after("with the CLI:", "sh").replace(DOCUMENTED, server)
    lines = block.strip().splitlines()
    watch = [line for line in lines if line.startswith("quantum watch")]
    rest = [line.replace("$PWD", str(REPO)) for line in lines if line not in watch]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTUM_")}
    done = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", "\n".join(["set -euo pipefail", *rest, "echo $PORT"])],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    port_id = done.stdout.split()[-1]
    assert f"port {port_id} is ACTIVE" in done.stdout and port_id[:8] in done.stdout
    assert watch == ["quantum watch                                    # a live table of "
                     "everything and its status"]  # fmt: skip
    terminal = Terminal("watch", address=server, tenant="demo")
    try:
        screen = await terminal.until(shows("live", "3 resources"))
        assert any(line.split()[1:2] == [port_id[:8]] for line in screen[2:5])
        assert await terminal.interrupt() == 0
    finally:
        terminal.kill()


NODE = REPO / "clients" / "node"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _shape(text: str) -> list[str]:
    """Lines with what differs between runs (ids, interface names, revisions) blanked."""
    text = UUID.sub("ID", text)
    text = re.sub(r"vm-[0-9a-f]{8}-eth0", "vm-X-eth0", text)
    return re.sub(r"revision \d+", "revision N", text).strip().splitlines()


async def test_the_node_readme_shows_what_the_quickstart_prints(server: str) -> None:
    need(shutil.which("npm") is not None, "needs Node.js and npm")
    if not (NODE / "node_modules").exists():
        install = await asyncio.to_thread(
            subprocess.run, ["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE,
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert install.returncode == 0, install.stdout + install.stderr
    readme = (NODE / "README.md").read_text()
    sample = re.search(r"node examples/quickstart.js\n```\n.*?```text\n(.*?)```", readme, re.S)
    assert sample, "clients/node/README.md has no sample output after its quick start"
    env = {**os.environ, "QUANTUM_URL": server, "QUANTUM_TENANT": "demo"}
    done = await asyncio.to_thread(
        subprocess.run, ["node", "examples/quickstart.js"], cwd=NODE, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _shape(done.stdout.replace(server, DOCUMENTED)) == _shape(sample.group(1))
