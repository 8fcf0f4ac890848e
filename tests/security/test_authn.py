"""Authentication on the client API: `serve --auth jwt`, identity headers, safe defaults.

docs/security.md, "Authentication" and "Safe defaults". Real keys (cryptography), real
tokens (PyJWT and `quantum-grpc token issue`), a real core on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest

from quantum_api.errors import error_from_rpc
from quantum_api.v1 import (
    network_service_pb2 as net_pb,
    network_service_pb2_grpc as net_grpc,
    watch_service_pb2 as watch_pb,
    watch_service_pb2_grpc as watch_grpc,
)
from quantum_grpc.auth.setup import is_loopback
from quantum_grpc.config import AuthMode
from quantum_grpc.startup import StartupError
from tests.conftest import CoreFactory, SimFactory
from tests.helpers.serve import Cores, cores, run_serve
from tests.helpers.tokens import KeyPair, ec_pair, jwks_file, rsa_pair, secret_file

__all__ = ["cores"]  # the fixture

ISSUER = "https://issuer.test"
AUDIENCE = "quantum"
TENANT = "t-a"
Metadata = Sequence[tuple[str, str]]
ChannelFactory = Callable[[str], grpc.aio.Channel]


def _claims(**changes: Any) -> dict[str, Any]:
    """A valid token's claims, with ``changes`` (None removes a claim)."""
    now = int(time.time())
    claims = {
        "sub": "alice",
        "tenant_id": TENANT,
        "roles": ["member"],
        "iat": now,
        "exp": now + 600,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _signed(pair: KeyPair, claims: dict[str, Any], kid: str | None = None) -> str:
    signer = pair.signer
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, signer.material, algorithm=signer.algorithm, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_by_hand(claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 token with ``secret`` as the HMAC key (PyJWT refuses PEM keys as secrets:
    the attacker's algorithm-confusion token is made by hand)."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _tampered(token: str) -> str:
    """``token`` with its tenant changed and its signature kept."""
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["tenant_id"] = "t-b"
    return f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"


def _bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


async def _outcome(channel: grpc.aio.Channel, metadata: Metadata) -> str:
    """ "OK", or the code and reason a ListNetworks with ``metadata`` failed with."""
    try:
        await net_grpc.NetworkServiceStub(channel).ListNetworks(
            net_pb.ListNetworksRequest(), metadata=metadata, timeout=10
        )
    except grpc.aio.AioRpcError as exc:
        # Never a hint about other tenants: a refusal names no tenant.
        assert TENANT not in (exc.details() or ""), exc.details()
        return f"{exc.code().name} {error_from_rpc(exc).reason}"
    return "OK"


@dataclass(frozen=True)
class Keys:
    """The server's RSA pair and keys it does not know."""

    server: KeyPair
    stranger: KeyPair


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(rsa_pair(tmp_path, "server"), rsa_pair(tmp_path, "stranger"))


def _identity_cases(keys: Keys) -> list[tuple[str, Metadata, str]]:
    """(case, metadata, expected outcome) against a core verifying with keys.server."""
    now = int(time.time())
    valid = _signed(keys.server, _claims())
    public_pem = keys.server.public.read_bytes()
    unauthenticated = "UNAUTHENTICATED TOKEN_"
    return [
        ("valid token", _bearer(valid), "OK"),
        ("expired within the leeway", _bearer(_signed(keys.server, _claims(exp=now - 10))), "OK"),
        ("no token", (), f"{unauthenticated}MISSING"),
        ("headers only", (("x-tenant-id", TENANT),), f"{unauthenticated}MISSING"),
        ("not a bearer", (("authorization", "Basic YWxpY2U6cHc="),), f"{unauthenticated}MALFORMED"),
        ("malformed", _bearer("not-a-jwt"), f"{unauthenticated}MALFORMED"),
        (
            "expired",
            _bearer(_signed(keys.server, _claims(exp=now - 120))),
            f"{unauthenticated}EXPIRED",
        ),
        (
            "not yet valid",
            _bearer(_signed(keys.server, _claims(nbf=now + 120))),
            f"{unauthenticated}NOT_YET_VALID",
        ),
        ("wrong key", _bearer(_signed(keys.stranger, _claims())), f"{unauthenticated}INVALID"),
        ("tampered tenant", _bearer(_tampered(valid)), f"{unauthenticated}INVALID"),
        (
            "wrong audience",
            _bearer(_signed(keys.server, _claims(aud="other"))),
            f"{unauthenticated}AUDIENCE_MISMATCH",
        ),
        (
            "no audience",
            _bearer(_signed(keys.server, _claims(aud=None))),
            f"{unauthenticated}AUDIENCE_MISMATCH",
        ),
        (
            "wrong issuer",
            _bearer(_signed(keys.server, _claims(iss="https://evil.test"))),
            f"{unauthenticated}ISSUER_MISMATCH",
        ),
        (
            "alg none",
            _bearer(jwt.encode(_claims(), "", algorithm="none")),
            f"{unauthenticated}INVALID",
        ),
        (
            "HS256 keyed with the RS256 public key",
            _bearer(_hs256_by_hand(_claims(), public_pem)),
            f"{unauthenticated}INVALID",
        ),
        ("no exp", _bearer(_signed(keys.server, _claims(exp=None))), f"{unauthenticated}MALFORMED"),
        (
            "no tenant",
            _bearer(_signed(keys.server, _claims(tenant_id=None))),
            f"{unauthenticated}MALFORMED",
        ),
        (
            "roles not a list",
            _bearer(_signed(keys.server, _claims(roles="admin"))),
            f"{unauthenticated}MALFORMED",
        ),
        (
            "authorization twice",
            (*_bearer(valid), *_bearer(_signed(keys.server, _claims(tenant_id="t-b")))),
            "INVALID_ARGUMENT DUPLICATE_METADATA",
        ),
    ]


def _jwt_core(*key_files: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "auth": AuthMode.JWT,
        "jwt_keys": key_files,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        **overrides,
    }


async def test_identity_cases(
    core_factory: CoreFactory, channel_factory: ChannelFactory, keys: Keys
) -> None:
    app = await core_factory(**_jwt_core(keys.server.public))
    channel = channel_factory(app.address)
    cases = _identity_cases(keys)
    outcomes = {name: await _outcome(channel, metadata) for name, metadata, _ in cases}
    assert outcomes == {name: expected for name, _, expected in cases}


async def test_a_watch_is_authenticated_too(
    core_factory: CoreFactory, channel_factory: ChannelFactory, keys: Keys
) -> None:
    app = await core_factory(**_jwt_core(keys.server.public))
    stream = watch_grpc.WatchServiceStub(channel_factory(app.address)).WatchStatus(
        watch_pb.WatchStatusRequest(), metadata=(("x-tenant-id", TENANT),), timeout=10
    )
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stream.read()
    assert error_from_rpc(refused.value).reason == "TOKEN_MISSING"


async def test_under_jwt_the_identity_headers_are_ignored(
    sim_factory: SimFactory, core_factory: CoreFactory, channel_factory: ChannelFactory, keys: Keys
) -> None:
    sim = await sim_factory()
    app = await core_factory(sim.target, **_jwt_core(keys.server.public))
    channel = channel_factory(app.address)
    metadata = (
        *_bearer(_signed(keys.server, _claims())),
        ("x-tenant-id", "t-b"),
        ("x-quantum-admin", "true"),
    )
    networks = net_grpc.NetworkServiceStub(channel)
    created = await networks.CreateNetwork(
        net_pb.CreateNetworkRequest(name="n"), metadata=metadata, timeout=10
    )
    assert created.network.tenant_id == TENANT  # the token's tenant, not the header's
    with pytest.raises(grpc.aio.AioRpcError) as refused:  # and no admin powers
        await networks.ListNetworks(
            net_pb.ListNetworksRequest(tenant_id="t-b"), metadata=metadata, timeout=10
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_keys_in_rotation_are_all_accepted(
    core_factory: CoreFactory, channel_factory: ChannelFactory, keys: Keys, tmp_path: Path
) -> None:
    new = ec_pair(tmp_path, "new")
    secret = secret_file(tmp_path)
    app = await core_factory(**_jwt_core(keys.server.public, new.public, secret))
    channel = channel_factory(app.address)
    shared = jwt.encode(_claims(), secret.read_text().strip(), algorithm="HS256")
    assert await _outcome(channel, _bearer(_signed(keys.server, _claims()))) == "OK"
    assert await _outcome(channel, _bearer(_signed(new, _claims()))) == "OK"
    assert await _outcome(channel, _bearer(shared)) == "OK"
    stranger = _bearer(_signed(keys.stranger, _claims()))
    assert await _outcome(channel, stranger) == "UNAUTHENTICATED TOKEN_INVALID"


async def test_a_jwks_file_verifies_by_kid(
    core_factory: CoreFactory, channel_factory: ChannelFactory, keys: Keys, tmp_path: Path
) -> None:
    ec = ec_pair(tmp_path, "ec")
    forger = ec_pair(tmp_path, "forger")
    jwks = jwks_file(tmp_path, {"rsa-1": keys.server, "ec-1": ec})
    app = await core_factory(**_jwt_core(jwks))
    channel = channel_factory(app.address)
    assert await _outcome(channel, _bearer(_signed(keys.server, _claims(), "rsa-1"))) == "OK"
    assert await _outcome(channel, _bearer(_signed(ec, _claims(), "ec-1"))) == "OK"
    forged = _bearer(_signed(forger, _claims(), "ec-1"))
    assert await _outcome(channel, forged) == "UNAUTHENTICATED TOKEN_INVALID"


async def test_under_auth_none_an_identity_header_sent_twice_is_refused(
    core_factory: CoreFactory, channel_factory: ChannelFactory
) -> None:
    app = await core_factory()
    channel = channel_factory(app.address)
    tenant, admin = ("x-tenant-id", TENANT), ("x-quantum-admin", "true")
    assert await _outcome(channel, (tenant, admin)) == "OK"
    refused = "INVALID_ARGUMENT DUPLICATE_METADATA"
    assert await _outcome(channel, (tenant, ("x-tenant-id", "t-b"))) == refused
    assert await _outcome(channel, (tenant, admin, ("x-quantum-admin", "false"))) == refused
    assert await _outcome(channel, (tenant, *_bearer("a"), *_bearer("b"))) == refused


def _token_issue(*flags: str) -> str:
    """What `quantum-grpc token issue FLAGS` prints."""
    printed = subprocess.run(
        [sys.executable, "-m", "quantum_grpc", "token", "issue", *flags],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return printed.stdout.strip()


@pytest.mark.parametrize("kind", ["secret", "rsa", "ec"])
async def test_token_issue_mints_what_the_server_accepts(
    core_factory: CoreFactory, channel_factory: ChannelFactory, tmp_path: Path, kind: str
) -> None:
    if kind == "secret":
        sign_with = verify_with = secret_file(tmp_path)
    else:
        pair = rsa_pair(tmp_path) if kind == "rsa" else ec_pair(tmp_path)
        sign_with, verify_with = pair.private, pair.public
    token = await asyncio.to_thread(
        _token_issue, "--key", str(sign_with), "--tenant", TENANT, "--role", "reader",
        "--role", "member", "--ttl", "1h", "--subject", "alice", "--issuer", ISSUER,
        "--audience", AUDIENCE,
    )  # fmt: skip
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (
        jwt.get_unverified_header(token)["alg"]
        == {"secret": "HS256", "rsa": "RS256", "ec": "ES256"}[kind]
    )
    assert (claims["sub"], claims["tenant_id"], claims["roles"]) == (
        "alice",
        TENANT,
        ["reader", "member"],
    )
    assert claims["exp"] - claims["iat"] == 3600
    app = await core_factory(**_jwt_core(verify_with))
    assert await _outcome(channel_factory(app.address), _bearer(token)) == "OK"


async def test_an_unusable_key_file_stops_start_up(
    core_factory: CoreFactory, tmp_path: Path
) -> None:
    short = tmp_path / "short"
    short.write_text("tooshort")
    with pytest.raises(StartupError, match="at least 32 bytes"):
        await core_factory(**_jwt_core(short))


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1:1", True), ("[::1]:1", True), ("localhost:1", True), ("0.0.0.0:1", False),
     ("[::]:1", False), (":1", False)],
)  # fmt: skip
def test_which_listeners_are_loopback(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


async def test_auth_none_refuses_a_listener_beyond_loopback(
    core_factory: CoreFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(StartupError, match=r"--auth jwt .*--insecure"):
        await core_factory(internal_listen="0.0.0.0:0")
    with caplog.at_level(logging.WARNING, logger="quantum_grpc.auth.setup"):
        await core_factory(internal_listen="0.0.0.0:0", insecure=True)
    assert any("--insecure" in record.message for record in caplog.records)


async def test_auth_jwt_may_listen_beyond_loopback(core_factory: CoreFactory, keys: Keys) -> None:
    app = await core_factory(internal_listen="0.0.0.0:0", **_jwt_core(keys.server.public))
    assert app.internal_port > 0


def test_serve_on_a_wildcard_without_auth_refuses_to_start(tmp_path: Path) -> None:
    result = run_serve("serve", "--listen", "0.0.0.0:0", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "quantum-grpc: error: refusing to listen on 0.0.0.0:0 with --auth none (anyone "
        "reaching it could act as any tenant): pass --auth jwt --jwt-key FILE, listen on "
        "127.0.0.1, or pass --insecure to accept the risk"
    ]


async def test_serve_with_insecure_starts_and_warns(cores: Cores) -> None:
    served = await cores.start("--internal-listen", "0.0.0.0:0", "--insecure")
    assert "--insecure: listening on 0.0.0.0:0 with --auth none" in served.output()
