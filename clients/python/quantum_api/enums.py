"""Proto enum values by their short names ("PORT_STATUS_ACTIVE" <-> "ACTIVE"), in one place.

Every enum of the contract prefixes its values with the enum's name and starts with
``PREFIX_UNSPECIFIED = 0`` (buf's ENUM_VALUE_PREFIX and ENUM_ZERO_VALUE_SUFFIX lint rules),
so the prefix is read from the descriptor, never spelled out by hand. The core stores the
short names; the SDK and the CLI show them.
"""

from __future__ import annotations

from typing import TypeVar, cast

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

__all__ = ["enum_prefix", "short_name", "value_of"]

E = TypeVar("E", bound=int)


def enum_prefix(wrapper: EnumTypeWrapper) -> str:
    """The prefix of every value of ``wrapper``: ``"PORT_STATUS_"`` for ``PortStatus``."""
    return wrapper.DESCRIPTOR.values[0].name.removesuffix("UNSPECIFIED")


def short_name(wrapper: EnumTypeWrapper, value: int) -> str:
    """``value``'s name without the prefix (``ACTIVE``); ValueError for an undefined value."""
    return wrapper.Name(value).removeprefix(enum_prefix(wrapper))


def value_of(wrapper: type[E], name: str) -> E:
    """The value a short name (``ACTIVE``) stands for; ValueError for an unknown name."""
    enum = cast(EnumTypeWrapper, wrapper)  # the generated enum classes' metaclass
    return cast(E, enum.Value(enum_prefix(enum) + name))
