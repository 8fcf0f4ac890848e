"""Back-ends on the internal listener with mTLS, and TLS for clients (docs/security.md).

Real certificates (tests/helpers/pki.py), real sim back-ends serving and reporting over
mTLS, a real core: every identity below is what a certificate says, never a field.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from quantum_api.plugin.v1 import (
    resource_status_pb2 as rs,
    status_reporter_pb2 as sr,
    status_reporter_pb2_grpc,
)
from quantum_api.v1 import port_pb2
from quantum_grpc.api.peer import SAN_KEY, BackendIdentities
from quantum_grpc.config import BackendTarget, TlsFiles
from quantum_grpc.server import App
from quantum_plugins.sim.profiles import make_profile
from quantum_plugins.sim.server import build_sim_server
from tests.conftest import CoreFactory
from tests.helpers import Api, eventually, rpc_error
from tests.helpers.pki import (
    Ca,
    Issued,
    backend_uri,
    channel_credentials,
    issue,
    make_ca,
    server_credentials,
)
from tests.helpers.serve import run_serve

CALL_TIMEOUT = 5.0


@dataclass
class Pki:
    ca: Ca
    rogue: Ca  # another CA: nothing it signed is trusted
    core: Issued  # the core serves and dials back-ends with it
    folder: Path

    def backend(self, name: str, ca: Ca | None = None) -> Issued:
        """A back-end's certificate: serves its BackendService and dials the core."""
        return issue(ca or self.ca, name, san_uris=[backend_uri(name)], client=True, server=True)

    @property
    def internal_tls(self) -> TlsFiles:
        return TlsFiles(self.core.cert, self.core.key, self.ca.cert)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    ca = make_ca(tmp_path, "quantum")
    return Pki(
        ca, make_ca(tmp_path, "rogue"), issue(ca, "core", client=True, server=True), tmp_path
    )


@dataclass
class TlsSim:
    name: str
    port: int

    @property
    def target(self) -> BackendTarget:
        return BackendTarget(self.name, f"127.0.0.1:{self.port}")


StartSim = Callable[..., Awaitable[TlsSim]]


@pytest.fixture
async def tls_sim(pki: Pki) -> AsyncIterator[StartSim]:
    """Sim back-ends serving over mTLS (clients signed by the CA) and reporting with their
    certificate: ``await tls_sim("sim-a", profile="async", ca=pki.rogue)``."""
    stops: list[Any] = []

    async def start(name: str, profile: str = "sync", ca: Ca | None = None) -> TlsSim:
        own = pki.backend(name, ca)
        trusted = ca or pki.ca
        _server, port, backend = await build_sim_server(
            make_profile(profile, step_delay=0.01) if profile != "sync" else make_profile(profile),
            name=name,
            server_credentials=server_credentials(own, trusted),
            reporter_credentials=channel_credentials(trusted, own),
        )
        stops.append(backend)
        return TlsSim(name, port)

    yield start
    for backend in stops:
        await backend.stop(0)


@pytest.fixture
async def secure_channels() -> AsyncIterator[Callable[..., grpc.aio.Channel]]:
    """``secure_channels(address, credentials)``; ``None`` credentials: plain text."""
    opened: list[grpc.aio.Channel] = []

    def open_channel(address: str, credentials: grpc.ChannelCredentials | None) -> grpc.aio.Channel:
        channel = (
            grpc.aio.insecure_channel(address)
            if credentials is None
            else grpc.aio.secure_channel(address, credentials)
        )
        opened.append(channel)
        return channel

    yield open_channel
    for channel in opened:
        await channel.close()


async def _ready(app: App, *names: str) -> None:
    for name in names:
        link = app.links.get(name)
        assert link is not None
        await link.ready.wait()


def _report(port_id: str, generation: int, backend: str = "") -> sr.ReportStatusRequest:
    return sr.ReportStatusRequest(
        backend=backend,
        statuses=[
            rs.ResourceStatus(
                kind=rs.RESOURCE_KIND_PORT,
                resource_id=port_id,
                generation=generation,
                state=rs.OBSERVED_STATE_READY,
                link_status=port_pb2.LINK_STATUS_DOWN,
            )
        ],
    )


def _reporter(channel: grpc.aio.Channel) -> status_reporter_pb2_grpc.StatusReporterServiceStub:
    return status_reporter_pb2_grpc.StatusReporterServiceStub(channel)


async def test_a_report_on_the_public_port_is_unimplemented(stack_factory, channel_factory) -> None:
    stack = await stack_factory("sync")
    created = await stack.api.create_port((await stack.api.create_network("n")).id)
    port = (await stack.api.plug(created.id, "vif-1")).port

    forged = _reporter(channel_factory(stack.app.address)).ReportStatus(
        _report(port.id, port.generation, stack.sim.backend.name), timeout=CALL_TIMEOUT
    )
    assert (await rpc_error(forged)).code == grpc.StatusCode.UNIMPLEMENTED
    # The internal listener is elsewhere, and serves it (plain text: no --internal-tls-*).
    assert stack.app.internal_address != stack.app.address
    answer = await _reporter(channel_factory(stack.app.internal_address)).ReportStatus(
        _report(port.id, port.generation, stack.sim.backend.name), timeout=CALL_TIMEOUT
    )
    assert answer.applied == 1


async def test_over_mtls_a_backend_is_who_its_certificate_says(
    pki: Pki, tls_sim: StartSim, core_factory: CoreFactory, secure_channels, channel_factory
) -> None:
    first, second = await tls_sim("sim-a"), await tls_sim("sim-b")
    app = await core_factory(first.target, second.target, internal_tls=pki.internal_tls)
    await _ready(app, "sim-a", "sim-b")  # the core dialled both over mTLS
    api = Api(channel_factory(app.address))
    port = await api.create_port((await api.create_network("n")).id)  # on sim-a
    active = (await api.plug(port.id, "vif-1")).port
    generation = active.generation

    as_b = _reporter(
        secure_channels(app.internal_address, channel_credentials(pki.ca, pki.backend("sim-b")))
    )
    # sim-b's certificate, about sim-a's port: refused as a whole.
    error = await rpc_error(as_b.ReportStatus(_report(port.id, generation), timeout=CALL_TIMEOUT))
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert error.reason == "BACKEND_NOT_OWNER" and error.field == "statuses[0].resource_id"
    # ... and naming sim-a in the request changes nothing: the certificate decides.
    error = await rpc_error(
        as_b.ReportStatus(_report(port.id, generation, "sim-a"), timeout=CALL_TIMEOUT)
    )
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert error.reason == "BACKEND_NOT_OWNER" and error.field == "backend"
    assert (await api.get_port(port.id)).revision == active.revision

    # sim-a's own certificate: taken, with or without its name in the request.
    as_a = _reporter(
        secure_channels(app.internal_address, channel_credentials(pki.ca, pki.backend("sim-a")))
    )
    answer = await as_a.ReportStatus(_report(port.id, generation), timeout=CALL_TIMEOUT)
    assert answer.applied == 1
    assert (await api.get_port(port.id)).status == port_pb2.PORT_STATUS_DOWN


async def test_the_mtls_listener_refuses_plain_text_anonymous_and_foreign_callers(
    pki: Pki, tls_sim: StartSim, core_factory: CoreFactory, secure_channels
) -> None:
    sim = await tls_sim("sim")
    app = await core_factory(sim.target, internal_tls=pki.internal_tls)
    await _ready(app, "sim")
    stranger = issue(pki.rogue, "sim", san_uris=[backend_uri("sim")], client=True)
    callers = {
        "plain text": None,
        "TLS without a client certificate": channel_credentials(pki.ca),
        "a client certificate from another CA": channel_credentials(pki.ca, stranger),
    }
    for what, credentials in callers.items():
        call = _reporter(secure_channels(app.internal_address, credentials)).ReportStatus(
            _report("p", 1, "sim"), timeout=CALL_TIMEOUT
        )
        assert (await rpc_error(call)).code == grpc.StatusCode.UNAVAILABLE, what


async def test_a_certificate_naming_no_configured_backend_is_refused(
    pki: Pki, tls_sim: StartSim, core_factory: CoreFactory, secure_channels
) -> None:
    sim = await tls_sim("sim")
    app = await core_factory(sim.target, internal_tls=pki.internal_tls)
    await _ready(app, "sim")
    nobody = issue(pki.ca, "ghost", san_uris=[backend_uri("ghost")], client=True)
    call = _reporter(
        secure_channels(app.internal_address, channel_credentials(pki.ca, nobody))
    ).ReportStatus(_report("p", 1), timeout=CALL_TIMEOUT)
    error = await rpc_error(call)
    assert error.code == grpc.StatusCode.PERMISSION_DENIED and error.field == "backend"


async def test_a_backend_reports_over_mtls_with_its_certificate(
    pki: Pki, tls_sim: StartSim, core_factory: CoreFactory, channel_factory
) -> None:
    # async: the sim confirms later with ReportStatus, so the port is ACTIVE only if the
    # sim's mTLS report to the internal listener was taken.
    sim = await tls_sim("sim", profile="async")
    app = await core_factory(sim.target, internal_tls=pki.internal_tls)
    await _ready(app, "sim")
    api = Api(channel_factory(app.address))
    port = await api.create_port((await api.create_network("n")).id)
    await api.plug(port.id, "vif-1")
    await eventually(
        lambda: api.get_port(port.id),
        lambda p: p.status == port_pb2.PORT_STATUS_ACTIVE,
        timeout=15,
    )


async def test_the_core_refuses_a_backend_whose_certificate_it_does_not_trust(
    pki: Pki, tls_sim: StartSim, core_factory: CoreFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="quantum_grpc.dispatch.backends")
    impostor = await tls_sim("sim", ca=pki.rogue)  # serves a certificate of another CA
    app = await core_factory(impostor.target, internal_tls=pki.internal_tls)
    await eventually(
        lambda: _noop(),
        lambda _: "back-end sim at" in caplog.text and "is unavailable" in caplog.text,
        timeout=15,
    )
    link = app.links.get("sim")
    assert link is not None and not link.ready.is_set() and link.description is None


async def _noop() -> None:
    return None


async def test_clients_need_the_ca_to_reach_a_tls_listener(
    pki: Pki, stack_factory, secure_channels
) -> None:
    server = issue(pki.ca, "api")
    stack = await stack_factory("sync", core={"client_tls": TlsFiles(server.cert, server.key)})
    trusted = Api(secure_channels(stack.app.address, channel_credentials(pki.ca)))
    assert (await trusted.create_network("n")).name == "n"
    for what, credentials in {
        "plain text": None,
        "a CA that did not sign the server's certificate": channel_credentials(pki.rogue),
    }.items():
        api = Api(secure_channels(stack.app.address, credentials))
        assert (await rpc_error(api.create_network("x"))).code == grpc.StatusCode.UNAVAILABLE, what


async def test_tls_client_ca_requires_a_client_certificate(
    pki: Pki, stack_factory, secure_channels
) -> None:
    server = issue(pki.ca, "api")
    tls = TlsFiles(server.cert, server.key, pki.ca.cert)
    stack = await stack_factory("sync", core={"client_tls": tls})
    alice = issue(pki.ca, "alice", client=True)
    signed = Api(secure_channels(stack.app.address, channel_credentials(pki.ca, alice)))
    assert (await signed.create_network("n")).name == "n"
    anonymous = Api(secure_channels(stack.app.address, channel_credentials(pki.ca)))
    assert (await rpc_error(anonymous.create_network("x"))).code == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    ("sans", "expected"),
    [
        ([backend_uri("sim-a")], "sim-a"),
        ([backend_uri("sim-a"), "sim-b"], "sim-a"),  # URIs, when present, alone count
        ([backend_uri("other")], None),
        ([backend_uri("sim-a"), backend_uri("sim-b")], None),  # ambiguous
        (["sim-b"], "sim-b"),  # a DNS SAN equal to the name
        (["B.Backends.Example"], "sim-b"),  # the host of its --backend target
        (["shared.example"], None),  # a host two back-ends share says nothing
        (["spiffe://elsewhere/backend/sim-a"], None),
    ],
)
def test_certificate_names_map_to_configured_backends(
    sans: list[str], expected: str | None
) -> None:
    identities = BackendIdentities(
        [
            BackendTarget("sim-a", "shared.example:1"),
            BackendTarget("sim-b", "b.backends.example:2"),
            BackendTarget("sim-c", "shared.example:3"),
        ]
    )
    assert identities.backend_of({SAN_KEY: [san.encode() for san in sans]}) == expected


@pytest.mark.parametrize(
    "flags",
    [
        ["--tls-client-ca", "ca.pem"],
        ["--tls-cert", "c.pem"],
        ["--internal-tls-cert", "c.pem", "--internal-tls-key", "k.pem"],
    ],
)
def test_serve_refuses_partial_tls_flags(flags: list[str], tmp_path: Path) -> None:
    result = run_serve("serve", "--data-dir", str(tmp_path), *flags, timeout=20)
    assert result.returncode == 2
    assert "go together" in result.stderr


def test_serve_refuses_internal_tls_for_the_sim_it_starts_itself(tmp_path: Path) -> None:
    # The embedded sim has no certificate: the core could never reach it over mTLS.
    files = ["--internal-tls-cert", "c.pem", "--internal-tls-key", "k.pem"]
    result = run_serve(
        "serve", "--data-dir", str(tmp_path), *files, "--internal-tls-ca", "ca.pem", timeout=20
    )
    assert result.returncode == 2
    assert "needs --backend" in result.stderr
