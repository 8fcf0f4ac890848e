from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BindingEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BINDING_EVENT_TYPE_UNSPECIFIED: _ClassVar[BindingEventType]
    BINDING_EVENT_TYPE_BOUND: _ClassVar[BindingEventType]
    BINDING_EVENT_TYPE_UNBOUND: _ClassVar[BindingEventType]

class BindingOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BINDING_OUTCOME_UNSPECIFIED: _ClassVar[BindingOutcome]
    BINDING_OUTCOME_APPLIED: _ClassVar[BindingOutcome]
    BINDING_OUTCOME_REMOVED: _ClassVar[BindingOutcome]
    BINDING_OUTCOME_FAILED: _ClassVar[BindingOutcome]
BINDING_EVENT_TYPE_UNSPECIFIED: BindingEventType
BINDING_EVENT_TYPE_BOUND: BindingEventType
BINDING_EVENT_TYPE_UNBOUND: BindingEventType
BINDING_OUTCOME_UNSPECIFIED: BindingOutcome
BINDING_OUTCOME_APPLIED: BindingOutcome
BINDING_OUTCOME_REMOVED: BindingOutcome
BINDING_OUTCOME_FAILED: BindingOutcome

class Tap(_message.Message):
    __slots__ = ("name", "oper_up", "oper_state")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPER_UP_FIELD_NUMBER: _ClassVar[int]
    OPER_STATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    oper_up: bool
    oper_state: str
    def __init__(self, name: _Optional[str] = ..., oper_up: _Optional[bool] = ..., oper_state: _Optional[str] = ...) -> None: ...

class Binding(_message.Message):
    __slots__ = ("port_id", "network_id", "interface_id", "tap", "bridge", "admin_state_up", "qos_rate_kbps", "qos_burst_kbytes", "generation", "revision", "segmentation_id", "tunnel_peers")
    PORT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_ID_FIELD_NUMBER: _ClassVar[int]
    TAP_FIELD_NUMBER: _ClassVar[int]
    BRIDGE_FIELD_NUMBER: _ClassVar[int]
    ADMIN_STATE_UP_FIELD_NUMBER: _ClassVar[int]
    QOS_RATE_KBPS_FIELD_NUMBER: _ClassVar[int]
    QOS_BURST_KBYTES_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SEGMENTATION_ID_FIELD_NUMBER: _ClassVar[int]
    TUNNEL_PEERS_FIELD_NUMBER: _ClassVar[int]
    port_id: str
    network_id: str
    interface_id: str
    tap: str
    bridge: str
    admin_state_up: bool
    qos_rate_kbps: int
    qos_burst_kbytes: int
    generation: int
    revision: int
    segmentation_id: int
    tunnel_peers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, port_id: _Optional[str] = ..., network_id: _Optional[str] = ..., interface_id: _Optional[str] = ..., tap: _Optional[str] = ..., bridge: _Optional[str] = ..., admin_state_up: _Optional[bool] = ..., qos_rate_kbps: _Optional[int] = ..., qos_burst_kbytes: _Optional[int] = ..., generation: _Optional[int] = ..., revision: _Optional[int] = ..., segmentation_id: _Optional[int] = ..., tunnel_peers: _Optional[_Iterable[str]] = ...) -> None: ...

class BindingEvent(_message.Message):
    __slots__ = ("type", "binding")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    BINDING_FIELD_NUMBER: _ClassVar[int]
    type: BindingEventType
    binding: Binding
    def __init__(self, type: _Optional[_Union[BindingEventType, str]] = ..., binding: _Optional[_Union[Binding, _Mapping]] = ...) -> None: ...

class BindingResult(_message.Message):
    __slots__ = ("port_id", "revision", "outcome", "tap", "error")
    PORT_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    TAP_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    port_id: str
    revision: int
    outcome: BindingOutcome
    tap: Tap
    error: str
    def __init__(self, port_id: _Optional[str] = ..., revision: _Optional[int] = ..., outcome: _Optional[_Union[BindingOutcome, str]] = ..., tap: _Optional[_Union[Tap, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...
