"""The SDK and the `quantum` CLI over TLS, with client certificates and bearer tokens.

Real cores on loopback with real certificates (tests/helpers/pki.py) and real HS256 JWTs
minted by the server's own ``issue``; a token file is rotated the way a kubelet rotates a
projected token (write a new file, rename it over the old one).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from quantum_api.errors import TenantRequired, TokenExpired, TokenMissing
from quantum_client import (
    AsyncClient,
    Client,
    QuantumError,
    RetryPolicy,
    SettingsError,
    resumable,
)
from quantum_client.resources import is_marker
from quantum_client.types import PortStatus, WatchEvent
from quantum_grpc.auth.keys import signing_key
from quantum_grpc.auth.tokens import issue
from quantum_grpc.config import AuthMode, TlsFiles
from quantum_grpc.server import App
from tests.clients.test_cli import QUANTUM, assert_one_error_line
from tests.conftest import CoreFactory, SimFactory
from tests.helpers import eventually
from tests.helpers.database import log_events
from tests.helpers.pki import Ca, Issued, issue as issue_certificate, make_ca
from tests.helpers.watch import key

TENANT = "tenant-a"
OTHER = "tenant-b"
FAST = RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.2)
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE


@dataclass(frozen=True)
class Pki:
    ca: Ca
    server: Issued
    client: Issued
    rogue_client: Issued


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = make_ca(tmp_path, "quantum")
    rogue = make_ca(tmp_path, "rogue")
    return Pki(
        ca,
        issue_certificate(ca, "core"),
        issue_certificate(ca, "alice", client=True),
        issue_certificate(rogue, "mallory", client=True),
    )


@dataclass(frozen=True)
class Tokens:
    """Mints tokens the core accepts (the core verifies them with ``secret``)."""

    secret: Path

    def mint(
        self, tenant: str = TENANT, ttl: float = 3600.0, roles: tuple[str, ...] = ("member",)
    ) -> str:
        return issue(signing_key(self.secret), tenant=tenant, roles=roles, ttl=ttl)


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    secret = tmp_path / "jwt.secret"
    secret.write_text(secrets.token_hex(32))
    return Tokens(secret)


def rotate(path: Path, token: str) -> None:
    """Replace the token file at once (a new file renamed over it), as a kubelet does."""
    fresh = path.with_suffix(".new")
    fresh.write_text(token + "\n")
    os.replace(fresh, path)


StartCore = Callable[..., Awaitable[App]]


@pytest.fixture
def start_core(sim_factory: SimFactory, core_factory: CoreFactory) -> StartCore:
    """``await start_core(tls=..., auth=...)``: a sync sim and a core using it, ready."""

    async def start(**overrides: Any) -> App:
        sim = await sim_factory("sync")
        app = await core_factory(sim.target, **overrides)
        link = app.links.get(sim.target.name)
        assert link is not None
        await link.ready.wait()
        return app

    return start


def tls_core(pki: Pki, *, require_client_cert: bool = False) -> dict[str, Any]:
    ca = pki.ca.cert if require_client_cert else None
    return {"client_tls": TlsFiles(pki.server.cert, pki.server.key, ca)}


def jwt_core(tokens: Tokens) -> dict[str, Any]:
    return {"auth": AuthMode.JWT, "jwt_keys": (tokens.secret,), "jwt_leeway": 0.0}


# -- the rules, without a server -----------------------------------------------------------
def test_token_expired_resumes_only_with_a_renewed_token() -> None:
    unauthenticated = grpc.StatusCode.UNAUTHENTICATED
    assert not resumable(unauthenticated, "TOKEN_EXPIRED")
    assert resumable(unauthenticated, "TOKEN_EXPIRED", token_renewed=True)
    # Any other refusal of the token is the caller's to fix: never resumed.
    assert not resumable(unauthenticated, "TOKEN_INVALID", token_renewed=True)


@pytest.mark.parametrize(
    ("url", "options", "tls"),
    [
        ("grpcs://h:1", {}, True),
        ("https://h:1", {}, True),
        ("h:1", {}, False),
        ("grpc://h:1", {}, False),
        ("h:1", {"tls": True}, True),
        ("h:1", {"ca": "CA"}, True),  # a CA is only ever for TLS
        ("grpc://h:1", {"ca": "CA"}, False),  # an explicit plaintext URL wins
    ],
)
def test_url_scheme_and_options_choose_tls(
    url: str, options: dict[str, Any], tls: bool, pki: Pki
) -> None:
    client = Client(
        url, TENANT, **{k: str(pki.ca.cert) if v == "CA" else v for k, v in options.items()}
    )
    try:
        assert client.settings.tls is tls
        assert client.settings.target == "h:1"
    finally:
        client.close()


def test_conflicting_or_incomplete_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="grpcs://"):
        Client("grpc://h:1", TENANT, tls=True)
    with pytest.raises(SettingsError, match="--key"):
        Client("grpcs://h:1", TENANT, cert="client.pem")
    with pytest.raises(SettingsError, match="cannot read the CA file"):
        Client("grpcs://h:1", TENANT, ca="/nonexistent/ca.pem")
    for name in ("QUANTUM_TENANT", "QUANTUM_TOKEN", "QUANTUM_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(TenantRequired, match="QUANTUM_TOKEN"):
        Client("h:1")


# -- TLS -----------------------------------------------------------------------------------
async def test_sdk_over_tls_with_the_ca_works(start_core: StartCore, pki: Pki) -> None:
    app = await start_core(**tls_core(pki))
    async with AsyncClient(f"grpcs://{app.address}", TENANT, ca=str(pki.ca.cert)) as quantum:
        network = await quantum.create_network("over-tls")
        assert (await quantum.get_network(network.id)).name == "over-tls"


async def test_blocking_sdk_takes_the_ca_from_the_environment(
    start_core: StartCore, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = await start_core(**tls_core(pki))
    monkeypatch.setenv("QUANTUM_URL", f"grpcs://{app.address}")
    monkeypatch.setenv("QUANTUM_TENANT", TENANT)
    monkeypatch.setenv("QUANTUM_CA", str(pki.ca.cert))

    def create() -> str:
        with Client() as quantum:
            return quantum.create_network("from-env").name

    assert await asyncio.to_thread(create) == "from-env"


async def test_sdk_without_the_ca_fails_saying_which_setting(
    start_core: StartCore, pki: Pki
) -> None:
    app = await start_core(**tls_core(pki))
    async with AsyncClient(f"grpcs://{app.address}", TENANT, retry=FAST) as quantum:
        with pytest.raises(QuantumError) as refused:
            await quantum.create_network("untrusted")
    assert refused.value.code == UNAVAILABLE
    assert "not trusted" in refused.value.message
    assert "QUANTUM_CA" in refused.value.message


async def test_plaintext_sdk_on_a_tls_listener_is_told_to_use_grpcs(
    start_core: StartCore, pki: Pki
) -> None:
    app = await start_core(**tls_core(pki))
    async with AsyncClient(app.address, TENANT, retry=FAST) as quantum:
        with pytest.raises(QuantumError) as refused:
            await quantum.create_network("plaintext")
    assert refused.value.code == UNAVAILABLE
    assert "grpcs://" in refused.value.message


async def test_client_certificate_when_the_core_requires_one(
    start_core: StartCore, pki: Pki
) -> None:
    app = await start_core(**tls_core(pki, require_client_cert=True))
    url, ca = f"grpcs://{app.address}", str(pki.ca.cert)
    async with AsyncClient(url, TENANT, ca=ca, retry=FAST) as without:
        with pytest.raises(QuantumError) as refused:
            await without.create_network("no-cert")
    assert refused.value.code == UNAVAILABLE
    assert "client certificate" in refused.value.message
    rogue = pki.rogue_client
    async with AsyncClient(
        url, TENANT, ca=ca, cert=str(rogue.cert), key=str(rogue.key), retry=FAST
    ) as impostor:
        with pytest.raises(QuantumError) as refused:
            await impostor.create_network("rogue-cert")
    assert refused.value.code == UNAVAILABLE
    client = pki.client
    async with AsyncClient(url, TENANT, ca=ca, cert=str(client.cert), key=str(client.key)) as ok:
        assert (await ok.create_network("with-cert")).name == "with-cert"


# -- tokens --------------------------------------------------------------------------------
async def test_the_token_goes_with_every_call(start_core: StartCore, tokens: Tokens) -> None:
    app = await start_core(**jwt_core(tokens))
    async with AsyncClient(app.address, tenant=TENANT) as anonymous:
        with pytest.raises(TokenMissing):
            await anonymous.create_network("no-token")
    # With a token no tenant is needed: the token says whose calls these are.
    async with AsyncClient(app.address, token=tokens.mint()) as quantum:
        network = await quantum.create_network("with-token")
        assert network.tenant_id == TENANT


async def test_a_rotated_token_file_is_picked_up(
    start_core: StartCore, tokens: Tokens, tmp_path: Path
) -> None:
    app = await start_core(**jwt_core(tokens))
    token_file = tmp_path / "token"
    rotate(token_file, tokens.mint(TENANT))
    async with AsyncClient(app.address, token_file=str(token_file)) as quantum:
        mine = await quantum.create_network("a-network")
        rotate(token_file, tokens.mint(OTHER))
        theirs = await quantum.create_network("b-network")
        assert (mine.tenant_id, theirs.tenant_id) == (TENANT, OTHER)
        assert [n.id async for n in quantum.list_networks()] == [theirs.id]


async def test_a_watch_without_a_new_token_ends_with_token_expired(
    start_core: StartCore, tokens: Tokens
) -> None:
    app = await start_core(**jwt_core(tokens))
    async with AsyncClient(app.address, token=tokens.mint(ttl=2), retry=FAST) as quantum:
        events = quantum.watch()
        with pytest.raises(TokenExpired):
            async for _ in events:
                pass


@contextlib.contextmanager
def _following(task: asyncio.Task[Any]) -> Iterator[None]:
    try:
        yield
    finally:
        task.cancel()


async def test_watch_across_token_expiry_resumes_with_the_new_token_and_equals_the_log(
    start_core: StartCore, tokens: Tokens, tmp_path: Path
) -> None:
    """The issue's check: the stream ends TOKEN_EXPIRED, the SDK resumes it from the last
    revision with the rotated token, and what it delivered is exactly the event log."""
    app = await start_core(**jwt_core(tokens))
    token_file = tmp_path / "token"
    rotate(token_file, tokens.mint(ttl=3))
    writer = AsyncClient(app.address, token=tokens.mint())
    watcher = AsyncClient(app.address, token_file=str(token_file), retry=FAST)
    seen: list[WatchEvent] = []
    cuts: list[QuantumError | None] = []

    async def follow() -> None:
        async for event in watcher.watch(on_retry=lambda error, _: cuts.append(error)):
            seen.append(event)

    following = asyncio.create_task(follow())
    async with writer, watcher:
        with _following(following):
            network = await writer.create_network("followed")
            port = await writer.create_port(network.id)
            # Rotated long before the old token expires, as a kubelet does.
            rotate(token_file, tokens.mint(ttl=3600))
            up = True

            async def toggle() -> list[QuantumError | None]:
                nonlocal up
                up = not up
                await writer.update_port(port.id, admin_state_up=up)
                return cuts

            await eventually(
                toggle, lambda cut: any(e is not None and e.reason == "TOKEN_EXPIRED" for e in cut),
                timeout=15, every=0.1,
            )  # fmt: skip
            for _ in range(3):
                await toggle()  # after the resume

            async def delivered() -> tuple[list[Any], list[Any]]:
                rows = log_events(app.core.settings.database_url)
                logged = [(r[0], r[2], r[3]) for r in rows if r[1] == TENANT]
                got = [key(e) for e in seen if not is_marker(e)]
                return logged, got

            _, got = await eventually(delivered, lambda pair: pair[0] == pair[1], timeout=10)
    assert len(got) >= 6
    expired = [e for e in cuts if e is not None and e.reason == "TOKEN_EXPIRED"]
    assert len(expired) == 1, cuts


async def test_wait_for_across_token_expiry_asks_the_function_for_a_new_token(
    start_core: StartCore, tokens: Tokens
) -> None:
    app = await start_core(**jwt_core(tokens))
    minted: list[float] = []

    def current_token() -> str:
        minted.append(time.monotonic())
        return tokens.mint(ttl=2)

    cuts: list[QuantumError | None] = []
    async with AsyncClient(app.address, token=current_token, retry=FAST) as quantum:
        port = await quantum.create_port((await quantum.create_network("w")).id)
        waiting = asyncio.create_task(
            quantum.wait_for(port, "ACTIVE", timeout=30, on_retry=lambda e, _: cuts.append(e))
        )
        with _following(waiting):
            await eventually(
                lambda: asyncio.sleep(0, cuts),
                lambda cut: any(e is not None and e.reason == "TOKEN_EXPIRED" for e in cut),
                timeout=15, every=0.05,
            )  # fmt: skip
            await quantum.plug(port.id, "vif-1")
            active = await waiting
    assert active.status == PortStatus.PORT_STATUS_ACTIVE


# -- the CLI -------------------------------------------------------------------------------
def _cli_env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTUM_")}
    return {**env, **{f"QUANTUM_{name.upper()}": value for name, value in variables.items()}}


async def cli(*args: str, **variables: str) -> Any:
    """Run `quantum ARGS` with QUANTUM_<NAME>=value for each keyword (in a thread)."""
    import subprocess

    return await asyncio.to_thread(
        subprocess.run, [QUANTUM, *args], capture_output=True, text=True,
        env=_cli_env(**variables), timeout=60,
    )  # fmt: skip


async def test_cli_over_tls_with_a_token_file_and_client_certificate(
    start_core: StartCore, pki: Pki, tokens: Tokens, tmp_path: Path
) -> None:
    app = await start_core(**tls_core(pki, require_client_cert=True), **jwt_core(tokens))
    token_file = tmp_path / "token"
    rotate(token_file, tokens.mint())
    url = f"grpcs://{app.address}"
    client = ("--cert", str(pki.client.cert), "--key", str(pki.client.key))
    done = await cli("net-create", "cli-tls", *client, url=url, ca=str(pki.ca.cert),
                     token_file=str(token_file))  # fmt: skip
    assert done.returncode == 0, done.stderr
    listed = await cli("net-list", "--ca", str(pki.ca.cert), "--token", tokens.mint(), *client,
                       url=url)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert "cli-tls" in listed.stdout


async def test_cli_without_the_ca_or_certificate_fails_with_one_clear_line(
    start_core: StartCore, pki: Pki
) -> None:
    app = await start_core(**tls_core(pki, require_client_cert=True))
    url = f"grpcs://{app.address}"
    untrusted = await cli("net-list", url=url, tenant=TENANT)
    assert untrusted.returncode == 5
    assert_one_error_line(untrusted, "not trusted", "QUANTUM_CA")
    anonymous = await cli("net-list", "--ca", str(pki.ca.cert), url=url, tenant=TENANT)
    assert anonymous.returncode == 5
    assert_one_error_line(anonymous, "client certificate", "--cert")


async def test_cli_refuses_a_certificate_without_its_key() -> None:
    done = await cli("net-list", "--cert", "client.pem", url="grpcs://127.0.0.1:1", tenant=TENANT)
    assert done.returncode == 2
    assert_one_error_line(done, "--key")
