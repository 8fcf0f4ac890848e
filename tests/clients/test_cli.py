"""The real `quantum` executable against real cores and sim back-ends on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from quantum_grpc.service.status_rules import Readiness
from tests.helpers import Api

_BIN = Path(sys.executable).parent
QUANTUM = shutil.which("quantum", path=str(_BIN)) or str(_BIN / "quantum")
TENANT = "tenant-a"
VERBS = [
    *("net-create", "net-list", "net-show", "net-update", "net-delete"),
    *("port-create", "port-list", "port-show", "port-update", "port-delete"),
    *("plug", "unplug", "watch", "wait", "events", "retry", "completion"),
]


def _env(address: str, tenant: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTUM_")}
    env["QUANTUM_URL"] = address
    if tenant:
        env["QUANTUM_TENANT"] = tenant
    return env


async def quantum(
    *args: str, address: str = "127.0.0.1:1", tenant: str | None = TENANT
) -> subprocess.CompletedProcess[str]:
    """Run `quantum ARGS` to completion (in a thread: the servers share this event loop)."""
    return await asyncio.to_thread(
        subprocess.run,
        [QUANTUM, *args],
        capture_output=True,
        text=True,
        env=_env(address, tenant),
        timeout=60,
    )


async def quantum_json(*args: str, address: str) -> Any:
    """Run `quantum ARGS -o json`, check it succeeded, and parse its output."""
    done = await quantum(*args, "-o", "json", address=address)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_one_error_line(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    """stderr is exactly one `quantum: error:` line holding every needle, no traceback."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("quantum: error: ")
    assert "Traceback" not in done.stderr + done.stdout
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


async def test_help_shows_examples_for_every_verb_and_the_exit_codes() -> None:
    done = await quantum("--help")
    assert done.returncode == 0
    examples = done.stdout.split("examples:")[1]
    for verb in VERBS:
        assert f"quantum {verb}" in examples, verb
    assert "exit codes:" in done.stdout and "QUANTUM_TENANT" in done.stdout
    assert "QUANTUM_PROFILE" in done.stdout and "unique id prefix" in done.stdout
    wait = await quantum("wait", "--help")
    assert "quantum wait $PORT --for ACTIVE --timeout 60" in wait.stdout
    assert "--format" in wait.stdout and "--tenant" in wait.stdout and "--url" in wait.stdout
    version = await quantum("--version")
    assert version.returncode == 0 and version.stdout.split()[0] == "quantum"
    assert version.stdout.split()[1][0].isdigit()


async def test_network_verbs(stack_factory) -> None:
    address = (await stack_factory("sync")).app.address
    net = await quantum_json("net-create", "web", address=address)
    assert net["name"] == "web" and net["status"] == "NETWORK_STATUS_AVAILABLE"
    assert net["tenant_id"] == TENANT and isinstance(net["revision"], int)
    # Global options go before or after the verb.
    listed = await quantum("-o", "json", "net-list", address=address)
    assert [n["id"] for n in json.loads(listed.stdout)] == [net["id"]]
    shown = await quantum_json("net-show", net["id"], address=address)
    assert shown["id"] == net["id"]
    renamed = await quantum_json("net-update", net["id"], "--name", "front", address=address)
    assert renamed["name"] == "front" and renamed["revision"] > net["revision"]
    table = await quantum("net-list", address=address)
    assert table.returncode == 0 and "AVAILABLE" in table.stdout
    assert net["id"][:8] in table.stdout and net["id"] not in table.stdout  # short ids
    wide = await quantum("net-list", "--wide", address=address)
    assert net["id"] in wide.stdout
    gone = await quantum_json("net-delete", net["id"], address=address)
    assert gone["deleted"] is True and gone["network"]["id"] == net["id"]
    assert await quantum_json("net-list", address=address) == []


async def test_port_and_attachment_verbs(stack_factory) -> None:
    address = (await stack_factory("sync")).app.address
    net = await quantum_json("net-create", "n", address=address)
    port = await quantum_json(
        "port-create", net["id"], "--admin-down", "--qos-rate", "1000", "--qos-burst", "64",
        address=address,
    )  # fmt: skip
    assert port["admin_state_up"] is False and port["status"] == "PORT_STATUS_DOWN"
    assert port["qos"] == {"rate_kbps": 1000, "burst_kbytes": 64}
    up = await quantum_json("port-update", port["id"], "--admin-up", address=address)
    assert up["admin_state_up"] is True
    plugged = await quantum_json("plug", port["id"], "vif-1", address=address)
    assert plugged["attachment"]["interface_id"] == "vif-1"
    assert plugged["port"]["status"] == "PORT_STATUS_ACTIVE"
    shown = await quantum_json("port-show", port["id"], address=address)
    assert shown["interface_id"] == "vif-1" and shown["link_status"] == "LINK_STATUS_UP"
    assert [p["id"] for p in await quantum_json("port-list", net["id"], address=address)] == [
        port["id"]
    ]
    assert len(await quantum_json("port-list", address=address)) == 1
    table = await quantum("port-list", address=address)
    assert port["id"][:8] in table.stdout and "ACTIVE" in table.stdout and "vif-1" in table.stdout
    waited = await quantum_json("wait", port["id"], "--timeout", "5", address=address)
    assert waited["status"] == "PORT_STATUS_ACTIVE"
    unplugged = await quantum_json("unplug", port["id"], address=address)
    assert unplugged["deleted"] is True and unplugged["port"]["status"] == "PORT_STATUS_DOWN"
    # One field order for every port, whichever of its fields are set.
    bare = await quantum_json("port-create", net["id"], address=address)
    fields = [
        (await quantum("port-show", pid, "-f", "csv", address=address)).stdout.splitlines()[0]
        for pid in (port["id"], bare["id"])
    ]
    assert fields[0] == fields[1] and fields[0].startswith("id,tenant_id,network_id,")
    assert "qos.rate_kbps" in fields[0]
    await quantum("port-delete", bare["id"], address=address)
    text = await quantum("port-delete", port["id"], address=address)
    assert text.returncode == 0 and f"port {port['id']} deleted" in text.stdout
    assert await quantum_json("port-list", address=address) == []


async def test_watch_prints_one_json_object_per_event(stack_factory) -> None:
    stack = await stack_factory("sync")
    net = await stack.api.create_network("n")
    watch = await asyncio.create_subprocess_exec(
        QUANTUM, "watch", "--kind", "port", "--kind", "network", "-o", "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(stack.app.address, TENANT),
    )  # fmt: skip
    assert watch.stdout is not None
    try:

        async def next_event() -> dict[str, Any]:
            line = await asyncio.wait_for(watch.stdout.readline(), 10)  # type: ignore[union-attr]
            event: dict[str, Any] = json.loads(line)
            return event

        added = await next_event()
        assert added["type"] == "ADDED" and added["kind"] == "network"
        assert added["resource"]["id"] == net.id
        synced = await next_event()
        assert synced == {"type": "SYNCED", "revision": synced["revision"]}
        port = await stack.api.create_port(net.id)
        live = await next_event()
        assert live["type"] == "ADDED" and live["kind"] == "port"
        assert live["resource"]["id"] == port.id and live["revision"] > synced["revision"]
    finally:
        watch.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(watch.wait(), 10) == 0
    assert b"Traceback" not in await watch.stderr.read()  # type: ignore[union-attr]


async def _plugged_port(api: Api) -> str:
    net = await api.create_network("n")
    port = await api.create_port(net.id)
    await api.plug(port.id, "vif-1")
    return str(port.id)


async def test_wait_exits_0_once_active(stack_factory) -> None:
    stack = await stack_factory("async", step_delay=0.05)
    port_id = await _plugged_port(stack.api)
    done = await quantum(
        "wait", port_id, "--for", "ACTIVE", "--timeout", "20", address=stack.app.address
    )
    assert done.returncode == 0, done.stderr
    assert f"port {port_id} is ACTIVE" in done.stdout


async def test_wait_exits_4_on_error_with_the_backend_error(stack_factory) -> None:
    stack = await stack_factory("faulty", failure_rate=1.0, step_delay=0.05)
    port_id = await _plugged_port(stack.api)
    done = await quantum("wait", port_id, "--timeout", "20", address=stack.app.address)
    assert done.returncode == 4
    assert_one_error_line(done, "FAILED_PRECONDITION", "RESOURCE_FAILED", "SIM_INJECTED_FAULT")


async def test_wait_exits_3_on_timeout(stack_factory) -> None:
    stack = await stack_factory("async", step_delay=5)
    port_id = await _plugged_port(stack.api)
    done = await quantum(
        "wait", port_id, "--for", "ACTIVE", "--timeout", "0.5", address=stack.app.address
    )
    assert done.returncode == 3
    assert_one_error_line(done, "DEADLINE_EXCEEDED", "WAIT_TIMEOUT", port_id)


async def test_errors_print_one_line_and_a_distinct_exit_code(stack_factory) -> None:
    address = (await stack_factory("sync")).app.address
    missing = await quantum("port-show", "00000000-0000-4000-8000-000000000000", address=address)
    assert missing.returncode == 1
    assert_one_error_line(missing, "NOT_FOUND", "PORT_NOT_FOUND")
    bad = await quantum("net-show", "nope", address=address)
    assert bad.returncode == 1
    assert_one_error_line(bad, "no network has the name or id prefix 'nope'")
    invalid = await quantum("net-create", "", address=address)
    assert invalid.returncode == 1
    line = assert_one_error_line(invalid, "INVALID_ARGUMENT: ")
    assert "INVALID_ARGUMENT INVALID_ARGUMENT" not in line
    no_tenant = await quantum("net-list", address=address, tenant=None)
    assert no_tenant.returncode == 2
    assert_one_error_line(no_tenant, "QUANTUM_TENANT")
    unreachable = await quantum("net-list", "--url", "127.0.0.1:1")
    assert unreachable.returncode == 5
    assert_one_error_line(unreachable, "cannot reach", "127.0.0.1:1", "UNAVAILABLE")
    usage = await quantum("net-update", "x", address=address)  # --name is required
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


async def test_usage_errors_exit_2() -> None:
    burst = await quantum("port-create", "x", "--qos-burst", "5")
    assert burst.returncode == 2 and "--qos-burst needs --qos-rate" in burst.stderr
    both = await quantum("port-update", "x", "--admin-up", "--admin-down")
    assert both.returncode == 2 and "not allowed with" in both.stderr
    nothing = await quantum("port-update", "x")
    assert nothing.returncode == 2 and "say what to change" in nothing.stderr
    unknown = await quantum("net-frobnicate")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr


async def test_names_prefixes_several_ids_and_the_admin_tenant_column(stack_factory) -> None:
    address = (await stack_factory("sync")).app.address
    one = await quantum_json("net-create", "twin", address=address)
    two = await quantum_json("net-create", "twin", address=address)
    solo = await quantum_json("net-create", "solo", address=address)
    # A name, or a unique id prefix, stands for the id.
    shown = await quantum("net-show", "solo", "-f", "value", "-c", "id", address=address)
    assert shown.stdout.strip() == solo["id"]
    prefix = await quantum("net-show", solo["id"][:6], "-f", "value", "-c", "name", address=address)
    assert prefix.stdout.strip() == "solo"
    # An ambiguous name is a usage error that lists the matches.
    twins = await quantum("net-show", "twin", address=address)
    assert twins.returncode == 2
    assert_one_error_line(twins, "'twin' matches 2 resources", one["id"], two["id"])
    # Several ids to one delete; one missing fails the command, not the others.
    missing = "00000000-0000-4000-8000-000000000000"
    gone = await quantum("net-delete", one["id"], missing, two["id"][:8], address=address)
    assert gone.returncode == 1
    assert f"network {one['id']} deleted" in gone.stdout
    assert f"network {two['id']} deleted" in gone.stdout
    assert_one_error_line(gone, "NETWORK_NOT_FOUND")
    # As admin, lists show whose each resource is.
    admin = await quantum("net-list", "--admin", "-f", "csv", "-c", "tenant", "-c", "name",
                          address=address)  # fmt: skip
    assert admin.stdout.splitlines() == ["TENANT,NAME", f"{TENANT},solo"]
    unknown = await quantum("net-list", "-c", "colour", address=address)
    assert unknown.returncode == 2 and "no column 'colour'" in unknown.stderr


async def test_not_ready_names_the_servers_readiness_policy(stack_factory) -> None:
    stack = await stack_factory("async", step_delay=5, core={"readiness": Readiness.REJECT})
    net = await stack.api.create_network("slow")  # PROVISIONING for 5 s
    done = await quantum("port-create", net.id, address=stack.app.address)
    assert done.returncode == 1
    assert_one_error_line(
        done, "FAILED_PRECONDITION RESOURCE_NOT_READY", "readiness policy is reject"
    )
