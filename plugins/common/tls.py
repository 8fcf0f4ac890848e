"""mTLS for back-ends and agents: the ``--tls-*`` flags, credentials, and who the peer is.

A back-end serves ``BackendService`` with its certificate and requires a client certificate
signed by ``--tls-ca`` (the core's, or an agent's); it dials the core's internal listener
with the same certificate, trusting the same CA. An agent dials its back-end likewise.
Identities are the certificate's SANs (docs/security.md, "Agents").
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

__all__ = [
    "PeerNames",
    "TlsFiles",
    "add_tls_options",
    "bind",
    "peer_names",
    "tls_from_args",
]


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: this process's certificate and key, and the CA that signs its peers."""

    cert: Path
    key: Path
    ca: Path

    def server_credentials(self) -> grpc.ServerCredentials:
        """Serve with ``cert``; require and verify a client certificate signed by ``ca``."""
        return grpc.ssl_server_credentials(
            [(self.key.read_bytes(), self.cert.read_bytes())],
            root_certificates=self.ca.read_bytes(),
            require_client_auth=True,
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Dial trusting ``ca`` only, presenting ``cert`` as the client certificate."""
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca.read_bytes(),
            private_key=self.key.read_bytes(),
            certificate_chain=self.cert.read_bytes(),
        )


def add_tls_options(parser: argparse.ArgumentParser, *, role: str) -> None:
    """``--tls-cert``, ``--tls-key`` and ``--tls-ca`` (all three or none); ``role`` says
    what the certificate is used for, in the help."""
    parser.add_argument(
        "--tls-cert", type=Path, default=None, help=f"PEM certificate {role} (enables mTLS)"
    )
    parser.add_argument("--tls-key", type=Path, default=None, help="PEM private key of --tls-cert")
    parser.add_argument(
        "--tls-ca",
        type=Path,
        default=None,
        help="PEM CA certificate(s) that sign the peers' certificates",
    )


def tls_from_args(args: argparse.Namespace) -> TlsFiles | None:
    """The TLS files given on the command line, None without TLS.

    Raises ValueError when only some of the three flags are given or a file is unreadable:
    starting in plain text when the operator asked for mTLS would be a silent downgrade.
    """
    given = {
        flag: getattr(args, flag.replace("-", "_")) for flag in ("tls-cert", "tls-key", "tls-ca")
    }
    if not any(given.values()):
        return None
    missing = [f"--{flag}" for flag, value in given.items() if value is None]
    if missing:
        raise ValueError(
            f"mTLS needs --tls-cert, --tls-key and --tls-ca; missing {', '.join(missing)}"
        )
    for flag, value in given.items():
        if not Path(value).is_file():
            raise ValueError(f"--{flag} {value}: no such file")
    return TlsFiles(cert=given["tls-cert"], key=given["tls-key"], ca=given["tls-ca"])


def bind(server: Any, listen: str, credentials: grpc.ServerCredentials | None) -> int:
    """Add ``listen`` to ``server``, over TLS when ``credentials`` are given; the bound port."""
    if credentials is None:
        port: int = server.add_insecure_port(listen)
    else:
        port = server.add_secure_port(listen, credentials)
    return port


@dataclass(frozen=True)
class PeerNames:
    """The SANs of a caller's verified client certificate."""

    uris: tuple[str, ...]
    dns: tuple[str, ...]


def peer_names(context: Any) -> PeerNames | None:
    """The caller's certificate names, or None on a plain-text connection.

    gRPC puts a verified peer certificate's URI and DNS SANs in the auth context as
    ``peer_uri`` and ``peer_dns``; without TLS there is no ``x509_pem_cert`` at all.
    """
    auth = context.auth_context()
    if not auth.get("x509_pem_cert"):
        return None
    return PeerNames(
        uris=tuple(v.decode() for v in auth.get("peer_uri", [])),
        dns=tuple(v.decode() for v in auth.get("peer_dns", [])),
    )
