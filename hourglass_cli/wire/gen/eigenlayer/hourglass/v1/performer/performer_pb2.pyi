from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class PerformerStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    READY_FOR_SYNC: _ClassVar[PerformerStatus]
    READY_FOR_TASK: _ClassVar[PerformerStatus]
READY_FOR_SYNC: PerformerStatus
READY_FOR_TASK: PerformerStatus

class StartSyncRequest(_message.Message):
    __slots__ = ("payload",)
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    def __init__(self, payload: _Optional[bytes] = ...) -> None: ...

class StartSyncResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TaskRequest(_message.Message):
    __slots__ = ("task_id", "payload")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    payload: bytes
    def __init__(self, task_id: _Optional[bytes] = ..., payload: _Optional[bytes] = ...) -> None: ...

class TaskResponse(_message.Message):
    __slots__ = ("task_id", "result")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    task_id: bytes
    result: bytes
    def __init__(self, task_id: _Optional[bytes] = ..., result: _Optional[bytes] = ...) -> None: ...
