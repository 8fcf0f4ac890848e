"""gRPC server reflection under both names: ``grpc.reflection.v1`` (what newer grpcurl,
buf curl and Postman ask for first) and ``grpc.reflection.v1alpha``.

grpcio-reflection 1.85 serves v1alpha only. The v1 protocol is the same messages under
another package, so the one servicer answers both, and the v1 file's descriptor (made
from v1alpha's, renamed) is in the pool for tools that describe the reflection service
itself (docs/operations.md, "Reflection and tools").
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha._async import ReflectionServicer

V1_PACKAGE = "grpc.reflection.v1"
V1_SERVICE = f"{V1_PACKAGE}.ServerReflection"
V1_FILE = "grpc/reflection/v1/reflection.proto"
SERVICE_NAMES = (reflection.SERVICE_NAME, V1_SERVICE)


def _v1_type(name: str) -> str:
    old = f".{reflection_pb2.DESCRIPTOR.package}."
    return f".{V1_PACKAGE}.{name.removeprefix(old)}" if name.startswith(old) else name


def _add_v1_descriptor() -> None:
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(V1_FILE)
        return
    except KeyError:
        pass
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name, proto.package = V1_FILE, V1_PACKAGE
    for message in proto.message_type:
        for field in message.field:
            if field.type_name:  # set only on message and enum fields
                field.type_name = _v1_type(field.type_name)
    for service in proto.service:
        for method in service.method:
            method.input_type = _v1_type(method.input_type)
            method.output_type = _v1_type(method.output_type)
    pool.AddSerializedFile(proto.SerializeToString())


def enable_reflection(server: grpc.aio.Server, service_names: Iterable[str]) -> None:
    """Serve reflection v1 and v1alpha on ``server`` for ``service_names`` (and itself)."""
    _add_v1_descriptor()
    servicer = ReflectionServicer((*service_names, *SERVICE_NAMES))
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1_SERVICE, {"ServerReflectionInfo": v1}),)
    )
