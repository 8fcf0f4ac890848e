"""Minting tokens: ``quantum-grpc token issue`` and the tests (docs/security.md)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any

import jwt

from quantum_grpc.auth.keys import Key

TENANT_CLAIM = "tenant_id"
ROLES_CLAIM = "roles"
DEFAULT_SUBJECT = "operator"
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``15m``, ``1h`` or ``2d``; ValueError otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"expected a duration such as 90s, 15m, 1h or 2d, got {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def issue(
    key: Key,
    *,
    tenant: str,
    roles: Iterable[str] = ("member",),
    ttl: float = 3600.0,
    subject: str = DEFAULT_SUBJECT,
    issuer: str = "",
    audience: str = "",
    now: float | None = None,
    not_before: float | None = None,
) -> str:
    """A signed JWT for ``tenant`` with ``roles``, valid ``ttl`` seconds from ``now``."""
    issued = time.time() if now is None else now
    claims: dict[str, Any] = {
        "sub": subject,
        TENANT_CLAIM: tenant,
        ROLES_CLAIM: list(roles),
        "iat": int(issued),
        "exp": int(issued + ttl),
    }
    if not_before is not None:
        claims["nbf"] = int(not_before)
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    headers = {"kid": key.kid} if key.kid else None
    return jwt.encode(claims, key.material, algorithm=key.algorithm, headers=headers)
