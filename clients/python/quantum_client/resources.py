"""Helpers over the resource messages: kinds, statuses, and the ``Resource`` wrapper.

Kinds and statuses are accepted in every spelling a person or a program may use: the
proto enum value, its full name (``PORT_STATUS_ACTIVE``) or the short one (``active``).
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from quantum_api.enums import enum_prefix, short_name
from quantum_api.errors import InvalidArgument
from quantum_client.types import (
    AnyResource,
    Attachment,
    AttachmentStatus,
    EventType,
    LinkStatus,
    Network,
    NetworkStatus,
    Port,
    PortStatus,
    Resource,
    ResourceKind,
    WatchEvent,
)

__all__ = [
    "APPLIED",
    "KIND_NAMES",
    "KindLike",
    "StatusLike",
    "enum_label",
    "error_status",
    "event_label",
    "is_applied",
    "is_marker",
    "kind_label",
    "kind_of",
    "link_label",
    "parse_kind",
    "parse_statuses",
    "parse_wait",
    "resource_of",
    "status_enum",
    "status_label",
    "status_of",
    "wrap",
]

KindLike = int | str
"""A resource kind: a ``ResourceKind`` value, ``"port"``, ``"PORT"`` or ``"RESOURCE_KIND_PORT"``."""

StatusLike = int | str | Iterable[int | str]
"""One status or several: enum values, ``"ACTIVE"`` or ``"PORT_STATUS_ACTIVE"``."""

#: Lower-case names of the kinds, by ``ResourceKind`` value.
KIND_NAMES: dict[int, str] = {
    ResourceKind.RESOURCE_KIND_NETWORK: "network",
    ResourceKind.RESOURCE_KIND_PORT: "port",
    ResourceKind.RESOURCE_KIND_ATTACHMENT: "attachment",
}

_STATUS_ENUMS: dict[int, EnumTypeWrapper] = {
    ResourceKind.RESOURCE_KIND_NETWORK: NetworkStatus,
    ResourceKind.RESOURCE_KIND_PORT: PortStatus,
    ResourceKind.RESOURCE_KIND_ATTACHMENT: AttachmentStatus,
}


def enum_label(wrapper: EnumTypeWrapper, value: int) -> str:
    """The short name of an enum value: ``PORT_STATUS_ACTIVE`` → ``ACTIVE``."""
    try:
        return short_name(wrapper, value)
    except ValueError:
        return str(value)


def parse_kind(kind: KindLike) -> int:
    """The ``ResourceKind`` value of a kind in any spelling.

    Raises:
        InvalidArgument: for an unknown or unspecified kind.
    """
    if isinstance(kind, str):
        name = kind.strip().upper().removeprefix(enum_prefix(ResourceKind))
        for value, label in KIND_NAMES.items():
            if label.upper() == name:
                return value
    elif kind in KIND_NAMES:
        return kind
    raise InvalidArgument(
        f"unknown resource kind {kind!r}; expected network, port or attachment", field="kind"
    )


def kind_label(kind: int) -> str:
    """``"network"``, ``"port"`` or ``"attachment"``."""
    return KIND_NAMES.get(kind, "resource")


def kind_of(resource: AnyResource) -> int:
    """The ``ResourceKind`` of a resource message."""
    if isinstance(resource, Network):
        return ResourceKind.RESOURCE_KIND_NETWORK
    if isinstance(resource, Port):
        return ResourceKind.RESOURCE_KIND_PORT
    return ResourceKind.RESOURCE_KIND_ATTACHMENT


def parse_statuses(kind: int, statuses: StatusLike) -> frozenset[int]:
    """The status values of ``kind`` named by ``statuses``.

    Raises:
        InvalidArgument: for an empty set, or a status the kind does not have.
    """
    wrapper = _STATUS_ENUMS[kind]
    prefix = enum_prefix(wrapper)
    items: Iterable[int | str] = [statuses] if isinstance(statuses, int | str) else list(statuses)
    found: set[int] = set()
    for item in items:
        if isinstance(item, str):
            name = item.strip().upper()
            name = name if name.startswith(prefix) else prefix + name
            value = int(wrapper.Value(name)) if name in wrapper.DESCRIPTOR.values_by_name else 0
        else:
            value = item if item in wrapper.values() else 0
        if not value:
            known = ", ".join(k.removeprefix(prefix) for k in wrapper.keys()[1:])
            raise InvalidArgument(
                f"{item!r} is not a {kind_label(kind)} status; expected one of {known}",
                field="statuses",
            )
        found.add(value)
    if not found:
        raise InvalidArgument("name at least one status to wait for", field="statuses")
    return frozenset(found)


#: What ``wait_for`` accepts besides statuses: the back-end confirmed the resource's latest
#: change (``observed_generation == generation``; networks and ports only).
APPLIED = "APPLIED"


def _is_applied_word(item: int | str) -> bool:
    return isinstance(item, str) and item.strip().upper() == APPLIED


def parse_wait(kind: int, statuses: StatusLike) -> tuple[frozenset[int], bool]:
    """What a wait names: its statuses, and whether it also waits for ``APPLIED``.

    ``"APPLIED"`` alone waits for any status but ERROR; with statuses, for both.

    Raises:
        InvalidArgument: nothing named, a status the kind does not have, or ``APPLIED``
            for an attachment (wait for its port instead).
    """
    items: list[int | str] = [statuses] if isinstance(statuses, int | str) else list(statuses)
    rest = [item for item in items if not _is_applied_word(item)]
    applied = len(rest) < len(items)
    if applied and kind not in (
        ResourceKind.RESOURCE_KIND_NETWORK,
        ResourceKind.RESOURCE_KIND_PORT,
    ):
        raise InvalidArgument(
            f"{APPLIED} is for networks and ports, not {kind_label(kind)}s; wait for the port",
            field="statuses",
        )
    return (parse_statuses(kind, rest) if rest or not applied else frozenset()), applied


def is_applied(resource: AnyResource) -> bool:
    """Whether the back-end confirmed the resource's latest change (never for attachments)."""
    if isinstance(resource, Attachment):
        return False
    return resource.observed_generation == resource.generation


def status_enum(kind: int) -> EnumTypeWrapper:
    """The status enum of a kind: ``PortStatus`` for ports."""
    return _STATUS_ENUMS[kind]


def error_status(kind: int) -> int:
    """The ERROR value of the kind's status enum."""
    wrapper = _STATUS_ENUMS[kind]
    return int(wrapper.Value(enum_prefix(wrapper) + "ERROR"))


def status_of(resource: AnyResource) -> int:
    """The resource's observed status value."""
    return int(resource.status)


def status_label(resource: AnyResource) -> str:
    """The resource's status, short: ``"ACTIVE"``."""
    return enum_label(_STATUS_ENUMS[kind_of(resource)], resource.status)


def link_label(port: Port) -> str:
    """The port's link status, short: ``"UP"``."""
    return enum_label(LinkStatus, port.link_status)


def event_label(event: WatchEvent) -> str:
    """The event's type, short: ``"MODIFIED"``."""
    return enum_label(EventType, event.type)


def is_marker(event: WatchEvent) -> bool:
    """Whether the event is a SYNCED or PROGRESS marker rather than a change."""
    return event.type in (EventType.EVENT_TYPE_SYNCED, EventType.EVENT_TYPE_PROGRESS)


def resource_of(wrapper: Resource) -> AnyResource | None:
    """The resource inside a ``Resource`` wrapper; None for a marker's empty one."""
    which = wrapper.WhichOneof("kind")
    if which == "network":
        return wrapper.network
    if which == "port":
        return wrapper.port
    if which == "attachment":
        return wrapper.attachment
    return None


def wrap(resource: AnyResource) -> Resource:
    """A ``Resource`` wrapper around a resource message."""
    if isinstance(resource, Network):
        return Resource(network=resource)
    if isinstance(resource, Port):
        return Resource(port=resource)
    if isinstance(resource, Attachment):
        return Resource(attachment=resource)
    raise TypeError(f"not a resource message: {type(resource).__name__}")
