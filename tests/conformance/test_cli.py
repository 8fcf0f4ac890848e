"""`quantum-grpc conformance --backend HOST:PORT`, as a plugin author runs it."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import grpc

from quantum_api.plugin.v1 import backend_pb2_grpc
from quantum_api.v1 import port_pb2
from quantum_grpc import children
from quantum_plugins.common.health import BACKEND_SERVICE, add_health_servicer
from quantum_plugins.conformance.scenarios import SCENARIOS
from quantum_plugins.sim import SimBackend, make_profile


async def _conformance(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "quantum_grpc",
        "conformance",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    output, _ = await asyncio.wait_for(process.communicate(), 240)
    return process.returncode or 0, output.decode()


async def test_a_conforming_backend_passes_every_scenario() -> None:
    sim, port = await children.spawn_plugin(
        ["sim", "--listen", "127.0.0.1:0", "--profile", "mixed"]
    )
    try:
        code, output = await _conformance("--backend", f"127.0.0.1:{port}")
    finally:
        children.stop(sim)
    assert code == 0, output
    assert f"{len(SCENARIOS)} passed, 0 failed" in output
    for scenario in SCENARIOS:
        assert scenario.name in output


class CableCutBackend(SimBackend):
    """A back-end that misreports why an unplugged port's link is down."""

    async def ApplyChange(self, request: Any, context: Any) -> Any:
        answer = await super().ApplyChange(request, context)
        if answer.status.link_status == port_pb2.LINK_STATUS_DOWN:
            answer.status.link_status_reason = "cable cut"
        return answer


async def test_a_misbehaving_backend_fails_and_the_exit_code_says_so() -> None:
    backend = CableCutBackend(make_profile("sync"), name="liar", reassert_interval=0)
    server = grpc.aio.server()
    backend_pb2_grpc.add_BackendServiceServicer_to_server(backend, server)
    health = await add_health_servicer(server, [BACKEND_SERVICE])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    backend.attach_server(server, health)
    backend.start()
    try:
        code, output = await _conformance(
            "--backend",
            f"127.0.0.1:{port}",
            "--scenario",
            "port lifecycle",
            "--scenario",
            "revision conflicts",
        )
    finally:
        await backend.stop(0)
    assert code == 1, output
    assert "1 passed, 1 failed" in output
    assert "FAIL" in output


async def test_an_unknown_scenario_or_absent_backend_is_a_usage_error() -> None:
    code, output = await _conformance("--backend", "127.0.0.1:1", "--timeout", "2")
    assert code == 2 and "no back-end answers" in output
