"""The performer SDK against a plain grpcio client compiled from the proto text (WIRE.md §1).

The client runs in its own process and imports nothing of hourglass_cli, so these calls are what a Go
executor's would be: same method paths, same field numbers, standard grpc.health.v1.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from pathlib import Path

import grpc
import pytest
from eth_abi import decode, encode

from hourglass_cli.performer.examples.square import SquarePerformer
from tests.performer.conftest import DEADLINE, TASK_ID
from tests.performer.performers import EchoPerformer, EventPerformer, OverlapPerformer

EXECUTE_TASK_PATH = "/eigenlayer.hourglass.v1.performer.PerformerService/ExecuteTask"


def test_execute_task_echoes_task_id_and_health_is_serving(thread_server, plain_client) -> None:
    server = thread_server(EchoPerformer())
    client = plain_client(server.port)

    answer = client.execute(TASK_ID, b"hello")
    assert answer == {"id": answer["id"], "ok": True, "task_id": TASK_ID.hex(), "result": b"echo:hello".hex()}
    assert bytes.fromhex(answer["task_id"]) == TASK_ID and len(TASK_ID) == 66

    # Any bytes come back unchanged, not only the canonical form.
    odd_id = b"\x00\xffnot-ascii\x80"
    assert bytes.fromhex(client.execute(odd_id, b"x")["task_id"]) == odd_id

    assert client.call("health", service="")["status"] == "SERVING"  # what the Go executor asks
    assert client.call("health", service="eigenlayer.hourglass.v1.performer.PerformerService")["status"] == "SERVING"
    assert client.call("health", service="no.such.Service")["code"] == "NOT_FOUND"
    assert client.call("start_sync", payload="00")["ok"]


def test_errors_map_to_internal_with_the_hourglass_messages(thread_server, plain_client) -> None:
    client = plain_client(thread_server(EchoPerformer()).port)

    invalid = client.execute(TASK_ID, b"invalid")
    assert (invalid["ok"], invalid["code"]) == (False, "INTERNAL")
    assert invalid["details"] == "task is invalid: payload says it is invalid"

    failed = client.execute(TASK_ID, b"boom")
    assert (failed["code"], failed["details"]) == ("INTERNAL", "failed to handle task: kaboom while handling")

    wrong = client.execute(TASK_ID, b"wrong-id")
    assert wrong["code"] == "INTERNAL"
    assert wrong["details"].startswith("failed to handle task: the handler answered for task ")

    not_bytes = client.execute(TASK_ID, b"not-bytes")
    assert not_bytes["details"] == "failed to handle task: the handler returned str; return bytes or a TaskResponse"

    via_response = client.execute(TASK_ID, b"response-object")
    assert via_response["ok"] and bytes.fromhex(via_response["result"]) == b"via TaskResponse"

    # The server is still healthy after every failure.
    assert client.call("health")["status"] == "SERVING"


def test_square_example_over_the_wire(thread_server, plain_client) -> None:
    client = plain_client(thread_server(SquarePerformer()).port)
    answer = client.execute(TASK_ID, encode(["uint256"], [12345]))
    assert decode(["uint256"], bytes.fromhex(answer["result"])) == (12345**2,)
    bad = client.execute(TASK_ID, b"\x01\x02")
    assert bad["code"] == "INTERNAL" and bad["details"].startswith("task is invalid: payload must be one ABI-encoded")
    huge = client.execute(TASK_ID, encode(["uint256"], [2**128]))
    assert huge["details"] == "task is invalid: the number must be below 2^128, or its square overflows uint256"


def test_requests_run_concurrently(thread_server, plain_client) -> None:
    # Each task waits at an 8-party barrier: the calls can only complete if all 8 run at the same time.
    performer = OverlapPerformer(parties=8)
    client = plain_client(thread_server(performer, max_workers=16).port)
    ids = [client.send("execute", task_id=TASK_ID.hex(), payload=bytes([i]).hex()) for i in range(8)]
    answers = [client.wait(i) for i in ids]
    assert all(a["ok"] for a in answers), answers
    assert sorted(bytes.fromhex(a["result"]) for a in answers) == [bytes([i]) for i in range(8)]
    assert performer.max_in_flight == 8


def test_malformed_request_does_not_kill_the_server(thread_server, plain_client) -> None:
    server = thread_server(EchoPerformer())
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        raw = channel.unary_unary(EXECUTE_TASK_PATH)  # no serializers: bytes in, bytes out
        for garbage in (b"\xff\xff\xff\xff", b"\x0a\xff\xff\xff\xff\x0f", b"\x12"):
            with pytest.raises(grpc.RpcError) as info:
                raw(garbage, timeout=10)
            assert info.value.code() == grpc.StatusCode.INTERNAL
    client = plain_client(server.port)
    assert client.execute(TASK_ID, b"still alive")["ok"]
    assert client.call("health")["status"] == "SERVING"


def test_one_log_line_per_task_without_the_payload(thread_server, plain_client, caplog) -> None:
    caplog.set_level(logging.INFO, logger="hourglass.performer")
    client = plain_client(thread_server(EchoPerformer()).port)
    client.execute(TASK_ID, b"SECRET-PAYLOAD-123")
    client.execute(TASK_ID, b"boom")
    task_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("task ")]
    assert len(task_lines) == 2
    assert f"task_id={TASK_ID.decode()} status=ok" in task_lines[0] and "duration_ms=" in task_lines[0]
    assert "status=error" in task_lines[1] and "kaboom" in task_lines[1]
    assert "SECRET-PAYLOAD" not in caplog.text


def test_shutdown_reports_not_serving_and_finishes_in_flight_calls(thread_server, plain_client) -> None:
    from grpc_health.v1 import health_pb2

    performer = EventPerformer()
    server = thread_server(performer)
    client = plain_client(server.port)
    pending = client.send("execute", task_id=TASK_ID.hex(), payload=b"late".hex())
    assert performer.started.wait(timeout=30)

    stopped = server.begin_shutdown(grace=30)
    status = server.health.Check(health_pb2.HealthCheckRequest(service=""), None).status
    assert status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert not stopped.is_set()  # still waiting for the in-flight task

    performer.release.set()
    answer = client.wait(pending)
    assert answer["ok"] and bytes.fromhex(answer["result"]) == b"released:late"
    assert stopped.wait(timeout=30)


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine, a listener is not
        try:
            listener.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("entry", ["module", "cli"])
def test_subprocess_serves_and_stops_gracefully_on_sigterm(entry, server_process, plain_client, tmp_path: Path) -> None:
    spec = "tests.performer.performers:GatedPerformer"
    if entry == "module":
        argv = [sys.executable, "-m", "hourglass_cli.performer", spec, "--port", "0"]
    else:
        run_cli = "from hourglass_cli.cli.performer import app; app()"
        argv = [sys.executable, "-c", run_cli, "serve", spec, "--port", "0"]
    server = server_process(argv, env={"HOURGLASS_TEST_GATE_DIR": str(tmp_path)})
    client = plain_client(server.port)
    assert client.call("health")["status"] == "SERVING"

    pending = client.send("execute", task_id=TASK_ID.hex(), payload=b"in-flight".hex())
    assert _wait_for_file(tmp_path / "started"), "the task never started in the performer process"

    server.terminate()
    server.wait_for_line("performer shutting down")
    (tmp_path / "release").touch()

    answer = client.wait(pending)
    assert answer["ok"], answer
    assert bytes.fromhex(answer["task_id"]) == TASK_ID
    assert bytes.fromhex(answer["result"]) == b"released:in-flight"
    assert server.wait_exit() == 0
    server.wait_for_line("performer stopped")
    assert _port_is_free(server.port)


def _wait_for_file(path: Path, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_subprocess_square_example_and_malformed_bytes(server_process, plain_client) -> None:
    server = server_process([sys.executable, "-m", "hourglass_cli.performer",
                             "hourglass_cli.performer.examples.square:SquarePerformer", "--port", "0"])
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        with pytest.raises(grpc.RpcError) as info:
            channel.unary_unary(EXECUTE_TASK_PATH)(b"\xff\xff\xff", timeout=10)
        assert info.value.code() == grpc.StatusCode.INTERNAL
    client = plain_client(server.port)
    answer = client.execute(TASK_ID, encode(["uint256"], [5]))
    assert bytes.fromhex(answer["task_id"]) == TASK_ID
    assert decode(["uint256"], bytes.fromhex(answer["result"])) == (25,)
    server.terminate()
    assert server.wait_exit() == 0


@pytest.mark.parametrize("how", ["second-signal", "grace-expired"])
def test_stuck_task_does_not_keep_the_process_alive(how, server_process, plain_client, tmp_path: Path) -> None:
    grace = "30" if how == "second-signal" else "0.2"
    argv = [sys.executable, "-m", "hourglass_cli.performer", "tests.performer.performers:GatedPerformer",
            "--port", "0", "--grace", grace]
    server = server_process(argv, env={"HOURGLASS_TEST_GATE_DIR": str(tmp_path)})
    client = plain_client(server.port)
    pending = client.send("execute", task_id=TASK_ID.hex(), payload=b"never released".hex())
    assert _wait_for_file(tmp_path / "started")
    server.terminate()
    server.wait_for_line("performer shutting down grace_s=")
    if how == "second-signal":
        server.terminate()
        server.wait_for_line("second signal")
    assert server.wait_exit() == 0  # the handler is still blocked: only the os._exit fallback gets here
    server.wait_for_line("handler(s) still running after the grace period; exiting")
    answer = client.wait(pending)
    assert not answer["ok"] and answer["code"] in ("CANCELLED", "UNAVAILABLE")
    assert _port_is_free(server.port)


def test_a_failing_handler_logs_its_traceback_not_only_its_message(server_process, tmp_path: Path) -> None:
    """Issue #12: the performer's log had only the exception's message; the developer needs the line that raised."""
    from hourglass_cli.wire.services import PerformerStub, performer_pb2

    (tmp_path / "raising_avs.py").write_text(
        "from hourglass_cli.performer import Performer\n\n\n"
        "def parse_amount(payload):\n"
        "    return int(payload.decode())  # the line that raises\n\n\n"
        "class RaisingPerformer(Performer):\n"
        "    def handle_task(self, request):\n"
        "        return parse_amount(request.payload).to_bytes(32, 'big')\n")
    server = server_process([sys.executable, "-m", "hourglass_cli.performer", "raising_avs:RaisingPerformer"],
                            env={"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])})
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        with pytest.raises(grpc.RpcError) as info:
            PerformerStub(channel).ExecuteTask(performer_pb2.TaskRequest(task_id=TASK_ID, payload=b"not a number"),
                                               timeout=DEADLINE)
    assert info.value.code() == grpc.StatusCode.INTERNAL
    assert "Traceback" not in (info.value.details() or "")  # the caller gets the message only
    server.wait_for_line("Traceback (most recent call last):")
    server.wait_for_line('raising_avs.py", line 5, in parse_amount')
    server.wait_for_line("ValueError: invalid literal for int()")
