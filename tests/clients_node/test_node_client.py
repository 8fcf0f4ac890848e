"""The Node.js client's own test suite (`npm test` in clients/node), run from pytest.

It installs the npm packages itself (`npm ci` from the committed lock, `npm install`
without one) when node_modules is missing, then runs node's test runner, which starts a
real server. Without node or npm the test is skipped, except in CI, where it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import need

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "node"
INSTALL_TIMEOUT = 300.0
TEST_TIMEOUT = 300.0


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in clients/node in its own process group; kill the group on timeout."""
    env = {
        **os.environ,
        # The server the Node test starts runs on this interpreter (the project's venv).
        "QUANTUM_PYTHON": sys.executable,
        "NO_COLOR": "1",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "npm_config_update_notifier": "false",
    }
    with subprocess.Popen(
        command,
        cwd=PACKAGE,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # SIGTERM first: the Node test forwards it to the servers it started.
            os.killpg(process.pid, signal.SIGTERM)
            try:
                output, _ = process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                output, _ = process.communicate()
            pytest.fail(f"{' '.join(command)} did not finish within {timeout:.0f}s:\n{output}")
        return subprocess.CompletedProcess(command, process.returncode, output, None)


@pytest.mark.timeout(INSTALL_TIMEOUT + TEST_TIMEOUT + 60)
def test_node_client_suite_passes() -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    need(node is not None and npm is not None, "node and npm are needed for the Node.js client")
    assert npm is not None

    if not (PACKAGE / "node_modules").is_dir():
        has_lock = (PACKAGE / "package-lock.json").is_file()
        install = [npm, "ci"] if has_lock else [npm, "install"]
        installed = _run([*install, "--no-audit", "--no-fund"], INSTALL_TIMEOUT)
        assert installed.returncode == 0, f"{' '.join(install)} failed:\n{installed.stdout}"

    result = _run([npm, "test"], TEST_TIMEOUT)
    assert result.returncode == 0, f"npm test failed:\n{result.stdout}"
    assert "# fail 0" in result.stdout, result.stdout
