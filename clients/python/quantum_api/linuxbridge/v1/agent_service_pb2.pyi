from quantum_api.linuxbridge.v1 import binding_pb2 as _binding_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReportTapsRequest(_message.Message):
    __slots__ = ("host", "agent_id", "full", "taps", "removed", "heartbeat_interval_ms", "tunnel_ip")
    HOST_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    TAPS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    TUNNEL_IP_FIELD_NUMBER: _ClassVar[int]
    host: str
    agent_id: str
    full: bool
    taps: _containers.RepeatedCompositeFieldContainer[_binding_pb2.Tap]
    removed: _containers.RepeatedScalarFieldContainer[str]
    heartbeat_interval_ms: int
    tunnel_ip: str
    def __init__(self, host: _Optional[str] = ..., agent_id: _Optional[str] = ..., full: _Optional[bool] = ..., taps: _Optional[_Iterable[_Union[_binding_pb2.Tap, _Mapping]]] = ..., removed: _Optional[_Iterable[str]] = ..., heartbeat_interval_ms: _Optional[int] = ..., tunnel_ip: _Optional[str] = ...) -> None: ...

class ReportTapsResponse(_message.Message):
    __slots__ = ("registered", "backend_epoch")
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    BACKEND_EPOCH_FIELD_NUMBER: _ClassVar[int]
    registered: bool
    backend_epoch: str
    def __init__(self, registered: _Optional[bool] = ..., backend_epoch: _Optional[str] = ...) -> None: ...

class WatchBindingsRequest(_message.Message):
    __slots__ = ("host", "agent_id", "backend_epoch", "start_revision")
    HOST_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    BACKEND_EPOCH_FIELD_NUMBER: _ClassVar[int]
    START_REVISION_FIELD_NUMBER: _ClassVar[int]
    host: str
    agent_id: str
    backend_epoch: str
    start_revision: int
    def __init__(self, host: _Optional[str] = ..., agent_id: _Optional[str] = ..., backend_epoch: _Optional[str] = ..., start_revision: _Optional[int] = ...) -> None: ...

class WatchBindingsResponse(_message.Message):
    __slots__ = ("backend_epoch", "revision", "snapshot", "events")
    BACKEND_EPOCH_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    backend_epoch: str
    revision: int
    snapshot: bool
    events: _containers.RepeatedCompositeFieldContainer[_binding_pb2.BindingEvent]
    def __init__(self, backend_epoch: _Optional[str] = ..., revision: _Optional[int] = ..., snapshot: _Optional[bool] = ..., events: _Optional[_Iterable[_Union[_binding_pb2.BindingEvent, _Mapping]]] = ...) -> None: ...

class ReportBindingsRequest(_message.Message):
    __slots__ = ("host", "agent_id", "results", "backend_epoch")
    HOST_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    BACKEND_EPOCH_FIELD_NUMBER: _ClassVar[int]
    host: str
    agent_id: str
    results: _containers.RepeatedCompositeFieldContainer[_binding_pb2.BindingResult]
    backend_epoch: str
    def __init__(self, host: _Optional[str] = ..., agent_id: _Optional[str] = ..., results: _Optional[_Iterable[_Union[_binding_pb2.BindingResult, _Mapping]]] = ..., backend_epoch: _Optional[str] = ...) -> None: ...

class ReportBindingsResponse(_message.Message):
    __slots__ = ("registered",)
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    registered: bool
    def __init__(self, registered: _Optional[bool] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("host", "agent_id", "interval_ms")
    HOST_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    host: str
    agent_id: str
    interval_ms: int
    def __init__(self, host: _Optional[str] = ..., agent_id: _Optional[str] = ..., interval_ms: _Optional[int] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("registered", "backend_epoch")
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    BACKEND_EPOCH_FIELD_NUMBER: _ClassVar[int]
    registered: bool
    backend_epoch: str
    def __init__(self, registered: _Optional[bool] = ..., backend_epoch: _Optional[str] = ...) -> None: ...
