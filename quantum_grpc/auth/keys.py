"""Key files for tokens: what ``--jwt-key`` verifies with and ``token issue`` signs with.

A key file is one of (docs/security.md, "Authentication"):

- a PEM public key, certificate or private key (its public half): RSA verifies RS256, an
  EC key ES256/ES384/ES512 by its curve, Ed25519 EdDSA;
- a JWKS (``{"keys": [...]}``) or a single JWK, in JSON: each key with its ``alg`` (or the
  one its type implies) and ``kid``;
- anything else: an HS256 shared secret, the file's bytes without surrounding whitespace,
  at least 32 bytes (RFC 7518: a key as long as the hash).

Each key verifies exactly one algorithm, fixed by the key, never by the token: a token
signed with HS256 is not checked against an RSA key's bytes (algorithm confusion), and
``alg: none`` has no key at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

MIN_SECRET_BYTES = 32
_CURVE_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


class KeyFileError(ValueError):
    """A key file that cannot be used; the message names the file and why."""


@dataclass(frozen=True)
class Key:
    """One key and the one algorithm it signs or verifies.

    Attributes:
        material: what PyJWT takes: the secret's bytes or a ``cryptography`` key.
        algorithm: the JWS ``alg`` (HS256, RS256, ES256, ...).
        kid: the JWKS key id, if any; a token naming a ``kid`` is checked with that key.
        source: the file it came from, for messages.
    """

    material: Any
    algorithm: str
    kid: str | None = None
    source: str = ""


def _algorithm_of(key: Any, path: Path) -> str:
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        algorithm = _CURVE_ALGORITHMS.get(key.curve.name)
        if algorithm is None:
            raise KeyFileError(f"{path}: EC curve {key.curve.name} has no JWS algorithm")
        return algorithm
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise KeyFileError(f"{path}: {type(key).__name__} keys are not supported")


def _public_pem(data: bytes, path: Path) -> Any:
    try:
        if b"CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificate(data).public_key()
        if b"PRIVATE KEY-----" in data:
            return serialization.load_pem_private_key(data, password=None).public_key()
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:  # encrypted, damaged, or of an unknown kind
        raise KeyFileError(f"{path}: not a usable PEM key ({exc})") from None


def _jwks(data: bytes, path: Path) -> list[Key]:
    try:
        document = json.loads(data)
        entries = document.get("keys", [document])
        keys = [jwt.PyJWK(entry) for entry in entries]
    except (ValueError, KeyError, TypeError, AttributeError, jwt.PyJWKError) as exc:
        raise KeyFileError(f"{path}: not a usable JWKS or JWK ({exc})") from None
    if not keys:
        raise KeyFileError(f"{path}: the JWKS has no keys")
    return [Key(k.key, k.algorithm_name, k.key_id, str(path)) for k in keys]


def _secret(data: bytes, path: Path) -> Key:
    secret = data.strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise KeyFileError(
            f"{path}: an HS256 secret must be at least {MIN_SECRET_BYTES} bytes "
            f"(it has {len(secret)}); e.g. `openssl rand -hex 32 > {path.name}`"
        )
    return Key(secret, "HS256", None, str(path))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None


def verifying_keys(path: Path) -> list[Key]:
    """The keys a ``--jwt-key`` file holds (a JWKS may hold several)."""
    data = _read(path)
    if data.lstrip().startswith(b"-----BEGIN"):
        public = _public_pem(data, path)
        return [Key(public, _algorithm_of(public, path), None, str(path))]
    if data.lstrip().startswith(b"{"):
        return _jwks(data, path)
    return [_secret(data, path)]


def signing_key(path: Path) -> Key:
    """The key ``token issue --key`` signs with: a PEM private key or an HS256 secret."""
    data = _read(path)
    if not data.lstrip().startswith(b"-----BEGIN"):
        if data.lstrip().startswith(b"{"):
            raise KeyFileError(f"{path}: sign with a PEM private key or a secret, not a JWKS")
        return _secret(data, path)
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    return Key(private, _algorithm_of(private, path), None, str(path))
