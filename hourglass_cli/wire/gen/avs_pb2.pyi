from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import wrappers_pb2 as _wrappers_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TriggerType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIGGER_TYPE_UNSPECIFIED: _ClassVar[TriggerType]
    TRIGGER_TYPE_MANUAL: _ClassVar[TriggerType]
    TRIGGER_TYPE_FIXED_TIME: _ClassVar[TriggerType]
    TRIGGER_TYPE_CRON: _ClassVar[TriggerType]
    TRIGGER_TYPE_BLOCK: _ClassVar[TriggerType]
    TRIGGER_TYPE_EVENT: _ClassVar[TriggerType]

class NodeType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_TYPE_UNSPECIFIED: _ClassVar[NodeType]
    NODE_TYPE_ETH_TRANSFER: _ClassVar[NodeType]
    NODE_TYPE_CONTRACT_WRITE: _ClassVar[NodeType]
    NODE_TYPE_CONTRACT_READ: _ClassVar[NodeType]
    NODE_TYPE_GRAPHQL_QUERY: _ClassVar[NodeType]
    NODE_TYPE_REST_API: _ClassVar[NodeType]
    NODE_TYPE_CUSTOM_CODE: _ClassVar[NodeType]
    NODE_TYPE_BRANCH: _ClassVar[NodeType]
    NODE_TYPE_FILTER: _ClassVar[NodeType]
    NODE_TYPE_LOOP: _ClassVar[NodeType]
    NODE_TYPE_BALANCE: _ClassVar[NodeType]
    NODE_TYPE_HOURGLASS_TASK: _ClassVar[NodeType]

class ExecutionTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXECUTION_TIER_UNSPECIFIED: _ClassVar[ExecutionTier]
    EXECUTION_TIER_1: _ClassVar[ExecutionTier]
    EXECUTION_TIER_2: _ClassVar[ExecutionTier]
    EXECUTION_TIER_3: _ClassVar[ExecutionTier]

class ExecutionMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXECUTION_MODE_SEQUENTIAL: _ClassVar[ExecutionMode]
    EXECUTION_MODE_PARALLEL: _ClassVar[ExecutionMode]

class Lang(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LANG_UNSPECIFIED: _ClassVar[Lang]
    LANG_JAVASCRIPT: _ClassVar[Lang]
    LANG_JSON: _ClassVar[Lang]
    LANG_GRAPHQL: _ClassVar[Lang]
    LANG_HANDLEBARS: _ClassVar[Lang]

class ErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_CODE_UNSPECIFIED: _ClassVar[ErrorCode]
    UNAUTHORIZED: _ClassVar[ErrorCode]
    FORBIDDEN: _ClassVar[ErrorCode]
    INVALID_SIGNATURE: _ClassVar[ErrorCode]
    EXPIRED_TOKEN: _ClassVar[ErrorCode]
    TASK_NOT_FOUND: _ClassVar[ErrorCode]
    EXECUTION_NOT_FOUND: _ClassVar[ErrorCode]
    WALLET_NOT_FOUND: _ClassVar[ErrorCode]
    SECRET_NOT_FOUND: _ClassVar[ErrorCode]
    TOKEN_METADATA_NOT_FOUND: _ClassVar[ErrorCode]
    INVALID_REQUEST: _ClassVar[ErrorCode]
    INVALID_TRIGGER_CONFIG: _ClassVar[ErrorCode]
    INVALID_NODE_CONFIG: _ClassVar[ErrorCode]
    INVALID_WORKFLOW: _ClassVar[ErrorCode]
    INVALID_ADDRESS: _ClassVar[ErrorCode]
    INVALID_SIGNATURE_FORMAT: _ClassVar[ErrorCode]
    MISSING_REQUIRED_FIELD: _ClassVar[ErrorCode]
    TASK_ALREADY_EXISTS: _ClassVar[ErrorCode]
    TASK_ALREADY_COMPLETED: _ClassVar[ErrorCode]
    TASK_ALREADY_CANCELLED: _ClassVar[ErrorCode]
    EXECUTION_IN_PROGRESS: _ClassVar[ErrorCode]
    WALLET_ALREADY_EXISTS: _ClassVar[ErrorCode]
    SECRET_ALREADY_EXISTS: _ClassVar[ErrorCode]
    RPC_NODE_ERROR: _ClassVar[ErrorCode]
    TENDERLY_API_ERROR: _ClassVar[ErrorCode]
    TOKEN_LOOKUP_ERROR: _ClassVar[ErrorCode]
    SIMULATION_ERROR: _ClassVar[ErrorCode]
    STORAGE_UNAVAILABLE: _ClassVar[ErrorCode]
    STORAGE_WRITE_ERROR: _ClassVar[ErrorCode]
    STORAGE_READ_ERROR: _ClassVar[ErrorCode]
    TASK_DATA_CORRUPTED: _ClassVar[ErrorCode]
    EXECUTION_ENGINE_ERROR: _ClassVar[ErrorCode]
    RATE_LIMIT_EXCEEDED: _ClassVar[ErrorCode]
    QUOTA_EXCEEDED: _ClassVar[ErrorCode]
    TOO_MANY_REQUESTS: _ClassVar[ErrorCode]
    SMART_WALLET_RPC_ERROR: _ClassVar[ErrorCode]
    SMART_WALLET_NOT_FOUND: _ClassVar[ErrorCode]
    SMART_WALLET_DEPLOYMENT_ERROR: _ClassVar[ErrorCode]
    INSUFFICIENT_BALANCE: _ClassVar[ErrorCode]
    INSUFFICIENT_CREDIT: _ClassVar[ErrorCode]

class TaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    Enabled: _ClassVar[TaskStatus]
    Completed: _ClassVar[TaskStatus]
    Failed: _ClassVar[TaskStatus]
    Running: _ClassVar[TaskStatus]
    Disabled: _ClassVar[TaskStatus]

class ExecutionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXECUTION_STATUS_UNSPECIFIED: _ClassVar[ExecutionStatus]
    EXECUTION_STATUS_PENDING: _ClassVar[ExecutionStatus]
    EXECUTION_STATUS_SUCCESS: _ClassVar[ExecutionStatus]
    EXECUTION_STATUS_FAILED: _ClassVar[ExecutionStatus]
    EXECUTION_STATUS_PARTIAL_SUCCESS: _ClassVar[ExecutionStatus]
TRIGGER_TYPE_UNSPECIFIED: TriggerType
TRIGGER_TYPE_MANUAL: TriggerType
TRIGGER_TYPE_FIXED_TIME: TriggerType
TRIGGER_TYPE_CRON: TriggerType
TRIGGER_TYPE_BLOCK: TriggerType
TRIGGER_TYPE_EVENT: TriggerType
NODE_TYPE_UNSPECIFIED: NodeType
NODE_TYPE_ETH_TRANSFER: NodeType
NODE_TYPE_CONTRACT_WRITE: NodeType
NODE_TYPE_CONTRACT_READ: NodeType
NODE_TYPE_GRAPHQL_QUERY: NodeType
NODE_TYPE_REST_API: NodeType
NODE_TYPE_CUSTOM_CODE: NodeType
NODE_TYPE_BRANCH: NodeType
NODE_TYPE_FILTER: NodeType
NODE_TYPE_LOOP: NodeType
NODE_TYPE_BALANCE: NodeType
NODE_TYPE_HOURGLASS_TASK: NodeType
EXECUTION_TIER_UNSPECIFIED: ExecutionTier
EXECUTION_TIER_1: ExecutionTier
EXECUTION_TIER_2: ExecutionTier
EXECUTION_TIER_3: ExecutionTier
EXECUTION_MODE_SEQUENTIAL: ExecutionMode
EXECUTION_MODE_PARALLEL: ExecutionMode
LANG_UNSPECIFIED: Lang
LANG_JAVASCRIPT: Lang
LANG_JSON: Lang
LANG_GRAPHQL: Lang
LANG_HANDLEBARS: Lang
ERROR_CODE_UNSPECIFIED: ErrorCode
UNAUTHORIZED: ErrorCode
FORBIDDEN: ErrorCode
INVALID_SIGNATURE: ErrorCode
EXPIRED_TOKEN: ErrorCode
TASK_NOT_FOUND: ErrorCode
EXECUTION_NOT_FOUND: ErrorCode
WALLET_NOT_FOUND: ErrorCode
SECRET_NOT_FOUND: ErrorCode
TOKEN_METADATA_NOT_FOUND: ErrorCode
INVALID_REQUEST: ErrorCode
INVALID_TRIGGER_CONFIG: ErrorCode
INVALID_NODE_CONFIG: ErrorCode
INVALID_WORKFLOW: ErrorCode
INVALID_ADDRESS: ErrorCode
INVALID_SIGNATURE_FORMAT: ErrorCode
MISSING_REQUIRED_FIELD: ErrorCode
TASK_ALREADY_EXISTS: ErrorCode
TASK_ALREADY_COMPLETED: ErrorCode
TASK_ALREADY_CANCELLED: ErrorCode
EXECUTION_IN_PROGRESS: ErrorCode
WALLET_ALREADY_EXISTS: ErrorCode
SECRET_ALREADY_EXISTS: ErrorCode
RPC_NODE_ERROR: ErrorCode
TENDERLY_API_ERROR: ErrorCode
TOKEN_LOOKUP_ERROR: ErrorCode
SIMULATION_ERROR: ErrorCode
STORAGE_UNAVAILABLE: ErrorCode
STORAGE_WRITE_ERROR: ErrorCode
STORAGE_READ_ERROR: ErrorCode
TASK_DATA_CORRUPTED: ErrorCode
EXECUTION_ENGINE_ERROR: ErrorCode
RATE_LIMIT_EXCEEDED: ErrorCode
QUOTA_EXCEEDED: ErrorCode
TOO_MANY_REQUESTS: ErrorCode
SMART_WALLET_RPC_ERROR: ErrorCode
SMART_WALLET_NOT_FOUND: ErrorCode
SMART_WALLET_DEPLOYMENT_ERROR: ErrorCode
INSUFFICIENT_BALANCE: ErrorCode
INSUFFICIENT_CREDIT: ErrorCode
Enabled: TaskStatus
Completed: TaskStatus
Failed: TaskStatus
Running: TaskStatus
Disabled: TaskStatus
EXECUTION_STATUS_UNSPECIFIED: ExecutionStatus
EXECUTION_STATUS_PENDING: ExecutionStatus
EXECUTION_STATUS_SUCCESS: ExecutionStatus
EXECUTION_STATUS_FAILED: ExecutionStatus
EXECUTION_STATUS_PARTIAL_SUCCESS: ExecutionStatus

class TokenMetadata(_message.Message):
    __slots__ = ("id", "name", "symbol", "decimals")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    DECIMALS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    symbol: str
    decimals: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., symbol: _Optional[str] = ..., decimals: _Optional[int] = ...) -> None: ...

class GetTokenMetadataReq(_message.Message):
    __slots__ = ("address",)
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    address: str
    def __init__(self, address: _Optional[str] = ...) -> None: ...

class GetTokenMetadataResp(_message.Message):
    __slots__ = ("token", "found", "source")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    token: TokenMetadata
    found: bool
    source: str
    def __init__(self, token: _Optional[_Union[TokenMetadata, _Mapping]] = ..., found: _Optional[bool] = ..., source: _Optional[str] = ...) -> None: ...

class IdReq(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class FixedTimeTrigger(_message.Message):
    __slots__ = ("config",)
    class Config(_message.Message):
        __slots__ = ("epochs",)
        EPOCHS_FIELD_NUMBER: _ClassVar[int]
        epochs: _containers.RepeatedScalarFieldContainer[int]
        def __init__(self, epochs: _Optional[_Iterable[int]] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: FixedTimeTrigger.Config
    def __init__(self, config: _Optional[_Union[FixedTimeTrigger.Config, _Mapping]] = ...) -> None: ...

class CronTrigger(_message.Message):
    __slots__ = ("config",)
    class Config(_message.Message):
        __slots__ = ("schedules",)
        SCHEDULES_FIELD_NUMBER: _ClassVar[int]
        schedules: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, schedules: _Optional[_Iterable[str]] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: CronTrigger.Config
    def __init__(self, config: _Optional[_Union[CronTrigger.Config, _Mapping]] = ...) -> None: ...

class BlockTrigger(_message.Message):
    __slots__ = ("config",)
    class Config(_message.Message):
        __slots__ = ("interval",)
        INTERVAL_FIELD_NUMBER: _ClassVar[int]
        interval: int
        def __init__(self, interval: _Optional[int] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: BlockTrigger.Config
    def __init__(self, config: _Optional[_Union[BlockTrigger.Config, _Mapping]] = ...) -> None: ...

class EventTrigger(_message.Message):
    __slots__ = ("config",)
    class Query(_message.Message):
        __slots__ = ("addresses", "topics", "max_events_per_block", "contract_abi", "conditions", "method_calls")
        ADDRESSES_FIELD_NUMBER: _ClassVar[int]
        TOPICS_FIELD_NUMBER: _ClassVar[int]
        MAX_EVENTS_PER_BLOCK_FIELD_NUMBER: _ClassVar[int]
        CONTRACT_ABI_FIELD_NUMBER: _ClassVar[int]
        CONDITIONS_FIELD_NUMBER: _ClassVar[int]
        METHOD_CALLS_FIELD_NUMBER: _ClassVar[int]
        addresses: _containers.RepeatedScalarFieldContainer[str]
        topics: _containers.RepeatedScalarFieldContainer[str]
        max_events_per_block: int
        contract_abi: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Value]
        conditions: _containers.RepeatedCompositeFieldContainer[EventCondition]
        method_calls: _containers.RepeatedCompositeFieldContainer[EventTrigger.MethodCall]
        def __init__(self, addresses: _Optional[_Iterable[str]] = ..., topics: _Optional[_Iterable[str]] = ..., max_events_per_block: _Optional[int] = ..., contract_abi: _Optional[_Iterable[_Union[_struct_pb2.Value, _Mapping]]] = ..., conditions: _Optional[_Iterable[_Union[EventCondition, _Mapping]]] = ..., method_calls: _Optional[_Iterable[_Union[EventTrigger.MethodCall, _Mapping]]] = ...) -> None: ...
    class MethodCall(_message.Message):
        __slots__ = ("method_name", "call_data", "apply_to_fields", "method_params")
        METHOD_NAME_FIELD_NUMBER: _ClassVar[int]
        CALL_DATA_FIELD_NUMBER: _ClassVar[int]
        APPLY_TO_FIELDS_FIELD_NUMBER: _ClassVar[int]
        METHOD_PARAMS_FIELD_NUMBER: _ClassVar[int]
        method_name: str
        call_data: str
        apply_to_fields: _containers.RepeatedScalarFieldContainer[str]
        method_params: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, method_name: _Optional[str] = ..., call_data: _Optional[str] = ..., apply_to_fields: _Optional[_Iterable[str]] = ..., method_params: _Optional[_Iterable[str]] = ...) -> None: ...
    class Config(_message.Message):
        __slots__ = ("queries", "cooldown_seconds")
        QUERIES_FIELD_NUMBER: _ClassVar[int]
        COOLDOWN_SECONDS_FIELD_NUMBER: _ClassVar[int]
        queries: _containers.RepeatedCompositeFieldContainer[EventTrigger.Query]
        cooldown_seconds: int
        def __init__(self, queries: _Optional[_Iterable[_Union[EventTrigger.Query, _Mapping]]] = ..., cooldown_seconds: _Optional[int] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: EventTrigger.Config
    def __init__(self, config: _Optional[_Union[EventTrigger.Config, _Mapping]] = ...) -> None: ...

class ManualTrigger(_message.Message):
    __slots__ = ("config",)
    class Config(_message.Message):
        __slots__ = ("data", "headers", "pathParams", "lang")
        class HeadersEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        class PathParamsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        DATA_FIELD_NUMBER: _ClassVar[int]
        HEADERS_FIELD_NUMBER: _ClassVar[int]
        PATHPARAMS_FIELD_NUMBER: _ClassVar[int]
        LANG_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        headers: _containers.ScalarMap[str, str]
        pathParams: _containers.ScalarMap[str, str]
        lang: Lang
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., headers: _Optional[_Mapping[str, str]] = ..., pathParams: _Optional[_Mapping[str, str]] = ..., lang: _Optional[_Union[Lang, str]] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: ManualTrigger.Config
    def __init__(self, config: _Optional[_Union[ManualTrigger.Config, _Mapping]] = ...) -> None: ...

class TaskTrigger(_message.Message):
    __slots__ = ("name", "id", "type", "manual", "fixed_time", "cron", "block", "event")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MANUAL_FIELD_NUMBER: _ClassVar[int]
    FIXED_TIME_FIELD_NUMBER: _ClassVar[int]
    CRON_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    id: str
    type: TriggerType
    manual: ManualTrigger
    fixed_time: FixedTimeTrigger
    cron: CronTrigger
    block: BlockTrigger
    event: EventTrigger
    def __init__(self, name: _Optional[str] = ..., id: _Optional[str] = ..., type: _Optional[_Union[TriggerType, str]] = ..., manual: _Optional[_Union[ManualTrigger, _Mapping]] = ..., fixed_time: _Optional[_Union[FixedTimeTrigger, _Mapping]] = ..., cron: _Optional[_Union[CronTrigger, _Mapping]] = ..., block: _Optional[_Union[BlockTrigger, _Mapping]] = ..., event: _Optional[_Union[EventTrigger, _Mapping]] = ...) -> None: ...

class ETHTransferNode(_message.Message):
    __slots__ = ("config",)
    class Config(_message.Message):
        __slots__ = ("destination", "amount")
        DESTINATION_FIELD_NUMBER: _ClassVar[int]
        AMOUNT_FIELD_NUMBER: _ClassVar[int]
        destination: str
        amount: str
        def __init__(self, destination: _Optional[str] = ..., amount: _Optional[str] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: ETHTransferNode.Config
    def __init__(self, config: _Optional[_Union[ETHTransferNode.Config, _Mapping]] = ...) -> None: ...

class ContractWriteNode(_message.Message):
    __slots__ = ("config",)
    class Config(_message.Message):
        __slots__ = ("contract_address", "call_data", "contract_abi", "method_calls", "is_simulated", "value", "gas_limit")
        CONTRACT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
        CALL_DATA_FIELD_NUMBER: _ClassVar[int]
        CONTRACT_ABI_FIELD_NUMBER: _ClassVar[int]
        METHOD_CALLS_FIELD_NUMBER: _ClassVar[int]
        IS_SIMULATED_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        GAS_LIMIT_FIELD_NUMBER: _ClassVar[int]
        contract_address: str
        call_data: str
        contract_abi: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Value]
        method_calls: _containers.RepeatedCompositeFieldContainer[ContractWriteNode.MethodCall]
        is_simulated: bool
        value: str
        gas_limit: str
        def __init__(self, contract_address: _Optional[str] = ..., call_data: _Optional[str] = ..., contract_abi: _Optional[_Iterable[_Union[_struct_pb2.Value, _Mapping]]] = ..., method_calls: _Optional[_Iterable[_Union[ContractWriteNode.MethodCall, _Mapping]]] = ..., is_simulated: _Optional[bool] = ..., value: _Optional[str] = ..., gas_limit: _Optional[str] = ...) -> None: ...
    class MethodCall(_message.Message):
        __slots__ = ("call_data", "method_name", "apply_to_fields", "method_params")
        CALL_DATA_FIELD_NUMBER: _ClassVar[int]
        METHOD_NAME_FIELD_NUMBER: _ClassVar[int]
        APPLY_TO_FIELDS_FIELD_NUMBER: _ClassVar[int]
        METHOD_PARAMS_FIELD_NUMBER: _ClassVar[int]
        call_data: str
        method_name: str
        apply_to_fields: _containers.RepeatedScalarFieldContainer[str]
        method_params: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, call_data: _Optional[str] = ..., method_name: _Optional[str] = ..., apply_to_fields: _Optional[_Iterable[str]] = ..., method_params: _Optional[_Iterable[str]] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    class MethodResult(_message.Message):
        __slots__ = ("method_name", "method_abi", "success", "error", "receipt", "block_number", "value")
        METHOD_NAME_FIELD_NUMBER: _ClassVar[int]
        METHOD_ABI_FIELD_NUMBER: _ClassVar[int]
        SUCCESS_FIELD_NUMBER: _ClassVar[int]
        ERROR_FIELD_NUMBER: _ClassVar[int]
        RECEIPT_FIELD_NUMBER: _ClassVar[int]
        BLOCK_NUMBER_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        method_name: str
        method_abi: _struct_pb2.Value
        success: bool
        error: str
        receipt: _struct_pb2.Value
        block_number: int
        value: _struct_pb2.Value
        def __init__(self, method_name: _Optional[str] = ..., method_abi: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., success: _Optional[bool] = ..., error: _Optional[str] = ..., receipt: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., block_number: _Optional[int] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: ContractWriteNode.Config
    def __init__(self, config: _Optional[_Union[ContractWriteNode.Config, _Mapping]] = ...) -> None: ...

class ContractReadNode(_message.Message):
    __slots__ = ("config",)
    class MethodCall(_message.Message):
        __slots__ = ("call_data", "method_name", "apply_to_fields", "method_params")
        CALL_DATA_FIELD_NUMBER: _ClassVar[int]
        METHOD_NAME_FIELD_NUMBER: _ClassVar[int]
        APPLY_TO_FIELDS_FIELD_NUMBER: _ClassVar[int]
        METHOD_PARAMS_FIELD_NUMBER: _ClassVar[int]
        call_data: str
        method_name: str
        apply_to_fields: _containers.RepeatedScalarFieldContainer[str]
        method_params: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, call_data: _Optional[str] = ..., method_name: _Optional[str] = ..., apply_to_fields: _Optional[_Iterable[str]] = ..., method_params: _Optional[_Iterable[str]] = ...) -> None: ...
    class Config(_message.Message):
        __slots__ = ("contract_address", "contract_abi", "method_calls")
        CONTRACT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
        CONTRACT_ABI_FIELD_NUMBER: _ClassVar[int]
        METHOD_CALLS_FIELD_NUMBER: _ClassVar[int]
        contract_address: str
        contract_abi: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Value]
        method_calls: _containers.RepeatedCompositeFieldContainer[ContractReadNode.MethodCall]
        def __init__(self, contract_address: _Optional[str] = ..., contract_abi: _Optional[_Iterable[_Union[_struct_pb2.Value, _Mapping]]] = ..., method_calls: _Optional[_Iterable[_Union[ContractReadNode.MethodCall, _Mapping]]] = ...) -> None: ...
    class MethodResult(_message.Message):
        __slots__ = ("data", "method_name", "success", "error")
        class StructuredField(_message.Message):
            __slots__ = ("name", "type", "value")
            NAME_FIELD_NUMBER: _ClassVar[int]
            TYPE_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            name: str
            type: str
            value: str
            def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        DATA_FIELD_NUMBER: _ClassVar[int]
        METHOD_NAME_FIELD_NUMBER: _ClassVar[int]
        SUCCESS_FIELD_NUMBER: _ClassVar[int]
        ERROR_FIELD_NUMBER: _ClassVar[int]
        data: _containers.RepeatedCompositeFieldContainer[ContractReadNode.MethodResult.StructuredField]
        method_name: str
        success: bool
        error: str
        def __init__(self, data: _Optional[_Iterable[_Union[ContractReadNode.MethodResult.StructuredField, _Mapping]]] = ..., method_name: _Optional[str] = ..., success: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: ContractReadNode.Config
    def __init__(self, config: _Optional[_Union[ContractReadNode.Config, _Mapping]] = ...) -> None: ...

class GraphQLQueryNode(_message.Message):
    __slots__ = ("config",)
    class Config(_message.Message):
        __slots__ = ("url", "query", "variables")
        class VariablesEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        URL_FIELD_NUMBER: _ClassVar[int]
        QUERY_FIELD_NUMBER: _ClassVar[int]
        VARIABLES_FIELD_NUMBER: _ClassVar[int]
        url: str
        query: str
        variables: _containers.ScalarMap[str, str]
        def __init__(self, url: _Optional[str] = ..., query: _Optional[str] = ..., variables: _Optional[_Mapping[str, str]] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: GraphQLQueryNode.Config
    def __init__(self, config: _Optional[_Union[GraphQLQueryNode.Config, _Mapping]] = ...) -> None: ...

class RestAPINode(_message.Message):
    __slots__ = ("config",)
    class Config(_message.Message):
        __slots__ = ("url", "headers", "body", "method", "options")
        class HeadersEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: str
            value: str
            def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
        URL_FIELD_NUMBER: _ClassVar[int]
        HEADERS_FIELD_NUMBER: _ClassVar[int]
        BODY_FIELD_NUMBER: _ClassVar[int]
        METHOD_FIELD_NUMBER: _ClassVar[int]
        OPTIONS_FIELD_NUMBER: _ClassVar[int]
        url: str
        headers: _containers.ScalarMap[str, str]
        body: str
        method: str
        options: _struct_pb2.Value
        def __init__(self, url: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., body: _Optional[str] = ..., method: _Optional[str] = ..., options: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: RestAPINode.Config
    def __init__(self, config: _Optional[_Union[RestAPINode.Config, _Mapping]] = ...) -> None: ...

class CustomCodeNode(_message.Message):
    __slots__ = ("config",)
    class Config(_message.Message):
        __slots__ = ("lang", "source")
        LANG_FIELD_NUMBER: _ClassVar[int]
        SOURCE_FIELD_NUMBER: _ClassVar[int]
        lang: Lang
        source: str
        def __init__(self, lang: _Optional[_Union[Lang, str]] = ..., source: _Optional[str] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: CustomCodeNode.Config
    def __init__(self, config: _Optional[_Union[CustomCodeNode.Config, _Mapping]] = ...) -> None: ...

class BalanceNode(_message.Message):
    __slots__ = ("config",)
    class Config(_message.Message):
        __slots__ = ("address", "chain", "include_spam", "include_zero_balances", "min_usd_value_cents", "token_addresses")
        ADDRESS_FIELD_NUMBER: _ClassVar[int]
        CHAIN_FIELD_NUMBER: _ClassVar[int]
        INCLUDE_SPAM_FIELD_NUMBER: _ClassVar[int]
        INCLUDE_ZERO_BALANCES_FIELD_NUMBER: _ClassVar[int]
        MIN_USD_VALUE_CENTS_FIELD_NUMBER: _ClassVar[int]
        TOKEN_ADDRESSES_FIELD_NUMBER: _ClassVar[int]
        address: str
        chain: str
        include_spam: bool
        include_zero_balances: bool
        min_usd_value_cents: int
        token_addresses: _containers.RepeatedScalarFieldContainer[str]
        def __init__(self, address: _Optional[str] = ..., chain: _Optional[str] = ..., include_spam: _Optional[bool] = ..., include_zero_balances: _Optional[bool] = ..., min_usd_value_cents: _Optional[int] = ..., token_addresses: _Optional[_Iterable[str]] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: BalanceNode.Config
    def __init__(self, config: _Optional[_Union[BalanceNode.Config, _Mapping]] = ...) -> None: ...

class BranchNode(_message.Message):
    __slots__ = ("config",)
    class Condition(_message.Message):
        __slots__ = ("id", "type", "expression")
        ID_FIELD_NUMBER: _ClassVar[int]
        TYPE_FIELD_NUMBER: _ClassVar[int]
        EXPRESSION_FIELD_NUMBER: _ClassVar[int]
        id: str
        type: str
        expression: str
        def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., expression: _Optional[str] = ...) -> None: ...
    class Config(_message.Message):
        __slots__ = ("conditions",)
        CONDITIONS_FIELD_NUMBER: _ClassVar[int]
        conditions: _containers.RepeatedCompositeFieldContainer[BranchNode.Condition]
        def __init__(self, conditions: _Optional[_Iterable[_Union[BranchNode.Condition, _Mapping]]] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: BranchNode.Config
    def __init__(self, config: _Optional[_Union[BranchNode.Config, _Mapping]] = ...) -> None: ...

class FilterNode(_message.Message):
    __slots__ = ("config",)
    class Config(_message.Message):
        __slots__ = ("expression", "input_variable")
        EXPRESSION_FIELD_NUMBER: _ClassVar[int]
        INPUT_VARIABLE_FIELD_NUMBER: _ClassVar[int]
        expression: str
        input_variable: str
        def __init__(self, expression: _Optional[str] = ..., input_variable: _Optional[str] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: FilterNode.Config
    def __init__(self, config: _Optional[_Union[FilterNode.Config, _Mapping]] = ...) -> None: ...

class LoopNode(_message.Message):
    __slots__ = ("config", "eth_transfer", "contract_write", "contract_read", "graphql_data_query", "rest_api", "custom_code")
    class Config(_message.Message):
        __slots__ = ("input_variable", "iter_val", "iter_key", "execution_mode", "iteration_timeout")
        INPUT_VARIABLE_FIELD_NUMBER: _ClassVar[int]
        ITER_VAL_FIELD_NUMBER: _ClassVar[int]
        ITER_KEY_FIELD_NUMBER: _ClassVar[int]
        EXECUTION_MODE_FIELD_NUMBER: _ClassVar[int]
        ITERATION_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
        input_variable: str
        iter_val: str
        iter_key: str
        execution_mode: ExecutionMode
        iteration_timeout: int
        def __init__(self, input_variable: _Optional[str] = ..., iter_val: _Optional[str] = ..., iter_key: _Optional[str] = ..., execution_mode: _Optional[_Union[ExecutionMode, str]] = ..., iteration_timeout: _Optional[int] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    ETH_TRANSFER_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_WRITE_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_READ_FIELD_NUMBER: _ClassVar[int]
    GRAPHQL_DATA_QUERY_FIELD_NUMBER: _ClassVar[int]
    REST_API_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_CODE_FIELD_NUMBER: _ClassVar[int]
    config: LoopNode.Config
    eth_transfer: ETHTransferNode
    contract_write: ContractWriteNode
    contract_read: ContractReadNode
    graphql_data_query: GraphQLQueryNode
    rest_api: RestAPINode
    custom_code: CustomCodeNode
    def __init__(self, config: _Optional[_Union[LoopNode.Config, _Mapping]] = ..., eth_transfer: _Optional[_Union[ETHTransferNode, _Mapping]] = ..., contract_write: _Optional[_Union[ContractWriteNode, _Mapping]] = ..., contract_read: _Optional[_Union[ContractReadNode, _Mapping]] = ..., graphql_data_query: _Optional[_Union[GraphQLQueryNode, _Mapping]] = ..., rest_api: _Optional[_Union[RestAPINode, _Mapping]] = ..., custom_code: _Optional[_Union[CustomCodeNode, _Mapping]] = ...) -> None: ...

class TaskEdge(_message.Message):
    __slots__ = ("id", "source", "target")
    ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    id: str
    source: str
    target: str
    def __init__(self, id: _Optional[str] = ..., source: _Optional[str] = ..., target: _Optional[str] = ...) -> None: ...

class TaskNode(_message.Message):
    __slots__ = ("type", "id", "name", "eth_transfer", "contract_write", "contract_read", "graphql_query", "rest_api", "branch", "filter", "loop", "custom_code", "balance", "hourglass_task")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ETH_TRANSFER_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_WRITE_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_READ_FIELD_NUMBER: _ClassVar[int]
    GRAPHQL_QUERY_FIELD_NUMBER: _ClassVar[int]
    REST_API_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LOOP_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_CODE_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    HOURGLASS_TASK_FIELD_NUMBER: _ClassVar[int]
    type: NodeType
    id: str
    name: str
    eth_transfer: ETHTransferNode
    contract_write: ContractWriteNode
    contract_read: ContractReadNode
    graphql_query: GraphQLQueryNode
    rest_api: RestAPINode
    branch: BranchNode
    filter: FilterNode
    loop: LoopNode
    custom_code: CustomCodeNode
    balance: BalanceNode
    hourglass_task: HourglassTaskNode
    def __init__(self, type: _Optional[_Union[NodeType, str]] = ..., id: _Optional[str] = ..., name: _Optional[str] = ..., eth_transfer: _Optional[_Union[ETHTransferNode, _Mapping]] = ..., contract_write: _Optional[_Union[ContractWriteNode, _Mapping]] = ..., contract_read: _Optional[_Union[ContractReadNode, _Mapping]] = ..., graphql_query: _Optional[_Union[GraphQLQueryNode, _Mapping]] = ..., rest_api: _Optional[_Union[RestAPINode, _Mapping]] = ..., branch: _Optional[_Union[BranchNode, _Mapping]] = ..., filter: _Optional[_Union[FilterNode, _Mapping]] = ..., loop: _Optional[_Union[LoopNode, _Mapping]] = ..., custom_code: _Optional[_Union[CustomCodeNode, _Mapping]] = ..., balance: _Optional[_Union[BalanceNode, _Mapping]] = ..., hourglass_task: _Optional[_Union[HourglassTaskNode, _Mapping]] = ...) -> None: ...

class Execution(_message.Message):
    __slots__ = ("id", "start_at", "end_at", "status", "error", "index", "execution_fee", "steps", "cogs", "value_fee")
    class Step(_message.Message):
        __slots__ = ("id", "success", "log", "error", "start_at", "end_at", "inputs", "type", "name", "config", "metadata", "execution_context", "gas_used", "gas_price", "total_gas_cost", "error_code", "eth_transfer", "graphql", "contract_read", "contract_write", "custom_code", "rest_api", "branch", "filter", "loop", "block_trigger", "fixed_time_trigger", "cron_trigger", "event_trigger", "manual_trigger", "balance", "hourglass_task")
        ID_FIELD_NUMBER: _ClassVar[int]
        SUCCESS_FIELD_NUMBER: _ClassVar[int]
        LOG_FIELD_NUMBER: _ClassVar[int]
        ERROR_FIELD_NUMBER: _ClassVar[int]
        START_AT_FIELD_NUMBER: _ClassVar[int]
        END_AT_FIELD_NUMBER: _ClassVar[int]
        INPUTS_FIELD_NUMBER: _ClassVar[int]
        TYPE_FIELD_NUMBER: _ClassVar[int]
        NAME_FIELD_NUMBER: _ClassVar[int]
        CONFIG_FIELD_NUMBER: _ClassVar[int]
        METADATA_FIELD_NUMBER: _ClassVar[int]
        EXECUTION_CONTEXT_FIELD_NUMBER: _ClassVar[int]
        GAS_USED_FIELD_NUMBER: _ClassVar[int]
        GAS_PRICE_FIELD_NUMBER: _ClassVar[int]
        TOTAL_GAS_COST_FIELD_NUMBER: _ClassVar[int]
        ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
        ETH_TRANSFER_FIELD_NUMBER: _ClassVar[int]
        GRAPHQL_FIELD_NUMBER: _ClassVar[int]
        CONTRACT_READ_FIELD_NUMBER: _ClassVar[int]
        CONTRACT_WRITE_FIELD_NUMBER: _ClassVar[int]
        CUSTOM_CODE_FIELD_NUMBER: _ClassVar[int]
        REST_API_FIELD_NUMBER: _ClassVar[int]
        BRANCH_FIELD_NUMBER: _ClassVar[int]
        FILTER_FIELD_NUMBER: _ClassVar[int]
        LOOP_FIELD_NUMBER: _ClassVar[int]
        BLOCK_TRIGGER_FIELD_NUMBER: _ClassVar[int]
        FIXED_TIME_TRIGGER_FIELD_NUMBER: _ClassVar[int]
        CRON_TRIGGER_FIELD_NUMBER: _ClassVar[int]
        EVENT_TRIGGER_FIELD_NUMBER: _ClassVar[int]
        MANUAL_TRIGGER_FIELD_NUMBER: _ClassVar[int]
        BALANCE_FIELD_NUMBER: _ClassVar[int]
        HOURGLASS_TASK_FIELD_NUMBER: _ClassVar[int]
        id: str
        success: bool
        log: str
        error: str
        start_at: int
        end_at: int
        inputs: _containers.RepeatedScalarFieldContainer[str]
        type: str
        name: str
        config: _struct_pb2.Value
        metadata: _struct_pb2.Value
        execution_context: _struct_pb2.Value
        gas_used: str
        gas_price: str
        total_gas_cost: str
        error_code: ErrorCode
        eth_transfer: ETHTransferNode.Output
        graphql: GraphQLQueryNode.Output
        contract_read: ContractReadNode.Output
        contract_write: ContractWriteNode.Output
        custom_code: CustomCodeNode.Output
        rest_api: RestAPINode.Output
        branch: BranchNode.Output
        filter: FilterNode.Output
        loop: LoopNode.Output
        block_trigger: BlockTrigger.Output
        fixed_time_trigger: FixedTimeTrigger.Output
        cron_trigger: CronTrigger.Output
        event_trigger: EventTrigger.Output
        manual_trigger: ManualTrigger.Output
        balance: BalanceNode.Output
        hourglass_task: HourglassTaskNode.Output
        def __init__(self, id: _Optional[str] = ..., success: _Optional[bool] = ..., log: _Optional[str] = ..., error: _Optional[str] = ..., start_at: _Optional[int] = ..., end_at: _Optional[int] = ..., inputs: _Optional[_Iterable[str]] = ..., type: _Optional[str] = ..., name: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., execution_context: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., gas_used: _Optional[str] = ..., gas_price: _Optional[str] = ..., total_gas_cost: _Optional[str] = ..., error_code: _Optional[_Union[ErrorCode, str]] = ..., eth_transfer: _Optional[_Union[ETHTransferNode.Output, _Mapping]] = ..., graphql: _Optional[_Union[GraphQLQueryNode.Output, _Mapping]] = ..., contract_read: _Optional[_Union[ContractReadNode.Output, _Mapping]] = ..., contract_write: _Optional[_Union[ContractWriteNode.Output, _Mapping]] = ..., custom_code: _Optional[_Union[CustomCodeNode.Output, _Mapping]] = ..., rest_api: _Optional[_Union[RestAPINode.Output, _Mapping]] = ..., branch: _Optional[_Union[BranchNode.Output, _Mapping]] = ..., filter: _Optional[_Union[FilterNode.Output, _Mapping]] = ..., loop: _Optional[_Union[LoopNode.Output, _Mapping]] = ..., block_trigger: _Optional[_Union[BlockTrigger.Output, _Mapping]] = ..., fixed_time_trigger: _Optional[_Union[FixedTimeTrigger.Output, _Mapping]] = ..., cron_trigger: _Optional[_Union[CronTrigger.Output, _Mapping]] = ..., event_trigger: _Optional[_Union[EventTrigger.Output, _Mapping]] = ..., manual_trigger: _Optional[_Union[ManualTrigger.Output, _Mapping]] = ..., balance: _Optional[_Union[BalanceNode.Output, _Mapping]] = ..., hourglass_task: _Optional[_Union[HourglassTaskNode.Output, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    START_AT_FIELD_NUMBER: _ClassVar[int]
    END_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FEE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    COGS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FEE_FIELD_NUMBER: _ClassVar[int]
    id: str
    start_at: int
    end_at: int
    status: ExecutionStatus
    error: str
    index: int
    execution_fee: Fee
    steps: _containers.RepeatedCompositeFieldContainer[Execution.Step]
    cogs: _containers.RepeatedCompositeFieldContainer[NodeCOGS]
    value_fee: ValueFee
    def __init__(self, id: _Optional[str] = ..., start_at: _Optional[int] = ..., end_at: _Optional[int] = ..., status: _Optional[_Union[ExecutionStatus, str]] = ..., error: _Optional[str] = ..., index: _Optional[int] = ..., execution_fee: _Optional[_Union[Fee, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[Execution.Step, _Mapping]]] = ..., cogs: _Optional[_Iterable[_Union[NodeCOGS, _Mapping]]] = ..., value_fee: _Optional[_Union[ValueFee, _Mapping]] = ...) -> None: ...

class Task(_message.Message):
    __slots__ = ("id", "owner", "smart_wallet_address", "start_at", "expired_at", "name", "completed_at", "max_execution", "execution_count", "last_ran_at", "status", "trigger", "nodes", "edges", "input_variables")
    class InputVariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    SMART_WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    START_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_AT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    MAX_EXECUTION_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_RAN_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    INPUT_VARIABLES_FIELD_NUMBER: _ClassVar[int]
    id: str
    owner: str
    smart_wallet_address: str
    start_at: int
    expired_at: int
    name: str
    completed_at: int
    max_execution: int
    execution_count: int
    last_ran_at: int
    status: TaskStatus
    trigger: TaskTrigger
    nodes: _containers.RepeatedCompositeFieldContainer[TaskNode]
    edges: _containers.RepeatedCompositeFieldContainer[TaskEdge]
    input_variables: _containers.MessageMap[str, _struct_pb2.Value]
    def __init__(self, id: _Optional[str] = ..., owner: _Optional[str] = ..., smart_wallet_address: _Optional[str] = ..., start_at: _Optional[int] = ..., expired_at: _Optional[int] = ..., name: _Optional[str] = ..., completed_at: _Optional[int] = ..., max_execution: _Optional[int] = ..., execution_count: _Optional[int] = ..., last_ran_at: _Optional[int] = ..., status: _Optional[_Union[TaskStatus, str]] = ..., trigger: _Optional[_Union[TaskTrigger, _Mapping]] = ..., nodes: _Optional[_Iterable[_Union[TaskNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[TaskEdge, _Mapping]]] = ..., input_variables: _Optional[_Mapping[str, _struct_pb2.Value]] = ...) -> None: ...

class CreateTaskReq(_message.Message):
    __slots__ = ("trigger", "start_at", "expired_at", "max_execution", "smart_wallet_address", "name", "nodes", "edges", "input_variables")
    class InputVariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    START_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_AT_FIELD_NUMBER: _ClassVar[int]
    MAX_EXECUTION_FIELD_NUMBER: _ClassVar[int]
    SMART_WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    INPUT_VARIABLES_FIELD_NUMBER: _ClassVar[int]
    trigger: TaskTrigger
    start_at: int
    expired_at: int
    max_execution: int
    smart_wallet_address: str
    name: str
    nodes: _containers.RepeatedCompositeFieldContainer[TaskNode]
    edges: _containers.RepeatedCompositeFieldContainer[TaskEdge]
    input_variables: _containers.MessageMap[str, _struct_pb2.Value]
    def __init__(self, trigger: _Optional[_Union[TaskTrigger, _Mapping]] = ..., start_at: _Optional[int] = ..., expired_at: _Optional[int] = ..., max_execution: _Optional[int] = ..., smart_wallet_address: _Optional[str] = ..., name: _Optional[str] = ..., nodes: _Optional[_Iterable[_Union[TaskNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[TaskEdge, _Mapping]]] = ..., input_variables: _Optional[_Mapping[str, _struct_pb2.Value]] = ...) -> None: ...

class CreateTaskResp(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class NonceRequest(_message.Message):
    __slots__ = ("owner",)
    OWNER_FIELD_NUMBER: _ClassVar[int]
    owner: str
    def __init__(self, owner: _Optional[str] = ...) -> None: ...

class NonceResp(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: str
    def __init__(self, nonce: _Optional[str] = ...) -> None: ...

class ListWalletReq(_message.Message):
    __slots__ = ("factory_address", "salt")
    FACTORY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SALT_FIELD_NUMBER: _ClassVar[int]
    factory_address: str
    salt: str
    def __init__(self, factory_address: _Optional[str] = ..., salt: _Optional[str] = ...) -> None: ...

class SmartWallet(_message.Message):
    __slots__ = ("address", "salt", "factory", "is_hidden")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SALT_FIELD_NUMBER: _ClassVar[int]
    FACTORY_FIELD_NUMBER: _ClassVar[int]
    IS_HIDDEN_FIELD_NUMBER: _ClassVar[int]
    address: str
    salt: str
    factory: str
    is_hidden: bool
    def __init__(self, address: _Optional[str] = ..., salt: _Optional[str] = ..., factory: _Optional[str] = ..., is_hidden: _Optional[bool] = ...) -> None: ...

class ListWalletResp(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[SmartWallet]
    def __init__(self, items: _Optional[_Iterable[_Union[SmartWallet, _Mapping]]] = ...) -> None: ...

class ListTasksReq(_message.Message):
    __slots__ = ("smart_wallet_address", "before", "after", "limit", "include_nodes", "include_edges")
    SMART_WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_NODES_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EDGES_FIELD_NUMBER: _ClassVar[int]
    smart_wallet_address: _containers.RepeatedScalarFieldContainer[str]
    before: str
    after: str
    limit: int
    include_nodes: bool
    include_edges: bool
    def __init__(self, smart_wallet_address: _Optional[_Iterable[str]] = ..., before: _Optional[str] = ..., after: _Optional[str] = ..., limit: _Optional[int] = ..., include_nodes: _Optional[bool] = ..., include_edges: _Optional[bool] = ...) -> None: ...

class ListTasksResp(_message.Message):
    __slots__ = ("items", "page_info")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_INFO_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Task]
    page_info: PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[Task, _Mapping]]] = ..., page_info: _Optional[_Union[PageInfo, _Mapping]] = ...) -> None: ...

class ListExecutionsReq(_message.Message):
    __slots__ = ("task_ids", "before", "after", "limit")
    TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    task_ids: _containers.RepeatedScalarFieldContainer[str]
    before: str
    after: str
    limit: int
    def __init__(self, task_ids: _Optional[_Iterable[str]] = ..., before: _Optional[str] = ..., after: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListExecutionsResp(_message.Message):
    __slots__ = ("items", "page_info")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_INFO_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Execution]
    page_info: PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[Execution, _Mapping]]] = ..., page_info: _Optional[_Union[PageInfo, _Mapping]] = ...) -> None: ...

class ExecutionReq(_message.Message):
    __slots__ = ("task_id", "execution_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    execution_id: str
    def __init__(self, task_id: _Optional[str] = ..., execution_id: _Optional[str] = ...) -> None: ...

class ExecutionStatusResp(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: ExecutionStatus
    def __init__(self, status: _Optional[_Union[ExecutionStatus, str]] = ...) -> None: ...

class GetKeyReq(_message.Message):
    __slots__ = ("message", "signature")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    message: str
    signature: str
    def __init__(self, message: _Optional[str] = ..., signature: _Optional[str] = ...) -> None: ...

class KeyResp(_message.Message):
    __slots__ = ("address", "key", "message", "expiry")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_FIELD_NUMBER: _ClassVar[int]
    address: str
    key: str
    message: str
    expiry: int
    def __init__(self, address: _Optional[str] = ..., key: _Optional[str] = ..., message: _Optional[str] = ..., expiry: _Optional[int] = ...) -> None: ...

class GetWalletReq(_message.Message):
    __slots__ = ("salt", "factory_address")
    SALT_FIELD_NUMBER: _ClassVar[int]
    FACTORY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    salt: str
    factory_address: str
    def __init__(self, salt: _Optional[str] = ..., factory_address: _Optional[str] = ...) -> None: ...

class GetWalletResp(_message.Message):
    __slots__ = ("address", "salt", "factory_address", "is_hidden", "total_task_count", "enabled_task_count", "completed_task_count", "failed_task_count", "disabled_task_count")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SALT_FIELD_NUMBER: _ClassVar[int]
    FACTORY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    IS_HIDDEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TASK_COUNT_FIELD_NUMBER: _ClassVar[int]
    ENABLED_TASK_COUNT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_TASK_COUNT_FIELD_NUMBER: _ClassVar[int]
    FAILED_TASK_COUNT_FIELD_NUMBER: _ClassVar[int]
    DISABLED_TASK_COUNT_FIELD_NUMBER: _ClassVar[int]
    address: str
    salt: str
    factory_address: str
    is_hidden: bool
    total_task_count: int
    enabled_task_count: int
    completed_task_count: int
    failed_task_count: int
    disabled_task_count: int
    def __init__(self, address: _Optional[str] = ..., salt: _Optional[str] = ..., factory_address: _Optional[str] = ..., is_hidden: _Optional[bool] = ..., total_task_count: _Optional[int] = ..., enabled_task_count: _Optional[int] = ..., completed_task_count: _Optional[int] = ..., failed_task_count: _Optional[int] = ..., disabled_task_count: _Optional[int] = ...) -> None: ...

class SetWalletReq(_message.Message):
    __slots__ = ("salt", "factory_address", "is_hidden")
    SALT_FIELD_NUMBER: _ClassVar[int]
    FACTORY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    IS_HIDDEN_FIELD_NUMBER: _ClassVar[int]
    salt: str
    factory_address: str
    is_hidden: bool
    def __init__(self, salt: _Optional[str] = ..., factory_address: _Optional[str] = ..., is_hidden: _Optional[bool] = ...) -> None: ...

class WithdrawFundsReq(_message.Message):
    __slots__ = ("recipient_address", "amount", "token", "smart_wallet_address")
    RECIPIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    SMART_WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    recipient_address: str
    amount: str
    token: str
    smart_wallet_address: str
    def __init__(self, recipient_address: _Optional[str] = ..., amount: _Optional[str] = ..., token: _Optional[str] = ..., smart_wallet_address: _Optional[str] = ...) -> None: ...

class WithdrawFundsResp(_message.Message):
    __slots__ = ("success", "status", "message", "user_op_hash", "transaction_hash", "submitted_at", "smart_wallet_address", "recipient_address", "amount", "token")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    USER_OP_HASH_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_HASH_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    SMART_WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    success: bool
    status: str
    message: str
    user_op_hash: str
    transaction_hash: str
    submitted_at: int
    smart_wallet_address: str
    recipient_address: str
    amount: str
    token: str
    def __init__(self, success: _Optional[bool] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., user_op_hash: _Optional[str] = ..., transaction_hash: _Optional[str] = ..., submitted_at: _Optional[int] = ..., smart_wallet_address: _Optional[str] = ..., recipient_address: _Optional[str] = ..., amount: _Optional[str] = ..., token: _Optional[str] = ...) -> None: ...

class TriggerTaskReq(_message.Message):
    __slots__ = ("task_id", "trigger_type", "is_blocking", "trigger_input", "block_trigger", "fixed_time_trigger", "cron_trigger", "event_trigger", "manual_trigger")
    class TriggerInputEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_TYPE_FIELD_NUMBER: _ClassVar[int]
    IS_BLOCKING_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_INPUT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    FIXED_TIME_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    CRON_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    EVENT_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    MANUAL_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    trigger_type: TriggerType
    is_blocking: bool
    trigger_input: _containers.MessageMap[str, _struct_pb2.Value]
    block_trigger: BlockTrigger.Output
    fixed_time_trigger: FixedTimeTrigger.Output
    cron_trigger: CronTrigger.Output
    event_trigger: EventTrigger.Output
    manual_trigger: ManualTrigger.Output
    def __init__(self, task_id: _Optional[str] = ..., trigger_type: _Optional[_Union[TriggerType, str]] = ..., is_blocking: _Optional[bool] = ..., trigger_input: _Optional[_Mapping[str, _struct_pb2.Value]] = ..., block_trigger: _Optional[_Union[BlockTrigger.Output, _Mapping]] = ..., fixed_time_trigger: _Optional[_Union[FixedTimeTrigger.Output, _Mapping]] = ..., cron_trigger: _Optional[_Union[CronTrigger.Output, _Mapping]] = ..., event_trigger: _Optional[_Union[EventTrigger.Output, _Mapping]] = ..., manual_trigger: _Optional[_Union[ManualTrigger.Output, _Mapping]] = ...) -> None: ...

class TriggerTaskResp(_message.Message):
    __slots__ = ("execution_id", "status", "workflow_id", "start_at", "end_at", "error", "steps")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    START_AT_FIELD_NUMBER: _ClassVar[int]
    END_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    status: ExecutionStatus
    workflow_id: str
    start_at: int
    end_at: int
    error: str
    steps: _containers.RepeatedCompositeFieldContainer[Execution.Step]
    def __init__(self, execution_id: _Optional[str] = ..., status: _Optional[_Union[ExecutionStatus, str]] = ..., workflow_id: _Optional[str] = ..., start_at: _Optional[int] = ..., end_at: _Optional[int] = ..., error: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[Execution.Step, _Mapping]]] = ...) -> None: ...

class CreateOrUpdateSecretReq(_message.Message):
    __slots__ = ("name", "secret", "workflow_id", "org_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    secret: str
    workflow_id: str
    org_id: str
    def __init__(self, name: _Optional[str] = ..., secret: _Optional[str] = ..., workflow_id: _Optional[str] = ..., org_id: _Optional[str] = ...) -> None: ...

class ListSecretsReq(_message.Message):
    __slots__ = ("workflow_id", "before", "after", "limit", "include_timestamps", "include_created_by", "include_description")
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    BEFORE_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    workflow_id: str
    before: str
    after: str
    limit: int
    include_timestamps: bool
    include_created_by: bool
    include_description: bool
    def __init__(self, workflow_id: _Optional[str] = ..., before: _Optional[str] = ..., after: _Optional[str] = ..., limit: _Optional[int] = ..., include_timestamps: _Optional[bool] = ..., include_created_by: _Optional[bool] = ..., include_description: _Optional[bool] = ...) -> None: ...

class PageInfo(_message.Message):
    __slots__ = ("start_cursor", "end_cursor", "has_previous_page", "has_next_page")
    START_CURSOR_FIELD_NUMBER: _ClassVar[int]
    END_CURSOR_FIELD_NUMBER: _ClassVar[int]
    HAS_PREVIOUS_PAGE_FIELD_NUMBER: _ClassVar[int]
    HAS_NEXT_PAGE_FIELD_NUMBER: _ClassVar[int]
    start_cursor: str
    end_cursor: str
    has_previous_page: bool
    has_next_page: bool
    def __init__(self, start_cursor: _Optional[str] = ..., end_cursor: _Optional[str] = ..., has_previous_page: _Optional[bool] = ..., has_next_page: _Optional[bool] = ...) -> None: ...

class Secret(_message.Message):
    __slots__ = ("name", "scope", "workflow_id", "org_id", "created_at", "updated_at", "created_by", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    scope: str
    workflow_id: str
    org_id: str
    created_at: int
    updated_at: int
    created_by: str
    description: str
    def __init__(self, name: _Optional[str] = ..., scope: _Optional[str] = ..., workflow_id: _Optional[str] = ..., org_id: _Optional[str] = ..., created_at: _Optional[int] = ..., updated_at: _Optional[int] = ..., created_by: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class ListSecretsResp(_message.Message):
    __slots__ = ("items", "page_info")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    PAGE_INFO_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Secret]
    page_info: PageInfo
    def __init__(self, items: _Optional[_Iterable[_Union[Secret, _Mapping]]] = ..., page_info: _Optional[_Union[PageInfo, _Mapping]] = ...) -> None: ...

class DeleteSecretReq(_message.Message):
    __slots__ = ("name", "workflow_id", "org_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WORKFLOW_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    workflow_id: str
    org_id: str
    def __init__(self, name: _Optional[str] = ..., workflow_id: _Optional[str] = ..., org_id: _Optional[str] = ...) -> None: ...

class DeleteSecretResp(_message.Message):
    __slots__ = ("success", "status", "message", "deleted_at", "secret_name", "scope")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    status: str
    message: str
    deleted_at: int
    secret_name: str
    scope: str
    def __init__(self, success: _Optional[bool] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., deleted_at: _Optional[int] = ..., secret_name: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class GetSignatureFormatReq(_message.Message):
    __slots__ = ("wallet",)
    WALLET_FIELD_NUMBER: _ClassVar[int]
    wallet: str
    def __init__(self, wallet: _Optional[str] = ...) -> None: ...

class GetSignatureFormatResp(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: str
    def __init__(self, message: _Optional[str] = ...) -> None: ...

class CreateSecretResp(_message.Message):
    __slots__ = ("success", "status", "message", "created_at", "secret_name", "scope")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    status: str
    message: str
    created_at: int
    secret_name: str
    scope: str
    def __init__(self, success: _Optional[bool] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., created_at: _Optional[int] = ..., secret_name: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class UpdateSecretResp(_message.Message):
    __slots__ = ("success", "status", "message", "updated_at", "secret_name", "scope")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    status: str
    message: str
    updated_at: int
    secret_name: str
    scope: str
    def __init__(self, success: _Optional[bool] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., updated_at: _Optional[int] = ..., secret_name: _Optional[str] = ..., scope: _Optional[str] = ...) -> None: ...

class DeleteTaskResp(_message.Message):
    __slots__ = ("success", "status", "message", "deleted_at", "id", "previous_status")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    status: str
    message: str
    deleted_at: int
    id: str
    previous_status: str
    def __init__(self, success: _Optional[bool] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., deleted_at: _Optional[int] = ..., id: _Optional[str] = ..., previous_status: _Optional[str] = ...) -> None: ...

class SetTaskEnabledReq(_message.Message):
    __slots__ = ("id", "enabled")
    ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    id: str
    enabled: bool
    def __init__(self, id: _Optional[str] = ..., enabled: _Optional[bool] = ...) -> None: ...

class SetTaskEnabledResp(_message.Message):
    __slots__ = ("success", "status", "message", "id", "previous_status", "updated_at")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    success: bool
    status: str
    message: str
    id: str
    previous_status: str
    updated_at: int
    def __init__(self, success: _Optional[bool] = ..., status: _Optional[str] = ..., message: _Optional[str] = ..., id: _Optional[str] = ..., previous_status: _Optional[str] = ..., updated_at: _Optional[int] = ...) -> None: ...

class GetWorkflowCountReq(_message.Message):
    __slots__ = ("addresses",)
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    addresses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, addresses: _Optional[_Iterable[str]] = ...) -> None: ...

class GetWorkflowCountResp(_message.Message):
    __slots__ = ("total",)
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    total: int
    def __init__(self, total: _Optional[int] = ...) -> None: ...

class GetExecutionCountReq(_message.Message):
    __slots__ = ("workflow_ids",)
    WORKFLOW_IDS_FIELD_NUMBER: _ClassVar[int]
    workflow_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, workflow_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetExecutionCountResp(_message.Message):
    __slots__ = ("total",)
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    total: int
    def __init__(self, total: _Optional[int] = ...) -> None: ...

class GetExecutionStatsReq(_message.Message):
    __slots__ = ("workflow_ids", "days")
    WORKFLOW_IDS_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    workflow_ids: _containers.RepeatedScalarFieldContainer[str]
    days: int
    def __init__(self, workflow_ids: _Optional[_Iterable[str]] = ..., days: _Optional[int] = ...) -> None: ...

class GetExecutionStatsResp(_message.Message):
    __slots__ = ("total", "succeeded", "failed", "avg_execution_time")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    AVG_EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    total: int
    succeeded: int
    failed: int
    avg_execution_time: float
    def __init__(self, total: _Optional[int] = ..., succeeded: _Optional[int] = ..., failed: _Optional[int] = ..., avg_execution_time: _Optional[float] = ...) -> None: ...

class RunNodeWithInputsReq(_message.Message):
    __slots__ = ("node", "input_variables")
    class InputVariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    NODE_FIELD_NUMBER: _ClassVar[int]
    INPUT_VARIABLES_FIELD_NUMBER: _ClassVar[int]
    node: TaskNode
    input_variables: _containers.MessageMap[str, _struct_pb2.Value]
    def __init__(self, node: _Optional[_Union[TaskNode, _Mapping]] = ..., input_variables: _Optional[_Mapping[str, _struct_pb2.Value]] = ...) -> None: ...

class RunNodeWithInputsResp(_message.Message):
    __slots__ = ("success", "error", "metadata", "execution_context", "error_code", "eth_transfer", "graphql", "contract_read", "contract_write", "custom_code", "rest_api", "branch", "filter", "loop", "balance")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    ETH_TRANSFER_FIELD_NUMBER: _ClassVar[int]
    GRAPHQL_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_READ_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_WRITE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_CODE_FIELD_NUMBER: _ClassVar[int]
    REST_API_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LOOP_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    success: bool
    error: str
    metadata: _struct_pb2.Value
    execution_context: _struct_pb2.Value
    error_code: ErrorCode
    eth_transfer: ETHTransferNode.Output
    graphql: GraphQLQueryNode.Output
    contract_read: ContractReadNode.Output
    contract_write: ContractWriteNode.Output
    custom_code: CustomCodeNode.Output
    rest_api: RestAPINode.Output
    branch: BranchNode.Output
    filter: FilterNode.Output
    loop: LoopNode.Output
    balance: BalanceNode.Output
    def __init__(self, success: _Optional[bool] = ..., error: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., execution_context: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error_code: _Optional[_Union[ErrorCode, str]] = ..., eth_transfer: _Optional[_Union[ETHTransferNode.Output, _Mapping]] = ..., graphql: _Optional[_Union[GraphQLQueryNode.Output, _Mapping]] = ..., contract_read: _Optional[_Union[ContractReadNode.Output, _Mapping]] = ..., contract_write: _Optional[_Union[ContractWriteNode.Output, _Mapping]] = ..., custom_code: _Optional[_Union[CustomCodeNode.Output, _Mapping]] = ..., rest_api: _Optional[_Union[RestAPINode.Output, _Mapping]] = ..., branch: _Optional[_Union[BranchNode.Output, _Mapping]] = ..., filter: _Optional[_Union[FilterNode.Output, _Mapping]] = ..., loop: _Optional[_Union[LoopNode.Output, _Mapping]] = ..., balance: _Optional[_Union[BalanceNode.Output, _Mapping]] = ...) -> None: ...

class RunTriggerReq(_message.Message):
    __slots__ = ("trigger", "trigger_input")
    class TriggerInputEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_INPUT_FIELD_NUMBER: _ClassVar[int]
    trigger: TaskTrigger
    trigger_input: _containers.MessageMap[str, _struct_pb2.Value]
    def __init__(self, trigger: _Optional[_Union[TaskTrigger, _Mapping]] = ..., trigger_input: _Optional[_Mapping[str, _struct_pb2.Value]] = ...) -> None: ...

class RunTriggerResp(_message.Message):
    __slots__ = ("success", "error", "metadata", "execution_context", "error_code", "block_trigger", "fixed_time_trigger", "cron_trigger", "event_trigger", "manual_trigger")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    BLOCK_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    FIXED_TIME_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    CRON_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    EVENT_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    MANUAL_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    success: bool
    error: str
    metadata: _struct_pb2.Value
    execution_context: _struct_pb2.Value
    error_code: ErrorCode
    block_trigger: BlockTrigger.Output
    fixed_time_trigger: FixedTimeTrigger.Output
    cron_trigger: CronTrigger.Output
    event_trigger: EventTrigger.Output
    manual_trigger: ManualTrigger.Output
    def __init__(self, success: _Optional[bool] = ..., error: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., execution_context: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error_code: _Optional[_Union[ErrorCode, str]] = ..., block_trigger: _Optional[_Union[BlockTrigger.Output, _Mapping]] = ..., fixed_time_trigger: _Optional[_Union[FixedTimeTrigger.Output, _Mapping]] = ..., cron_trigger: _Optional[_Union[CronTrigger.Output, _Mapping]] = ..., event_trigger: _Optional[_Union[EventTrigger.Output, _Mapping]] = ..., manual_trigger: _Optional[_Union[ManualTrigger.Output, _Mapping]] = ...) -> None: ...

class SimulateTaskReq(_message.Message):
    __slots__ = ("trigger", "nodes", "edges", "input_variables")
    class InputVariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    INPUT_VARIABLES_FIELD_NUMBER: _ClassVar[int]
    trigger: TaskTrigger
    nodes: _containers.RepeatedCompositeFieldContainer[TaskNode]
    edges: _containers.RepeatedCompositeFieldContainer[TaskEdge]
    input_variables: _containers.MessageMap[str, _struct_pb2.Value]
    def __init__(self, trigger: _Optional[_Union[TaskTrigger, _Mapping]] = ..., nodes: _Optional[_Iterable[_Union[TaskNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[TaskEdge, _Mapping]]] = ..., input_variables: _Optional[_Mapping[str, _struct_pb2.Value]] = ...) -> None: ...

class EstimateFeesReq(_message.Message):
    __slots__ = ("trigger", "nodes", "edges", "created_at", "expire_at", "max_execution", "runner", "input_variables")
    class InputVariablesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _struct_pb2.Value
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_AT_FIELD_NUMBER: _ClassVar[int]
    MAX_EXECUTION_FIELD_NUMBER: _ClassVar[int]
    RUNNER_FIELD_NUMBER: _ClassVar[int]
    INPUT_VARIABLES_FIELD_NUMBER: _ClassVar[int]
    trigger: TaskTrigger
    nodes: _containers.RepeatedCompositeFieldContainer[TaskNode]
    edges: _containers.RepeatedCompositeFieldContainer[TaskEdge]
    created_at: int
    expire_at: int
    max_execution: int
    runner: str
    input_variables: _containers.MessageMap[str, _struct_pb2.Value]
    def __init__(self, trigger: _Optional[_Union[TaskTrigger, _Mapping]] = ..., nodes: _Optional[_Iterable[_Union[TaskNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[TaskEdge, _Mapping]]] = ..., created_at: _Optional[int] = ..., expire_at: _Optional[int] = ..., max_execution: _Optional[int] = ..., runner: _Optional[str] = ..., input_variables: _Optional[_Mapping[str, _struct_pb2.Value]] = ...) -> None: ...

class FeeAmount(_message.Message):
    __slots__ = ("native_token_amount", "native_token_symbol", "usd_amount", "ap_token_amount")
    NATIVE_TOKEN_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    NATIVE_TOKEN_SYMBOL_FIELD_NUMBER: _ClassVar[int]
    USD_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AP_TOKEN_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    native_token_amount: str
    native_token_symbol: str
    usd_amount: str
    ap_token_amount: str
    def __init__(self, native_token_amount: _Optional[str] = ..., native_token_symbol: _Optional[str] = ..., usd_amount: _Optional[str] = ..., ap_token_amount: _Optional[str] = ...) -> None: ...

class GasFeeBreakdown(_message.Message):
    __slots__ = ("total_gas_fees", "operations", "gas_price_gwei", "total_gas_units", "estimation_accurate", "estimation_method")
    TOTAL_GAS_FEES_FIELD_NUMBER: _ClassVar[int]
    OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    GAS_PRICE_GWEI_FIELD_NUMBER: _ClassVar[int]
    TOTAL_GAS_UNITS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATION_ACCURATE_FIELD_NUMBER: _ClassVar[int]
    ESTIMATION_METHOD_FIELD_NUMBER: _ClassVar[int]
    total_gas_fees: FeeAmount
    operations: _containers.RepeatedCompositeFieldContainer[GasOperationFee]
    gas_price_gwei: str
    total_gas_units: str
    estimation_accurate: bool
    estimation_method: str
    def __init__(self, total_gas_fees: _Optional[_Union[FeeAmount, _Mapping]] = ..., operations: _Optional[_Iterable[_Union[GasOperationFee, _Mapping]]] = ..., gas_price_gwei: _Optional[str] = ..., total_gas_units: _Optional[str] = ..., estimation_accurate: _Optional[bool] = ..., estimation_method: _Optional[str] = ...) -> None: ...

class GasOperationFee(_message.Message):
    __slots__ = ("operation_type", "node_id", "method_name", "fee", "gas_units")
    OPERATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_NAME_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    GAS_UNITS_FIELD_NUMBER: _ClassVar[int]
    operation_type: str
    node_id: str
    method_name: str
    fee: FeeAmount
    gas_units: str
    def __init__(self, operation_type: _Optional[str] = ..., node_id: _Optional[str] = ..., method_name: _Optional[str] = ..., fee: _Optional[_Union[FeeAmount, _Mapping]] = ..., gas_units: _Optional[str] = ...) -> None: ...

class SmartWalletCreationFee(_message.Message):
    __slots__ = ("creation_required", "creation_fee", "initial_funding", "wallet_address")
    CREATION_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    CREATION_FEE_FIELD_NUMBER: _ClassVar[int]
    INITIAL_FUNDING_FIELD_NUMBER: _ClassVar[int]
    WALLET_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    creation_required: bool
    creation_fee: FeeAmount
    initial_funding: FeeAmount
    wallet_address: str
    def __init__(self, creation_required: _Optional[bool] = ..., creation_fee: _Optional[_Union[FeeAmount, _Mapping]] = ..., initial_funding: _Optional[_Union[FeeAmount, _Mapping]] = ..., wallet_address: _Optional[str] = ...) -> None: ...

class Fee(_message.Message):
    __slots__ = ("amount", "unit")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    amount: str
    unit: str
    def __init__(self, amount: _Optional[str] = ..., unit: _Optional[str] = ...) -> None: ...

class NativeToken(_message.Message):
    __slots__ = ("symbol", "decimals")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    DECIMALS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    decimals: int
    def __init__(self, symbol: _Optional[str] = ..., decimals: _Optional[int] = ...) -> None: ...

class NodeCOGS(_message.Message):
    __slots__ = ("node_id", "cost_type", "fee", "gas_units")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    COST_TYPE_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    GAS_UNITS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    cost_type: str
    fee: Fee
    gas_units: str
    def __init__(self, node_id: _Optional[str] = ..., cost_type: _Optional[str] = ..., fee: _Optional[_Union[Fee, _Mapping]] = ..., gas_units: _Optional[str] = ...) -> None: ...

class ValueFee(_message.Message):
    __slots__ = ("fee", "tier", "value_base", "classification_method", "confidence", "reason")
    FEE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    VALUE_BASE_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_METHOD_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    fee: Fee
    tier: ExecutionTier
    value_base: str
    classification_method: str
    confidence: float
    reason: str
    def __init__(self, fee: _Optional[_Union[Fee, _Mapping]] = ..., tier: _Optional[_Union[ExecutionTier, str]] = ..., value_base: _Optional[str] = ..., classification_method: _Optional[str] = ..., confidence: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class FeeDiscount(_message.Message):
    __slots__ = ("discount_type", "discount_name", "discount", "expiry_date", "terms")
    DISCOUNT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_NAME_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_DATE_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    discount_type: str
    discount_name: str
    discount: Fee
    expiry_date: str
    terms: str
    def __init__(self, discount_type: _Optional[str] = ..., discount_name: _Optional[str] = ..., discount: _Optional[_Union[Fee, _Mapping]] = ..., expiry_date: _Optional[str] = ..., terms: _Optional[str] = ...) -> None: ...

class EstimateFeesResp(_message.Message):
    __slots__ = ("success", "error", "error_code", "chain_id", "native_token", "execution_fee", "cogs", "value_fee", "discounts", "pricing_model", "warnings")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    NATIVE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FEE_FIELD_NUMBER: _ClassVar[int]
    COGS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FEE_FIELD_NUMBER: _ClassVar[int]
    DISCOUNTS_FIELD_NUMBER: _ClassVar[int]
    PRICING_MODEL_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    success: bool
    error: str
    error_code: ErrorCode
    chain_id: str
    native_token: NativeToken
    execution_fee: Fee
    cogs: _containers.RepeatedCompositeFieldContainer[NodeCOGS]
    value_fee: ValueFee
    discounts: _containers.RepeatedCompositeFieldContainer[FeeDiscount]
    pricing_model: str
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, success: _Optional[bool] = ..., error: _Optional[str] = ..., error_code: _Optional[_Union[ErrorCode, str]] = ..., chain_id: _Optional[str] = ..., native_token: _Optional[_Union[NativeToken, _Mapping]] = ..., execution_fee: _Optional[_Union[Fee, _Mapping]] = ..., cogs: _Optional[_Iterable[_Union[NodeCOGS, _Mapping]]] = ..., value_fee: _Optional[_Union[ValueFee, _Mapping]] = ..., discounts: _Optional[_Iterable[_Union[FeeDiscount, _Mapping]]] = ..., pricing_model: _Optional[str] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class EventCondition(_message.Message):
    __slots__ = ("field_name", "operator", "value", "field_type")
    FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    FIELD_TYPE_FIELD_NUMBER: _ClassVar[int]
    field_name: str
    operator: str
    value: str
    field_type: str
    def __init__(self, field_name: _Optional[str] = ..., operator: _Optional[str] = ..., value: _Optional[str] = ..., field_type: _Optional[str] = ...) -> None: ...

class HourglassTaskNode(_message.Message):
    __slots__ = ("config",)
    class Config(_message.Message):
        __slots__ = ("payload", "mailbox", "executor_operator_set_id", "avs", "result_abi", "timeout_seconds")
        PAYLOAD_FIELD_NUMBER: _ClassVar[int]
        MAILBOX_FIELD_NUMBER: _ClassVar[int]
        EXECUTOR_OPERATOR_SET_ID_FIELD_NUMBER: _ClassVar[int]
        AVS_FIELD_NUMBER: _ClassVar[int]
        RESULT_ABI_FIELD_NUMBER: _ClassVar[int]
        TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
        payload: str
        mailbox: str
        executor_operator_set_id: str
        avs: str
        result_abi: str
        timeout_seconds: int
        def __init__(self, payload: _Optional[str] = ..., mailbox: _Optional[str] = ..., executor_operator_set_id: _Optional[str] = ..., avs: _Optional[str] = ..., result_abi: _Optional[str] = ..., timeout_seconds: _Optional[int] = ...) -> None: ...
    class Output(_message.Message):
        __slots__ = ("data",)
        DATA_FIELD_NUMBER: _ClassVar[int]
        data: _struct_pb2.Value
        def __init__(self, data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: HourglassTaskNode.Config
    def __init__(self, config: _Optional[_Union[HourglassTaskNode.Config, _Mapping]] = ...) -> None: ...
