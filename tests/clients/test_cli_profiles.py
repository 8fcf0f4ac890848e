"""Profiles of `quantum` in $XDG_CONFIG_HOME/quantum/config.toml, under flags and environment.

Which URL a run used shows in its one-line error at an address nobody listens on, so these
need no server.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from quantum_client._tokens import SettingsError
from quantum_client.cli._profiles import environment
from tests.clients.test_cli import QUANTUM, assert_one_error_line
from tests.helpers.processes import free_port

CONFIG = """\
default = "here"

[profiles.here]
url = "127.0.0.1:{here}"
tenant = "demo"

[profiles.there]
url = "127.0.0.1:{there}"
tenant = "other"
admin = true
"""


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment with its own XDG_CONFIG_HOME holding two profiles; the ports in it."""
    ports = {"here": str(free_port()), "there": str(free_port())}
    folder = tmp_path / "config" / "quantum"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(CONFIG.format(**ports))
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTUM_")}
    return {**env, "XDG_CONFIG_HOME": str(tmp_path / "config"), **ports}


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # A watch that gives up at its first failure: no retries, so no waiting.
    command = [QUANTUM, *args, "watch", "-f", "json", "--max-retries", "0"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)


def _reached(env: dict[str, str], *args: str) -> str:
    done = _run(env, *args)
    assert done.returncode == 5, done.stderr
    line = assert_one_error_line(done, "cannot reach the server at")
    return line.split("cannot reach the server at ")[1].split(":")[1]


def test_the_default_profile_then_profile_flag_env_and_url_in_that_order(
    home: dict[str, str],
) -> None:
    plain = {k: v for k, v in home.items() if k not in ("here", "there")}
    assert _reached(plain) == home["here"]
    assert _reached({**plain, "QUANTUM_PROFILE": "there"}) == home["there"]
    assert _reached({**plain, "QUANTUM_PROFILE": "there"}, "--profile", "here") == home["here"]
    assert _reached({**plain, "QUANTUM_URL": "127.0.0.1:1"}, "--profile", "there") == "1"
    assert _reached({**plain, "QUANTUM_URL": "127.0.0.1:1"}, "--url", "127.0.0.1:2") == "2"
    missing = _run(plain, "--profile", "nowhere")
    assert missing.returncode == 2
    assert_one_error_line(missing, "no profile 'nowhere'", "profiles: here, there")


def test_a_profile_fills_in_only_what_the_environment_leaves_out(tmp_path: Path) -> None:
    folder = tmp_path / "quantum"
    folder.mkdir()
    (folder / "config.toml").write_text(CONFIG.format(here=1, there=2) + 'ca = "certs/ca.pem"\n')
    env = environment("there", {"XDG_CONFIG_HOME": str(tmp_path), "QUANTUM_TENANT": "mine"})
    assert env["QUANTUM_URL"] == "127.0.0.1:2" and env["QUANTUM_TENANT"] == "mine"
    assert env["QUANTUM_CA"] == str(folder / "certs" / "ca.pem")  # relative to the file
    assert env["QUANTUM_ADMIN"] == "true"
    assert "QUANTUM_URL" not in environment(None, {"XDG_CONFIG_HOME": str(tmp_path / "none")})
    (folder / "config.toml").write_text('[profiles.x]\ncolour = "blue"\n')
    with pytest.raises(SettingsError, match="unknown key 'colour'"):
        environment("x", {"XDG_CONFIG_HOME": str(tmp_path)})
