"""AttachmentService: thin; the rules live in quantum_grpc.service.attachments."""

from __future__ import annotations

from quantum_api.v1 import attachment_service_pb2 as pb, attachment_service_pb2_grpc
from quantum_grpc.api.context import Context, caller_of
from quantum_grpc.convert import attachment_to_proto, port_to_proto
from quantum_grpc.service import attachments
from quantum_grpc.service.core import Core


class AttachmentServicer(attachment_service_pb2_grpc.AttachmentServiceServicer):
    """Serves quantum.v1.AttachmentService."""

    def __init__(self, core: Core) -> None:
        self._core = core

    async def GetAttachment(
        self, request: pb.GetAttachmentRequest, context: Context
    ) -> pb.GetAttachmentResponse:
        row = await attachments.get_attachment(
            self._core, caller_of(context), request.tenant_id, request.port_id, request.network_id
        )
        return pb.GetAttachmentResponse(attachment=attachment_to_proto(row))

    async def PlugAttachment(
        self, request: pb.PlugAttachmentRequest, context: Context
    ) -> pb.PlugAttachmentResponse:
        attachment, port = await attachments.plug(
            self._core,
            caller_of(context),
            tenant_id=request.tenant_id,
            network_id=request.network_id,
            port_id=request.port_id,
            interface_id=request.interface_id,
            expected_revision=request.expected_revision,
            require_ready=request.require_ready,
        )
        return pb.PlugAttachmentResponse(
            attachment=attachment_to_proto(attachment), port=port_to_proto(port)
        )

    async def UnplugAttachment(
        self, request: pb.UnplugAttachmentRequest, context: Context
    ) -> pb.UnplugAttachmentResponse:
        attachment, port, deleted = await attachments.unplug(
            self._core,
            caller_of(context),
            tenant_id=request.tenant_id,
            network_id=request.network_id,
            port_id=request.port_id,
            expected_revision=request.expected_revision,
        )
        return pb.UnplugAttachmentResponse(
            attachment=attachment_to_proto(attachment), port=port_to_proto(port), deleted=deleted
        )
