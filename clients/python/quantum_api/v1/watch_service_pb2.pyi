from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from quantum_api.v1 import attachment_pb2 as _attachment_pb2
from quantum_api.v1 import network_pb2 as _network_pb2
from quantum_api.v1 import port_pb2 as _port_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResourceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESOURCE_KIND_UNSPECIFIED: _ClassVar[ResourceKind]
    RESOURCE_KIND_NETWORK: _ClassVar[ResourceKind]
    RESOURCE_KIND_PORT: _ClassVar[ResourceKind]
    RESOURCE_KIND_ATTACHMENT: _ClassVar[ResourceKind]

class WaitCondition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WAIT_CONDITION_UNSPECIFIED: _ClassVar[WaitCondition]
    WAIT_CONDITION_APPLIED: _ClassVar[WaitCondition]

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_ADDED: _ClassVar[EventType]
    EVENT_TYPE_MODIFIED: _ClassVar[EventType]
    EVENT_TYPE_DELETED: _ClassVar[EventType]
    EVENT_TYPE_SYNCED: _ClassVar[EventType]
    EVENT_TYPE_PROGRESS: _ClassVar[EventType]
RESOURCE_KIND_UNSPECIFIED: ResourceKind
RESOURCE_KIND_NETWORK: ResourceKind
RESOURCE_KIND_PORT: ResourceKind
RESOURCE_KIND_ATTACHMENT: ResourceKind
WAIT_CONDITION_UNSPECIFIED: WaitCondition
WAIT_CONDITION_APPLIED: WaitCondition
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_ADDED: EventType
EVENT_TYPE_MODIFIED: EventType
EVENT_TYPE_DELETED: EventType
EVENT_TYPE_SYNCED: EventType
EVENT_TYPE_PROGRESS: EventType

class Resource(_message.Message):
    __slots__ = ("network", "port", "attachment")
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENT_FIELD_NUMBER: _ClassVar[int]
    network: _network_pb2.Network
    port: _port_pb2.Port
    attachment: _attachment_pb2.Attachment
    def __init__(self, network: _Optional[_Union[_network_pb2.Network, _Mapping]] = ..., port: _Optional[_Union[_port_pb2.Port, _Mapping]] = ..., attachment: _Optional[_Union[_attachment_pb2.Attachment, _Mapping]] = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ("type", "revision", "resource")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    type: EventType
    revision: int
    resource: Resource
    def __init__(self, type: _Optional[_Union[EventType, str]] = ..., revision: _Optional[int] = ..., resource: _Optional[_Union[Resource, _Mapping]] = ...) -> None: ...

class WatchStatusRequest(_message.Message):
    __slots__ = ("tenant_id", "kinds", "resource_ids", "network_id", "network_statuses", "port_statuses", "attachment_statuses", "start_revision")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_STATUSES_FIELD_NUMBER: _ClassVar[int]
    PORT_STATUSES_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENT_STATUSES_FIELD_NUMBER: _ClassVar[int]
    START_REVISION_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    kinds: _containers.RepeatedScalarFieldContainer[ResourceKind]
    resource_ids: _containers.RepeatedScalarFieldContainer[str]
    network_id: str
    network_statuses: _containers.RepeatedScalarFieldContainer[_network_pb2.NetworkStatus]
    port_statuses: _containers.RepeatedScalarFieldContainer[_port_pb2.PortStatus]
    attachment_statuses: _containers.RepeatedScalarFieldContainer[_attachment_pb2.AttachmentStatus]
    start_revision: int
    def __init__(self, tenant_id: _Optional[str] = ..., kinds: _Optional[_Iterable[_Union[ResourceKind, str]]] = ..., resource_ids: _Optional[_Iterable[str]] = ..., network_id: _Optional[str] = ..., network_statuses: _Optional[_Iterable[_Union[_network_pb2.NetworkStatus, str]]] = ..., port_statuses: _Optional[_Iterable[_Union[_port_pb2.PortStatus, str]]] = ..., attachment_statuses: _Optional[_Iterable[_Union[_attachment_pb2.AttachmentStatus, str]]] = ..., start_revision: _Optional[int] = ...) -> None: ...

class WatchStatusResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[WatchEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[WatchEvent, _Mapping]]] = ...) -> None: ...

class WaitForStatusRequest(_message.Message):
    __slots__ = ("tenant_id", "kind", "resource_id", "network_statuses", "port_statuses", "attachment_statuses", "condition")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_STATUSES_FIELD_NUMBER: _ClassVar[int]
    PORT_STATUSES_FIELD_NUMBER: _ClassVar[int]
    ATTACHMENT_STATUSES_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    kind: ResourceKind
    resource_id: str
    network_statuses: _containers.RepeatedScalarFieldContainer[_network_pb2.NetworkStatus]
    port_statuses: _containers.RepeatedScalarFieldContainer[_port_pb2.PortStatus]
    attachment_statuses: _containers.RepeatedScalarFieldContainer[_attachment_pb2.AttachmentStatus]
    condition: WaitCondition
    def __init__(self, tenant_id: _Optional[str] = ..., kind: _Optional[_Union[ResourceKind, str]] = ..., resource_id: _Optional[str] = ..., network_statuses: _Optional[_Iterable[_Union[_network_pb2.NetworkStatus, str]]] = ..., port_statuses: _Optional[_Iterable[_Union[_port_pb2.PortStatus, str]]] = ..., attachment_statuses: _Optional[_Iterable[_Union[_attachment_pb2.AttachmentStatus, str]]] = ..., condition: _Optional[_Union[WaitCondition, str]] = ...) -> None: ...

class WaitForStatusResponse(_message.Message):
    __slots__ = ("resource", "revision")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    resource: Resource
    revision: int
    def __init__(self, resource: _Optional[_Union[Resource, _Mapping]] = ..., revision: _Optional[int] = ...) -> None: ...
