"""Our avs.proto speaks AvaProtocol's wire: every message, field (number, name, type, label, oneof), enum and
RPC of the schema read from @avaprotocol/sdk-js@2.16.0's generated code is in our descriptors, and what we add
is only what the proto marks as hourglass's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor

from hourglass_cli.wire.gen import avs_pb2

SCHEMA = Path(__file__).resolve().parents[3] / "shared/interop/ava/avs-v2.12.0-schema.json"
T = FieldDescriptor
_SCALARS = {
    "string": T.TYPE_STRING, "bool": T.TYPE_BOOL, "int64": T.TYPE_INT64, "uint64": T.TYPE_UINT64,
    "uint32": T.TYPE_UINT32, "int32": T.TYPE_INT32, "double": T.TYPE_DOUBLE, "float": T.TYPE_FLOAT,
    "bytes": T.TYPE_BYTES,
}
# what hourglass adds to the upstream wire (scripts/ava_proto_from_schema.py)
OURS_MESSAGES = {"aggregator.HourglassTaskNode", "aggregator.HourglassTaskNode.Config",
                 "aggregator.HourglassTaskNode.Output"}
OURS_FIELDS = {("aggregator.TaskNode", 100), ("aggregator.Execution.Step", 100)}
OURS_RPCS = {"CancelTask"}


@pytest.fixture(scope="module")
def schema() -> dict:
    if not SCHEMA.is_file():
        pytest.fail(f"{SCHEMA} is missing: the repository must be checked out beside shared/", pytrace=False)
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def _all_messages(file) -> dict[str, object]:
    found: dict[str, object] = {}

    def walk(message) -> None:
        found[message.full_name] = message
        for nested in message.nested_types:
            if not nested.GetOptions().map_entry:
                walk(nested)

    for message in file.message_types_by_name.values():
        walk(message)
    return found


def _describe(field) -> dict:
    """A field in the schema's own terms."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
        kind = value.message_type.full_name if value.message_type else \
            next(k for k, v in _SCALARS.items() if v == value.type)
        return {"name": field.name, "label": "map", "type": kind,
                "key": next(k for k, v in _SCALARS.items() if v == key.type)}
    if field.message_type is not None:
        kind = field.message_type.full_name
    elif field.enum_type is not None:
        kind = "enum:" + field.enum_type.full_name
    else:
        kind = next(k for k, v in _SCALARS.items() if v == field.type)
    described = {"name": field.name, "label": "repeated" if field.is_repeated else "", "type": kind}
    if field.has_presence and field.containing_oneof is not None and field.containing_oneof.name.startswith("_"):
        described["optional"] = True  # proto3 `optional` (a synthetic oneof)
    elif field.containing_oneof is not None:
        described["oneof"] = field.containing_oneof.name
    return described


def test_package_and_file() -> None:
    assert avs_pb2.DESCRIPTOR.package == "aggregator"
    assert avs_pb2.DESCRIPTOR.name == "avs.proto"


def test_every_schema_message_and_field_is_ours(schema: dict) -> None:
    ours = _all_messages(avs_pb2.DESCRIPTOR)
    problems = []
    for name, message in schema["messages"].items():
        if name.startswith("google.protobuf."):
            continue
        if name not in ours:
            problems.append(f"missing message {name}")
            continue
        descriptor = ours[name]
        by_number = {f.number: f for f in descriptor.fields}
        for number, spec in message["fields"].items():
            field = by_number.get(int(number))
            if field is None:
                problems.append(f"{name}: missing field {number} ({spec['name']})")
                continue
            want = {k: v for k, v in spec.items() if k in ("name", "label", "type", "key", "oneof", "optional")}
            if _describe(field) != want:
                problems.append(f"{name}.{number}: ours {_describe(field)} != upstream {want}")
        for number, field in by_number.items():
            if str(number) not in message["fields"] and (name, number) not in OURS_FIELDS:
                problems.append(f"{name}: extra field {number} ({field.name})")
    extra = set(ours) - set(schema["messages"]) - OURS_MESSAGES
    problems += [f"extra message {name}" for name in sorted(extra)]
    assert problems == []


def test_enums_match(schema: dict) -> None:
    ours = {e.full_name: e for e in avs_pb2.DESCRIPTOR.enum_types_by_name.values()}
    for name, values in schema["enums"].items():
        if name.startswith("google.protobuf."):
            continue
        got = {v.name: v.number for v in ours[name].values}
        if name == "aggregator.NodeType":
            assert got.pop("NODE_TYPE_HOURGLASS_TASK") == 100
        assert got == values, name
    assert set(ours) == {n for n in schema["enums"] if n.startswith("aggregator.")}


def test_service_matches(schema: dict) -> None:
    service = avs_pb2.DESCRIPTOR.services_by_name["Aggregator"]
    assert service.full_name == "aggregator.Aggregator"
    ours = {m.name: m for m in service.methods}
    upstream = schema["services"]["aggregator.Aggregator"]
    for rpc, spec in upstream.items():
        method = ours[rpc]
        assert (method.input_type.full_name, method.output_type.full_name) == (spec["req"], spec["resp"]), rpc
        assert not method.client_streaming and not method.server_streaming
    assert set(ours) - set(upstream) == OURS_RPCS
    cancel = ours["CancelTask"]
    assert (cancel.input_type.full_name, cancel.output_type.full_name) == (
        "aggregator.IdReq", "google.protobuf.BoolValue")


def test_a_message_round_trips_the_sdks_bytes() -> None:
    """Bytes as google-protobuf JS writes them for a TaskNode with a custom_code oneof decode into ours."""
    # field 1 varint 6 (NODE_TYPE_CUSTOM_CODE), 2 "n1", 3 "code", 18 {config(1){lang(1)=1, source(2)="return 1"}}
    source = b"return 1"
    config = b"\x08\x01" + b"\x12" + bytes([len(source)]) + source
    custom = b"\x0a" + bytes([len(config)]) + config
    wire = b"\x08\x06" + b"\x12\x02n1" + b"\x1a\x04code" + b"\x92\x01" + bytes([len(custom)]) + custom
    node = avs_pb2.TaskNode.FromString(wire)
    assert node.type == avs_pb2.NODE_TYPE_CUSTOM_CODE
    assert (node.id, node.name, node.WhichOneof("task_type")) == ("n1", "code", "custom_code")
    assert node.custom_code.config.source == "return 1"
    assert node.SerializeToString() == wire
