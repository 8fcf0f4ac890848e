"""The authenticator `serve` uses, and the safe default it starts with.

docs/security.md, "Safe defaults": ``--auth none`` lets anyone who reaches a listener act
as any tenant, so it is allowed only while every listener is loopback, unless
``--insecure`` says the operator knows.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable

from quantum_grpc.auth import Authenticator
from quantum_grpc.auth.bearer import BearerAuthenticator
from quantum_grpc.auth.headers import HeaderAuthenticator
from quantum_grpc.auth.keys import KeyFileError, verifying_keys
from quantum_grpc.config import AuthMode, Settings
from quantum_grpc.startup import StartupError, split_host_port

log = logging.getLogger(__name__)


def authenticator_for(settings: Settings) -> Authenticator:
    """The authenticator of ``settings.auth``; StartupError for unusable key files."""
    if settings.auth is AuthMode.NONE:
        return HeaderAuthenticator()
    if not settings.jwt_keys:
        raise StartupError("--auth jwt needs at least one --jwt-key FILE to verify tokens with")
    try:
        keys = [key for path in settings.jwt_keys for key in verifying_keys(path)]
    except KeyFileError as exc:
        raise StartupError(str(exc)) from None
    return BearerAuthenticator(
        keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway=settings.jwt_leeway,
    )


def is_loopback(address: str) -> bool:
    """Whether ``HOST:PORT`` listens on loopback only (a name must resolve to loopback only)."""
    host, _port = split_host_port(address)
    if not host:
        return False  # ":9696" is every interface
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        resolved = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False  # the bind will say what is wrong with it
    return bool(resolved) and all(
        ipaddress.ip_address(str(entry[4][0]).split("%")[0]).is_loopback for entry in resolved
    )


def check_exposure(
    auth: AuthMode, insecure: bool, listeners: Iterable[str], *, warn: bool = True
) -> None:
    """StartupError when ``--auth none`` would listen beyond loopback without --insecure
    (with it, a warning unless ``warn`` is False)."""
    if auth is not AuthMode.NONE:
        return
    exposed = [address for address in listeners if not is_loopback(address)]
    if not exposed:
        return
    if not insecure:
        raise StartupError(
            f"refusing to listen on {', '.join(exposed)} with --auth none (anyone reaching "
            "it could act as any tenant): pass --auth jwt --jwt-key FILE, listen on "
            "127.0.0.1, or pass --insecure to accept the risk"
        )
    if warn:
        log.warning(
            "--insecure: listening on %s with --auth none; anyone reaching it can act as any "
            'tenant (docs/security.md, "Safe defaults")',
            ", ".join(exposed),
        )
