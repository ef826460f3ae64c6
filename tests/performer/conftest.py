"""Fixtures: a plain grpcio client in its own process, performer servers in a thread or a subprocess."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
WIRE_PROTOS = REPO / "hourglass_cli" / "wire" / "protos"
TEST_PROTOS = Path(__file__).resolve().parent / "protos"
PLAIN_CLIENT = Path(__file__).resolve().parent / "plain_client.py"
TASK_ID = ("0x" + "3f" * 32).encode("ascii")  # what an executor sends: ASCII of the 66-char hex hash
DEADLINE = 30.0


@pytest.fixture(scope="session")
def plain_gen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """performer.proto (our proto text) and health.proto compiled by grpc_tools into a scratch folder."""
    out = tmp_path_factory.mktemp("plain_client_gen")
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{WIRE_PROTOS}", f"-I{TEST_PROTOS}",
         f"--python_out={out}", f"--grpc_python_out={out}",
         str(WIRE_PROTOS / "eigenlayer/hourglass/v1/performer/performer.proto"),
         str(TEST_PROTOS / "plain_health/health.proto")],
        check=True, cwd=out,
    )
    for folder in [p for p in out.rglob("*") if p.is_dir()]:
        (folder / "__init__.py").touch()
    return out


class PlainClient:
    """Drives plain_client.py: ``call`` waits for one answer, ``send``/``wait`` overlap many."""

    def __init__(self, gen_dir: Path, address: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        # Run from the scratch folder so nothing of hourglass_cli is importable by accident.
        self.proc = subprocess.Popen([sys.executable, str(PLAIN_CLIENT), str(gen_dir), address],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=gen_dir, env=env)
        self._answers: queue.Queue[dict[str, Any]] = queue.Queue()
        self._pending: dict[Any, dict[str, Any]] = {}
        self._next = 0
        threading.Thread(target=self._read, daemon=True).start()
        assert self.wait("ready")["ok"]

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._answers.put(json.loads(line))

    def send(self, op: str, **fields: Any) -> int:
        self._next += 1
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": self._next, "op": op, **fields}) + "\n")
        self.proc.stdin.flush()
        return self._next

    def wait(self, command_id: Any, timeout: float = DEADLINE) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while command_id not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no answer to command {command_id} within {timeout}s")
            try:
                answer = self._answers.get(timeout=remaining)
            except queue.Empty:
                continue
            self._pending[answer["id"]] = answer
        return self._pending.pop(command_id)

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        return self.wait(self.send(op, **fields))

    def execute(self, task_id: bytes, payload: bytes, **fields: Any) -> dict[str, Any]:
        return self.call("execute", task_id=task_id.hex(), payload=payload.hex(), **fields)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def plain_client(plain_gen_dir: Path) -> Iterator[Any]:
    """``plain_client(port)`` -> a connected :class:`PlainClient` (closed after the test)."""
    clients: list[PlainClient] = []

    def connect(port: int) -> PlainClient:
        client = PlainClient(plain_gen_dir, f"127.0.0.1:{port}")
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


class ServerProcess:
    """A performer served by another Python process; the port is read from its 'listening' log line."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=REPO,
                                     env={**os.environ, **(env or {})})
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_for_line("performer listening address=")
        self.port = int(line.split("address=")[1].split()[0].rsplit(":", 1)[1])

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append("<eof>")
            self._cond.notify_all()

    def wait_for_line(self, text: str, timeout: float = DEADLINE) -> str:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                if "<eof>" in self.lines:
                    raise AssertionError(f"process ended without logging {text!r}:\n" + "\n".join(self.lines))
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise AssertionError(f"no {text!r} within {timeout}s:\n" + "\n".join(self.lines))

    def terminate(self) -> None:
        self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout: float = DEADLINE) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def server_process() -> Iterator[Any]:
    """``server_process(argv, env)`` -> a started :class:`ServerProcess` (killed after the test if still up)."""
    started: list[ServerProcess] = []

    def start(argv: list[str], env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(argv, env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def thread_server() -> Iterator[Any]:
    """``thread_server(performer, **options)`` -> a started in-process PerformerServer on a free port."""
    from hourglass_cli.performer.server import PerformerServer

    servers: list[PerformerServer] = []

    def start(performer: Any, **options: Any) -> PerformerServer:
        server = PerformerServer(performer, host="127.0.0.1", port=0, **options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(grace=0)
