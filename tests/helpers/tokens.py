"""Real keys for bearer-token tests, written as the files `serve --jwt-key` reads."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from quantum_grpc.auth.keys import Key, signing_key


@dataclass(frozen=True)
class KeyPair:
    """A private key file (what ``token issue --key`` signs with) and its public PEM file
    (what ``--jwt-key`` verifies with)."""

    private: Path
    public: Path
    key: Any  # the cryptography private key

    @property
    def signer(self) -> Key:
        return signing_key(self.private)

    def jwk(self, kid: str) -> dict[str, Any]:
        """The public key as a JWK with ``kid`` and its ``alg``."""
        if isinstance(self.key, rsa.RSAPrivateKey):
            entry = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        else:
            entry = jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {**entry, "kid": kid, "alg": self.signer.algorithm, "use": "sig"}


def _write_pair(folder: Path, name: str, key: Any) -> KeyPair:
    private = folder / f"{name}.key"
    public = folder / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return KeyPair(private, public, key)


def rsa_pair(folder: Path, name: str = "rsa") -> KeyPair:
    """A fresh RSA-2048 key pair (RS256)."""
    return _write_pair(folder, name, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_pair(folder: Path, name: str = "ec") -> KeyPair:
    """A fresh P-256 key pair (ES256)."""
    return _write_pair(folder, name, ec.generate_private_key(ec.SECP256R1()))


def secret_file(folder: Path, name: str = "secret") -> Path:
    """A fresh HS256 secret (64 hex characters), as `openssl rand -hex 32` writes it."""
    path = folder / name
    path.write_text(secrets.token_hex(32) + "\n")
    return path


def jwks_file(folder: Path, entries: dict[str, KeyPair], name: str = "jwks.json") -> Path:
    """A JWKS of the public halves of ``entries`` (kid -> pair)."""
    path = folder / name
    path.write_text(json.dumps({"keys": [pair.jwk(kid) for kid, pair in entries.items()]}))
    return path
