"""The contract: every RPC is implemented by its servicers and has an SDK method, and errors
round-trip through gRPC by reason."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import grpc
import pytest
from google.protobuf.descriptor import ServiceDescriptor

import quantum_api.linuxbridge.v1
import quantum_api.plugin.v1
import quantum_api.v1
from quantum_api.errors import QuantumError, error_from_rpc, to_grpc_status
from quantum_api.v1 import network_service_pb2 as net_pb
from quantum_client import AsyncClient, Client
from quantum_grpc.api.attachments import AttachmentServicer
from quantum_grpc.api.networks import NetworkServicer
from quantum_grpc.api.ports import PortServicer
from quantum_grpc.api.reporter import StatusReporterServicer
from quantum_grpc.api.watch import WatchServicer
from quantum_grpc.server import SERVICE_NAMES
from quantum_plugins.linuxbridge.backend import LinuxBridgeBackend
from quantum_plugins.ovs.backend import OvsBackend
from quantum_plugins.sim.backend import SimBackend

# Who implements each service the contract declares. A service added to the protos fails
# test_every_declared_service_has_an_implementer until it is named here.
CORE_SERVICERS: dict[str, type] = {
    "quantum.v1.NetworkService": NetworkServicer,
    "quantum.v1.PortService": PortServicer,
    "quantum.v1.AttachmentService": AttachmentServicer,
    "quantum.v1.WatchService": WatchServicer,
    "quantum.plugin.v1.StatusReporterService": StatusReporterServicer,
}
BACKEND_SERVICERS: dict[str, tuple[type, ...]] = {
    "quantum.plugin.v1.BackendService": (SimBackend, LinuxBridgeBackend, OvsBackend),
    # The OVS agent speaks linuxbridge's agent protocol (docs/ovs.md).
    "quantum.linuxbridge.v1.AgentService": (LinuxBridgeBackend, OvsBackend),
}
CLIENT_PACKAGE = "quantum.v1"
# The SDK's method for each client RPC: the RPC's name in snake case, unless named here.
SDK_METHODS = {"PlugAttachment": "plug", "UnplugAttachment": "unplug", "WatchStatus": "watch"}


def _declared_services() -> dict[str, ServiceDescriptor]:
    """Every service of the generated contract, read from the descriptors."""
    found: dict[str, ServiceDescriptor] = {}
    for package in (quantum_api.v1, quantum_api.plugin.v1, quantum_api.linuxbridge.v1):
        for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            if module.name.endswith("_pb2"):
                descriptor = importlib.import_module(module.name).DESCRIPTOR
                for service in descriptor.services_by_name.values():
                    found[service.full_name] = service
    return found


SERVICES = _declared_services()
IMPLEMENTATIONS = [
    (name, servicer)
    for name, servicers in sorted(
        {**{k: (v,) for k, v in CORE_SERVICERS.items()}, **BACKEND_SERVICERS}.items()
    )
    for servicer in servicers
]


def _generated_servicer(service: ServiceDescriptor) -> type:
    """The generated base whose methods answer UNIMPLEMENTED (quantum/v1/x.proto -> ...)."""
    path = service.file.name.removeprefix("quantum/").removesuffix(".proto").replace("/", ".")
    module: ModuleType = importlib.import_module(f"quantum_api.{path}_pb2_grpc")
    base: type = getattr(module, f"{service.name}Servicer")
    return base


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def test_every_declared_service_has_an_implementer() -> None:
    assert set(SERVICES) == set(CORE_SERVICERS) | set(BACKEND_SERVICERS)


def test_the_core_serves_every_service_it_implements() -> None:
    assert set(SERVICE_NAMES) == set(CORE_SERVICERS)


@pytest.mark.parametrize(
    ("service_name", "servicer"), IMPLEMENTATIONS, ids=lambda v: getattr(v, "__name__", v)
)
def test_every_rpc_has_an_implementation(service_name: str, servicer: type) -> None:
    service = SERVICES[service_name]
    generated = _generated_servicer(service)
    for method in service.methods:
        implementation = getattr(servicer, method.name, None)
        assert implementation is not None, f"{service_name}.{method.name} missing"
        assert implementation is not getattr(generated, method.name), (
            f"{servicer.__name__}.{method.name} still answers UNIMPLEMENTED"
        )


@pytest.mark.parametrize("client", [AsyncClient, Client], ids=lambda c: c.__name__)
def test_the_sdk_has_a_method_per_client_rpc(client: type) -> None:
    rpcs = [
        method.name
        for service in SERVICES.values()
        if service.file.package == CLIENT_PACKAGE
        for method in service.methods
    ]
    assert len(rpcs) > 10, rpcs
    missing = {
        rpc: SDK_METHODS.get(rpc, _snake(rpc))
        for rpc in rpcs
        if not callable(getattr(client, SDK_METHODS.get(rpc, _snake(rpc)), None))
    }
    assert not missing, f"{client.__name__} lacks a method for these RPCs: {missing}"


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
    # The raw stub, to see the status exactly as any gRPC client would.
    request = net_pb.GetNetworkRequest(network_id="6f1c0a9e-5b1d-4c1e-9a55-0d5e2b8c7f10")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stack.api.stubs.networks.GetNetwork(request, metadata=stack.api.metadata)
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
