"""The API's status and event enums as Python enums with names: ``PortStatus.ACTIVE``.

Resource messages carry plain ints (protobuf's enums are ints in Python); these
``IntEnum``s compare equal to them, so ``port.status == PortStatus.ACTIVE`` holds, and
``PortStatus(port.status)`` is ``PortStatus.ACTIVE`` (named, and typed for mypy, whose
strict equality sees the generated type and this one as unrelated). Each member is the
proto value's short name (the enum's prefix dropped); ``Name``/``Value`` still speak the
proto's full names, as the generated wrappers do. ``tests/clients/test_statuses.py``
checks every enum here against the contract's descriptors, so they cannot drift.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["AttachmentStatus", "EventType", "LinkStatus", "NetworkStatus", "PortStatus"]


class ProtoEnum(IntEnum):
    """A contract enum: short member names, the proto's full names through Name/Value."""

    @classmethod
    def prefix(cls) -> str:
        """The proto prefix of every value: ``"PORT_STATUS_"`` for ``PortStatus``."""
        return "".join(f"_{c}" if c.isupper() else c.upper() for c in cls.__name__)[1:] + "_"

    # Name and Value: the generated wrappers' spelling, so code written for those works.
    @classmethod
    def Name(cls, value: int) -> str:
        """The proto's full name of ``value``: ``"PORT_STATUS_ACTIVE"``."""
        return cls.prefix() + cls(value).name

    @classmethod
    def Value(cls, name: str) -> int:
        """The value of a full (``PORT_STATUS_ACTIVE``) or short (``ACTIVE``) name."""
        return int(cls[name.upper().removeprefix(cls.prefix())])

    def __str__(self) -> str:
        return self.name


class NetworkStatus(ProtoEnum):
    """A network's status (docs/status-model.md)."""

    UNSPECIFIED = 0
    PROVISIONING = 1
    AVAILABLE = 2
    ERROR = 3


class PortStatus(ProtoEnum):
    """A port's status, derived from its attachment and link (docs/status-model.md)."""

    UNSPECIFIED = 0
    PROVISIONING = 1
    DOWN = 2
    ACTIVE = 3
    ERROR = 4


class AttachmentStatus(ProtoEnum):
    """An attachment's status."""

    UNSPECIFIED = 0
    PROVISIONING = 1
    AVAILABLE = 2
    ERROR = 3


class LinkStatus(ProtoEnum):
    """A port's link as the back-end sees it."""

    UNSPECIFIED = 0
    UP = 1
    DOWN = 2
    UNKNOWN = 3


class EventType(ProtoEnum):
    """What a watch event says: a change, or a SYNCED/PROGRESS marker."""

    UNSPECIFIED = 0
    ADDED = 1
    MODIFIED = 2
    DELETED = 3
    SYNCED = 4
    PROGRESS = 5
