"""The SDK without a network: base class, example, spec loading, port resolution, CLI wiring."""

from __future__ import annotations

import subprocess
import sys

import pytest
from eth_abi import encode
from typer.testing import CliRunner

from hourglass_cli.errors import HourglassError, UsageError
from hourglass_cli.performer import Performer, TaskRequest, TaskResponse, TaskValidationError
from hourglass_cli.performer.examples.square import SquarePerformer
from hourglass_cli.performer.loader import load_performer
from tests.performer.conftest import REPO, TASK_ID
from tests.performer.performers import ECHO, EchoPerformer


def test_base_class_defaults() -> None:
    request = TaskRequest(task_id=TASK_ID, payload=b"p")
    assert Performer().validate_task(request) is None
    with pytest.raises(NotImplementedError, match="does not implement handle_task"):
        Performer().handle_task(request)
    assert request.task_hash == TASK_ID.decode()
    assert "payload" not in repr(request) and "result" not in repr(TaskResponse(task_id=b"t", result=b"r"))


def test_square_example_directly() -> None:
    performer = SquarePerformer()
    request = TaskRequest(task_id=TASK_ID, payload=encode(["uint256"], [2**128 - 1]))
    performer.validate_task(request)
    assert performer.handle_task(request) == encode(["uint256"], [(2**128 - 1) ** 2])
    for payload in (b"", b"\x00" * 31, b"\x00" * 64, encode(["uint256"], [2**128])):
        with pytest.raises(TaskValidationError):
            performer.validate_task(TaskRequest(task_id=TASK_ID, payload=payload))


def test_load_performer_forms() -> None:
    assert isinstance(load_performer("tests.performer.performers:EchoPerformer"), EchoPerformer)
    assert load_performer("tests.performer.performers:ECHO") is ECHO  # an instance is used as is
    assert isinstance(load_performer("hourglass_cli.performer.examples.square:SquarePerformer"), SquarePerformer)


@pytest.mark.parametrize(("spec", "error", "text"), [
    ("no_colon_here", UsageError, "expected MODULE:CLASS"),
    (":Cls", UsageError, "expected MODULE:CLASS"),
    ("no_such_module_xyz:Cls", UsageError, "no module named 'no_such_module_xyz'"),
    ("tests.performer.performers:Missing", UsageError, "has no attribute 'Missing'"),
    ("tests.performer.performers:NotAPerformer", UsageError, "has no handle_task method"),
    ("tests.performer.performers:BrokenConstructor", HourglassError, "needs configuration"),
])
def test_load_performer_errors_say_what_to_do(spec, error, text) -> None:
    with pytest.raises(error, match=text) as info:
        load_performer(spec)
    assert info.value.hint


def test_port_resolution(monkeypatch) -> None:
    from hourglass_cli.performer.server import resolve_port

    monkeypatch.delenv("PORT", raising=False)
    assert resolve_port(None) == 8080
    assert resolve_port(9001) == 9001
    monkeypatch.setenv("PORT", "7000")
    assert resolve_port(None) == 7000
    assert resolve_port(0) == 0
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(UsageError, match=r"\$PORT must be a port number"):
        resolve_port(None)
    with pytest.raises(UsageError):
        resolve_port(70000)


def test_taken_port_is_an_error_not_a_shared_socket(thread_server) -> None:
    from hourglass_cli.performer.server import PerformerError, PerformerServer

    running = thread_server(EchoPerformer())
    with pytest.raises(PerformerError, match="cannot listen on 127.0.0.1:") as info:
        PerformerServer(EchoPerformer(), port=running.port).start()
    assert "--port" in (info.value.hint or "")


def test_server_needs_a_performer() -> None:
    from hourglass_cli.performer.server import PerformerServer

    with pytest.raises(UsageError, match="no handle_task"):
        PerformerServer(object(), port=0)  # type: ignore[arg-type]


def test_cli_serve_reports_a_bad_spec() -> None:
    from hourglass_cli.cli.performer import app

    result = CliRunner().invoke(app, ["serve", "nope_module_xyz:X", "--port", "0"])
    assert isinstance(result.exception, UsageError)
    assert "no module named" in str(result.exception)


def test_importing_the_sdk_and_cli_module_is_light() -> None:
    code = ("import sys, hourglass_cli.performer, hourglass_cli.cli.performer; "
            "print(sorted(m for m in ('grpc', 'eth_abi', 'google.protobuf') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"


def test_module_entry_reports_errors_without_traceback() -> None:
    done = subprocess.run([sys.executable, "-m", "hourglass_cli.performer", "not_a_module_xyz:P"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: no module named 'not_a_module_xyz'")
    assert "Traceback" not in done.stderr
