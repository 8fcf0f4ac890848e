"""The contract: every RPC is implemented, and errors round-trip through gRPC by reason."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pool
from quantum_plugins.sim.backend import SimBackend

from quantum_api.errors import QuantumError, error_from_rpc, to_grpc_status
from quantum_grpc.api.attachments import AttachmentServicer
from quantum_grpc.api.networks import NetworkServicer
from quantum_grpc.api.ports import PortServicer
from quantum_grpc.api.reporter import StatusReporterServicer
from quantum_grpc.api.watch import WatchServicer
from quantum_grpc.server import SERVICE_NAMES

SERVICERS = {
    "quantum.v1.NetworkService": NetworkServicer,
    "quantum.v1.PortService": PortServicer,
    "quantum.v1.AttachmentService": AttachmentServicer,
    "quantum.v1.WatchService": WatchServicer,
    "quantum.plugin.v1.StatusReporterService": StatusReporterServicer,
    "quantum.plugin.v1.BackendService": SimBackend,
}


def test_the_core_serves_every_v1_service() -> None:
    assert set(SERVICE_NAMES) == set(SERVICERS) - {"quantum.plugin.v1.BackendService"}


@pytest.mark.parametrize("service_name", sorted(SERVICERS))
def test_every_rpc_has_an_implementation(service_name: str) -> None:
    service = descriptor_pool.Default().FindServiceByName(service_name)
    servicer = SERVICERS[service_name]
    generated_base = servicer.__mro__[1]
    for method in service.methods:
        implementation = getattr(servicer, method.name, None)
        assert implementation is not None, f"{service_name}.{method.name} missing"
        assert implementation is not getattr(generated_base, method.name, None), (
            f"{service_name}.{method.name} still answers UNIMPLEMENTED"
        )


def _catalogue() -> list[type[QuantumError]]:
    found, pending = [], [QuantumError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return [cls for cls in found if cls is not QuantumError]


@pytest.mark.parametrize("cls", _catalogue(), ids=lambda c: c.reason)
async def test_errors_round_trip_through_a_real_server(cls: type[QuantumError]) -> None:
    async def fail(_request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await context.abort_with_status(
            to_grpc_status(cls("what went wrong", field="f", metadata={"k": "v"}))
        )
        return b""

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "t.T", {"M": grpc.unary_unary_rpc_method_handler(fail)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await channel.unary_unary("/t.T/M")(b"")
        error = error_from_rpc(raised.value)
    finally:
        await server.stop(0)
    assert type(error) is cls
    assert raised.value.code() == cls.code
    assert (error.message, error.field, error.metadata) == ("what went wrong", "f", {"k": "v"})


async def test_a_bug_answers_internal_without_leaking_details(stack_factory, monkeypatch) -> None:
    from quantum_grpc.service import networks

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internals")

    stack = await stack_factory("sync")
    monkeypatch.setattr(networks, "get_network", broken)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.api.get_network("6f1c0a9e-5b1d-4c1e-9a55-0d5e2b8c7f10")
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (raised.value.details() or "")
    assert "see the server log" in (raised.value.details() or "")
    # An ErrorInfo tells clients the server answered (not a proxy cutting the stream).
    error = error_from_rpc(raised.value)
    assert error.reason == "INTERNAL" and error.metadata["incident"] in error.message


def test_the_catalogue_is_the_error_reason_enum_of_the_protos() -> None:
    from quantum_api.v1 import error_reason_pb2

    declared = {
        name.removeprefix("ERROR_REASON_")
        for name in error_reason_pb2.ErrorReason.DESCRIPTOR.values_by_name
        if name != "ERROR_REASON_UNSPECIFIED"
    }
    catalogue = {cls.reason for cls in _catalogue()} | {QuantumError.reason}
    # Clients in other languages read the reasons from the protos: none may be missing there,
    # and the protos may not promise a reason the server never sends.
    assert catalogue == declared
    for cls in _catalogue():
        comment = _leading_comment(f"ERROR_REASON_{cls.reason}")
        assert comment.startswith(f"{cls.code.name}."), (cls.reason, comment)


def _leading_comment(value: str) -> str:
    """The comment of an enum value, from the proto source (descriptors drop comments)."""
    from pathlib import Path

    source = (Path(__file__).parents[1] / "protos/quantum/v1/error_reason.proto").read_text()
    lines = source.splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{value} ="))
    comment: list[str] = []
    for line in reversed(lines[:index]):
        if not line.strip().startswith("//"):
            break
        comment.insert(0, line.strip().removeprefix("//").strip())
    return " ".join(comment)
