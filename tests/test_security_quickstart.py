"""The five commands of docs/security.md work as written: certificates, a secret, a core
with tokens and TLS, and a call with a minted token (only the port is swapped for a free
one, and the core is stopped afterwards)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers import need
from tests.helpers.processes import free_port, wait_listening

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "security.md").read_text()


def _commands() -> list[str]:
    found = re.search(r"<!-- five-commands -->\s*```sh\n(.*?)```", DOC, re.S)
    assert found, "docs/security.md has no five-commands block"
    lines = [line for line in found.group(1).splitlines() if line.strip()]
    assert len(lines) == 5
    return lines


def test_the_five_commands_of_the_security_doc_work(tmp_path: Path) -> None:
    need(shutil.which("openssl") is not None, "openssl is not installed")
    port = str(free_port())
    lines = [line.replace("9696", port) for line in _commands()]
    serve = lines[3]
    assert serve.endswith("&")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "QUANTUM_DATA_DIR": "data"}
    for variable in ("QUANTUM_URL", "QUANTUM_TENANT", "QUANTUM_TOKEN", "QUANTUM_CA"):
        env.pop(variable, None)
    for line in lines[:3]:
        subprocess.run(line, shell=True, cwd=tmp_path, env=env, check=True, timeout=60)
    core = subprocess.Popen(
        serve.removesuffix("&"),
        shell=True,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # The SDK retries UNAVAILABLE for a few seconds only, and a loaded machine may take
        # longer to start the core and its sim: call once it listens, as a user would.
        wait_listening(int(port), core)
        call = subprocess.run(
            lines[4] + " -o json",
            shell=True,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert call.returncode == 0, call.stderr
        created = json.loads(call.stdout)
        assert (created["name"], created["tenant_id"]) == ("web", "demo")
    finally:
        os.killpg(core.pid, signal.SIGTERM)
        try:
            core.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(core.pid, signal.SIGKILL)
            core.wait()
