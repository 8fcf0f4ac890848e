"""The OVS host agent: tags VM interfaces on the integration bridge, reports their links.

The protocol side is :class:`quantum_plugins.common.agent.HostAgent` (as for linuxbridge);
this module follows the hypervisor's OVSDB (:mod:`.ovsdb`, a monitor) for ``Interface`` rows
with an ``external_ids:iface-id``, reports each under its iface-id with its link state, and
converges the bridge on what the bindings ask:

- a bound, admin-up interface's port is tagged with its network's VLAN; with QoS its
  in_port flow goes through a meter (ingress policing: what the VM sends);
- every other VM interface on the bridge (admin down, or bound to no port) is on the dead
  VLAN with a drop flow, so it reaches nothing, not even other dead ports;
- with ``--tunnel-ip``, each network with ports here and on other hosts gets one VXLAN port
  per peer host (userspace tunnelling; VNI = the VLAN), protected so that tunnels never
  forward to each other.

Converging is computed from the whole desired state each time and changes only what
differs, so a restarted agent's reconcile leaves healthy ports untouched (no lost packet).
The agent owns the bridge's flow table and meters, and the tag of every port carrying an
iface-id; it never creates or deletes ports (the hypervisor does, as os-vif does).
"""

from __future__ import annotations

import asyncio
import logging

import grpc

from quantum_api.linuxbridge.v1 import binding_pb2
from quantum_plugins.common.agent import DatapathError, HostAgent
from quantum_plugins.ovs.names import DEAD_VLAN, TUNNEL_PORT, tunnel_port
from quantum_plugins.ovs.openflow import Meter, OpenFlow, burst_kbits
from quantum_plugins.ovs.ovsdb import Interface, Ovsdb, PortTag, Tunnel

__all__ = ["OvsAgent"]

_LOG = logging.getLogger(__name__)

# Flow priorities: dead ports' drops above metered ports above the bridge's NORMAL.
_DROP, _METERED = 20, 10
# Our flows' cookie ("QUAN"), so that a reader of dump-flows can tell them.
_COOKIE = "0x5155414e"
# Seconds OVSDB changes are left to settle before the bridge is converged again.
_SETTLE = 0.05


def _tap(row: Interface) -> binding_pb2.Tap:
    return binding_pb2.Tap(name=row.iface_id, oper_up=row.up, oper_state=row.link_state or "none")


class OvsAgent(HostAgent):
    """The OVS agent of one host: its OVSDB and its integration bridge."""

    def __init__(
        self,
        host: str,
        backend: str,
        ovsdb: Ovsdb,
        openflow: OpenFlow,
        *,
        bridge: str,
        datapath_type: str = "netdev",
        heartbeat: float = 3.0,
        credentials: grpc.ChannelCredentials | None = None,
        tunnel_ip: str = "",
    ) -> None:
        """An agent for ``host`` on ``bridge``, talking to the back-end at ``backend``."""
        super().__init__(
            host, backend, heartbeat=heartbeat, credentials=credentials, tunnel_ip=tunnel_ip
        )
        self._ovsdb = ovsdb
        self._openflow = openflow
        self._bridge = bridge
        self._datapath_type = datapath_type
        #: Interface row uuid -> the row; ports by name -> tag.
        self._rows: dict[str, Interface] = {}
        self._tags: dict[str, int | None] = {}
        self._port_names: dict[str, str] = {}  # Port row uuid -> name
        #: Converging before the first snapshot would kill every port of a restarted agent.
        self._reconciled = False
        #: The flow table and meters last set (the agent owns them), None to read them again:
        #: a converge that changes nothing then costs no ovs-ofctl run.
        self._flows: list[str] | None = None
        self._meters: dict[int, Meter] | None = None
        self._converge_ready = asyncio.Event()
        #: iface-ids whose change is reported once the bridge has converged on it.
        self._unreported: set[str] = set()

    def describe(self) -> str:
        ovsdb, openflow = self._ovsdb.remote, self._openflow.target
        return f"OVSDB {ovsdb}, bridge {self._bridge}, OpenFlow {openflow}"

    async def open(self) -> None:
        await self._ovsdb.connect()
        await self._ovsdb.ensure_bridge(self._bridge, self._datapath_type)
        self._rows = {row.uuid: row for row in self._ovsdb.interfaces()}
        ports = self._ovsdb.ports()
        self._tags = {port.name: port.tag for port in ports}
        self._port_names = {port.uuid: port.name for port in ports}

    def close(self) -> None:
        self._ovsdb.close()

    async def scan(self) -> dict[str, binding_pb2.Tap]:
        return {row.iface_id: _tap(row) for row in self._vm_interfaces().values()}

    def _vm_interfaces(self) -> dict[str, Interface]:
        """iface-id -> its Interface row (the one on the datapath, if several claim it)."""
        found: dict[str, Interface] = {}
        for row in self._rows.values():
            if not row.iface_id:
                continue
            held = found.get(row.iface_id)
            if held is None or (held.ofport <= 0 < row.ofport):
                found[row.iface_id] = row
        return found

    # --- OVSDB events -------------------------------------------------------------------------

    async def monitor(self) -> None:
        settle = asyncio.create_task(self._converge_worker())
        try:
            while True:
                _table, event, row = await self._ovsdb.changes.get()
                if isinstance(row, PortTag):
                    self._on_port(event, row)
                else:
                    self._on_interface(event, row)
        finally:
            settle.cancel()

    def _on_port(self, event: str, row: PortTag) -> None:
        if event == "delete":
            self._tags.pop(self._port_names.pop(row.uuid, row.name), None)
            return
        self._port_names[row.uuid] = row.name
        if self._tags.get(row.name, -1) != row.tag:
            self._tags[row.name] = row.tag
            self._converge_soon()  # someone retagged a port: put it back

    def _on_interface(self, event: str, row: Interface) -> None:
        old = self._rows.pop(row.uuid, None)
        if event != "delete":
            self._rows[row.uuid] = row
        ids = {r.iface_id for r in (old, row) if r is not None and r.iface_id}
        moved = bool(ids) and (old is None or event == "delete" or old.ofport != row.ofport)
        if moved and self._reconciled:
            # A new, gone or renumbered VM interface: its flows follow, and only then is it
            # reported (an "up" before its drop or meter flow would be a lie).
            self._unreported |= ids
            self._converge_ready.set()
            return
        self._report(ids)

    def _report(self, ids: set[str]) -> None:
        current = self._vm_interfaces()
        for iface_id in ids:
            if iface_id in current:
                self.interface_seen(_tap(current[iface_id]))
            else:
                self.interface_gone(iface_id)

    def _converge_soon(self) -> None:
        if self._reconciled:
            self._converge_ready.set()

    async def _converge_worker(self) -> None:
        while True:
            await self._converge_ready.wait()
            await asyncio.sleep(_SETTLE)
            self._converge_ready.clear()
            async with self._lock:
                try:
                    await self._converge()
                except DatapathError as exc:
                    _LOG.error("cannot converge %s: %s", self._bridge, exc)
                ids, self._unreported = self._unreported, set()
                self._report(ids)

    # --- wiring -------------------------------------------------------------------------------

    async def apply(self, binding: binding_pb2.Binding) -> binding_pb2.BindingResult | None:
        row = self._vm_interfaces().get(binding.tap)
        if row is None:
            _LOG.info("port %s: no interface with iface-id %s", binding.port_id, binding.tap)
            return None
        try:
            await self._converge()
        except DatapathError as exc:
            return self.failed(binding, exc)
        return self.applied(binding, _tap(row))

    async def remove(self, binding: binding_pb2.Binding) -> binding_pb2.BindingResult:
        try:
            await self._converge()
        except DatapathError as exc:
            # Unwiring is best effort: the next converge finishes it.
            _LOG.error("port %s: cannot unwire %s: %s", binding.port_id, binding.tap, exc)
        row = self._vm_interfaces().get(binding.tap)
        return self.removed(binding, None if row is None else _tap(row))

    async def reconcile(
        self, desired: dict[str, binding_pb2.Binding]
    ) -> list[binding_pb2.BindingResult]:
        self._desired = dict(desired)
        self._reconciled = True
        self._flows = self._meters = None  # someone may have changed them meanwhile
        results = []
        try:
            await self._converge()
        except DatapathError as exc:
            return [self.failed(b, exc) for b in desired.values()]
        rows = self._vm_interfaces()
        for binding in sorted(desired.values(), key=lambda b: b.revision):
            row = rows.get(binding.tap)
            if row is not None:
                results.append(self.applied(binding, _tap(row)))
        return results

    async def wired(self, binding: binding_pb2.Binding) -> bool:
        return True  # every OVSDB change that matters converges the bridge (monitor)

    async def _converge(self) -> None:
        """Tags, flows and meters of the whole bridge, from the bindings; only what differs
        changes. A port whose tag changes is dropped while it does."""
        on_bridge = self._ovsdb.bridge_ports(self._bridge)
        wanted_by_iface = {b.tap: b for b in self._desired.values()}
        tags: dict[str, int] = {}
        drops: set[int] = set()
        meters: dict[int, Meter] = {}
        for iface_id, row in self._vm_interfaces().items():
            if row.name not in on_bridge:
                continue
            binding = wanted_by_iface.get(iface_id)
            live = binding is not None and binding.admin_state_up and binding.segmentation_id > 0
            tags[row.name] = binding.segmentation_id if live and binding else DEAD_VLAN
            if row.ofport <= 0:
                continue
            if not live:
                drops.add(row.ofport)
            elif binding is not None and binding.qos_rate_kbps:
                rate = int(binding.qos_rate_kbps)
                meters[row.ofport] = Meter(rate, burst_kbits(rate, int(binding.qos_burst_kbytes)))
        retag = {name: tag for name, tag in tags.items() if self._tags.get(name) != tag}
        current_meters = self._meters
        if current_meters is None:
            current_meters = await self._openflow.meters()
        self._meters = None  # unknown until every step below went through
        await self._openflow.set_meters(meters, current_meters)
        if retag:
            moving = {row.ofport for row in self._rows.values() if row.name in retag}
            await self._replace_flows(_flows(drops | moving, meters))
            await self._ovsdb.set_tags(retag)
            self._tags.update(retag)
            _LOG.info("tags set: %s", retag)
        await self._replace_flows(_flows(drops, meters))
        stale = sorted(set(current_meters) - set(meters))
        await self._openflow.delete_meters(stale)
        self._meters = meters
        await self._converge_tunnels(on_bridge)

    async def _replace_flows(self, flows: list[str]) -> None:
        if flows == self._flows:
            return
        self._flows = None
        await self._openflow.replace_flows(flows)
        self._flows = flows

    async def _converge_tunnels(self, on_bridge: set[str]) -> None:
        """One VXLAN port per (network on this host, peer host); the rest removed."""
        wanted: dict[str, Tunnel] = {}
        if self.tunnel_ip:
            for binding in self._desired.values():
                vlan = binding.segmentation_id
                for peer in binding.tunnel_peers if vlan else ():
                    wanted[tunnel_port(vlan, peer)] = Tunnel(vlan, vlan, peer, self.tunnel_ip)
        ours = {name for name in on_bridge if TUNNEL_PORT.match(name)}
        missing = {name: t for name, t in wanted.items() if name not in ours}
        await self._ovsdb.add_tunnels(self._bridge, missing)
        stale = sorted(ours - set(wanted))
        await self._ovsdb.delete_ports(self._bridge, stale)
        if missing or stale:
            _LOG.info("tunnels added: %s; removed: %s", sorted(missing), stale)


def _flows(drops: set[int], meters: dict[int, Meter]) -> list[str]:
    """The bridge's flow table: NORMAL switching, dead ports dropped, policed ports metered."""
    flows = ["priority=0,actions=NORMAL"]
    flows += [
        f"cookie={_COOKIE},priority={_DROP},in_port={ofport},actions=drop"
        for ofport in sorted(drops)
        if ofport > 0
    ]
    flows += [
        f"cookie={_COOKIE},priority={_METERED},in_port={ofport},actions=meter:{ofport},NORMAL"
        for ofport in sorted(meters)
    ]
    return flows
