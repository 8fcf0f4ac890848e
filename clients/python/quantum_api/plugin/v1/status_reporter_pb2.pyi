from quantum_api.plugin.v1 import resource_status_pb2 as _resource_status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReportStatusRequest(_message.Message):
    __slots__ = ("backend", "statuses")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    backend: str
    statuses: _containers.RepeatedCompositeFieldContainer[_resource_status_pb2.ResourceStatus]
    def __init__(self, backend: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[_resource_status_pb2.ResourceStatus, _Mapping]]] = ...) -> None: ...

class ReportStatusResponse(_message.Message):
    __slots__ = ("applied", "ignored", "rejected")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    IGNORED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    applied: int
    ignored: int
    rejected: int
    def __init__(self, applied: _Optional[int] = ..., ignored: _Optional[int] = ..., rejected: _Optional[int] = ...) -> None: ...
