"""Run the scenarios against a back-end: a core of our own dispatches to it."""

from __future__ import annotations

import asyncio
import tempfile
import time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from quantum_api.errors import QuantumError
from quantum_api.plugin.v1 import backend_pb2, backend_pb2_grpc
from quantum_grpc.config import BackendTarget, Settings, TlsFiles
from quantum_grpc.server import build_server
from quantum_grpc.service.status_rules import Readiness
from quantum_grpc.tls import channel_credentials
from quantum_plugins.conformance.client import Api
from quantum_plugins.conformance.scenarios import (
    SCENARIOS,
    Context,
    Entry,
    Interfaces,
    NoInterfaces,
)


@dataclass(frozen=True)
class Result:
    """How one scenario went."""

    scenario: str
    policy: str
    passed: bool
    seconds: float
    detail: str = ""


async def backend_name(
    target: str, timeout: float = 10.0, credentials: grpc.ChannelCredentials | None = None
) -> str:
    """The name a back-end gives itself (its reports must carry it); over TLS with
    ``credentials``."""
    if credentials is None:
        dialled = grpc.aio.insecure_channel(target)
    else:
        dialled = grpc.aio.secure_channel(target, credentials)
    async with dialled as channel:
        stub = backend_pb2_grpc.BackendServiceStub(channel)
        answer = await stub.DescribeBackend(backend_pb2.DescribeBackendRequest(), timeout=timeout)
    return str(answer.name)


def _selected(names: Sequence[str] | None) -> list[Entry]:
    if not names:
        return list(SCENARIOS)
    known = {entry.name: entry for entry in SCENARIOS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}; known: {sorted(known)}")
    return [known[n] for n in names]


async def _run_one(entry: Entry, context: Context, limit: float) -> Result:
    started = time.monotonic()
    try:
        async with asyncio.timeout(limit):
            await entry.run(context)
    except Exception as exc:  # a scenario's failure is a result, not a crash of the run
        detail = str(exc) or type(exc).__name__
        if not isinstance(exc, AssertionError | TimeoutError | QuantumError):
            detail = "".join(traceback.format_exception_only(exc)).strip()
        if isinstance(exc, TimeoutError):
            detail = f"did not finish within {limit:.0f}s"
        return Result(
            entry.name, context.readiness.value, False, time.monotonic() - started, detail
        )
    return Result(entry.name, context.readiness.value, True, time.monotonic() - started)


async def run_conformance(
    target: str,
    *,
    scenarios: Sequence[str] | None = None,
    interfaces: Interfaces | None = None,
    timeout: float = 30.0,
    database_url: str | None = None,
    internal_tls: TlsFiles | None = None,
) -> list[Result]:
    """Run the (selected) scenarios against the back-end at ``target``.

    Scenarios that need a readiness policy run in a core with that policy; the others run
    under `accept`. Cores are started one after the other, since a back-end reports to
    the core that described it last. The cores keep their state in ``database_url`` (each
    policy under a tenant of its own), by default in a throwaway SQLite file. With
    ``internal_tls`` the cores talk to the back-end over mTLS (their certificate, trusting
    its CA) and take its reports on an mTLS internal listener (docs/security.md).
    """
    entries = _selected(scenarios)
    credentials = None if internal_tls is None else channel_credentials(internal_tls, prefix="tls")
    name = await backend_name(target, credentials=credentials)
    results: list[Result] = []
    for policy in (Readiness.ACCEPT, Readiness.REJECT):
        group = [e for e in entries if (e.policy or Readiness.ACCEPT) is policy]
        if not group:
            continue
        with tempfile.TemporaryDirectory(prefix="quantum-conformance-") as folder:
            settings = Settings(
                database_url=database_url or f"sqlite:///{folder}/conformance.db",
                backends=(BackendTarget(name, target),),
                listen="127.0.0.1:0",
                readiness=policy,
                health_retry=0.2,
                backend_retry_max=0.5,
                grace=0,
                internal_tls=internal_tls,
            )
            app = await build_server(settings)
            try:
                link = app.links.get(name)
                assert link is not None
                await asyncio.wait_for(link.ready.wait(), timeout)
                tenant = f"conformance-{uuid.uuid4().hex[:8]}"
                async with Api(app.address, tenant, admin=False) as api:
                    context = Context(api, policy, interfaces or NoInterfaces(), timeout)
                    for entry in group:
                        results.append(await _run_one(entry, context, timeout * 3))
            finally:
                await app.stop(0)
    return results
