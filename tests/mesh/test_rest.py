"""REST through Envoy's gRPC-JSON transcoder (deploy/envoy/rest.yaml, with the descriptor
set of `make descriptor`): CRUD with HTTP codes and JSON error bodies carrying the
ErrorInfo, the newline-delimited JSON watch, and the tenant taken from the path."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import grpc
import pytest

from quantum_grpc.server import App
from tests.helpers import Api
from tests.helpers.proxy import DEPLOY, Proxy
from tests.mesh.conftest import Shipped

ROOT = Path(__file__).resolve().parents[2]
TENANT = "t-rest"
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def descriptor(tmp_path: Path) -> Path:
    """The descriptor set as `make descriptor` writes it."""
    out = tmp_path / "quantum.pb"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_descriptor.py"), str(out)], check=True
    )
    return out


def _request(
    proxy: Proxy, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    host, _, port = proxy.address.rpartition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(
            method,
            path,
            body=None if body is None else json.dumps(body),
            headers={"content-type": "application/json", **(headers or {})},
        )
        answer = connection.getresponse()
        text = answer.read()
        return answer.status, json.loads(text) if text else None
    finally:
        connection.close()


async def call(proxy: Proxy, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    return await asyncio.to_thread(_request, proxy, method, path, body)


def _reason(body: Any) -> tuple[str, str]:
    (info,) = [d for d in body["details"] if d["@type"].endswith("google.rpc.ErrorInfo")]
    return info["domain"], info["reason"]


class Lines:
    """A GET whose answer is newline-delimited JSON, read line by line in a thread (the
    core under test runs on this event loop)."""

    def __init__(self, proxy: Proxy, path: str) -> None:
        host, _, port = proxy.address.rpartition(":")
        self._connection = http.client.HTTPConnection(host, int(port), timeout=30)
        self._path = path
        self._loop = asyncio.get_running_loop()
        self.lines: asyncio.Queue[Any] = asyncio.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> None:
        self._loop.call_soon_threadsafe(self.lines.put_nowait, item)

    def _read(self) -> None:
        try:
            self._connection.request("GET", self._path)
            answer = self._connection.getresponse()
            self._put(answer.status)
            while line := answer.readline():
                self._put(json.loads(line))
        except OSError:
            pass  # closed by close()
        self._put(None)

    async def status(self) -> int:
        async with asyncio.timeout(15):
            return int(await self.lines.get())

    async def events(self, until: Any) -> list[dict[str, Any]]:
        """Events read until one satisfies ``until``."""
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(15):
            while not any(until(e) for e in seen):
                message = await self.lines.get()
                assert message is not None, f"the stream ended after {seen}"
                seen += message["events"]
        return seen

    async def close(self) -> None:
        sock = self._connection.sock
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
        await asyncio.to_thread(self._thread.join, 10)
        self._connection.close()


async def test_rest_crud_errors_and_the_ndjson_watch_through_the_transcoder(
    sqlite_core: App, shipped: Shipped, descriptor: Path
) -> None:
    files = {"/etc/envoy/quantum.pb": str(descriptor)}
    async with shipped("rest.yaml", [sqlite_core.address], replace=files) as proxy:
        base = f"/v1/tenants/{TENANT}/networks"
        watch = Lines(proxy, f"/v1/tenants/{TENANT}/watch")
        try:
            assert await watch.status() == 200
            await watch.events(lambda e: e["type"] == "EVENT_TYPE_SYNCED")
            status, created = await call(proxy, "POST", base, {"name": "web"})
            assert status == 200, created
            net = created["network"]
            assert net["name"] == "web" and net["tenantId"] == TENANT
            # No x-tenant-id was sent: the tenant is the path's, for gRPC callers too.
            async with grpc.aio.insecure_channel(sqlite_core.address) as channel:
                assert (await Api(channel, TENANT).get_network(net["id"])).name == "web"
            status, got = await call(proxy, "GET", f"{base}/{net['id']}")
            assert (status, got["network"]["id"]) == (200, net["id"])
            status, listed = await call(proxy, "GET", base)
            assert [n["id"] for n in listed["networks"]] == [net["id"]]
            status, other = await call(proxy, "GET", "/v1/tenants/someone-else/networks")
            assert (status, other["networks"]) == (200, [])
            status, updated = await call(proxy, "PUT", f"{base}/{net['id']}", {"name": "www"})
            assert (status, updated["network"]["name"]) == (200, "www")

            status, missing = await call(proxy, "GET", f"{base}/{MISSING}")
            assert status == 404, missing
            assert missing["code"] == grpc.StatusCode.NOT_FOUND.value[0]
            assert _reason(missing) == ("quantum.v1", "NETWORK_NOT_FOUND")
            status, invalid = await call(proxy, "POST", base, {"name": ""})
            assert status == 400, invalid
            assert _reason(invalid)[0] == "quantum.v1"
            status, foreign = await call(
                proxy, "GET", f"/v1/tenants/someone-else/networks/{net['id']}"
            )
            assert status == 404, foreign  # another tenant's network does not exist for it

            status, deleted = await call(proxy, "DELETE", f"{base}/{net['id']}")
            assert status == 200, deleted
            events = await watch.events(lambda e: e["type"] == "EVENT_TYPE_DELETED")
            # A watch resumed after a revision carries exactly what came after it.
            added = next(e for e in events if e["type"] == "EVENT_TYPE_ADDED")
            resumed = Lines(proxy, f"/v1/tenants/{TENANT}/watch?startRevision={added['revision']}")
            try:
                assert await resumed.status() == 200
                later = await resumed.events(lambda e: e["type"] == "EVENT_TYPE_DELETED")
            finally:
                await resumed.close()
        finally:
            await watch.close()
    after = [e for e in events if "resource" in e and int(e["revision"]) > int(added["revision"])]
    assert [e for e in later if "resource" in e] == after
    changes = [(e["type"], e["resource"]["network"]["id"]) for e in events if "resource" in e]
    assert ("EVENT_TYPE_ADDED", net["id"]) in changes
    assert changes[-1] == ("EVENT_TYPE_DELETED", net["id"])
    revisions = [int(e["revision"]) for e in events if "resource" in e]
    assert revisions == sorted(set(revisions))  # each change once, in order


def test_the_shipped_configs_share_their_routes_and_cluster() -> None:
    """grpc-tls.yaml and rest.yaml repeat grpc.yaml's routes and cluster (Envoy has no
    include): they must not drift apart."""

    def tail(name: str) -> str:
        text = (DEPLOY / name).read_text()
        return text[text.index("                route_config:") :].replace(
            text[text.index("                http_filters:") : text.index("  clusters:")], ""
        )

    assert tail("grpc-tls.yaml") == tail("grpc.yaml")
    assert tail("rest.yaml") == tail("grpc.yaml")
