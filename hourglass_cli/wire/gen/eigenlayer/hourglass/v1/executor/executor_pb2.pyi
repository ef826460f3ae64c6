from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class TaskSubmission(_message.Message):
    __slots__ = ("task_id", "aggregator_address", "avs_address", "payload", "signature", "operator_set_id", "reference_timestamp", "executor_address", "task_block_number", "version")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AGGREGATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AVS_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_SET_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TASK_BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    aggregator_address: str
    avs_address: str
    payload: bytes
    signature: bytes
    operator_set_id: int
    reference_timestamp: int
    executor_address: str
    task_block_number: int
    version: int
    def __init__(self, task_id: _Optional[str] = ..., aggregator_address: _Optional[str] = ..., avs_address: _Optional[str] = ..., payload: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., operator_set_id: _Optional[int] = ..., reference_timestamp: _Optional[int] = ..., executor_address: _Optional[str] = ..., task_block_number: _Optional[int] = ..., version: _Optional[int] = ...) -> None: ...

class TaskResult(_message.Message):
    __slots__ = ("task_id", "operator_address", "output", "result_signature", "avs_address", "operator_set_id", "auth_signature", "version")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    RESULT_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    AVS_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_SET_ID_FIELD_NUMBER: _ClassVar[int]
    AUTH_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    operator_address: str
    output: bytes
    result_signature: bytes
    avs_address: str
    operator_set_id: int
    auth_signature: bytes
    version: int
    def __init__(self, task_id: _Optional[str] = ..., operator_address: _Optional[str] = ..., output: _Optional[bytes] = ..., result_signature: _Optional[bytes] = ..., avs_address: _Optional[str] = ..., operator_set_id: _Optional[int] = ..., auth_signature: _Optional[bytes] = ..., version: _Optional[int] = ...) -> None: ...
