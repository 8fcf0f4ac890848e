"""The raw stubs of the public services over one channel, shared by both clients."""

from __future__ import annotations

import grpc

from quantum_api.v1 import (
    attachment_service_pb2_grpc,
    network_service_pb2_grpc,
    port_service_pb2_grpc,
    watch_service_pb2_grpc,
)

__all__ = ["Stubs"]


class Stubs:
    """One stub per public service; the calls take the client's ``metadata``."""

    def __init__(self, channel: grpc.Channel | grpc.aio.Channel) -> None:
        self.networks = network_service_pb2_grpc.NetworkServiceStub(channel)
        self.ports = port_service_pb2_grpc.PortServiceStub(channel)
        self.attachments = attachment_service_pb2_grpc.AttachmentServiceStub(channel)
        self.watch = watch_service_pb2_grpc.WatchServiceStub(channel)
