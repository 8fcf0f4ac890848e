"""A lab of OVS "hypervisors": each a network namespace with its own ovsdb-server and
ovs-vswitchd (userspace datapath), and "VMs" plugged into its integration bridge.

As with linuxbridge (tests/linuxbridge/lab.py, whose namespaces, VMs and traffic tools this
reuses), a VM is a namespace holding one end of a veth pair; here the hypervisor end is
added to ``br-int`` with ``external_ids:iface-id`` set, as Nova/os-vif do. Every daemon is
a child process and every run directory is a temporary one: :meth:`OvsLab.cleanup` removes
it all, pass or fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quantum_plugins.ovs.names import IFACE_ID, INTEGRATION_BRIDGE
from tests.linuxbridge.lab import TRAFFIC, Lab, Vm, prerequisites as netns_prerequisites, sh

SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
_TOOLS = ("ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl")
# Seconds a daemon gets to come up.
_START = 20.0


def prerequisites() -> str | None:
    """Why this machine cannot run the OVS lab, or None when it can."""
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        return f"needs Open vSwitch ({', '.join(missing)}; apt-get install openvswitch-switch)"
    if not SCHEMA.exists():
        return f"needs the OVSDB schema {SCHEMA}"
    return netns_prerequisites()


@dataclass
class Hypervisor:
    """One hypervisor: its namespace and Open vSwitch run directory."""

    ns: str
    rundir: Path
    daemons: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def db(self) -> str:
        return f"unix:{self.rundir / 'db.sock'}"

    def vsctl(self, *args: str) -> str:
        """``ovs-vsctl`` against this hypervisor's OVSDB (waits for ovs-vswitchd)."""
        return sh("ovs-vsctl", f"--db={self.db}", "--timeout=10", *args)

    def ofctl(self, *args: str) -> str:
        """``ovs-ofctl`` against its integration bridge."""
        mgmt = f"unix:{self.rundir / (INTEGRATION_BRIDGE + '.mgmt')}"
        return sh("ovs-ofctl", "-O", "OpenFlow13", args[0], mgmt, *args[1:])


@dataclass
class OvsLab(Lab):
    """Namespaces, Open vSwitch daemons and processes of one test."""

    prefix: str = field(default_factory=lambda: f"ov{os.urandom(3).hex()[:5]}")
    hypervisors: dict[str, Hypervisor] = field(default_factory=dict)
    _rundirs: list[Path] = field(default_factory=list)

    def hypervisor(self, name: str) -> str:
        """A hypervisor namespace with ovsdb-server, ovs-vswitchd and ``br-int``; its name."""
        ns = super().hypervisor(name)
        # Short: a unix socket path has at most 107 characters.
        rundir = Path(tempfile.mkdtemp(prefix=f"ovs-{name}-", dir="/tmp"))
        self._rundirs.append(rundir)
        hv = Hypervisor(ns, rundir)
        self.hypervisors[ns] = hv
        db = rundir / "conf.db"
        sh("ovsdb-tool", "create", str(db), str(SCHEMA))
        env = {**os.environ, "OVS_RUNDIR": str(rundir), "OVS_DBDIR": str(rundir)}
        hv.daemons.append(
            self._daemon(
                ["ovsdb-server", str(db), f"--remote=punix:{rundir / 'db.sock'}",
                 f"--unixctl={rundir / 'ovsdb-server.ctl'}", "--pidfile",
                 f"--log-file={rundir / 'ovsdb-server.log'}"],
                env,
            )
        )  # fmt: skip
        _wait_for(rundir / "db.sock", hv.daemons[-1])
        sh("ovs-vsctl", f"--db={hv.db}", "--no-wait", "init")
        # ovs-vswitchd reads and writes the namespace's devices: it runs inside it.
        hv.daemons.append(
            self._daemon(
                ["ip", "netns", "exec", ns, "ovs-vswitchd", hv.db,
                 f"--unixctl={rundir / 'ovs-vswitchd.ctl'}", "--pidfile",
                 f"--log-file={rundir / 'ovs-vswitchd.log'}"],
                env,
            )
        )  # fmt: skip
        hv.vsctl("--may-exist", "add-br", INTEGRATION_BRIDGE,
                 "--", "set", "Bridge", INTEGRATION_BRIDGE, "datapath_type=netdev")  # fmt: skip
        _wait_for(rundir / f"{INTEGRATION_BRIDGE}.mgmt", hv.daemons[-1])
        return ns

    def _daemon(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(proc)
        return proc

    def where(self, ns: str) -> tuple[str, ...]:
        """The OVS agent's options for hypervisor ``ns``."""
        return ("--ovs-rundir", str(self.hypervisors[ns].rundir))

    def create_tap(self, vm: Vm) -> None:
        """The VM's veth pair, its hypervisor end on ``br-int`` with the iface-id."""
        super().create_tap(vm)
        sh("ip", "-n", vm.hypervisor, "link", "set", vm.tap, "up")
        # The userspace datapath forwards what the VM sends as it is (see traffic.py).
        sh("ip", "netns", "exec", vm.ns, "python3", TRAFFIC, "no-tx-checksum", "eth0")
        # No waiting for ovs-vswitchd: the agent follows the Interface row as it fills in.
        self.hypervisors[vm.hypervisor].vsctl(
            "--no-wait", "add-port", INTEGRATION_BRIDGE, vm.tap,
            "--", "set", "Interface", vm.tap, f"external_ids:{IFACE_ID}={vm.interface_id}",
        )  # fmt: skip

    def delete_vm(self, vm: Vm) -> None:
        """The hypervisor unplugs the VM (removes its port), then the VM goes."""
        self.hypervisors[vm.hypervisor].vsctl("--if-exists", "del-port", vm.tap)
        super().delete_vm(vm)

    def attach_underlay(self, ns: str, address: str) -> None:
        """Userspace tunnelling: ``ul0`` on a bridge ``br-phy`` that holds the address (OVS
        routes and resolves its tunnels' next hops itself, through that bridge)."""
        hv = self.hypervisors[ns]
        sh("ip", "-n", ns, "link", "set", "ul0", "up")
        hv.vsctl("add-br", "br-phy", "--", "set", "Bridge", "br-phy", "datapath_type=netdev",
                 "--", "add-port", "br-phy", "ul0")  # fmt: skip
        sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "br-phy")
        sh("ip", "-n", ns, "link", "set", "br-phy", "up")

    def tunnels(self, ns: str) -> set[str]:
        """The VXLAN ports on the hypervisor's integration bridge."""
        hv = self.hypervisors[ns]
        ports = hv.vsctl("list-ports", INTEGRATION_BRIDGE).split()
        return {p for p in ports if hv.vsctl("get", "Interface", p, "type").strip() == "vxlan"}

    # --- what a hypervisor looks like --------------------------------------------------------

    def tags(self, ns: str) -> dict[str, int | None]:
        """Port name -> VLAN tag (None: untagged) on the hypervisor's integration bridge."""
        hv = self.hypervisors[ns]
        found: dict[str, int | None] = {}
        for port in hv.vsctl("list-ports", INTEGRATION_BRIDGE).split():
            tag = hv.vsctl("get", "Port", port, "tag").strip()
            found[port] = int(tag) if tag.isdigit() else None
        return found

    def flows(self, ns: str) -> list[str]:
        """The integration bridge's flows, without counters."""
        lines = self.hypervisors[ns].ofctl("dump-flows", "--no-stats").splitlines()
        return sorted(line.strip() for line in lines[1:] if line.strip())

    def state(self, ns: str) -> dict[str, Any]:  # type: ignore[override]
        """What "clean" compares: the bridge's ports, their tags, flows and meters."""
        hv = self.hypervisors[ns]
        return {
            "tags": self.tags(ns),
            "flows": self.flows(ns),
            "meters": hv.ofctl("dump-meters").splitlines()[1:],
        }

    def cleanup(self) -> None:
        """Stop every process (daemons included), delete the namespaces and run dirs."""
        for hv in self.hypervisors.values():
            for proc in hv.daemons:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in hv.daemons:
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        super().cleanup()
        for rundir in self._rundirs:
            shutil.rmtree(rundir, ignore_errors=True)


def _wait_for(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _START
    while not path.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited ({proc.returncode}) before {path} appeared")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear within {_START}s")
        time.sleep(0.02)
