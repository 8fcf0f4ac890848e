"""Named endpoints in ``$XDG_CONFIG_HOME/quantum/config.toml`` (default ``~/.config``).

::

    default = "lab"            # the profile used without --profile / QUANTUM_PROFILE

    [profiles.lab]
    url = "grpcs://quantum.lab:9696"
    ca = "lab-ca.pem"          # relative paths are relative to the file's folder
    token_file = "~/.config/quantum/lab.token"

    [profiles.local]
    url = "127.0.0.1:9696"
    tenant = "demo"

A profile only fills in what neither a flag nor the environment gives: its values become
``QUANTUM_*`` defaults under the real environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quantum_client._tokens import SettingsError

#: profile key -> (environment variable, is a path)
KEYS: dict[str, tuple[str, bool]] = {
    "url": ("QUANTUM_URL", False),
    "tenant": ("QUANTUM_TENANT", False),
    "admin": ("QUANTUM_ADMIN", False),
    "tls": ("QUANTUM_TLS", False),
    "ca": ("QUANTUM_CA", True),
    "cert": ("QUANTUM_CERT", True),
    "key": ("QUANTUM_KEY", True),
    "token_file": ("QUANTUM_TOKEN_FILE", True),
    "max_backoff": ("QUANTUM_MAX_BACKOFF", False),
}


def config_path(environ: Mapping[str, str]) -> Path:
    """Where the configuration file is: ``$XDG_CONFIG_HOME/quantum/config.toml``."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "quantum" / "config.toml"


def _value(key: str, raw: Any, folder: Path, where: str) -> str:
    _, is_path = KEYS[key]
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if not isinstance(raw, str | int | float):
        raise SettingsError(f"{where}: {key} must be a string, not {type(raw).__name__}")
    if is_path:
        return str(folder / Path(str(raw)).expanduser())
    return str(raw)


def environment(name: str | None, environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` over the values of profile ``name`` (or of the file's ``default``).

    Raises:
        SettingsError: the file is not valid TOML, a profile named on purpose is missing,
            or a profile has a key it should not.
    """
    path = config_path(environ)
    chosen = name or environ.get("QUANTUM_PROFILE") or None
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        if chosen:
            raise SettingsError(f"no profile {chosen!r}: {path} does not exist") from None
        return dict(environ)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"cannot read {path}: {error}") from error
    profiles = data.get("profiles", {})
    chosen = chosen or data.get("default")
    if not chosen:
        return dict(environ)
    if chosen not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise SettingsError(f"no profile {chosen!r} in {path} (profiles: {known})")
    where = f"{path} [profiles.{chosen}]"
    merged: dict[str, str] = {}
    for key, raw in profiles[chosen].items():
        if key not in KEYS:
            raise SettingsError(f"{where}: unknown key {key!r} (known: {', '.join(KEYS)})")
        merged[KEYS[key][0]] = _value(key, raw, path.parent, where)
    merged.update({k: v for k, v in environ.items() if v != ""})
    return merged


def apply(name: str | None) -> None:
    """Put the chosen profile's values under ``os.environ`` (which keeps precedence)."""
    os.environ.update(environment(name, os.environ))
