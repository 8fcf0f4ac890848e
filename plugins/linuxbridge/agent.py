"""The linuxbridge host agent: bridges, taps and tc over netlink (:mod:`.datapath`).

The protocol side (registration, the binding stream, acknowledgements, heartbeats) is
:class:`quantum_plugins.common.agent.HostAgent`; this module wires a binding: the tap
enslaved to its network's ``brq*`` bridge, up or down, with its tbf QoS, and (with
``--tunnel-ip``) the bridge joined to the network's other hosts by a ``vxlan-<VNI>`` device.
Its reconcile owns every ``brq*`` bridge and ``vxlan-*`` device of the host and the master and
root qdisc of every ``tap*`` device.
"""

from __future__ import annotations

import logging

import grpc

from quantum_api.linuxbridge.v1 import binding_pb2
from quantum_plugins.common.agent import HostAgent
from quantum_plugins.linuxbridge.datapath import (
    Datapath,
    DatapathError,
    Link,
    LinkGone,
    tbf_for,
)
from quantum_plugins.linuxbridge.names import BRIDGE_PREFIX, TAP_PREFIX, VXLAN_PREFIX, vxlan_name

__all__ = ["Agent"]

_LOG = logging.getLogger(__name__)


def _tap_message(link: Link) -> binding_pb2.Tap:
    return binding_pb2.Tap(name=link.name, oper_up=link.oper_up, oper_state=link.oper_state)


class Agent(HostAgent):
    """The linuxbridge agent of one host."""

    def __init__(
        self,
        host: str,
        backend: str,
        datapath: Datapath,
        *,
        heartbeat: float = 3.0,
        call_timeout: float = 5.0,
        max_backoff: float = 2.0,
        credentials: grpc.ChannelCredentials | None = None,
        tunnel_ip: str = "",
    ) -> None:
        """An agent for ``host`` wiring ``datapath``, talking to the back-end at ``backend``
        (see :class:`HostAgent`)."""
        super().__init__(
            host,
            backend,
            heartbeat=heartbeat,
            call_timeout=call_timeout,
            max_backoff=max_backoff,
            credentials=credentials,
            tunnel_ip=tunnel_ip,
        )
        self._datapath = datapath
        self._names: dict[int, str] = {}  # ifindex -> name, to notice renames

    def describe(self) -> str:
        return f"netns {self._datapath.netns or '-'}"

    async def open(self) -> None:
        await self._datapath.open()

    def close(self) -> None:
        self._datapath.close()

    async def scan(self) -> dict[str, binding_pb2.Tap]:
        links = await self._datapath.links()
        self._names = {link.index: n for n, link in links.items()}
        return {n: _tap_message(link) for n, link in links.items() if _is_tap(n)}

    # --- wiring -----------------------------------------------------------------------------

    async def apply(self, binding: binding_pb2.Binding) -> binding_pb2.BindingResult | None:
        """Wire one binding; None if its tap is gone (the back-end will hear of it)."""
        datapath = self._datapath
        try:
            tap = await datapath.link(binding.tap)
            if tap is None:
                _LOG.info("port %s: tap %s is gone; nothing to wire", binding.port_id, binding.tap)
                return None
            # Down first and up last, so a port going down never passes traffic meanwhile.
            if not binding.admin_state_up and tap.admin_up:
                await datapath.set_admin(tap, False)
            bridge = await datapath.ensure_bridge(binding.bridge)
            if tap.master != bridge.index:
                await datapath.set_master(tap, bridge.index)
                _LOG.info("%s enslaved to %s (port %s)", tap.name, bridge.name, binding.port_id)
            await self._sync_tunnel(binding.bridge, binding.segmentation_id)
            if binding.qos_rate_kbps:
                rate, burst = tbf_for(binding.qos_rate_kbps, binding.qos_burst_kbytes)
                await datapath.ensure_tbf(tap, rate, burst)
            else:
                await datapath.clear_qdisc(tap)
            if binding.admin_state_up and not tap.admin_up:
                await datapath.set_admin(tap, True)
            tap = await datapath.link(binding.tap)
        except DatapathError as exc:
            return self.failed(binding, exc)
        return None if tap is None else self.applied(binding, _tap_message(tap))

    async def remove(self, binding: binding_pb2.Binding) -> binding_pb2.BindingResult:
        """Unwire one binding: release its tap, drop its QoS, and its bridge if unused."""
        datapath = self._datapath
        tap = None
        try:
            tap = await datapath.link(binding.tap)
            still_wanted = any(b.tap == binding.tap for b in self._desired.values())
            if tap is not None and not still_wanted:
                bridge = await datapath.link(binding.bridge)
                if bridge is not None and tap.master == bridge.index:
                    await datapath.set_master(tap, 0)
                    _LOG.info(
                        "%s released from %s (port %s)", tap.name, bridge.name, binding.port_id
                    )
                await datapath.clear_qdisc(tap)
                tap = await datapath.link(binding.tap)
            await self._sync_tunnel(binding.bridge, binding.segmentation_id)
            await self._drop_bridge_if_unused(binding.bridge)
        except DatapathError as exc:
            # Unwiring is best effort: the next reconcile finishes it.
            _LOG.error("port %s: cannot fully unwire %s: %s", binding.port_id, binding.tap, exc)
        return self.removed(binding, None if tap is None else _tap_message(tap))

    async def _drop_bridge_if_unused(self, name: str) -> None:
        if any(b.bridge == name for b in self._desired.values()):
            return
        bridge = await self._datapath.link(name)
        if bridge is not None:
            await self._datapath.delete(bridge)

    async def _sync_tunnel(self, bridge_name: str, vni: int) -> None:
        """Join the network's bridge to the other hosts of the network over VXLAN (the
        peers the host's bindings of the network name), or drop the device without peers."""
        if not vni:
            return
        datapath = self._datapath
        name = vxlan_name(vni)
        peers = {
            peer
            for b in self._desired.values()
            if b.bridge == bridge_name
            for peer in b.tunnel_peers
        }
        if not peers or not self.tunnel_ip:
            link = await datapath.link(name)
            if link is not None:
                await datapath.delete(link)
            return
        bridge = await datapath.ensure_bridge(bridge_name)
        link = await datapath.ensure_vxlan(name, vni, self.tunnel_ip)
        if link.master != bridge.index:
            await datapath.set_master(link, bridge.index)
            _LOG.info("%s enslaved to %s", name, bridge_name)
        if not link.admin_up:
            await datapath.set_admin(link, True)
        await datapath.set_flood_peers(link, peers)

    async def reconcile(
        self, desired: dict[str, binding_pb2.Binding]
    ) -> list[binding_pb2.BindingResult]:
        """Make the host match ``desired`` exactly: remove the rest, add what is missing."""
        self._desired = dict(desired)
        datapath = self._datapath
        links = await datapath.links()
        ours = {
            link.index: link
            for link in links.values()
            if link.kind == "bridge" and link.name.startswith(BRIDGE_PREFIX)
        }
        wanted_taps = {b.tap for b in desired.values()}
        for link in links.values():
            if not _is_tap(link.name) or link.name in wanted_taps:
                continue
            try:
                if link.master in ours:
                    await datapath.set_master(link, 0)
                    _LOG.info(
                        "reconcile: released stale %s from %s", link.name, ours[link.master].name
                    )
                if await datapath.clear_qdisc(link):
                    _LOG.info("reconcile: removed stale QoS of %s", link.name)
            except DatapathError as exc:
                _LOG.error("reconcile: cannot clean %s: %s", link.name, exc)
        results = []
        for binding in sorted(desired.values(), key=lambda b: b.revision):
            result = await self.apply(binding)
            if result is not None:
                results.append(result)
        wanted_tunnels = {
            vxlan_name(b.segmentation_id)
            for b in desired.values()
            if b.segmentation_id and b.tunnel_peers and self.tunnel_ip
        }
        for link in links.values():
            if link.name.startswith(VXLAN_PREFIX) and link.name not in wanted_tunnels:
                try:
                    await datapath.delete(link)
                    _LOG.info("reconcile: removed stale %s", link.name)
                except DatapathError as exc:
                    _LOG.error("reconcile: cannot remove %s: %s", link.name, exc)
        wanted_bridges = {b.bridge for b in desired.values() if b.tap in links}
        for bridge in ours.values():
            if bridge.name not in wanted_bridges:
                try:
                    await datapath.delete(bridge)
                    _LOG.info("reconcile: removed stale bridge %s", bridge.name)
                except DatapathError as exc:
                    _LOG.error("reconcile: cannot remove %s: %s", bridge.name, exc)
        return results

    # --- link events ------------------------------------------------------------------------

    async def monitor(self) -> None:
        while True:
            try:
                async for event in self._datapath.events():
                    self._on_link_event(event)
            except OSError as exc:
                # The kernel dropped events (ENOBUFS): reopen, and reconcile from a snapshot
                # since we no longer know what we missed.
                _LOG.warning("link events lost (%s); resynchronising", exc)
                await self._datapath.open_monitor()
                self.resynchronise()

    def _on_link_event(self, event: Link | LinkGone) -> None:
        if isinstance(event, LinkGone):
            name = self._names.pop(event.index, event.name)
            self.interface_gone(name)
            if name.startswith(BRIDGE_PREFIX):
                self.schedule(b.port_id for b in self._desired.values() if b.bridge == name)
            return
        old = self._names.get(event.index)
        if old is not None and old != event.name:
            self.interface_gone(old)  # renamed: the old name is gone
        self._names[event.index] = event.name
        if not _is_tap(event.name):
            return
        self.interface_seen(_tap_message(event))
        for binding in self._desired.values():
            if binding.tap == event.name:
                # Someone moved our tap to another bridge, or out of it: put it back.
                bridge = self._names.get(event.master) if event.master else None
                if bridge != binding.bridge:
                    self.schedule([binding.port_id])

    async def wired(self, binding: binding_pb2.Binding) -> bool:
        """Whether the binding's tap is enslaved to its bridge (or is gone: nothing to do)."""
        tap = await self._datapath.link(binding.tap)
        if tap is None:
            return True
        bridge = await self._datapath.link(binding.bridge)
        return bridge is not None and tap.master == bridge.index


def _is_tap(name: str) -> bool:
    return name.startswith(TAP_PREFIX)
