from quantum_api.plugin.v1 import resource_status_pb2 as _resource_status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChangeAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_ACTION_UNSPECIFIED: _ClassVar[ChangeAction]
    CHANGE_ACTION_CREATE: _ClassVar[ChangeAction]
    CHANGE_ACTION_UPDATE: _ClassVar[ChangeAction]
    CHANGE_ACTION_DELETE: _ClassVar[ChangeAction]
    CHANGE_ACTION_PLUG: _ClassVar[ChangeAction]
    CHANGE_ACTION_UNPLUG: _ClassVar[ChangeAction]
    CHANGE_ACTION_ENSURE: _ClassVar[ChangeAction]

class ApplyOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPLY_OUTCOME_UNSPECIFIED: _ClassVar[ApplyOutcome]
    APPLY_OUTCOME_DONE: _ClassVar[ApplyOutcome]
    APPLY_OUTCOME_ACCEPTED: _ClassVar[ApplyOutcome]
CHANGE_ACTION_UNSPECIFIED: ChangeAction
CHANGE_ACTION_CREATE: ChangeAction
CHANGE_ACTION_UPDATE: ChangeAction
CHANGE_ACTION_DELETE: ChangeAction
CHANGE_ACTION_PLUG: ChangeAction
CHANGE_ACTION_UNPLUG: ChangeAction
CHANGE_ACTION_ENSURE: ChangeAction
APPLY_OUTCOME_UNSPECIFIED: ApplyOutcome
APPLY_OUTCOME_DONE: ApplyOutcome
APPLY_OUTCOME_ACCEPTED: ApplyOutcome

class NetworkSpec(_message.Message):
    __slots__ = ("id", "tenant_id", "name")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    name: str
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class PortSpec(_message.Message):
    __slots__ = ("id", "tenant_id", "network_id", "admin_state_up", "qos_rate_kbps", "qos_burst_kbytes", "interface_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ID_FIELD_NUMBER: _ClassVar[int]
    ADMIN_STATE_UP_FIELD_NUMBER: _ClassVar[int]
    QOS_RATE_KBPS_FIELD_NUMBER: _ClassVar[int]
    QOS_BURST_KBYTES_FIELD_NUMBER: _ClassVar[int]
    INTERFACE_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    network_id: str
    admin_state_up: bool
    qos_rate_kbps: int
    qos_burst_kbytes: int
    interface_id: str
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., network_id: _Optional[str] = ..., admin_state_up: _Optional[bool] = ..., qos_rate_kbps: _Optional[int] = ..., qos_burst_kbytes: _Optional[int] = ..., interface_id: _Optional[str] = ...) -> None: ...

class DescribeBackendRequest(_message.Message):
    __slots__ = ("reporter_target", "core_id")
    REPORTER_TARGET_FIELD_NUMBER: _ClassVar[int]
    CORE_ID_FIELD_NUMBER: _ClassVar[int]
    reporter_target: str
    core_id: str
    def __init__(self, reporter_target: _Optional[str] = ..., core_id: _Optional[str] = ...) -> None: ...

class DescribeBackendResponse(_message.Message):
    __slots__ = ("name", "description", "synchronous_changes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SYNCHRONOUS_CHANGES_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    synchronous_changes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., synchronous_changes: _Optional[_Iterable[str]] = ...) -> None: ...

class ApplyChangeRequest(_message.Message):
    __slots__ = ("operation_id", "kind", "action", "generation", "network", "port", "context")
    OPERATION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    operation_id: str
    kind: _resource_status_pb2.ResourceKind
    action: ChangeAction
    generation: int
    network: NetworkSpec
    port: PortSpec
    context: RequestContext
    def __init__(self, operation_id: _Optional[str] = ..., kind: _Optional[_Union[_resource_status_pb2.ResourceKind, str]] = ..., action: _Optional[_Union[ChangeAction, str]] = ..., generation: _Optional[int] = ..., network: _Optional[_Union[NetworkSpec, _Mapping]] = ..., port: _Optional[_Union[PortSpec, _Mapping]] = ..., context: _Optional[_Union[RequestContext, _Mapping]] = ...) -> None: ...

class RequestContext(_message.Message):
    __slots__ = ("request_id", "traceparent")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    traceparent: str
    def __init__(self, request_id: _Optional[str] = ..., traceparent: _Optional[str] = ...) -> None: ...

class ApplyChangeResponse(_message.Message):
    __slots__ = ("outcome", "status")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    outcome: ApplyOutcome
    status: _resource_status_pb2.ResourceStatus
    def __init__(self, outcome: _Optional[_Union[ApplyOutcome, str]] = ..., status: _Optional[_Union[_resource_status_pb2.ResourceStatus, _Mapping]] = ...) -> None: ...

class ListStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListStatusResponse(_message.Message):
    __slots__ = ("statuses",)
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedCompositeFieldContainer[_resource_status_pb2.ResourceStatus]
    def __init__(self, statuses: _Optional[_Iterable[_Union[_resource_status_pb2.ResourceStatus, _Mapping]]] = ...) -> None: ...
