import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from quantum_api.v1 import backend_error_pb2 as _backend_error_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NetworkStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NETWORK_STATUS_UNSPECIFIED: _ClassVar[NetworkStatus]
    NETWORK_STATUS_PROVISIONING: _ClassVar[NetworkStatus]
    NETWORK_STATUS_AVAILABLE: _ClassVar[NetworkStatus]
    NETWORK_STATUS_ERROR: _ClassVar[NetworkStatus]
NETWORK_STATUS_UNSPECIFIED: NetworkStatus
NETWORK_STATUS_PROVISIONING: NetworkStatus
NETWORK_STATUS_AVAILABLE: NetworkStatus
NETWORK_STATUS_ERROR: NetworkStatus

class Network(_message.Message):
    __slots__ = ("id", "tenant_id", "name", "status", "error", "revision", "deleting", "backend", "create_time", "update_time", "generation", "observed_generation")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    DELETING_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_GENERATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    name: str
    status: NetworkStatus
    error: _backend_error_pb2.BackendError
    revision: int
    deleting: bool
    backend: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    generation: int
    observed_generation: int
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[_Union[NetworkStatus, str]] = ..., error: _Optional[_Union[_backend_error_pb2.BackendError, _Mapping]] = ..., revision: _Optional[int] = ..., deleting: _Optional[bool] = ..., backend: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., generation: _Optional[int] = ..., observed_generation: _Optional[int] = ...) -> None: ...
