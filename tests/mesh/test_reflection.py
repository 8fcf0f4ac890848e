"""Reflection v1 beside v1alpha: newer tools (grpcurl 1.9, buf curl) ask for v1 first."""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2 as pb

from quantum_grpc.server import App

V1 = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"


async def _ask(
    address: str, method: str, *requests: pb.ServerReflectionRequest
) -> list[pb.ServerReflectionResponse]:
    async with grpc.aio.insecure_channel(address) as channel:
        call = channel.stream_stream(
            method,
            request_serializer=pb.ServerReflectionRequest.SerializeToString,
            response_deserializer=pb.ServerReflectionResponse.FromString,
        )
        return [answer async for answer in call(iter(requests), timeout=10)]


def _files(answer: pb.ServerReflectionResponse) -> list[descriptor_pb2.FileDescriptorProto]:
    return [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in answer.file_descriptor_response.file_descriptor_proto
    ]


async def test_reflection_v1_lists_and_describes_what_v1alpha_does(sqlite_core: App) -> None:
    listing = pb.ServerReflectionRequest(list_services="")
    symbol = pb.ServerReflectionRequest(file_containing_symbol="quantum.v1.NetworkService")
    itself = pb.ServerReflectionRequest(
        file_containing_symbol="grpc.reflection.v1.ServerReflection"
    )
    v1 = await _ask(sqlite_core.address, V1, listing, symbol, itself)
    alpha = await _ask(
        sqlite_core.address,
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        listing,
        symbol,
    )
    services = {s.name for s in v1[0].list_services_response.service}
    assert {
        "quantum.v1.NetworkService",
        "quantum.v1.WatchService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= services
    assert services == {s.name for s in alpha[0].list_services_response.service}
    assert v1[1] == alpha[1]  # the same descriptors
    assert any(f.service and f.service[0].name == "NetworkService" for f in _files(v1[1]))
    (described,) = _files(v1[2])
    assert described.package == "grpc.reflection.v1"
    assert (
        described.service[0].method[0].input_type == ".grpc.reflection.v1.ServerReflectionRequest"
    )
