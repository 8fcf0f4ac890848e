"""The agent's view of its hypervisor's OVSDB, through ovsdbapp (the OVS Python IDL).

The IDL keeps a local replica of the tables it monitors and is told of every change by
``ovsdb-server`` (an OVSDB monitor: nothing is polled). :class:`Ovsdb` turns the changes of
``Interface`` and ``Port`` rows into plain, immutable values handed to the event loop, and
runs the few writes the agent needs (the integration bridge, port tags, tunnel ports) off
the loop.
ovsdbapp runs the IDL in a thread of its own; every read of the replica holds its lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ovsdbapp.backend.ovs_idl import connection, idlutils
from ovsdbapp.schema.open_vswitch import impl_idl

from quantum_plugins.common.agent import DatapathError
from quantum_plugins.ovs.names import IFACE_ID

__all__ = ["Interface", "Ovsdb", "PortTag", "Tunnel"]

_LOG = logging.getLogger(__name__)

# The tables the agent reads; the Open_vSwitch and Bridge tables are there for add_br.
_TABLES = ("Open_vSwitch", "Bridge", "Port", "Interface")
_TIMEOUT = 10


@dataclass(frozen=True)
class Interface:
    """An Interface row, as the agent needs it."""

    uuid: str
    name: str
    #: external_ids:iface-id, "" when the row is not a VM interface.
    iface_id: str
    #: The OpenFlow port number; -1 while ovs-vswitchd has not (or cannot) open it.
    ofport: int
    link_state: str
    admin_state: str

    @property
    def up(self) -> bool:
        """Whether it passes traffic: on the datapath, administratively and link up."""
        return self.ofport > 0 and self.link_state == "up" and self.admin_state == "up"


@dataclass(frozen=True)
class PortTag:
    """A Port row's name and VLAN tag (None: untagged)."""

    uuid: str
    name: str
    tag: int | None


@dataclass(frozen=True)
class Tunnel:
    """A VXLAN port: a network's VLAN on this host, carried as VNI ``vni`` to ``remote``."""

    vlan: int
    vni: int
    remote: str
    local: str = ""


#: What the monitor hands over: ("Interface" | "Port", "create" | "update" | "delete", row).
Change = tuple[str, str, Interface | PortTag]


def _optional(value: Any) -> Any:
    """An optional OVSDB column is a list of zero or one value in the IDL."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _interface(row: Any) -> Interface:
    ofport = _optional(getattr(row, "ofport", None))
    return Interface(
        uuid=str(row.uuid),
        name=str(row.name),
        iface_id=str(row.external_ids.get(IFACE_ID, "")),
        ofport=int(ofport) if ofport is not None else -1,
        link_state=str(_optional(getattr(row, "link_state", None)) or ""),
        admin_state=str(_optional(getattr(row, "admin_state", None)) or ""),
    )


def _port(row: Any) -> PortTag:
    tag = _optional(getattr(row, "tag", None))
    return PortTag(uuid=str(row.uuid), name=str(row.name), tag=int(tag) if tag else None)


class _Idl(connection.OvsdbIdl):  # type: ignore[misc]
    """The IDL, telling ``sink`` of every Interface and Port change (in the IDL's thread)."""

    def __init__(self, remote: str, helper: Any, sink: Callable[[Change], None]) -> None:
        super().__init__(remote, helper)
        self._sink = sink

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        table = row._table.name
        try:
            if table == "Interface":
                self._sink(("Interface", event, _interface(row)))
            elif table == "Port":
                self._sink(("Port", event, _port(row)))
        except Exception:  # a row half-filled in: the next change carries it whole
            _LOG.exception("cannot read a %s row", table)


class Ovsdb:
    """One hypervisor's OVSDB: ``remote`` is its ovsdb-server (``unix:/run/.../db.sock``)."""

    def __init__(self, remote: str) -> None:
        self.remote = remote
        self.changes: asyncio.Queue[Change] = asyncio.Queue()
        self._api: Any = None
        self._connection: Any = None

    async def connect(self, *, retry: float = 0.5) -> None:
        """Connect and start monitoring, retrying until ovsdb-server answers."""
        loop = asyncio.get_running_loop()

        def sink(change: Change) -> None:
            loop.call_soon_threadsafe(self.changes.put_nowait, change)

        def connect() -> None:
            helper = idlutils.get_schema_helper(self.remote, "Open_vSwitch")
            for table in _TABLES:
                helper.register_table(table)
            self._connection = connection.Connection(_Idl(self.remote, helper, sink), _TIMEOUT)
            self._api = impl_idl.OvsdbIdl(self._connection)

        warned = False
        while True:
            try:
                await asyncio.to_thread(connect)
                break
            except Exception as exc:  # ovsdb-server not there (yet): keep trying
                if not warned:
                    _LOG.warning("OVSDB %s: %s; retrying", self.remote, exc)
                    warned = True
                await asyncio.sleep(retry)
        _LOG.info("monitoring OVSDB %s", self.remote)

    def close(self) -> None:
        """Stop the IDL's thread."""
        if self._connection is not None:
            self._connection.stop(timeout=1)
            self._connection = None

    def interfaces(self) -> list[Interface]:
        """Every Interface row of the replica, now."""
        with self._connection.lock:
            return [_interface(row) for row in self._api.tables["Interface"].rows.values()]

    def ports(self) -> list[PortTag]:
        """Every Port row of the replica, now."""
        with self._connection.lock:
            return [_port(row) for row in self._api.tables["Port"].rows.values()]

    def bridge_ports(self, bridge: str) -> set[str]:
        """The names of the ports on ``bridge`` (none when it does not exist)."""
        with self._connection.lock:
            rows = self._api.tables["Bridge"].rows.values()
            found = next((row for row in rows if row.name == bridge), None)
            return set() if found is None else {str(port.name) for port in found.ports}

    async def ensure_bridge(self, bridge: str, datapath_type: str) -> None:
        """Create ``bridge`` unless it exists (with ``datapath_type``, e.g. ``netdev``)."""
        await self._execute(self._api.add_br(bridge, may_exist=True, datapath_type=datapath_type))

    async def set_tags(self, tags: dict[str, int]) -> None:
        """Set the VLAN tag of each named port, in one transaction."""
        if not tags:
            return

        def commit() -> None:
            with self._api.transaction(check_error=True) as txn:
                for name, tag in tags.items():
                    txn.add(self._api.db_set("Port", name, ("tag", tag)))

        try:
            await asyncio.to_thread(commit)
        except Exception as exc:
            raise DatapathError(f"setting tags {tags}: {exc}") from exc

    async def add_tunnels(self, bridge: str, tunnels: dict[str, Tunnel]) -> None:
        """Add VXLAN ports to ``bridge``, each on its VLAN, protected (no traffic between
        two protected ports: a full mesh of tunnels must not forward from one to another)."""
        if not tunnels:
            return

        def commit() -> None:
            with self._api.transaction(check_error=True) as txn:
                for name, tunnel in tunnels.items():
                    options = {"remote_ip": tunnel.remote, "key": str(tunnel.vni)}
                    if tunnel.local:
                        options["local_ip"] = tunnel.local
                    txn.add(self._api.add_port(bridge, name, may_exist=True))
                    txn.add(
                        self._api.db_set("Interface", name, ("type", "vxlan"), ("options", options))
                    )
                    txn.add(
                        self._api.db_set("Port", name, ("tag", tunnel.vlan), ("protected", True))
                    )

        try:
            await asyncio.to_thread(commit)
        except Exception as exc:
            raise DatapathError(f"adding tunnels {sorted(tunnels)}: {exc}") from exc

    async def delete_ports(self, bridge: str, names: list[str]) -> None:
        """Remove these ports from ``bridge``."""
        if not names:
            return

        def commit() -> None:
            with self._api.transaction(check_error=True) as txn:
                for name in names:
                    txn.add(self._api.del_port(name, bridge, if_exists=True))

        try:
            await asyncio.to_thread(commit)
        except Exception as exc:
            raise DatapathError(f"removing ports {names}: {exc}") from exc

    async def _execute(self, command: Any) -> Any:
        try:
            return await asyncio.to_thread(command.execute, check_error=True)
        except Exception as exc:
            raise DatapathError(f"OVSDB {self.remote}: {exc}") from exc
