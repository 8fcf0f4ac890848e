"""Real X.509 material for the TLS and mTLS tests, made with ``cryptography``.

``make_ca(tmp_path, "quantum")`` writes a self-signed CA; ``issue(ca, "sim", ...)`` writes a
certificate signed by it and its key. Everything is PEM on disk (the flags of ``serve`` and
of the back-ends take file paths) and also readable as bytes for ``grpc`` credentials.
Keys are EC P-256: fast to generate, accepted by gRPC's BoringSSL.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from quantum_plugins.common.tls import TlsFiles

__all__ = [
    "Ca",
    "Issued",
    "backend_uri",
    "channel_credentials",
    "issue",
    "make_ca",
    "server_credentials",
]

# Server certificates name the loopback addresses the tests dial (gRPC checks the target
# host against the SAN: 127.0.0.1:PORT needs an IP SAN, localhost:PORT a DNS SAN).
LOOPBACK_DNS = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1", "::1")
VALIDITY = datetime.timedelta(days=2)


def backend_uri(name: str) -> str:
    """The SPIFFE-style SAN URI the core maps to back-end ``name`` (docs/security.md)."""
    return f"spiffe://quantum/backend/{name}"


@dataclass(frozen=True)
class Ca:
    """A certificate authority: its PEM files and the in-memory key that signs."""

    name: str
    cert: Path
    key: Path
    directory: Path
    certificate: x509.Certificate = field(repr=False)
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.read_bytes()


@dataclass(frozen=True)
class Issued:
    """A leaf certificate: ``cert``/``key`` PEM files and ``ca``, the issuing CA's cert file."""

    common_name: str
    cert: Path
    key: Path
    ca: Path

    @property
    def cert_pem(self) -> bytes:
        return self.cert.read_bytes()

    @property
    def key_pem(self) -> bytes:
        return self.key.read_bytes()

    @property
    def ca_pem(self) -> bytes:
        return self.ca.read_bytes()


def make_ca(directory: Path, name: str) -> Ca:
    """A self-signed CA called ``name``, written as ``directory/name-ca.pem`` (+ ``-ca.key``)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    stem = directory / f"{_safe(name)}-ca"
    cert_path, key_path = _write(stem, certificate, key)
    return Ca(name, cert_path, key_path, directory, certificate, key)


def issue(
    ca: Ca,
    common_name: str,
    *,
    san_uris: Iterable[str] = (),
    san_dns: Iterable[str] = (),
    san_ips: Iterable[str] = (),
    client: bool = False,
    server: bool | None = None,
    loopback: bool = True,
    directory: Path | None = None,
) -> Issued:
    """A certificate for ``common_name`` signed by ``ca``.

    ``client=True`` makes a client certificate (extended key usage clientAuth);
    ``server`` defaults to ``not client`` (serverAuth); pass both True for a certificate
    that serves and dials (a back-end). A server certificate names localhost, 127.0.0.1
    and ::1 unless ``loopback=False``. Files: ``directory`` (default: the CA's)
    ``/<ca>-<common_name>.pem`` and ``.key``.
    """
    is_server = (not client) if server is None else server
    dns = list(san_dns)
    ips = list(san_ips)
    if is_server and loopback:
        dns += [name for name in LOOPBACK_DNS if name not in dns]
        ips += [ip for ip in LOOPBACK_IPS if ip not in ips]
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(uri) for uri in san_uris]
    names += [x509.DNSName(name) for name in dns]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if is_server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_key_usage(), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
            critical=False,
        )
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(ca.private_key, hashes.SHA256())
    stem = (directory or ca.directory) / f"{_safe(ca.name)}-{_safe(common_name)}"
    cert_path, key_path = _write(stem, certificate, key)
    return Issued(common_name, cert_path, key_path, ca.cert)


def server_credentials(
    issued: Issued, client_ca: Ca | Path | None = None
) -> grpc.ServerCredentials:
    """Server credentials for ``issued``; with ``client_ca``, client certificates signed by
    it are required and verified (mTLS)."""
    pair = [(issued.key_pem, issued.cert_pem)]
    if client_ca is None:
        return grpc.ssl_server_credentials(pair)
    roots = _pem(client_ca)
    return grpc.ssl_server_credentials(pair, root_certificates=roots, require_client_auth=True)


def channel_credentials(ca: Ca | Path, client: Issued | None = None) -> grpc.ChannelCredentials:
    """Channel credentials trusting ``ca``, presenting ``client``'s certificate if given."""
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=_pem(ca))
    return grpc.ssl_channel_credentials(
        root_certificates=_pem(ca),
        private_key=client.key_pem,
        certificate_chain=client.cert_pem,
    )


def files(issued: Issued) -> TlsFiles:
    """``issued`` as the TLS files a back-end or agent is given (quantum_plugins' TlsFiles)."""
    return TlsFiles(cert=issued.cert, key=issued.key, ca=issued.ca)


def tls_flags(issued: Issued) -> list[str]:
    """The --tls-cert/--tls-key/--tls-ca flags of a back-end or agent presenting ``issued``."""
    return [
        "--tls-cert",
        str(issued.cert),
        "--tls-key",
        str(issued.key),
        "--tls-ca",
        str(issued.ca),
    ]


def _pem(ca: Ca | Path) -> bytes:
    return ca.cert_pem if isinstance(ca, Ca) else ca.read_bytes()


def _write(
    stem: Path, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert_path = stem.with_name(stem.name + ".pem")
    key_path = stem.with_name(stem.name + ".key")
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=True,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
