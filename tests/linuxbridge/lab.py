"""A lab of "hypervisors" and "VMs" as network namespaces, torn down even on failure.

A hypervisor is a namespace an agent wires (``--netns``); a VM is a namespace holding one
end of a veth pair, with an address and a UDP echo server, whose other end, named like a
Nova tap, sits in the hypervisor. Every helper is asynchronous, so the core running in the
test's event loop keeps serving while a probe or a measurement runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantum_plugins.linuxbridge.names import BRIDGE_PREFIX, tap_name

TRAFFIC = str(Path(__file__).with_name("traffic.py"))
ECHO_PORT = 7007
SINK_PORT = 9009
SUBNET = "10.77.0"
UNDERLAY = "192.168.77"


def prerequisites() -> str | None:
    """Why this machine cannot run the lab, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, bridges and tc)"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"needs the {tool!r} command (iproute2)"
    probe = f"lbprobe{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` does not work here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def sh(*args: str) -> str:
    """Run a setup command; raise with its stderr if it fails."""
    done = subprocess.run(list(args), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


async def ash(*args: str, timeout: float = 30.0) -> tuple[int, str]:
    """Run a command without blocking the event loop; (exit code, stdout)."""
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode()


@dataclass
class Stream:
    """A running ``traffic.py stream``: :meth:`result` waits for its end."""

    proc: asyncio.subprocess.Process

    async def result(self, timeout: float = 60.0) -> dict[str, Any]:
        """Stop the stream; {"sent", "echoed", "gap"}: datagrams sent and echoed, and the
        longest silence (s)."""
        assert self.proc.stdout is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        out = await asyncio.wait_for(self.proc.stdout.read(), timeout)
        await self.proc.wait()
        found: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return found


@dataclass
class Vm:
    """A VM: its namespace, address, interface id and the tap that stands for it."""

    ns: str
    ip: str
    interface_id: str
    hypervisor: str

    @property
    def tap(self) -> str:
        return tap_name(self.interface_id)


@dataclass
class Lab:
    """Namespaces and processes of one test; :meth:`cleanup` removes them all."""

    prefix: str = field(default_factory=lambda: f"lb{uuid.uuid4().hex[:5]}")
    namespaces: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    vms: list[Vm] = field(default_factory=list)
    #: namespace -> the processes running in it (a namespace lives while they do).
    inside: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)
    #: Traffic streams started from the event loop.
    streams: list[asyncio.subprocess.Process] = field(default_factory=list)

    def hypervisor(self, name: str) -> str:
        """Create a hypervisor namespace; returns its name."""
        ns = f"{self.prefix}{name}"
        self._netns(ns)
        return ns

    def _netns(self, ns: str) -> None:
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")

    def vm(self, hypervisor: str, host_number: int, interface_id: str | None = None) -> Vm:
        """Create a VM namespace with address 10.77.0.N, plugged into ``hypervisor``."""
        vm = Vm(
            ns=f"{self.prefix}vm{len(self.vms) + 1}",
            ip=f"{SUBNET}.{host_number}",
            interface_id=interface_id or str(uuid.uuid4()),
            hypervisor=hypervisor,
        )
        self._netns(vm.ns)
        self.vms.append(vm)
        self.create_tap(vm)
        sh("ip", "-n", vm.ns, "addr", "add", f"{vm.ip}/24", "dev", "eth0")
        sh("ip", "-n", vm.ns, "link", "set", "eth0", "up")
        self.spawn(vm.ns, "echo", str(ECHO_PORT))
        return vm

    def create_tap(self, vm: Vm) -> None:
        """The VM's veth pair: ``eth0`` in the VM, the tap in its hypervisor."""
        sh(
            "ip", "-n", vm.hypervisor, "link", "add", vm.tap, "type", "veth",
            "peer", "name", "eth0", "netns", vm.ns,
        )  # fmt: skip

    def underlay(self, first: str, second: str) -> dict[str, str]:
        """Join two hypervisors by a veth pair ``ul0`` (the underlay network); hypervisor
        -> its underlay address."""
        sh("ip", "link", "add", "ul0", "netns", first,
           "type", "veth", "peer", "name", "ul0", "netns", second)  # fmt: skip
        addresses = {}
        for number, ns in enumerate((first, second), 1):
            addresses[ns] = f"{UNDERLAY}.{number}"
            self.attach_underlay(ns, addresses[ns])
        return addresses

    def attach_underlay(self, ns: str, address: str) -> None:
        """Give the hypervisor's ``ul0`` its underlay address."""
        sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "ul0")
        sh("ip", "-n", ns, "link", "set", "ul0", "up")

    def delete_vm(self, vm: Vm) -> None:
        """Destroy a VM: its processes and namespace, and with them its veth (the tap too)."""
        for proc in self.inside.pop(vm.ns, []):
            proc.kill()
            proc.wait()
        sh("ip", "netns", "del", vm.ns)
        self.namespaces.remove(vm.ns)

    @staticmethod
    def add_bridge(ns: str, name: str) -> None:
        """Create a bridge behind the agent's back."""
        sh("ip", "-n", ns, "link", "add", name, "type", "bridge")

    def set_vm_link(self, vm: Vm, up: bool) -> None:
        """Set the VM side of its interface up or down (the tap then loses carrier)."""
        sh("ip", "-n", vm.ns, "link", "set", "eth0", "up" if up else "down")

    def spawn(self, ns: str, *args: str) -> subprocess.Popen[bytes]:
        """Start a long-running traffic tool in ``ns``."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, TRAFFIC, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(proc)
        self.inside.setdefault(ns, []).append(proc)
        return proc

    async def reaches(self, src: Vm, dst: Vm, timeout: float = 3.0) -> bool:
        """Whether a UDP datagram from ``src`` is echoed back by ``dst`` within ``timeout``."""
        code, out = await ash(
            "ip", "netns", "exec", src.ns, sys.executable, TRAFFIC,
            "probe", dst.ip, str(ECHO_PORT), "--timeout", str(timeout),
            timeout=timeout + 10,
        )  # fmt: skip
        return code == 0 and json.loads(out.strip().splitlines()[-1])["ok"] is True

    async def throughput(self, src: Vm, dst: Vm, seconds: float = 2.0) -> float:
        """Mbit/s of UDP payload ``dst`` receives while ``src`` sends as fast as it can."""
        sink = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", dst.ns, sys.executable, TRAFFIC,
            "sink", str(SINK_PORT), "--duration", str(seconds), "--wait", "5",
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert sink.stdout is not None
        assert (await asyncio.wait_for(sink.stdout.readline(), 10)).strip() == b"ready"
        code, out = await ash(
            "ip", "netns", "exec", src.ns, sys.executable, TRAFFIC,
            "blast", dst.ip, str(SINK_PORT), "--duration", str(seconds + 0.5),
        )  # fmt: skip
        assert code == 0, out
        result = await asyncio.wait_for(sink.stdout.read(), 15)
        await sink.wait()
        measured: dict[str, Any] = json.loads(result.decode().strip().splitlines()[-1])
        return float(measured["mbps"])

    async def stream(self, src: Vm, dst: Vm, seconds: float = 60.0) -> Stream:
        """Start echoed datagrams from ``src`` to ``dst`` every 10 ms, for at most ``seconds``
        (:meth:`Stream.result` stops them)."""
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", src.ns, sys.executable, TRAFFIC,
            "stream", dst.ip, str(ECHO_PORT), "--duration", str(seconds),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self.streams.append(proc)
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 10)).strip() == b"ready"
        return Stream(proc)

    # --- what the hypervisor looks like ------------------------------------------------------

    @staticmethod
    def links(ns: str) -> list[dict[str, Any]]:
        """``ip -d link`` of a namespace, as JSON."""
        found: list[dict[str, Any]] = json.loads(sh("ip", "-j", "-d", "-n", ns, "link", "show"))
        return found

    def bridges(self, ns: str) -> list[str]:
        """Names of the bridges in ``ns``."""
        return sorted(
            link["ifname"]
            for link in self.links(ns)
            if link.get("linkinfo", {}).get("info_kind") == "bridge"
        )

    def tunnels(self, ns: str) -> set[str]:
        """Names of the VXLAN devices in ``ns``."""
        return {
            link["ifname"]
            for link in self.links(ns)
            if link.get("linkinfo", {}).get("info_kind") == "vxlan"
        }

    def masters(self, ns: str) -> dict[str, str]:
        """Device name -> the bridge it is enslaved to, for enslaved devices of ``ns``."""
        return {link["ifname"]: link["master"] for link in self.links(ns) if link.get("master")}

    @staticmethod
    def qdiscs(ns: str) -> list[tuple[str, str]]:
        """(device, kind) of every qdisc configured in ``ns`` (defaults, handle 0:, aside)."""
        found = json.loads(sh("tc", "-j", "-n", ns, "qdisc", "show"))
        return sorted((q["dev"], q["kind"]) for q in found if q.get("handle") != "0:")

    @staticmethod
    def state(ns: str) -> dict[str, Any]:
        """What "clean" compares: bridges, enslavements and qdiscs of a namespace."""
        links = Lab.links(ns)
        return {
            "bridges": sorted(
                link["ifname"]
                for link in links
                if link["ifname"].startswith(BRIDGE_PREFIX)
                or link.get("linkinfo", {}).get("info_kind") == "bridge"
            ),
            "enslaved": sorted(link["ifname"] for link in links if link.get("master")),
            "qdiscs": Lab.qdiscs(ns),
        }

    def cleanup(self) -> None:
        """Stop every process and delete every namespace (their veths go with them)."""
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        for stream in self.streams:
            if stream.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    stream.kill()
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces.clear()
