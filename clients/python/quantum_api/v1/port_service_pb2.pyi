from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from quantum_api.v1 import port_pb2 as _port_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreatePortRequest(_message.Message):
    __slots__ = ("tenant_id", "network_id", "admin_state_up", "qos", "request_id", "require_ready")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    ADMIN_STATE_UP_FIELD_NUMBER: _ClassVar[int]
    QOS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_READY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    network_id: str
    admin_state_up: bool
    qos: _port_pb2.QosPolicy
    request_id: str
    require_ready: bool
    def __init__(self, tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ..., admin_state_up: _Optional[bool] = ..., qos: _Optional[_Union[_port_pb2.QosPolicy, _Mapping]] = ..., request_id: _Optional[str] = ..., require_ready: _Optional[bool] = ...) -> None: ...

class CreatePortResponse(_message.Message):
    __slots__ = ("port",)
    PORT_FIELD_NUMBER: _ClassVar[int]
    port: _port_pb2.Port
    def __init__(self, port: _Optional[_Union[_port_pb2.Port, _Mapping]] = ...) -> None: ...

class GetPortRequest(_message.Message):
    __slots__ = ("tenant_id", "network_id", "port_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    PORT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    network_id: str
    port_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ..., port_id: _Optional[str] = ...) -> None: ...

class GetPortResponse(_message.Message):
    __slots__ = ("port",)
    PORT_FIELD_NUMBER: _ClassVar[int]
    port: _port_pb2.Port
    def __init__(self, port: _Optional[_Union[_port_pb2.Port, _Mapping]] = ...) -> None: ...

class ListPortsRequest(_message.Message):
    __slots__ = ("tenant_id", "network_id", "page_size", "page_token", "status")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    network_id: str
    page_size: int
    page_token: str
    status: _port_pb2.PortStatus
    def __init__(self, tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., status: _Optional[_Union[_port_pb2.PortStatus, str]] = ...) -> None: ...

class ListPortsResponse(_message.Message):
    __slots__ = ("ports", "next_page_token")
    PORTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ports: _containers.RepeatedCompositeFieldContainer[_port_pb2.Port]
    next_page_token: str
    def __init__(self, ports: _Optional[_Iterable[_Union[_port_pb2.Port, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdatePortRequest(_message.Message):
    __slots__ = ("tenant_id", "network_id", "port_id", "admin_state_up", "qos", "expected_revision", "require_ready")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    PORT_ID_FIELD_NUMBER: _ClassVar[int]
    ADMIN_STATE_UP_FIELD_NUMBER: _ClassVar[int]
    QOS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_READY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    network_id: str
    port_id: str
    admin_state_up: bool
    qos: _port_pb2.QosPolicy
    expected_revision: int
    require_ready: bool
    def __init__(self, tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ..., port_id: _Optional[str] = ..., admin_state_up: _Optional[bool] = ..., qos: _Optional[_Union[_port_pb2.QosPolicy, _Mapping]] = ..., expected_revision: _Optional[int] = ..., require_ready: _Optional[bool] = ...) -> None: ...

class UpdatePortResponse(_message.Message):
    __slots__ = ("port",)
    PORT_FIELD_NUMBER: _ClassVar[int]
    port: _port_pb2.Port
    def __init__(self, port: _Optional[_Union[_port_pb2.Port, _Mapping]] = ...) -> None: ...

class DeletePortRequest(_message.Message):
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

class DeletePortResponse(_message.Message):
    __slots__ = ("port", "deleted")
    PORT_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    port: _port_pb2.Port
    deleted: bool
    def __init__(self, port: _Optional[_Union[_port_pb2.Port, _Mapping]] = ..., deleted: _Optional[bool] = ...) -> None: ...

class RetryPortRequest(_message.Message):
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

class RetryPortResponse(_message.Message):
    __slots__ = ("port",)
    PORT_FIELD_NUMBER: _ClassVar[int]
    port: _port_pb2.Port
    def __init__(self, port: _Optional[_Union[_port_pb2.Port, _Mapping]] = ...) -> None: ...
