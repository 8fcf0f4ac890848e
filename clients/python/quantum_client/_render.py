"""How the CLI shows resources: cells in colour, JSON documents, one line per event."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
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

__all__ = [
    "STYLES",
    "as_dict",
    "dumps",
    "error_label",
    "event_dict",
    "link_label",
    "name_of",
    "qos_label",
    "status_cell",
    "styled",
    "styled_cell",
]

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


def styled(label: str) -> Text:
    """A status label in its colour."""
    return Text(label, style=STYLES.get(label, ""))


def styled_cell(text: str) -> Text:
    """A cell whose first word is a status label ("ACTIVE (deleting)"), in its colour."""
    word, _, rest = text.partition(" ")
    cell = styled(word)
    if rest:
        cell.append(f" {rest}", style="magenta")
    return cell


def status_cell(resource: AnyResource) -> Text:
    """The status, with "(deleting)" while a delete awaits the back-end."""
    text = styled(status_label(resource))
    if resource.deleting:
        text.append(" (deleting)", style="magenta")
    return text


def error_label(resource: AnyResource) -> str:
    """The back-end's error, ``"CODE: message"``, or empty."""
    return f"{resource.error.code}: {resource.error.message}" if resource.error.code else ""


def qos_label(port: Port) -> str:
    """``"1000 kbps / 64 KB"``, or empty for no limit."""
    if not port.HasField("qos") or not port.qos.rate_kbps:
        return ""
    burst = f" / {port.qos.burst_kbytes} KB" if port.qos.burst_kbytes else ""
    return f"{port.qos.rate_kbps} kbps{burst}"


def name_of(resource: AnyResource) -> str:
    """A network's name, a port's or attachment's interface."""
    if isinstance(resource, Network):
        return resource.name
    assert isinstance(resource, Port | Attachment)
    return resource.interface_id


def state_text(resource: AnyResource, event: str) -> Text:
    """A resource's status as the watch shows it: link and reason, back-end error."""
    status = styled("DELETED") if event == "DELETED" else status_cell(resource)
    if isinstance(resource, Port) and event != "DELETED":
        status.append(" link ").append(styled(link_label(resource)))
        if resource.link_status_reason:
            status.append(f" ({resource.link_status_reason})", style="dim")
    if resource.error.code:
        status.append(f" {error_label(resource)}", style="red")
    return status
