"""The limits of a public server, set with `serve` flags: streams, message size, connections."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quantum_api.v1 import network_service_pb2 as net_pb, watch_service_pb2 as pb
from quantum_grpc.config import DEFAULT_MAX_CONCURRENT_STREAMS
from quantum_grpc.startup import split_host_port
from tests.helpers import Api, eventually, rpc_error
from tests.helpers.serve import Cores, cores

__all__ = ["cores"]  # the fixture

SETTINGS_FRAME = 0x4
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
# Separate channels get separate connections (grpc shares subchannels otherwise).
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


def _read(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, "the server closed the connection"
        data += chunk
    return data


def advertised_settings(address: str) -> dict[int, int]:
    """The HTTP/2 SETTINGS the server sends a new connection (RFC 9113, section 6.5)."""
    host, port = split_host_port(address)
    with socket.create_connection((host, port), timeout=5) as sock:
        empty_settings = (
            bytes(3) + bytes([SETTINGS_FRAME, 0]) + bytes(4)
        )  # length, type, flags, stream
        sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + empty_settings)
        for _ in range(10):  # the server's SETTINGS is among its first frames
            header = _read(sock, 9)
            length, kind, flags = int.from_bytes(header[:3], "big"), header[3], header[4]
            payload = _read(sock, length)
            if kind == SETTINGS_FRAME and not flags & 0x1:  # not an ACK
                pairs = (payload[i : i + 6] for i in range(0, length, 6))
                return {int.from_bytes(p[:2], "big"): int.from_bytes(p[2:], "big") for p in pairs}
    raise AssertionError("no SETTINGS frame from the server")


async def _watch(api: Api, **kw: Any) -> Any:
    stream = api.stubs.watch.WatchStatus(pb.WatchStatusRequest(), metadata=api.md, **kw)
    await stream.read()
    return stream


@pytest.fixture
async def connections() -> AsyncIterator[Callable[[str], grpc.aio.Channel]]:
    """Channels with a TCP connection each, closed after the test."""
    opened: list[grpc.aio.Channel] = []

    def open_channel(address: str) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(address, options=OWN_CONNECTION)
        opened.append(channel)
        return channel

    yield open_channel
    for channel in opened:
        await channel.close()


async def test_streams_per_connection_are_capped(cores: Cores, connections) -> None:
    default = await cores.start()
    assert advertised_settings(default.address)[SETTINGS_MAX_CONCURRENT_STREAMS] == (
        DEFAULT_MAX_CONCURRENT_STREAMS
    )

    capped = await cores.start("--max-concurrent-streams", "5")
    assert advertised_settings(capped.address)[SETTINGS_MAX_CONCURRENT_STREAMS] == 5
    api = Api(connections(capped.address))
    streams = [await _watch(api) for _ in range(5)]
    # A sixth call on that connection waits for a free stream; it never reached the server.
    error = await rpc_error(_watch(api, timeout=1))
    assert error.code == grpc.StatusCode.DEADLINE_EXCEEDED
    # Other connections are not held up, and the connection gets a stream back.
    await _watch(Api(connections(capped.address)))
    streams[0].cancel()
    await _watch(api)


async def test_a_request_over_the_receive_limit_is_refused(cores: Cores, connections) -> None:
    served = await cores.start("--max-receive-message-bytes", "65536")
    api = Api(connections(served.address))
    request = net_pb.CreateNetworkRequest(name="x" * 100_000)
    error = await rpc_error(api.networks.CreateNetwork(request, metadata=api.md))
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert [n async for n in api.list_networks()] == []  # and nothing was created
    assert (await api.create_network("small")).name == "small"


async def _connects(channel: grpc.aio.Channel) -> bool:
    try:
        await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    except grpc.aio.AioRpcError as exc:
        assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        return False
    return True


async def test_connections_are_capped(cores: Cores, connections) -> None:
    cap = 4
    served = await cores.start("--max-connections", str(cap))
    held: list[grpc.aio.Channel] = []
    for _ in range(cap + 1):  # the sim child's reporter connection counts too
        channel = connections(served.address)
        if not await _connects(channel):
            break
        held.append(channel)
    assert len(held) < cap + 1, f"{cap + 1} connections were all accepted"
    assert held, "not even one connection was accepted"
    await held[0].close()  # a closed connection frees its place
    await eventually(lambda: _connects(connections(served.address)), lambda ok: ok, timeout=10)
