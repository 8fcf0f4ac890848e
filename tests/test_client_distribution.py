"""clients/python installs alone: a fresh virtualenv gets the SDK, the `quantum` CLI and the
contract, talks to a real core, and has none of the server's stack."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import subprocess
import venv
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.helpers import need

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "clients" / "python"
CLIENT_PACKAGES = ("quantum_api", "quantum_client")
# The server's stack: none of it may come with the client.
SERVER_ONLY = (
    *("sqlalchemy", "alembic", "aiosqlite", "psycopg", "pyroute2"),
    *("quantum_grpc", "quantum_plugins", "grpc_health", "grpc_reflection"),
)
PIP_TIMEOUT = 300.0
CALL_TIMEOUT = 60.0

pytestmark = pytest.mark.timeout(PIP_TIMEOUT + 120)


@dataclass(frozen=True)
class ClientVenv:
    """A virtualenv holding only ``pip install ./clients/python`` (from ``source``, a copy)."""

    root: Path
    source: Path
    workdir: Path

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    @property
    def quantum(self) -> str:
        return str(self.root / "bin" / "quantum")

    def env(self) -> dict[str, str]:
        # Nothing of the repository or of the dev venv may leak in through the environment.
        leaks = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
        env = {k: v for k, v in os.environ.items() if k not in leaks}
        return {k: v for k, v in env.items() if not k.startswith("QUANTUM_")}

    async def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        """Run ``command`` from outside the repository (in a thread: the core shares this
        event loop), bounded by CALL_TIMEOUT."""
        return await asyncio.to_thread(
            subprocess.run,
            command,
            cwd=self.workdir,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=CALL_TIMEOUT,
            check=False,
        )


@pytest.fixture(scope="session")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> ClientVenv:
    """One fresh virtualenv per test session with the client installed non-editable.

    The client folder is copied first: a non-editable install builds in the source folder,
    and its build/ leftovers must not land in the working tree.
    """
    need(importlib.util.find_spec("ensurepip") is not None, "python has no ensurepip (venv)")
    base = tmp_path_factory.mktemp("client-venv")
    source = base / "python"
    shutil.copytree(
        CLIENT, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    )
    workdir = base / "work"
    workdir.mkdir()
    built = ClientVenv(base / "venv", source, workdir)
    venv.EnvBuilder(with_pip=True).create(built.root)
    done = subprocess.run(
        [built.python, "-m", "pip", "install", "--disable-pip-version-check", str(source)],
        cwd=workdir,
        env=built.env(),
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"pip install ./clients/python failed:\n{done.stderr}"
    return built


def _client_modules(source: Path) -> list[str]:
    """Every module of the client's packages, from the folders that were installed."""
    modules = []
    for package in CLIENT_PACKAGES:
        for path in sorted((source / package).rglob("*.py")):
            parts = path.relative_to(source).with_suffix("").parts
            if "__pycache__" not in parts:
                modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


async def test_the_client_ships_every_contract_and_sdk_module(client_venv: ClientVenv) -> None:
    modules = _client_modules(client_venv.source)
    assert {"quantum_api.v1.watch_service_pb2_grpc", "quantum_api.errors"} <= set(modules)
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        "    assert module.__file__.startswith(sys.prefix), module.__file__\n"
    )
    done = await client_venv.run(client_venv.python, "-c", probe)
    assert done.returncode == 0, done.stderr


async def test_the_client_comes_without_the_server_stack(client_venv: ClientVenv) -> None:
    probe = (
        "import importlib.util\n"
        f"print([name for name in {SERVER_ONLY!r} if importlib.util.find_spec(name)])\n"
    )
    done = await client_venv.run(client_venv.python, "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    for name in SERVER_ONLY:
        failed = await client_venv.run(client_venv.python, "-c", f"import {name}")
        assert failed.returncode == 1 and "ModuleNotFoundError" in failed.stderr, name


async def test_the_quantum_command_runs(client_venv: ClientVenv) -> None:
    done = await client_venv.run(client_venv.quantum, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: quantum")
    assert "net-create" in done.stdout and "wait" in done.stdout


SDK_CALL = """
import json, sys
from quantum_client import Client, PortStatus

with Client(sys.argv[1], tenant="standalone") as quantum:
    network = quantum.create_network("web")
    port = quantum.create_port(network.id)
    quantum.plug(port.id, "vif-1")
    port = quantum.wait_for(port, "ACTIVE", timeout=30)
    print(json.dumps({
        "network": quantum.get_network(network.id).name,
        "port": PortStatus.Name(port.status),
    }))
"""


async def test_an_sdk_call_and_the_cli_against_a_running_core(
    client_venv: ClientVenv, stack_factory: Callable[..., Awaitable[Stack]]
) -> None:
    stack = await stack_factory("sync")
    address = stack.app.address
    done = await client_venv.run(client_venv.python, "-c", SDK_CALL, address)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"network": "web", "port": "PORT_STATUS_ACTIVE"}
    listed = await client_venv.run(
        client_venv.quantum, "--url", address, "--tenant", "standalone", "net-list", "-o", "json"
    )
    assert listed.returncode == 0, listed.stderr
    assert [network["name"] for network in json.loads(listed.stdout)] == ["web"]
