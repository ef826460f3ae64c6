"""The committed stubs are exactly what grpcio-tools makes of the committed protos, and they carry the
upstream names and field numbers (Layr-Labs/protocol-apis performer.proto, hourglass-monorepo executor.proto)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor

from hourglass_cli.wire import regen, services
from hourglass_cli.wire.gen import GRPCIO_TOOLS_VERSION
from hourglass_cli.wire.services import executor_pb2, performer_pb2

REPO = Path(__file__).resolve().parents[2]
T = FieldDescriptor


def _require_recorded_generator() -> None:
    installed = regen.grpcio_tools_version()
    if installed != GRPCIO_TOOLS_VERSION:
        pytest.fail(f"wire/gen was generated with grpcio-tools {GRPCIO_TOOLS_VERSION}, {installed} is installed: "
                    "byte-identical output needs the same generator "
                    f"(pip install grpcio-tools=={GRPCIO_TOOLS_VERSION}, "
                    "or regenerate with `python -m hourglass_cli.wire.regen` and commit)", pytrace=False)


def test_regen_check_finds_nothing_to_change() -> None:
    _require_recorded_generator()
    assert regen.check() == []


def test_regen_check_command_line() -> None:
    _require_recorded_generator()
    done = subprocess.run([sys.executable, "-m", "hourglass_cli.wire.regen", "--check"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


def test_compare_reports_a_changed_missing_or_extra_file(tmp_path: Path) -> None:
    copy = tmp_path / "gen"
    shutil.copytree(regen.GEN_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert regen.compare(regen.GEN_DIR, copy) == []
    stub = copy / "eigenlayer/hourglass/v1/performer/performer_pb2.py"
    stub.write_bytes(stub.read_bytes().replace(b"payload", b"paYload", 1))
    (copy / "eigenlayer/hourglass/v1/executor/executor_pb2.pyi").unlink()
    (copy / "stray.py").write_text("")
    assert regen.compare(regen.GEN_DIR, copy) == [
        "missing: eigenlayer/hourglass/v1/executor/executor_pb2.pyi",
        "not generated any more: stray.py",
        "differs: eigenlayer/hourglass/v1/performer/performer_pb2.py",
    ]


def _fields(message) -> dict[str, tuple[int, int]]:
    return {f.name: (f.number, f.type) for f in message.DESCRIPTOR.fields}


def test_performer_proto_matches_upstream() -> None:
    file = performer_pb2.DESCRIPTOR
    assert (file.name, file.package) == ("eigenlayer/hourglass/v1/performer/performer.proto",
                                         "eigenlayer.hourglass.v1.performer")
    assert file.GetOptions().go_package == (
        "github.com/Layr-Labs/protocol-apis/gen/protos/eigenlayer/hourglass/v1/performer")
    service = file.services_by_name["PerformerService"]
    assert [(m.name, m.input_type.name, m.output_type.name) for m in service.methods] == [
        ("StartSync", "StartSyncRequest", "StartSyncResponse"),
        ("ExecuteTask", "TaskRequest", "TaskResponse"),
    ]  # no PerformerService.HealthCheck: health is grpc.health.v1
    assert services.EXECUTE_TASK == "/eigenlayer.hourglass.v1.performer.PerformerService/ExecuteTask"
    assert services.START_SYNC == "/eigenlayer.hourglass.v1.performer.PerformerService/StartSync"
    assert _fields(performer_pb2.TaskRequest) == {"task_id": (1, T.TYPE_BYTES), "payload": (2, T.TYPE_BYTES)}
    assert _fields(performer_pb2.TaskResponse) == {"task_id": (1, T.TYPE_BYTES), "result": (2, T.TYPE_BYTES)}
    assert _fields(performer_pb2.StartSyncRequest) == {"payload": (1, T.TYPE_BYTES)}
    assert _fields(performer_pb2.StartSyncResponse) == {}
    assert dict(performer_pb2.PerformerStatus.items()) == {"READY_FOR_SYNC": 0, "READY_FOR_TASK": 1}


def test_executor_proto_matches_upstream() -> None:
    file = executor_pb2.DESCRIPTOR
    assert (file.name, file.package) == ("eigenlayer/hourglass/v1/executor/executor.proto", "eigenlayer.hourglass.v1")
    assert file.GetOptions().go_package == (
        "github.com/Layr-Labs/hourglass-monorepo/ponos/gen/protos/eigenlayer/hourglass/v1/executor")
    assert services.SUBMIT_TASK == "/eigenlayer.hourglass.v1.ExecutorService/SubmitTask"
    assert _fields(executor_pb2.TaskSubmission) == {
        "task_id": (1, T.TYPE_STRING), "aggregator_address": (2, T.TYPE_STRING), "avs_address": (3, T.TYPE_STRING),
        "payload": (4, T.TYPE_BYTES), "signature": (5, T.TYPE_BYTES), "operator_set_id": (6, T.TYPE_UINT32),
        "reference_timestamp": (7, T.TYPE_UINT32), "executor_address": (8, T.TYPE_STRING),
        "task_block_number": (9, T.TYPE_UINT64), "version": (10, T.TYPE_UINT32),
    }
    assert _fields(executor_pb2.TaskResult) == {
        "task_id": (1, T.TYPE_STRING), "operator_address": (2, T.TYPE_STRING), "output": (3, T.TYPE_BYTES),
        "result_signature": (4, T.TYPE_BYTES), "avs_address": (5, T.TYPE_STRING),
        "operator_set_id": (6, T.TYPE_UINT32), "auth_signature": (7, T.TYPE_BYTES), "version": (8, T.TYPE_UINT32),
    }


def test_known_wire_bytes() -> None:
    # Hand-encoded protobuf: field 1 (LEN) "0x..", field 2 (LEN) payload -- what a Go executor puts on the wire.
    task_id = ("0x" + "ab" * 32).encode()
    wire = b"\x0a\x42" + task_id + b"\x12\x03abc"
    assert performer_pb2.TaskRequest(task_id=task_id, payload=b"abc").SerializeToString() == wire
    submission = executor_pb2.TaskSubmission(operator_set_id=1, task_block_number=2**40, version=1)
    assert submission.SerializeToString() == b"\x30\x01\x48\x80\x80\x80\x80\x80\x20\x50\x01"


def test_generated_grpc_modules_import_and_name_the_same_paths() -> None:
    from hourglass_cli.wire.gen.eigenlayer.hourglass.v1.executor import executor_pb2_grpc
    from hourglass_cli.wire.gen.eigenlayer.hourglass.v1.performer import performer_pb2_grpc

    assert performer_pb2_grpc.GRPC_GENERATED_VERSION == regen.MIN_GRPCIO_FOR_PB2_GRPC
    assert executor_pb2_grpc.GRPC_GENERATED_VERSION == regen.MIN_GRPCIO_FOR_PB2_GRPC
    assert performer_pb2.TaskRequest.__module__ == (
        "hourglass_cli.wire.gen.eigenlayer.hourglass.v1.performer.performer_pb2")
