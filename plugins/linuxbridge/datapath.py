"""The agent's datapath: bridges, taps and tc token-bucket filters, all over netlink.

Everything goes through pyroute2's asyncio RTNL API (no ``ip``/``tc`` processes). With a
network namespace, its sockets are opened from a short-lived thread that joined the
namespace (``setns`` applies to the calling thread only, and a netlink socket stays in the
namespace it was created in), so nothing forks a process with gRPC threads running.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import logging
import os
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTMGRP_LINK, TC_H_ROOT
from pyroute2.netlink.rtnl.tcmsg.common import calc_xmittime

# A netlink operation failed: the agent's error for any datapath.
from quantum_plugins.common.agent import DatapathError

__all__ = [
    "Datapath",
    "DatapathError",
    "Link",
    "LinkGone",
    "Tbf",
    "tbf_for",
]

_LOG = logging.getLogger(__name__)

_CLONE_NEWNET = 0x40000000
_IFF_UP = 0x1
_IFF_LOWER_UP = 0x10000
_RTM_NEWLINK, _RTM_DELLINK = 16, 17
_NETNS_DIRS = ("/run/netns", "/var/run/netns")
_VXLAN_PORT = 4789  # IANA's
_ZERO_MAC = "00:00:00:00:00:00"
# Latency bound of the tbf queue: packets that would wait longer are dropped.
_TBF_LATENCY_US = 50_000
_U32_MAX = 2**32 - 1
# A burst must hold at least a few full frames, or large packets never pass.
_MIN_BURST = 15_000
# The kernel keeps the burst as a transmission time in a 32-bit tick count.
_MAX_BURST_SECONDS = 60


@dataclass(frozen=True)
class Link:
    """A network device as netlink reports it."""

    index: int
    name: str
    kind: str
    master: int
    admin_up: bool
    oper_state: str
    lower_up: bool

    @property
    def oper_up(self) -> bool:
        """Whether the device passes traffic: operstate UP (or UNKNOWN with carrier)."""
        if self.oper_state == "UP":
            return True
        return self.oper_state == "UNKNOWN" and self.admin_up and self.lower_up


@dataclass(frozen=True)
class LinkGone:
    """A device was removed."""

    index: int
    name: str


@dataclass(frozen=True)
class Tbf:
    """Token-bucket parameters as the kernel keeps them: bytes/s and the burst as ticks."""

    rate: int
    buffer: int


def tbf_for(rate_kbps: int, burst_kbytes: int) -> tuple[int, int]:
    """The (rate in bytes/s, burst in bytes) to program for a port's QoS.

    Rates are kilobits of 1000 bits, bursts kilobytes of 1024 bytes. A zero burst becomes
    50 ms worth of the rate, at least 15 000 bytes (ten full frames).
    """
    rate = min(max(rate_kbps * 1000 // 8, 1), _U32_MAX)
    burst = burst_kbytes * 1024 if burst_kbytes else max(rate // 20, _MIN_BURST)
    burst = min(max(burst, 2 * 1514), rate * _MAX_BURST_SECONDS)
    return rate, max(burst, 2 * 1514)


def _parse(msg: Any) -> Link:
    flags = msg.get("flags", 0) or 0
    return Link(
        index=msg.get("index"),
        name=msg.get("IFLA_IFNAME") or "",
        kind=msg.get(("IFLA_LINKINFO", "IFLA_INFO_KIND")) or "",
        master=msg.get("IFLA_MASTER") or 0,
        admin_up=bool(flags & _IFF_UP),
        oper_state=msg.get("IFLA_OPERSTATE") or "UNKNOWN",
        lower_up=bool(flags & _IFF_LOWER_UP),
    )


def _netns_socket(netns: str) -> socket.socket:
    """A NETLINK_ROUTE socket inside network namespace ``netns`` (which must exist)."""
    path = next((f"{d}/{netns}" for d in _NETNS_DIRS if os.path.exists(f"{d}/{netns}")), None)
    if path is None:
        raise DatapathError(f"network namespace {netns!r} not found (ip netns list)")
    result: dict[str, Any] = {}

    def join_and_open() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    code = ctypes.get_errno()
                    raise OSError(code, f"setns({path}): {os.strerror(code)}")
            finally:
                os.close(fd)
            result["socket"] = socket.socket(
                socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE
            )
        except OSError as exc:
            result["error"] = exc

    # The thread ends right after, taking its namespace membership with it.
    thread = threading.Thread(target=join_and_open, name=f"netns-{netns}")
    thread.start()
    thread.join()
    if "error" in result:
        raise DatapathError(str(result["error"]))
    sock: socket.socket = result["socket"]
    return sock


class Datapath:
    """RTNL access to one host (the current network namespace, or a named one)."""

    def __init__(self, netns: str | None = None) -> None:
        """Prepare access to ``netns`` (None: the agent's own namespace)."""
        self.netns = netns
        self._ipr: Any = None
        self._monitor: Any = None

    def _rtnl(self) -> Any:
        if self.netns is None:
            return AsyncIPRoute()
        return AsyncIPRoute(fileno=_netns_socket(self.netns).detach())

    async def open(self) -> None:
        """Open the command socket and subscribe to link events."""
        self._ipr = self._rtnl()
        await self.open_monitor()

    async def open_monitor(self) -> None:
        """(Re)open the link-event socket, after an overflow for instance."""
        if self._monitor is not None:
            self._monitor.close()
        self._monitor = self._rtnl()
        await self._monitor.bind(groups=RTMGRP_LINK)

    def close(self) -> None:
        """Close the netlink sockets."""
        for rtnl in (self._monitor, self._ipr):
            if rtnl is not None:
                rtnl.close()
        self._ipr = self._monitor = None

    async def events(self) -> AsyncIterator[Link | LinkGone]:
        """Link events, forever; raises OSError if the socket overflowed (reopen and re-dump)."""
        while True:
            async for msg in self._monitor.get():
                kind = msg["header"]["type"]
                if kind == _RTM_NEWLINK:
                    yield _parse(msg)
                elif kind == _RTM_DELLINK:
                    yield LinkGone(msg.get("index"), msg.get("IFLA_IFNAME") or "")

    async def links(self) -> dict[str, Link]:
        """Every device, by name."""
        found = {}
        try:
            async for msg in await self._ipr.link("dump"):
                link = _parse(msg)
                found[link.name] = link
        except NetlinkError as exc:
            raise DatapathError(f"dumping links: {exc}") from exc
        return found

    async def link(self, name: str) -> Link | None:
        """The device called ``name``, if it exists."""
        try:
            answer = await self._ipr.link("get", ifname=name)
        except NetlinkError as exc:
            if exc.code == errno.ENODEV:
                return None
            raise DatapathError(f"reading {name}: {exc}") from exc
        return _parse(answer[0]) if answer else None

    async def ensure_bridge(self, name: str) -> Link:
        """The bridge ``name``, created and set up if needed."""
        link = await self.link(name)
        if link is None:
            try:
                await self._ipr.link("add", ifname=name, kind="bridge")
                _LOG.info("created bridge %s", name)
            except NetlinkError as exc:
                if exc.code != errno.EEXIST:  # another call just made it: fine
                    raise DatapathError(f"creating bridge {name}: {exc}") from exc
            link = await self.link(name)
            if link is None:
                raise DatapathError(f"bridge {name} vanished right after its creation")
        if link.kind != "bridge":
            raise DatapathError(f"{name} exists but is a {link.kind or 'plain'} device")
        if not link.admin_up:
            await self._set(link, state="up")
        return link

    async def ensure_vxlan(self, name: str, vni: int, local: str) -> Link:
        """The VXLAN device ``name`` (VNI ``vni``, from ``local``, UDP 4789), created if needed;
        one with another VNI or address is replaced."""
        link = await self.link(name)
        if link is not None and link.kind == "vxlan":
            return link
        if link is not None:
            await self.delete(link)
        try:
            await self._ipr.link(
                "add",
                ifname=name,
                kind="vxlan",
                vxlan_id=vni,
                vxlan_local=local,
                vxlan_port=_VXLAN_PORT,
                vxlan_learning=1,
            )
            _LOG.info("created %s (VNI %d, local %s)", name, vni, local)
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise DatapathError(f"creating {name}: {exc}") from exc
        link = await self.link(name)
        if link is None:
            raise DatapathError(f"{name} vanished right after its creation")
        return link

    async def flood_peers(self, link: Link) -> set[str]:
        """The addresses ``link`` (a VXLAN device) floods to: its all-zero FDB entries."""
        try:
            return {
                msg.get("NDA_DST")
                async for msg in await self._ipr.fdb("dump", ifindex=link.index)
                if msg.get("NDA_LLADDR") == _ZERO_MAC and msg.get("NDA_DST")
            }
        except NetlinkError as exc:
            raise DatapathError(f"reading the FDB of {link.name}: {exc}") from exc

    async def set_flood_peers(self, link: Link, peers: set[str]) -> None:
        """Make ``link`` flood broadcast and unknown unicast to exactly ``peers`` (head-end
        replication: one all-zero FDB entry per peer)."""
        current = await self.flood_peers(link)
        try:
            for peer in sorted(peers - current):
                await self._ipr.fdb("append", ifindex=link.index, lladdr=_ZERO_MAC, dst=peer)
            for peer in sorted(current - peers):
                await self._ipr.fdb("del", ifindex=link.index, lladdr=_ZERO_MAC, dst=peer)
        except NetlinkError as exc:
            raise DatapathError(f"setting the peers of {link.name}: {exc}") from exc
        if peers != current:
            _LOG.info("%s floods to %s", link.name, ", ".join(sorted(peers)) or "nobody")

    async def delete(self, link: Link) -> None:
        """Remove a device; one already gone is fine."""
        try:
            await self._ipr.link("del", index=link.index)
            _LOG.info("removed %s", link.name)
        except NetlinkError as exc:
            if exc.code != errno.ENODEV:
                raise DatapathError(f"removing {link.name}: {exc}") from exc

    async def set_master(self, link: Link, master: int) -> None:
        """Enslave ``link`` to device ``master`` (0 releases it)."""
        await self._set(link, master=master)

    async def set_admin(self, link: Link, up: bool) -> None:
        """Set ``link`` administratively up or down."""
        await self._set(link, state="up" if up else "down")

    async def _set(self, link: Link, **changes: Any) -> None:
        try:
            await self._ipr.link("set", index=link.index, **changes)
        except NetlinkError as exc:
            raise DatapathError(f"setting {changes} on {link.name}: {exc}") from exc

    async def root_qdisc(self, link: Link) -> tuple[str, Tbf | None] | None:
        """The kind of ``link``'s root qdisc and, for tbf, its parameters; None if default."""
        try:
            async for msg in await self._ipr.get_qdiscs(link.index):
                if msg.get("index") != link.index or msg.get("parent") != TC_H_ROOT:
                    continue
                kind = msg.get("TCA_KIND") or ""
                if msg.get("handle", 0) == 0:
                    return None  # the device's default (noqueue, pfifo_fast...)
                parms = msg.get(("TCA_OPTIONS", "TCA_TBF_PARMS")) if kind == "tbf" else None
                tbf = Tbf(parms["rate"], parms["buffer"]) if parms else None
                return kind, tbf
        except NetlinkError as exc:
            if exc.code == errno.ENODEV:
                return None
            raise DatapathError(f"reading qdiscs of {link.name}: {exc}") from exc
        return None

    async def ensure_tbf(self, link: Link, rate: int, burst: int) -> bool:
        """Make ``link``'s root qdisc a tbf of ``rate`` bytes/s and ``burst`` bytes.

        Returns True if anything changed. Shapes what the device sends, which for a tap
        is the traffic towards the VM.
        """
        wanted = Tbf(rate, calc_xmittime(rate, burst))
        current = await self.root_qdisc(link)
        if current is not None and current[0] == "tbf" and current[1] == wanted:
            return False
        limit = rate * _TBF_LATENCY_US // 1_000_000 + burst
        try:
            await self._ipr.tc("replace", "tbf", link.index, rate=rate, burst=burst, limit=limit)
        except NetlinkError as exc:
            raise DatapathError(f"setting tbf on {link.name}: {exc}") from exc
        _LOG.info("%s: tbf rate %d B/s burst %d B", link.name, rate, burst)
        return True

    async def clear_qdisc(self, link: Link) -> bool:
        """Give ``link`` back its default root qdisc; True if one of ours was removed."""
        current = await self.root_qdisc(link)
        if current is None:
            return False
        try:
            await self._ipr.tc("del", index=link.index, parent=TC_H_ROOT)
        except NetlinkError as exc:
            if exc.code in (errno.ENOENT, errno.EINVAL, errno.ENODEV):
                return False
            raise DatapathError(f"removing the qdisc of {link.name}: {exc}") from exc
        _LOG.info("%s: removed root qdisc %s", link.name, current[0])
        return True


async def _selftest(netns: str | None) -> None:  # pragma: no cover - a manual aid
    datapath = Datapath(netns)
    await datapath.open()
    for link in (await datapath.links()).values():
        print(link, await datapath.root_qdisc(link))
    datapath.close()


if __name__ == "__main__":  # pragma: no cover
    import sys

    asyncio.run(_selftest(sys.argv[1] if len(sys.argv) > 1 else None))
