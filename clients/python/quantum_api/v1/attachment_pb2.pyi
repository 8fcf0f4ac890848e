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

class AttachmentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTACHMENT_STATUS_UNSPECIFIED: _ClassVar[AttachmentStatus]
    ATTACHMENT_STATUS_PROVISIONING: _ClassVar[AttachmentStatus]
    ATTACHMENT_STATUS_AVAILABLE: _ClassVar[AttachmentStatus]
    ATTACHMENT_STATUS_ERROR: _ClassVar[AttachmentStatus]
ATTACHMENT_STATUS_UNSPECIFIED: AttachmentStatus
ATTACHMENT_STATUS_PROVISIONING: AttachmentStatus
ATTACHMENT_STATUS_AVAILABLE: AttachmentStatus
ATTACHMENT_STATUS_ERROR: AttachmentStatus

class Attachment(_message.Message):
    __slots__ = ("id", "tenant_id", "network_id", "port_id", "interface_id", "status", "error", "revision", "deleting", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    PORT_ID_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    DELETING_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    network_id: str
    port_id: str
    interface_id: str
    status: AttachmentStatus
    error: _backend_error_pb2.BackendError
    revision: int
    deleting: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ..., port_id: _Optional[str] = ..., interface_id: _Optional[str] = ..., status: _Optional[_Union[AttachmentStatus, str]] = ..., error: _Optional[_Union[_backend_error_pb2.BackendError, _Mapping]] = ..., revision: _Optional[int] = ..., deleting: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
