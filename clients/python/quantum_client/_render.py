"""How the CLI shows resources: rich tables for people, JSON for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from quantum_client.resources import (
    event_label,
    is_marker,
    kind_label,
    kind_of,
    link_label,
    resource_of,
    status_label,
)
from quantum_client.types import AnyResource, Attachment, Network, Port, WatchEvent

STYLES = {
    "ACTIVE": "bold green",
    "AVAILABLE": "bold green",
    "UP": "green",
    "PROVISIONING": "yellow",
    "UNKNOWN": "yellow",
    "DOWN": "red",
    "ERROR": "bold red",
    "DELETED": "dim",
}


def as_dict(message: Message) -> dict[str, Any]:
    """A message as JSON-ready data: proto field names, every field, int64 as numbers."""
    data: dict[str, Any] = json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        unquote_int64_if_possible=True,
    )
    return data


def event_dict(event: WatchEvent) -> dict[str, Any]:
    """One watch event as one JSON object: type, revision, kind and resource (if any)."""
    data: dict[str, Any] = {"type": event_label(event), "revision": event.revision}
    resource = None if is_marker(event) else resource_of(event.resource)
    if resource is not None:
        data["kind"] = kind_label(kind_of(resource))
        data["resource"] = as_dict(resource)
    return data


def dumps(data: Any) -> str:
    """Compact, stable JSON on one line."""
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _id(header: str) -> Column:
    # UUIDs are copied and pasted: fold them onto two lines rather than cut them short.
    return Column(header, overflow="fold", min_width=8)


def styled(label: str) -> Text:
    """A status label in its colour."""
    return Text(label, style=STYLES.get(label, ""))


def status_cell(resource: AnyResource) -> Text:
    """The status, with "(deleting)" while a delete awaits the back-end."""
    text = styled(status_label(resource))
    if resource.deleting:
        text.append(" (deleting)", style="magenta")
    return text


def _error(resource: AnyResource) -> str:
    return f"{resource.error.code}: {resource.error.message}" if resource.error.code else ""


def qos_label(port: Port) -> str:
    """``"1000 kbps / 64 KB"``, or empty for no limit."""
    if not port.HasField("qos") or not port.qos.rate_kbps:
        return ""
    burst = f" / {port.qos.burst_kbytes} KB" if port.qos.burst_kbytes else ""
    return f"{port.qos.rate_kbps} kbps{burst}"


def networks_table(networks: Iterable[Network]) -> Table:
    """Networks, one per row."""
    table = Table(_id("ID"), "NAME", "STATUS", "REVISION", "BACKEND", "ERROR", title="networks")
    for net in networks:
        table.add_row(
            net.id, net.name, status_cell(net), str(net.revision), net.backend, _error(net)
        )
    return table


def ports_table(ports: Iterable[Port]) -> Table:
    """Ports, one per row."""
    table = Table(
        _id("ID"), _id("NETWORK"), "ADMIN", "STATUS", "LINK", "REASON", "INTERFACE", "QOS",
        "REVISION", title="ports",
    )  # fmt: skip
    for port in ports:
        table.add_row(
            port.id,
            port.network_id,
            "up" if port.admin_state_up else "down",
            status_cell(port),
            styled(link_label(port)),
            port.link_status_reason or _error(port),
            port.interface_id,
            qos_label(port),
            str(port.revision),
        )
    return table


def detail_table(message: Message, title: str = "") -> Table:
    """One message as FIELD / VALUE rows (nested fields dotted: ``qos.rate_kbps``)."""
    table = Table("FIELD", "VALUE", title=title or None, show_header=False)

    def add(prefix: str, data: dict[str, Any]) -> None:
        for key, value in data.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                add(f"{name}.", value)
            elif key in ("status", "link_status") and isinstance(value, str):
                table.add_row(name, styled(value.rsplit("_", 1)[-1]))
            else:
                table.add_row(name, str(value).lower() if isinstance(value, bool) else str(value))

    add("", as_dict(message))
    return table


def resource_table(resource: AnyResource) -> Table:
    """A resource as a detail table titled with its kind."""
    return detail_table(resource, kind_label(kind_of(resource)))


class Output:
    """Prints results in the chosen format (``table`` or ``json``) to stdout."""

    def __init__(self, mode: str, console: Console | None = None) -> None:
        self.mode = mode
        # A pipe gets the whole table rather than one cut to 80 columns.
        width = None if sys.stdout.isatty() else 250
        self.console = console or Console(highlight=False, width=width)

    @property
    def json(self) -> bool:
        """Whether output is JSON."""
        return self.mode == "json"

    def line(self, data: Any) -> None:
        """One JSON document on one line, flushed at once (for streams and pipes)."""
        print(dumps(data), flush=True)

    def resource(self, resource: AnyResource) -> None:
        """A resource: its JSON object, or a detail table."""
        if self.json:
            self.line(as_dict(resource))
        else:
            self.console.print(resource_table(resource))

    def networks(self, networks: list[Network]) -> None:
        """A list of networks: a JSON array, or a table."""
        if self.json:
            self.line([as_dict(n) for n in networks])
        else:
            self.console.print(networks_table(networks))

    def ports(self, ports: list[Port]) -> None:
        """A list of ports: a JSON array, or a table."""
        if self.json:
            self.line([as_dict(p) for p in ports])
        else:
            self.console.print(ports_table(ports))

    def response(self, message: Message, summary: str) -> None:
        """A response message: its JSON object, or a one-line summary."""
        if self.json:
            self.line(as_dict(message))
        else:
            self.console.print(summary)


def watch_row(resource: AnyResource, event: str, revision: int) -> tuple[Any, ...]:
    """The cells of one resource in the live watch table."""
    if isinstance(resource, Network):
        name = resource.name
    else:
        assert isinstance(resource, Port | Attachment)
        name = resource.interface_id
    status = styled("DELETED") if event == "DELETED" else status_cell(resource)
    if isinstance(resource, Port) and event != "DELETED":
        status.append(" link ").append(styled(link_label(resource)))
        if resource.link_status_reason:
            status.append(f" ({resource.link_status_reason})", style="dim")
    if resource.error.code:
        status.append(f" {_error(resource)}", style="red")
    return (kind_label(kind_of(resource)), resource.id, name, status, str(revision), event)


def watch_table(rows: Iterable[tuple[Any, ...]], caption: str) -> Table:
    """The live watch table."""
    table = Table(
        Column("KIND", no_wrap=True, min_width=10),
        Column("ID", no_wrap=True),
        "NAME / INTERFACE",
        Column("STATUS", min_width=12),
        "REVISION",
        "EVENT",
        caption=caption,
        caption_justify="left",
    )
    for row in rows:
        table.add_row(*row)
    return table
