"""Connection and retry settings, from arguments or the environment."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass

from quantum_api.errors import TenantRequired

DEFAULT_URL = "127.0.0.1:9696"
TENANT_HEADER = "x-tenant-id"
ADMIN_HEADER = "x-quantum-admin"

#: gRPC's reconnect backoff grows to 120 s by default, and while a channel is in
#: TRANSIENT_FAILURE every call fails at once: without these options a client would keep
#: failing long after a restarted server came back. Keep it in step with our own backoff.
CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
]

_TRUE = {"1", "true", "yes", "on"}


def _target(url: str) -> str:
    """The gRPC target of a URL; ``grpc://host:port`` and ``host:port`` are the same."""
    for scheme in ("grpc://", "http://"):
        if url.startswith(scheme):
            return url.removeprefix(scheme).rstrip("/")
    return url


@dataclass(frozen=True)
class Settings:
    """Where the server is and who is calling.

    Attributes:
        url: The server's address, ``host:port`` (a ``grpc://`` prefix is accepted).
        tenant: The caller's tenant, sent as ``x-tenant-id`` metadata on every call.
        admin: Whether to send ``x-quantum-admin: true`` (act for every tenant).
    """

    url: str = DEFAULT_URL
    tenant: str = ""
    admin: bool = False

    @classmethod
    def resolve(
        cls,
        url: str | None = None,
        tenant: str | None = None,
        admin: bool | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        """Arguments first, then ``QUANTUM_URL``, ``QUANTUM_TENANT``, ``QUANTUM_ADMIN``.

        Raises:
            TenantRequired: when no tenant is given either way.
        """
        environ = os.environ if env is None else env
        resolved_url = url or environ.get("QUANTUM_URL") or DEFAULT_URL
        resolved_tenant = tenant or environ.get("QUANTUM_TENANT", "")
        if not resolved_tenant:
            raise TenantRequired("no tenant: pass tenant=... (--tenant) or set QUANTUM_TENANT")
        if admin is None:
            admin = environ.get("QUANTUM_ADMIN", "").strip().lower() in _TRUE
        return cls(url=resolved_url, tenant=resolved_tenant, admin=admin)

    @property
    def target(self) -> str:
        """The address handed to gRPC."""
        return _target(self.url)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The call metadata naming the caller."""
        pairs = [(TENANT_HEADER, self.tenant)]
        if self.admin:
            pairs.append((ADMIN_HEADER, "true"))
        return tuple(pairs)


@dataclass(frozen=True)
class RetryPolicy:
    """How UNAVAILABLE is retried: exponential backoff with jitter, bounded attempts.

    Attributes:
        max_attempts: Tries of one idempotent unary call, the first included.
        initial_backoff: Seconds before the first retry.
        max_backoff: Upper bound of one pause.
        multiplier: Growth of the pause per consecutive failure.
        watch_resumes: Consecutive failed resumes a ``watch`` tolerates before it raises
            the last error; any event received (markers too) resets the count. None (the
            default) resumes for ever, like the Node client. ``wait_for`` is bounded by its
            timeout.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    multiplier: float = 2.0
    watch_resumes: int | None = None

    def backoff(self, failures: int) -> float:
        """The pause after ``failures`` consecutive failures (1 for the first)."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (failures - 1))
        # Jitter keeps a crowd of clients from reconnecting to a restarted server in step.
        return ceiling * random.uniform(0.5, 1.0)


NO_RETRY = RetryPolicy(max_attempts=1, watch_resumes=0)
"""A policy that never retries nor resumes."""
