"""Received errors, decoded, with a hint when a TLS set-up is what failed.

gRPC reports a failed TLS handshake as a bare UNAVAILABLE whose text buries the cause
(``CERTIFICATE_VERIFY_FAILED``, or just ``Socket closed`` when the server refused the
client's certificate); the hint says which setting to change.
"""

from __future__ import annotations

import grpc

from quantum_api.errors import QuantumError, error_from_rpc
from quantum_client._settings import Settings

TOKEN_EXPIRED = "TOKEN_EXPIRED"
_CONNECT_FAILED = "failed to connect to all addresses"


def _tls_hint(message: str, settings: Settings) -> str:
    if "CERTIFICATE_VERIFY_FAILED" in message:
        return (
            "the server's certificate is not trusted: give the CA that signed it "
            "(ca=..., --ca, QUANTUM_CA)"
        )
    if "WRONG_VERSION_NUMBER" in message:
        return "the server does not speak TLS here: use grpc://host:port (plaintext)"
    if "Socket closed" not in message:
        return ""
    if not settings.tls:
        return "if the server uses TLS, use grpcs://host:port (or --tls) and its CA"
    if settings.cert is None:
        return (
            "the server closed the connection during TLS set-up: it may require a client "
            "certificate (cert=/key=, --cert/--key, QUANTUM_CERT/QUANTUM_KEY)"
        )
    return (
        "the server closed the connection during TLS set-up: it may not trust the client "
        f"certificate {settings.cert}"
    )


def call_error(exc: grpc.RpcError, settings: Settings) -> QuantumError:
    """The catalogue's error for a failed call, its message completed with a TLS hint."""
    error = error_from_rpc(exc)
    if error.code == grpc.StatusCode.UNAVAILABLE and _CONNECT_FAILED in error.message:
        hint = _tls_hint(error.message, settings)
        if hint:
            error.message = f"{error.message} ({hint})"
    return error


def token_expired(error: QuantumError | None) -> bool:
    """Whether ``error`` says the caller's token expired (UNAUTHENTICATED, TOKEN_EXPIRED)."""
    return (
        error is not None
        and error.code == grpc.StatusCode.UNAUTHENTICATED
        and error.reason == TOKEN_EXPIRED
    )
