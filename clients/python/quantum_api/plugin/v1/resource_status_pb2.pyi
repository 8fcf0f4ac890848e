from quantum_api.v1 import backend_error_pb2 as _backend_error_pb2
from quantum_api.v1 import port_pb2 as _port_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResourceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESOURCE_KIND_UNSPECIFIED: _ClassVar[ResourceKind]
    RESOURCE_KIND_NETWORK: _ClassVar[ResourceKind]
    RESOURCE_KIND_PORT: _ClassVar[ResourceKind]

class ObservedState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OBSERVED_STATE_UNSPECIFIED: _ClassVar[ObservedState]
    OBSERVED_STATE_PENDING: _ClassVar[ObservedState]
    OBSERVED_STATE_READY: _ClassVar[ObservedState]
    OBSERVED_STATE_ERROR: _ClassVar[ObservedState]
    OBSERVED_STATE_DELETED: _ClassVar[ObservedState]
RESOURCE_KIND_UNSPECIFIED: ResourceKind
RESOURCE_KIND_NETWORK: ResourceKind
RESOURCE_KIND_PORT: ResourceKind
OBSERVED_STATE_UNSPECIFIED: ObservedState
OBSERVED_STATE_PENDING: ObservedState
OBSERVED_STATE_READY: ObservedState
OBSERVED_STATE_ERROR: ObservedState
OBSERVED_STATE_DELETED: ObservedState

class ResourceStatus(_message.Message):
    __slots__ = ("kind", "resource_id", "generation", "state", "link_status", "link_status_reason", "error")
    KIND_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    LINK_STATUS_FIELD_NUMBER: _ClassVar[int]
    LINK_STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    kind: ResourceKind
    resource_id: str
    generation: int
    state: ObservedState
    link_status: _port_pb2.LinkStatus
    link_status_reason: str
    error: _backend_error_pb2.BackendError
    def __init__(self, kind: _Optional[_Union[ResourceKind, str]] = ..., resource_id: _Optional[str] = ..., generation: _Optional[int] = ..., state: _Optional[_Union[ObservedState, str]] = ..., link_status: _Optional[_Union[_port_pb2.LinkStatus, str]] = ..., link_status_reason: _Optional[str] = ..., error: _Optional[_Union[_backend_error_pb2.BackendError, _Mapping]] = ...) -> None: ...
