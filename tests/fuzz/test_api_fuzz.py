"""The client API's gRPC boundary: every RPC of aggregator.Aggregator with generated messages (every field of the
request type filled with hostile values, unknown enum numbers, deep Values) and with raw junk bytes, from a
signed-in user. The server answers each with a refusal status — never INTERNAL or UNKNOWN (a crash of ours) —
keeps serving, and its store stays sound."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import given
from hypothesis import strategies as st

from hourglass_cli.api.engine import to_value
from hourglass_cli.api.server import SERVICE, ApiClient, ApiServer
from hourglass_cli.wire.gen import avs_pb2 as pb
from tests.api.conftest import login, make_config
from tests.fuzz.strategies import fuzz_settings, json_value, nasty_text

F = FieldDescriptor
REFUSALS = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
            grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ALREADY_EXISTS,
            grpc.StatusCode.UNAVAILABLE}
_INTS = {F.TYPE_INT64: (-(2**63), 2**63 - 1), F.TYPE_UINT64: (0, 2**64 - 1), F.TYPE_INT32: (-(2**31), 2**31 - 1),
         F.TYPE_UINT32: (0, 2**32 - 1)}


def _scalar(field) -> st.SearchStrategy:
    if field.type == F.TYPE_STRING:
        return nasty_text
    if field.type == F.TYPE_BOOL:
        return st.booleans()
    if field.type in _INTS:
        low, high = _INTS[field.type]
        return st.one_of(st.integers(low, high), st.sampled_from([low, high, 0, 1, 2**53]))
    if field.type in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if field.type == F.TYPE_ENUM:
        return st.one_of(st.sampled_from([v.number for v in field.enum_type.values]), st.integers(-5, 5000))
    if field.type == F.TYPE_BYTES:
        return st.binary(max_size=64)
    raise AssertionError(field.type)


def message_of(descriptor, depth: int = 0) -> st.SearchStrategy:
    """A message of `descriptor` with a random subset of its fields set to hostile values."""
    cls = message_factory.GetMessageClass(descriptor)
    if descriptor.full_name == "google.protobuf.Value":
        return json_value.map(lambda v: to_value(_finite(v)))
    if depth > 3:
        return st.just(cls())
    parts = {}
    for field in descriptor.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            values = message_of(value_field.message_type, depth + 1) if value_field.message_type else \
                _scalar(value_field)
            parts[field.name] = st.dictionaries(nasty_text, values, max_size=3)
        elif field.message_type is not None:
            inner = message_of(field.message_type, depth + 1)
            parts[field.name] = st.lists(inner, max_size=3) if field.is_repeated else inner
        else:
            parts[field.name] = st.lists(_scalar(field), max_size=3) if field.is_repeated else _scalar(field)

    @st.composite
    def build(draw) -> object:
        msg = cls()
        names = draw(st.sets(st.sampled_from(sorted(parts)), max_size=len(parts))) if parts else set()
        for name in names:
            value = draw(parts[name])
            field = descriptor.fields_by_name[name]
            try:
                if field.message_type is not None and field.message_type.GetOptions().map_entry:
                    target = getattr(msg, name)
                    for k, v in value.items():
                        if field.message_type.fields_by_name["value"].message_type is not None:
                            target[k].CopyFrom(v)
                        else:
                            target[k] = v
                elif field.is_repeated:
                    if field.message_type is not None:
                        getattr(msg, name).extend(value)
                    else:
                        getattr(msg, name).extend(value)
                elif field.message_type is not None:
                    getattr(msg, name).CopyFrom(value)
                else:
                    setattr(msg, name, value)
            except (ValueError, TypeError):  # e.g. a string protobuf refuses (lone surrogates): skip the field
                msg.ClearField(name)
        return msg

    return build()


def _finite(value):
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return 0.0
    if isinstance(value, int) and abs(value) > 2**60:
        return str(value)
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiServer, ApiClient, str]]:
    folder: Path = tmp_path_factory.mktemp("api-fuzz")
    server = ApiServer(make_config(folder, requests_per_second=100000, burst=100000, js_timeout=0.5)).start()
    client = ApiClient(server.address, timeout=30)
    token, account = login(client)
    # one automation of the fuzzing user in the store, so task ids can hit a real one (and its runs run)
    task = pb.Task(id="01JFUZZ0000000000000000000", owner=account.address, smart_wallet_address="0x" + "ab" * 20,
                   name="fuzz", status=pb.Enabled,
                   trigger=pb.TaskTrigger(id="trig", name="trigger", type=pb.TRIGGER_TYPE_MANUAL,
                                          manual=pb.ManualTrigger()),
                   nodes=[pb.TaskNode(id="n", name="code", type=pb.NODE_TYPE_FILTER, filter=pb.FilterNode(
                       config=pb.FilterNode.Config(input_variable="trigger.data", expression="value > 1")))],
                   edges=[pb.TaskEdge(id="e", source="trig", target="n")])
    server.service.store.put_task(task.id, account.address, task.smart_wallet_address, task.status,
                                  task.SerializeToString())
    yield server, client, token
    client.close()
    server.stop()


def _ids(draw_value, message) -> None:
    """Now and then point a request's id fields at the real automation."""
    for name in ("id", "task_id", "workflow_id"):
        if draw_value and name in message.DESCRIPTOR.fields_by_name:
            setattr(message, name, "01JFUZZ0000000000000000000")


METHODS = sorted(m.name for m in SERVICE.methods)


@fuzz_settings(150)
@given(data=st.data())
def test_every_rpc_refuses_hostile_messages_and_keeps_serving(served, data) -> None:
    server, client, token = served
    name = data.draw(st.sampled_from(METHODS), label="rpc")
    method = SERVICE.methods_by_name[name]
    request = data.draw(message_of(method.input_type), label="request")
    _ids(data.draw(st.booleans(), label="real id"), request)
    try:
        client.call(name, request, auth_key=token)
    except grpc.RpcError as exc:
        assert exc.code() in REFUSALS, f"{name}: {exc.code().name}: {exc.details()}"
        assert exc.details(), f"{name}: a refusal without a message"
    assert client.call("ListSecrets", pb.ListSecretsReq(), auth_key=token) is not None
    assert server.service.store.problems() == []


@fuzz_settings(60)
@given(name=st.sampled_from(METHODS), junk=st.binary(max_size=512))
def test_raw_junk_bytes_are_refused(served, name: str, junk: bytes) -> None:
    server, client, token = served
    raw = client.channel.unary_unary(f"/{SERVICE.full_name}/{name}", request_serializer=lambda b: b,
                                     response_deserializer=lambda b: b)
    try:
        raw(junk, metadata=(("authkey", token),), timeout=30)
    except grpc.RpcError as exc:
        assert exc.code() in REFUSALS | {grpc.StatusCode.INTERNAL}, exc.code()
        if exc.code() == grpc.StatusCode.INTERNAL:  # grpcio's own "failed to deserialize" — not our handler
            assert "deserializ" in (exc.details() or "").lower() or "parse" in (exc.details() or "").lower(), \
                exc.details()
    assert server.service.store.problems() == []

