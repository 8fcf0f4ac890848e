"""Back-ends over mTLS: the sim serves only callers with a certificate of its CA and
reports to the core with its own (docs/plugin-guide.md, "mTLS flags")."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from pathlib import Path

import grpc
import pytest

from quantum_api.plugin.v1 import backend_pb2, backend_pb2_grpc, resource_status_pb2 as rs
from quantum_plugins.sim import build_sim_server, make_profile
from tests.helpers.pki import backend_uri, channel_credentials, files, issue, make_ca, tls_flags

from . import ReportCollector

REPO = Path(__file__).resolve().parents[2]


async def test_the_sim_over_mtls_takes_certified_callers_and_reports_with_its_certificate(
    tmp_path: Path,
) -> None:
    ca = make_ca(tmp_path, "quantum")
    core = issue(ca, "core", client=True, server=True)
    sim = issue(ca, "sim", san_uris=[backend_uri("sim")], client=True, server=True)
    collector = ReportCollector()
    await collector.start(credentials=files(core).server_credentials())  # requires a cert
    _server, port, backend = await build_sim_server(
        make_profile("async", step_delay=0.01),
        server_credentials=files(sim).server_credentials(),
        reporter_credentials=files(sim).channel_credentials(),
    )
    address = f"127.0.0.1:{port}"
    try:
        async with grpc.aio.secure_channel(address, channel_credentials(ca, core)) as channel:
            stub = backend_pb2_grpc.BackendServiceStub(channel)
            await stub.DescribeBackend(
                backend_pb2.DescribeBackendRequest(reporter_target=collector.target)
            )
            network_id = str(uuid.uuid4())
            answer = await stub.ApplyChange(
                backend_pb2.ApplyChangeRequest(
                    operation_id=str(uuid.uuid4()),
                    kind=rs.RESOURCE_KIND_NETWORK,
                    action=backend_pb2.CHANGE_ACTION_CREATE,
                    generation=1,
                    network=backend_pb2.NetworkSpec(id=network_id, tenant_id="t", name="n"),
                )
            )
            assert answer.outcome == backend_pb2.APPLY_OUTCOME_ACCEPTED
            # The report went over TLS with the sim's certificate: the collector takes no other.
            await collector.wait_for(
                lambda reports: any(r.resource_id == network_id for r in reports)
            )

        rogue = issue(make_ca(tmp_path / "rogue", "rogue"), "core", client=True)
        for channel in (
            grpc.aio.insecure_channel(address),
            grpc.aio.secure_channel(address, channel_credentials(ca)),  # no client certificate
            grpc.aio.secure_channel(address, channel_credentials(ca, rogue)),
        ):
            async with channel:
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await backend_pb2_grpc.BackendServiceStub(channel).ListStatus(
                        backend_pb2.ListStatusRequest(), timeout=5
                    )
                assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await backend.stop(0)
        await collector.stop()


async def run_sim(*flags: str, port_file: Path | None = None) -> asyncio.subprocess.Process:
    extra = ["--port-file", str(port_file)] if port_file else []
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "quantum_grpc", "plugin", "sim", "--listen", "127.0.0.1:0",
        *extra, *flags,
        cwd=REPO,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_the_sim_command_serves_mtls_with_the_three_flags_and_refuses_fewer(
    tmp_path: Path,
) -> None:
    ca = make_ca(tmp_path, "quantum")
    sim = issue(ca, "sim", san_uris=[backend_uri("sim")], client=True, server=True)
    core = issue(ca, "core", client=True, server=True)

    partial = await run_sim("--tls-cert", str(sim.cert))
    async with asyncio.timeout(15):
        _, stderr = await partial.communicate()
    assert partial.returncode == 2
    assert "missing --tls-key, --tls-ca" in stderr.decode()

    port_file = tmp_path / "port"
    process = await run_sim(*tls_flags(sim), port_file=port_file)
    try:
        async with asyncio.timeout(15):
            while not port_file.exists():  # noqa: ASYNC110 -- another process writes it
                await asyncio.sleep(0.05)
        address = f"127.0.0.1:{int(port_file.read_text())}"
        async with grpc.aio.secure_channel(address, channel_credentials(ca, core)) as channel:
            described = await backend_pb2_grpc.BackendServiceStub(channel).DescribeBackend(
                backend_pb2.DescribeBackendRequest(), timeout=5
            )
        assert described.name == "sim"
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            _, stderr = await process.communicate()
        assert process.returncode == 0
        assert "(mTLS) listening on" in stderr.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
