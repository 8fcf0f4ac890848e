"""NetworkService: thin; the rules live in quantum_grpc.service.networks."""

from __future__ import annotations

from quantum_api.v1 import (
    network_pb2,
    network_service_pb2 as pb,
    network_service_pb2_grpc,
)
from quantum_grpc.api.context import Context, caller_of
from quantum_grpc.api.filters import status_filter
from quantum_grpc.convert import network_to_proto
from quantum_grpc.service import networks, retry
from quantum_grpc.service.core import Core
from quantum_grpc.service.status_rules import NetworkStatus


class NetworkServicer(network_service_pb2_grpc.NetworkServiceServicer):
    """Serves quantum.v1.NetworkService."""

    def __init__(self, core: Core) -> None:
        self._core = core

    async def CreateNetwork(
        self, request: pb.CreateNetworkRequest, context: Context
    ) -> pb.CreateNetworkResponse:
        row = await networks.create_network(
            self._core,
            caller_of(context),
            tenant_id=request.tenant_id,
            name=request.name,
            request_id=request.request_id,
        )
        return pb.CreateNetworkResponse(network=network_to_proto(row))

    async def GetNetwork(
        self, request: pb.GetNetworkRequest, context: Context
    ) -> pb.GetNetworkResponse:
        row = await networks.get_network(
            self._core, caller_of(context), request.tenant_id, request.network_id
        )
        return pb.GetNetworkResponse(network=network_to_proto(row))

    async def ListNetworks(
        self, request: pb.ListNetworksRequest, context: Context
    ) -> pb.ListNetworksResponse:
        rows, token = await networks.list_networks(
            self._core,
            caller_of(context),
            tenant_id=request.tenant_id,
            page_size=request.page_size,
            page_token=request.page_token,
            name=request.name,
            status=status_filter(
                request.status, network_pb2.NetworkStatus, NetworkStatus, "status"
            ),
        )
        return pb.ListNetworksResponse(
            networks=[network_to_proto(r) for r in rows], next_page_token=token
        )

    async def UpdateNetwork(
        self, request: pb.UpdateNetworkRequest, context: Context
    ) -> pb.UpdateNetworkResponse:
        row = await networks.update_network(
            self._core,
            caller_of(context),
            tenant_id=request.tenant_id,
            network_id=request.network_id,
            name=request.name if request.HasField("name") else None,
            expected_revision=request.expected_revision,
            require_ready=request.require_ready,
        )
        return pb.UpdateNetworkResponse(network=network_to_proto(row))

    async def DeleteNetwork(
        self, request: pb.DeleteNetworkRequest, context: Context
    ) -> pb.DeleteNetworkResponse:
        row, deleted = await networks.delete_network(
            self._core,
            caller_of(context),
            tenant_id=request.tenant_id,
            network_id=request.network_id,
            expected_revision=request.expected_revision,
        )
        return pb.DeleteNetworkResponse(network=network_to_proto(row), deleted=deleted)

    async def RetryNetwork(
        self, request: pb.RetryNetworkRequest, context: Context
    ) -> pb.RetryNetworkResponse:
        row = await retry.retry_network(
            self._core,
            caller_of(context),
            tenant_id=request.tenant_id,
            network_id=request.network_id,
            expected_revision=request.expected_revision,
        )
        return pb.RetryNetworkResponse(network=network_to_proto(row))
