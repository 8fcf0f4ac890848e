from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from quantum_api.v1 import attachment_pb2 as _attachment_pb2
from quantum_api.v1 import port_pb2 as _port_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetAttachmentRequest(_message.Message):
    __slots__ = ("tenant_id", "network_id", "port_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    PORT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    network_id: str
    port_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ..., port_id: _Optional[str] = ...) -> None: ...

class GetAttachmentResponse(_message.Message):
    __slots__ = ("attachment",)
    ATTACHMENT_FIELD_NUMBER: _ClassVar[int]
    attachment: _attachment_pb2.Attachment
    def __init__(self, attachment: _Optional[_Union[_attachment_pb2.Attachment, _Mapping]] = ...) -> None: ...

class PlugAttachmentRequest(_message.Message):
    __slots__ = ("tenant_id", "network_id", "port_id", "interface_id", "expected_revision", "require_ready")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    PORT_ID_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_READY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    network_id: str
    port_id: str
    interface_id: str
    expected_revision: int
    require_ready: bool
    def __init__(self, tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ..., port_id: _Optional[str] = ..., interface_id: _Optional[str] = ..., expected_revision: _Optional[int] = ..., require_ready: _Optional[bool] = ...) -> None: ...

class PlugAttachmentResponse(_message.Message):
    __slots__ = ("attachment", "port")
    ATTACHMENT_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    attachment: _attachment_pb2.Attachment
    port: _port_pb2.Port
    def __init__(self, attachment: _Optional[_Union[_attachment_pb2.Attachment, _Mapping]] = ..., port: _Optional[_Union[_port_pb2.Port, _Mapping]] = ...) -> None: ...

class UnplugAttachmentRequest(_message.Message):
    __slots__ = ("tenant_id", "network_id", "port_id", "expected_revision")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    PORT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    network_id: str
    port_id: str
    expected_revision: int
    def __init__(self, tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ..., port_id: _Optional[str] = ..., expected_revision: _Optional[int] = ...) -> None: ...

class UnplugAttachmentResponse(_message.Message):
    __slots__ = ("attachment", "port", "deleted")
    ATTACHMENT_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    attachment: _attachment_pb2.Attachment
    port: _port_pb2.Port
    deleted: bool
    def __init__(self, attachment: _Optional[_Union[_attachment_pb2.Attachment, _Mapping]] = ..., port: _Optional[_Union[_port_pb2.Port, _Mapping]] = ..., deleted: _Optional[bool] = ...) -> None: ...
