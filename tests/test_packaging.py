"""The server distribution holds every server package and depends on the client one
(clients/python); back-ends are found through entry points."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from quantum_grpc import extensions

ROOT = Path(__file__).resolve().parents[1]
CLIENT_PACKAGES = {"quantum_api", "quantum_client"}


def _declared() -> tuple[set[str], dict[str, str]]:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(setuptools["packages"]), setuptools["package-dir"]


def test_every_package_folder_is_in_the_distribution() -> None:
    packages, folders = _declared()
    found = {"quantum_grpc"}
    roots = {"quantum_grpc": ROOT / "quantum_grpc", **{n: ROOT / d for n, d in folders.items()}}
    for name, root in roots.items():
        for module in root.rglob("*.py"):
            relative = module.parent.relative_to(root)
            if "__pycache__" not in relative.parts:
                found.add(".".join((name, *relative.parts)))
    # A folder left out here would be missing from a wheel (an editable install hides it).
    assert found == packages


def _scripts(distribution: str) -> set[str]:
    entries = metadata.distribution(distribution).entry_points
    return {entry.name for entry in entries if entry.group == "console_scripts"}


def test_the_server_depends_on_the_client_distribution() -> None:
    packages, _ = _declared()
    assert not {p for p in packages if p.split(".")[0] in CLIENT_PACKAGES}
    requires = metadata.requires("quantum-grpc") or []
    assert any(r.startswith("quantum-client") for r in requires), requires
    assert _scripts("quantum-client") == {"quantum"}
    assert _scripts("quantum-grpc") == {"quantum-grpc"}
    # The dev venv runs the repository's client folder (installed editable from it).
    import quantum_client

    assert Path(quantum_client.__file__).is_relative_to(ROOT / "clients" / "python")


def test_the_shipped_backends_are_entry_points() -> None:
    assert {"sim", "linuxbridge"} <= set(extensions.installed("plugin"))
    assert "linuxbridge" in extensions.installed("agent")


def test_the_core_imports_no_backend() -> None:
    probe = (
        "import sys, quantum_grpc.cli, quantum_grpc.server; "
        "print(sorted(m for m in sys.modules if m.startswith('quantum_plugins')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_plugin_commands_run_through_their_entry_point() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "quantum_grpc", "plugin", "--help"], capture_output=True, text=True
    )
    assert listed.returncode == 0 and "linuxbridge | ovs | sim" in listed.stdout
    own = subprocess.run(
        [sys.executable, "-m", "quantum_grpc", "plugin", "sim", "--help"],
        capture_output=True,
        text=True,
    )
    assert own.returncode == 0 and "--profile" in own.stdout
    unknown = subprocess.run(
        [sys.executable, "-m", "quantum_grpc", "plugin", "nope"], capture_output=True, text=True
    )
    assert unknown.returncode == 2 and "invalid choice: 'nope'" in unknown.stderr
