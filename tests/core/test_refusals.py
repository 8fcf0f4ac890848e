"""A back-end that refuses a change: the resource shows it, and the client can try again."""

from __future__ import annotations

from typing import Any

import grpc

from quantum_api.plugin.v1 import backend_pb2, backend_pb2_grpc
from quantum_api.v1 import (
    network_service_pb2 as net_pb,
    port_pb2,
    port_service_pb2 as port_pb,
)
from quantum_grpc.config import BackendTarget
from quantum_plugins.common.health import BACKEND_SERVICE, add_health_servicer
from quantum_plugins.sim import SimBackend, make_profile
from tests.helpers import Api, eventually


class RefusingBackend(SimBackend):
    """The sim, except that it refuses deletes while ``refuse`` is set (a real back-end
    would, say, while a port is still in use on its side)."""

    refuse = True

    async def ApplyChange(self, request: Any, context: Any) -> Any:
        if self.refuse and request.action == backend_pb2.CHANGE_ACTION_DELETE:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "still in use on the fabric")
        return await super().ApplyChange(request, context)


async def test_a_refused_delete_shows_the_error_and_can_be_sent_again(
    core_factory, channel_factory
) -> None:
    backend = RefusingBackend(make_profile("sync"), name="sim", reassert_interval=0)
    server = grpc.aio.server()
    backend_pb2_grpc.add_BackendServiceServicer_to_server(backend, server)
    health = await add_health_servicer(server, [BACKEND_SERVICE])
    port_number = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    backend.attach_server(server, health)
    backend.start()
    try:
        app = await core_factory(BackendTarget("sim", f"127.0.0.1:{port_number}"))
        link = app.links.get("sim")
        assert link is not None
        await link.ready.wait()
        api = Api(channel_factory(app.address))
        net = await api.create_network("n")
        port = await api.create_port(net.id)

        refused = await api.ports.DeletePort(
            port_pb.DeletePortRequest(port_id=port.id), metadata=api.md
        )
        assert not refused.deleted
        shown = await eventually(
            lambda: api.get_port(port.id), lambda p: p.status == port_pb2.PORT_STATUS_ERROR
        )
        assert shown.deleting
        assert shown.error.code == "BACKEND_REFUSED" and "still in use" in shown.error.message

        backend.refuse = False
        again = await api.ports.DeletePort(
            port_pb.DeletePortRequest(port_id=port.id), metadata=api.md
        )
        assert again.deleted

        backend.refuse = True
        await api.networks.DeleteNetwork(
            net_pb.DeleteNetworkRequest(network_id=net.id), metadata=api.md
        )
        await eventually(
            lambda: api.get_network(net.id), lambda n: n.error.code == "BACKEND_REFUSED"
        )
        backend.refuse = False
        gone = await api.networks.DeleteNetwork(
            net_pb.DeleteNetworkRequest(network_id=net.id), metadata=api.md
        )
        assert gone.deleted
    finally:
        await backend.stop(0)
