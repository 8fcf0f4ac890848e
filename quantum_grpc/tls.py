"""gRPC credentials from the PEM files of `serve`'s TLS flags (docs/security.md).

The files are read once, at start-up: a missing or unreadable one is a StartupError
naming it, not a failure of the first connection.
"""

from __future__ import annotations

from pathlib import Path

import grpc

from quantum_grpc.config import TlsFiles
from quantum_grpc.startup import StartupError


def read_pem(path: Path, flag: str) -> bytes:
    """The bytes of ``path``; StartupError naming ``flag`` if unreadable or not PEM."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StartupError(f"cannot read {flag} {path}: {exc.strerror}") from None
    if b"-----BEGIN " not in data:
        raise StartupError(f"{flag} {path} is not a PEM file")
    return data


def server_credentials(files: TlsFiles, *, prefix: str, ca_flag: str) -> grpc.ServerCredentials:
    """TLS for a listener (flags ``PREFIX-cert``/``PREFIX-key``); with ``files.ca``,
    client certificates signed by it are required and verified: a connection without one
    fails its handshake and never reaches a servicer."""
    pair = [(read_pem(files.key, f"{prefix}-key"), read_pem(files.cert, f"{prefix}-cert"))]
    if files.ca is None:
        return grpc.ssl_server_credentials(pair)
    return grpc.ssl_server_credentials(
        pair, root_certificates=read_pem(files.ca, ca_flag), require_client_auth=True
    )


def channel_credentials(files: TlsFiles, *, prefix: str) -> grpc.ChannelCredentials:
    """TLS for the core's own calls: the peer's certificate must be signed by ``files.ca``
    and name the host dialled; the core presents ``files.cert``."""
    roots = read_pem(files.ca, f"{prefix}-ca") if files.ca is not None else None
    return grpc.ssl_channel_credentials(
        root_certificates=roots,
        private_key=read_pem(files.key, f"{prefix}-key"),
        certificate_chain=read_pem(files.cert, f"{prefix}-cert"),
    )
