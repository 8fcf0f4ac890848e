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

class PortStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PORT_STATUS_UNSPECIFIED: _ClassVar[PortStatus]
    PORT_STATUS_PROVISIONING: _ClassVar[PortStatus]
    PORT_STATUS_DOWN: _ClassVar[PortStatus]
    PORT_STATUS_ACTIVE: _ClassVar[PortStatus]
    PORT_STATUS_ERROR: _ClassVar[PortStatus]

class LinkStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINK_STATUS_UNSPECIFIED: _ClassVar[LinkStatus]
    LINK_STATUS_UP: _ClassVar[LinkStatus]
    LINK_STATUS_DOWN: _ClassVar[LinkStatus]
    LINK_STATUS_UNKNOWN: _ClassVar[LinkStatus]
PORT_STATUS_UNSPECIFIED: PortStatus
PORT_STATUS_PROVISIONING: PortStatus
PORT_STATUS_DOWN: PortStatus
PORT_STATUS_ACTIVE: PortStatus
PORT_STATUS_ERROR: PortStatus
LINK_STATUS_UNSPECIFIED: LinkStatus
LINK_STATUS_UP: LinkStatus
LINK_STATUS_DOWN: LinkStatus
LINK_STATUS_UNKNOWN: LinkStatus

class QosPolicy(_message.Message):
    __slots__ = ("rate_kbps", "burst_kbytes")
    RATE_KBPS_FIELD_NUMBER: _ClassVar[int]
    BURST_KBYTES_FIELD_NUMBER: _ClassVar[int]
    rate_kbps: int
    burst_kbytes: int
    def __init__(self, rate_kbps: _Optional[int] = ..., burst_kbytes: _Optional[int] = ...) -> None: ...

class Port(_message.Message):
    __slots__ = ("id", "tenant_id", "network_id", "admin_state_up", "qos", "status", "link_status", "link_status_reason", "error", "interface_id", "revision", "deleting", "create_time", "update_time", "generation", "observed_generation")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    ADMIN_STATE_UP_FIELD_NUMBER: _ClassVar[int]
    QOS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LINK_STATUS_FIELD_NUMBER: _ClassVar[int]
    LINK_STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    DELETING_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_GENERATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    network_id: str
    admin_state_up: bool
    qos: QosPolicy
    status: PortStatus
    link_status: LinkStatus
    link_status_reason: str
    error: _backend_error_pb2.BackendError
    interface_id: str
    revision: int
    deleting: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    generation: int
    observed_generation: int
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ..., admin_state_up: _Optional[bool] = ..., qos: _Optional[_Union[QosPolicy, _Mapping]] = ..., status: _Optional[_Union[PortStatus, str]] = ..., link_status: _Optional[_Union[LinkStatus, str]] = ..., link_status_reason: _Optional[str] = ..., error: _Optional[_Union[_backend_error_pb2.BackendError, _Mapping]] = ..., interface_id: _Optional[str] = ..., revision: _Optional[int] = ..., deleting: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., generation: _Optional[int] = ..., observed_generation: _Optional[int] = ...) -> None: ...
