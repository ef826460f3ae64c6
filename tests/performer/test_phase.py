"""Workflow phases in the performer SDK: the envelope is recognised and parsed, `handle_phase` gets it over real
gRPC, anything else still goes to `handle_task`, and a malformed envelope or a performer without
`handle_phase` is answered with a clear error."""

from __future__ import annotations

import json

import grpc
import pytest

from hourglass_cli.performer import Performer, PhaseRequest, TaskRequest, TaskValidationError
from hourglass_cli.performer.phase import is_envelope, parse_envelope
from hourglass_cli.wire.services import PerformerStub, performer_pb2
from tests.performer.conftest import DEADLINE, TASK_ID

WORKFLOW = "0x" + "ab" * 32
EXECUTION = "0x" + "cd" * 32


def envelope(**fields: object) -> bytes:
    """The JSON WorkflowStateMachine writes (no whitespace, keys in its order)."""
    doc = {"hourglass_workflow": 1, "workflow": WORKFLOW, "execution": EXECUTION, "phase": 2, "name": "agree",
           "type": "COORDINATION", "update": 0, "input": "0x0102", "dependencies": ["0x", "0xbeef"], **fields}
    return json.dumps(doc, separators=(",", ":")).encode()


def test_an_envelope_parses_into_a_typed_phase_request() -> None:
    payload = envelope()
    assert is_envelope(payload) and not is_envelope(b"\x00" * 32) and not is_envelope(b'{"other":1}')
    phase = parse_envelope(payload, TASK_ID)
    assert phase == PhaseRequest(TASK_ID, WORKFLOW, EXECUTION, 2, "agree", "COORDINATION", 0, b"\x01\x02",
                                 (b"", b"\xbe\xef"))
    assert phase.task_hash == TASK_ID.decode()


@pytest.mark.parametrize("payload, why", [
    (b'{"hourglass_workflow":1,', "not JSON"),
    (envelope(hourglass_workflow=2), '"hourglass_workflow" is not 1'),
    (envelope(workflow="0x12"), '"workflow" is missing or malformed'),
    (envelope(execution=None), '"execution" is missing or malformed'),
    (envelope(phase=-1), '"phase" is not a non-negative integer'),
    (envelope(phase=True), '"phase" is not a non-negative integer'),
    (envelope(type="SOMETIMES"), "is not one of IMMEDIATE"),
    (envelope(input="0x123"), '"input" is missing or malformed'),
    (envelope(dependencies="0x00"), '"dependencies" is not a list'),
    (envelope(dependencies=["zz"]), '"dependencies" is not a list'),
    (b'{"hourglass_workflow":' + b"[" * 100_000, "not JSON"),
])
def test_a_malformed_envelope_is_a_clear_validation_error(payload: bytes, why: str) -> None:
    with pytest.raises(TaskValidationError, match="not a workflow phase envelope") as info:
        parse_envelope(payload)
    assert why in str(info.value)


class Both(Performer):
    def handle_task(self, request: TaskRequest) -> bytes:
        return b"task:" + request.payload

    def handle_phase(self, request: PhaseRequest) -> bytes:
        return f"{request.phase_name}/{request.phase_type}/{request.update}".encode() + b"".join(request.dependencies)


class TasksOnly(Performer):
    def handle_task(self, request: TaskRequest) -> bytes:
        return b"task"


def _execute(server: object, payload: bytes) -> bytes:
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:  # type: ignore[attr-defined]
        reply = PerformerStub(channel).ExecuteTask(performer_pb2.TaskRequest(task_id=TASK_ID, payload=payload),
                                                   timeout=DEADLINE)
    return bytes(reply.result)


def test_the_server_routes_envelopes_to_handle_phase_and_the_rest_to_handle_task(thread_server) -> None:
    server = thread_server(Both())
    assert _execute(server, envelope(type="CONTINUOUS", update=3, name="watch")) == b"watch/CONTINUOUS/3\xbe\xef"
    assert _execute(server, b"\x05") == b"task:\x05"


def test_a_malformed_envelope_and_a_performer_without_handle_phase_get_clear_errors(thread_server) -> None:
    for performer, payload, text in (
        (Both(), envelope(type="LATER"), "task is invalid: not a workflow phase envelope: \"type\""),
        (TasksOnly(), envelope(), "failed to handle phase 'agree': TasksOnly has no handle_phase"),
    ):
        server = thread_server(performer)
        with pytest.raises(grpc.RpcError) as info:
            _execute(server, payload)
        assert info.value.code() == grpc.StatusCode.INTERNAL
        assert text in (info.value.details() or ""), info.value.details()
