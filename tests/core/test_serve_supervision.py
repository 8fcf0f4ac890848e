"""The sim child of `serve` is restarted when it dies, and still never outlives the core."""

from __future__ import annotations

import os
import signal
from typing import Any

from quantum_api.v1 import network_pb2, port_pb2
from quantum_grpc.service.status_rules import REASON_BACKEND_UNAVAILABLE
from tests.helpers import Api, eventually
from tests.helpers.processes import alive, children_of, wait_gone
from tests.helpers.serve import Cores, cores

__all__ = ["cores"]  # the fixture

ACTIVE = port_pb2.PORT_STATUS_ACTIVE
AVAILABLE = network_pb2.NETWORK_STATUS_AVAILABLE


async def _the_child(core_pid: int, not_pid: int = 0) -> int:
    found = await eventually(
        lambda: _children(core_pid),
        lambda pids: any(p != not_pid and alive(p) for p in pids),
        timeout=20,
    )
    return next(p for p in found if p != not_pid and alive(p))


async def _children(pid: int) -> list[int]:
    return children_of(pid)


async def _available(api: Api, name: str) -> Any:
    created = await api.create_network(name)
    return await eventually(
        lambda: api.get_network(created.id), lambda n: n.status == AVAILABLE, timeout=20
    )


async def test_a_killed_sim_child_is_restarted_and_changes_go_through_again(
    cores: Cores, channel_factory
) -> None:
    served = await cores.start("--sim-profile", "sync")
    api = Api(channel_factory(served.address))
    before = await _available(api, "before")
    old_port = await api.create_port(before.id)
    await api.plug(old_port.id, "vif-before")
    await eventually(lambda: api.get_port(old_port.id), lambda p: p.status == ACTIVE, timeout=20)
    sim = await _the_child(served.process.pid)

    os.kill(sim, signal.SIGKILL)
    # Meanwhile the core shows the back-end is gone (the restart waits 0.5 s at least).
    await eventually(
        lambda: api.get_port(old_port.id),
        lambda p: p.link_status_reason == REASON_BACKEND_UNAVAILABLE,
        timeout=20,
    )
    restarted = await _the_child(served.process.pid, not_pid=sim)
    assert restarted != sim

    # The new child serves on the port the core knows: new changes are applied again.
    net = await _available(api, "after")
    port = await api.create_port(net.id)
    await api.plug(port.id, "vif-after")
    await eventually(lambda: api.get_port(port.id), lambda p: p.status == ACTIVE, timeout=20)
    assert (await api.get_network(before.id)).status == AVAILABLE
    await eventually(lambda: api.get_port(old_port.id), lambda p: p.status == ACTIVE, timeout=20)
    output = served.output()
    assert "sim back-end (pid" in output and "was killed by SIGKILL" in output
    assert "sim back-end restarted" in output

    # The restarted child dies with the core, even when the core is SIGKILLed.
    served.process.kill()
    served.process.wait(10)
    assert await wait_gone(restarted, timeout=10), "the restarted sim outlived the core"
