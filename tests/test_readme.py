"""The README's examples work: its reflection-based call and its SDK snippet, verbatim."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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


async def test_the_reflection_call_in_the_readme_works(server: str) -> None:
    need(
        shutil.which("npx") is not None and (REPO / "node_modules/@bufbuild/buf").exists(),
        "needs npx and `npm install` (make test runs it) for buf",
    )
    command = block_after("<!-- reflection-call -->", "sh").replace(DOCUMENTED, server)
    done = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", command],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
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
    assert done.stdout.split()[0] == "3"  # PORT_STATUS_ACTIVE
