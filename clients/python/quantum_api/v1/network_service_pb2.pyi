from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from quantum_api.v1 import network_pb2 as _network_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateNetworkRequest(_message.Message):
    __slots__ = ("tenant_id", "name", "request_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    name: str
    request_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateNetworkResponse(_message.Message):
    __slots__ = ("network",)
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    network: _network_pb2.Network
    def __init__(self, network: _Optional[_Union[_network_pb2.Network, _Mapping]] = ...) -> None: ...

class GetNetworkRequest(_message.Message):
    __slots__ = ("tenant_id", "network_id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    network_id: str
    def __init__(self, tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ...) -> None: ...

class GetNetworkResponse(_message.Message):
    __slots__ = ("network",)
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    network: _network_pb2.Network
    def __init__(self, network: _Optional[_Union[_network_pb2.Network, _Mapping]] = ...) -> None: ...

class ListNetworksRequest(_message.Message):
    __slots__ = ("tenant_id", "page_size", "page_token", "name", "status")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    page_size: int
    page_token: str
    name: str
    status: _network_pb2.NetworkStatus
    def __init__(self, tenant_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[_Union[_network_pb2.NetworkStatus, str]] = ...) -> None: ...

class ListNetworksResponse(_message.Message):
    __slots__ = ("networks", "next_page_token")
    NETWORKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    networks: _containers.RepeatedCompositeFieldContainer[_network_pb2.Network]
    next_page_token: str
    def __init__(self, networks: _Optional[_Iterable[_Union[_network_pb2.Network, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateNetworkRequest(_message.Message):
    __slots__ = ("tenant_id", "network_id", "name", "expected_revision", "require_ready")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_READY_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    network_id: str
    name: str
    expected_revision: int
    require_ready: bool
    def __init__(self, tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ..., name: _Optional[str] = ..., expected_revision: _Optional[int] = ..., require_ready: _Optional[bool] = ...) -> None: ...

class UpdateNetworkResponse(_message.Message):
    __slots__ = ("network",)
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    network: _network_pb2.Network
    def __init__(self, network: _Optional[_Union[_network_pb2.Network, _Mapping]] = ...) -> None: ...

class DeleteNetworkRequest(_message.Message):
    __slots__ = ("tenant_id", "network_id", "expected_revision")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    network_id: str
    expected_revision: int
    def __init__(self, tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ..., expected_revision: _Optional[int] = ...) -> None: ...

class DeleteNetworkResponse(_message.Message):
    __slots__ = ("network", "deleted")
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    network: _network_pb2.Network
    deleted: bool
    def __init__(self, network: _Optional[_Union[_network_pb2.Network, _Mapping]] = ..., deleted: _Optional[bool] = ...) -> None: ...

class RetryNetworkRequest(_message.Message):
    __slots__ = ("tenant_id", "network_id", "expected_revision")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_REVISION_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    network_id: str
    expected_revision: int
    def __init__(self, tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ..., expected_revision: _Optional[int] = ...) -> None: ...

class RetryNetworkResponse(_message.Message):
    __slots__ = ("network",)
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    network: _network_pb2.Network
    def __init__(self, network: _Optional[_Union[_network_pb2.Network, _Mapping]] = ...) -> None: ...
