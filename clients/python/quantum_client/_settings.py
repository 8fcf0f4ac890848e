"""Connection and retry settings, from arguments or the environment.

The URL, TLS and token conventions are in the README's "Clients" section.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from quantum_api.errors import TenantRequired
from quantum_client._tokens import (
    FileToken,
    SettingsError,
    StaticToken,
    TokenLike,
    TokenSource,
    TokenUnavailable,
    bearer,
    token_source,
)

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
_TLS_SCHEMES = ("grpcs://", "https://")
_PLAIN_SCHEMES = ("grpc://", "http://")


def _split_url(url: str) -> tuple[str, bool | None]:
    """``(host:port, tls)`` of a URL: ``grpcs://``/``https://`` are TLS, ``grpc://``/``http://``
    plaintext, and a bare ``host:port`` says neither (None)."""
    for schemes, tls in ((_TLS_SCHEMES, True), (_PLAIN_SCHEMES, False)):
        for scheme in schemes:
            if url.startswith(scheme):
                return url.removeprefix(scheme).rstrip("/"), tls
    return url, None


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise SettingsError(f"cannot read the {what} {path}: {error.strerror or error}") from error


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


@dataclass(frozen=True)
class Settings:
    """Where the server is, how to reach it, and who is calling.

    Attributes:
        url: The server's address: ``grpcs://host:port`` (TLS), ``grpc://host:port`` or a
            bare ``host:port`` (plaintext unless ``tls``).
        tenant: The caller's tenant, sent as ``x-tenant-id`` metadata on every call
            (with a token, the token's tenant is the one the server uses).
        admin: Whether to send ``x-quantum-admin: true`` (act for every tenant; only
            honoured by a server without ``--auth``).
        tls: Whether the channel uses TLS.
        ca: A PEM file of the CAs the server's certificate must chain to; None trusts the
            system's roots.
        cert: A PEM client certificate (chain), for a server that requires one.
        key: The client certificate's private key (PEM).
        token: Where the bearer token comes from; None sends no ``authorization``.
    """

    url: str = DEFAULT_URL
    tenant: str = ""
    admin: bool = False
    tls: bool = False
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    token: TokenSource | None = None

    @classmethod
    def resolve(
        cls,
        url: str | None = None,
        tenant: str | None = None,
        admin: bool | None = None,
        env: Mapping[str, str] | None = None,
        *,
        tls: bool | None = None,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        token: TokenLike | TokenSource | None = None,
        token_file: str | os.PathLike[str] | None = None,
    ) -> Settings:
        """Arguments first, then ``QUANTUM_URL``, ``QUANTUM_TENANT``, ``QUANTUM_ADMIN``,
        ``QUANTUM_TLS``, ``QUANTUM_CA``, ``QUANTUM_CERT``, ``QUANTUM_KEY``, ``QUANTUM_TOKEN``
        and ``QUANTUM_TOKEN_FILE``.

        TLS is on for a ``grpcs://`` (or ``https://``) URL, and for a bare ``host:port``
        when ``tls`` is set or a CA or client certificate is given; a ``grpc://`` URL is
        plaintext whatever else is set, except an explicit ``tls=True``, which is a conflict.

        Raises:
            TenantRequired: when neither a tenant nor a token is given either way.
            SettingsError: a client certificate without its key (or the reverse), a token
                and a token file at once, ``tls=True`` with a ``grpc://`` URL.
        """
        environ = os.environ if env is None else env
        resolved_url = url or environ.get("QUANTUM_URL") or DEFAULT_URL
        source = _token_of(token, token_file, environ)
        resolved_tenant = tenant or environ.get("QUANTUM_TENANT", "")
        if not resolved_tenant and source is None:
            raise TenantRequired(
                "no tenant: pass tenant=... (--tenant) or set QUANTUM_TENANT, "
                "or give a token (QUANTUM_TOKEN, QUANTUM_TOKEN_FILE)"
            )
        if admin is None:
            admin = _flag(environ.get("QUANTUM_ADMIN"))
        ca = ca or environ.get("QUANTUM_CA") or None
        cert = cert or environ.get("QUANTUM_CERT") or None
        key = key or environ.get("QUANTUM_KEY") or None
        if (cert is None) != (key is None):
            raise SettingsError("a client certificate needs both --cert and --key")
        _, scheme_tls = _split_url(resolved_url)
        if scheme_tls is False and tls:
            raise SettingsError(f"{resolved_url} is a plaintext URL; use grpcs:// for TLS")
        if tls is None:
            tls = _flag(environ.get("QUANTUM_TLS")) or None
        if scheme_tls is not None:
            tls = scheme_tls
        elif tls is None:
            tls = ca is not None or cert is not None
        return cls(resolved_url, resolved_tenant, admin, tls, ca, cert, key, source)

    @property
    def target(self) -> str:
        """The address handed to gRPC."""
        return _split_url(self.url)[0]

    def current_token(self) -> str | None:
        """The token to send now (asked of the source every time), or None.

        Raises:
            TokenUnavailable: the token source has none to give.
        """
        return None if self.token is None else self.token.current()

    def token_renewed(self, used: str | None) -> bool:
        """Whether the token source now gives another token than ``used``."""
        if self.token is None or not self.token.renewable:
            return False
        try:
            return self.token.current() != used
        except TokenUnavailable:
            return False

    def metadata_with(self, token: str | None) -> tuple[tuple[str, str], ...]:
        """The call metadata naming the caller, carrying ``token``."""
        pairs = [(TENANT_HEADER, self.tenant)] if self.tenant else []
        if self.admin:
            pairs.append((ADMIN_HEADER, "true"))
        if token is not None:
            pairs.append(bearer(token))
        return tuple(pairs)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The call metadata naming the caller, with the current token."""
        return self.metadata_with(self.current_token())

    def credentials(self) -> grpc.ChannelCredentials | None:
        """The TLS credentials of the channel; None for plaintext.

        Raises:
            SettingsError: a CA, certificate or key file cannot be read.
        """
        if not self.tls:
            return None
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca, "CA file") if self.ca else None,
            private_key=_read(self.key, "client key") if self.key else None,
            certificate_chain=_read(self.cert, "client certificate") if self.cert else None,
        )


def _token_of(
    token: TokenLike | TokenSource | None,
    token_file: str | os.PathLike[str] | None,
    environ: Mapping[str, str],
) -> TokenSource | None:
    if token is not None and token_file is not None:
        raise SettingsError("give a token or a token file, not both")
    if token is not None:
        return token_source(token)
    if token_file is not None:
        return FileToken(token_file)
    if environ.get("QUANTUM_TOKEN"):
        return StaticToken(environ["QUANTUM_TOKEN"])
    if environ.get("QUANTUM_TOKEN_FILE"):
        return FileToken(environ["QUANTUM_TOKEN_FILE"])
    return None


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
