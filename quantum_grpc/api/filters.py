"""Request fields that need translating before the service sees them."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TypeVar

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from quantum_api.enums import short_name
from quantum_api.errors import InvalidArgument
from quantum_api.v1 import port_pb2
from quantum_grpc.service import validation as v
from quantum_grpc.service.ports import Qos

E = TypeVar("E", bound=StrEnum)


def status_filter(value: int, wrapper: EnumTypeWrapper, domain: type[E], field: str) -> E | None:
    """The domain status a list filters on; None for UNSPECIFIED (any)."""
    v.enum_field(value, wrapper.DESCRIPTOR, field)
    return None if value == 0 else domain(short_name(wrapper, value))


def qos_of(message: port_pb2.QosPolicy, present: bool) -> Qos | None:
    """The QoS a request sets, or None when the field is absent."""
    return Qos(message.rate_kbps, message.burst_kbytes) if present else None


def status_names(values: Iterable[int], wrapper: EnumTypeWrapper, field: str) -> frozenset[str]:
    """Stored status names ("ACTIVE") for repeated enum values; UNSPECIFIED is refused."""
    names = set()
    for value in values:
        v.enum_field(value, wrapper.DESCRIPTOR, field)
        if value == 0:
            raise InvalidArgument(f"{field} must not contain an UNSPECIFIED status", field=field)
        names.add(short_name(wrapper, value))
    return frozenset(names)
