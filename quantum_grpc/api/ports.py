"""PortService: thin; the rules live in quantum_grpc.service.ports."""

from __future__ import annotations

from quantum_api.v1 import port_pb2, port_service_pb2 as pb, port_service_pb2_grpc
from quantum_grpc.api.context import Context, caller_of
from quantum_grpc.api.filters import qos_of, status_filter
from quantum_grpc.convert import port_to_proto
from quantum_grpc.service import ports, retry
from quantum_grpc.service.core import Core
from quantum_grpc.service.status_rules import PortStatus


class PortServicer(port_service_pb2_grpc.PortServiceServicer):
    """Serves quantum.v1.PortService."""

    def __init__(self, core: Core) -> None:
        self._core = core

    async def CreatePort(
        self, request: pb.CreatePortRequest, context: Context
    ) -> pb.CreatePortResponse:
        row = await ports.create_port(
            self._core,
            caller_of(context),
            tenant_id=request.tenant_id,
            network_id=request.network_id,
            admin_state_up=request.admin_state_up if request.HasField("admin_state_up") else True,
            qos=qos_of(request.qos, request.HasField("qos")),
            request_id=request.request_id,
            require_ready=request.require_ready,
        )
        return pb.CreatePortResponse(port=port_to_proto(row))

    async def GetPort(self, request: pb.GetPortRequest, context: Context) -> pb.GetPortResponse:
        row = await ports.get_port(
            self._core, caller_of(context), request.tenant_id, request.port_id, request.network_id
        )
        return pb.GetPortResponse(port=port_to_proto(row))

    async def ListPorts(
        self, request: pb.ListPortsRequest, context: Context
    ) -> pb.ListPortsResponse:
        rows, token = await ports.list_ports(
            self._core,
            caller_of(context),
            tenant_id=request.tenant_id,
            network_id=request.network_id,
            page_size=request.page_size,
            page_token=request.page_token,
            status=status_filter(request.status, port_pb2.PortStatus, PortStatus, "status"),
        )
        return pb.ListPortsResponse(ports=[port_to_proto(r) for r in rows], next_page_token=token)

    async def UpdatePort(
        self, request: pb.UpdatePortRequest, context: Context
    ) -> pb.UpdatePortResponse:
        row = await ports.update_port(
            self._core,
            caller_of(context),
            tenant_id=request.tenant_id,
            network_id=request.network_id,
            port_id=request.port_id,
            admin_state_up=request.admin_state_up if request.HasField("admin_state_up") else None,
            qos=qos_of(request.qos, request.HasField("qos")),
            expected_revision=request.expected_revision,
            require_ready=request.require_ready,
        )
        return pb.UpdatePortResponse(port=port_to_proto(row))

    async def DeletePort(
        self, request: pb.DeletePortRequest, context: Context
    ) -> pb.DeletePortResponse:
        row, deleted = await ports.delete_port(
            self._core,
            caller_of(context),
            tenant_id=request.tenant_id,
            network_id=request.network_id,
            port_id=request.port_id,
            expected_revision=request.expected_revision,
        )
        return pb.DeletePortResponse(port=port_to_proto(row), deleted=deleted)

    async def RetryPort(
        self, request: pb.RetryPortRequest, context: Context
    ) -> pb.RetryPortResponse:
        row = await retry.retry_port(
            self._core,
            caller_of(context),
            tenant_id=request.tenant_id,
            network_id=request.network_id,
            port_id=request.port_id,
            expected_revision=request.expected_revision,
        )
        return pb.RetryPortResponse(port=port_to_proto(row))
