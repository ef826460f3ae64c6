"""Performers used by the tests (importable as ``tests.performer.performers:Name`` from the repo root)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from hourglass_cli.performer import Performer, TaskRequest, TaskResponse, TaskValidationError

GATE_DIR_ENV = "HOURGLASS_TEST_GATE_DIR"


class EchoPerformer(Performer):
    """Result = b"echo:" + payload; b"invalid" is rejected, b"boom" raises, b"wrong-id" answers for another task."""

    def validate_task(self, request: TaskRequest) -> None:
        if request.payload == b"invalid":
            raise TaskValidationError("payload says it is invalid")

    def handle_task(self, request: TaskRequest) -> TaskResponse | bytes:
        if request.payload == b"boom":
            raise RuntimeError("kaboom while handling")
        if request.payload == b"wrong-id":
            return TaskResponse(task_id=request.task_id + b"-other", result=b"x")
        if request.payload == b"response-object":
            return TaskResponse(task_id=request.task_id, result=b"via TaskResponse")
        if request.payload == b"not-bytes":
            return "a str is not bytes"  # type: ignore[return-value]
        return b"echo:" + request.payload


class OverlapPerformer(Performer):
    """Every task waits at a barrier of ``parties`` tasks: they all finish only if they all run at once."""

    def __init__(self, parties: int = 8, timeout: float = 20.0) -> None:
        self.barrier = threading.Barrier(parties, timeout=timeout)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def handle_task(self, request: TaskRequest) -> bytes:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self.barrier.wait()
        finally:
            with self._lock:
                self.in_flight -= 1
        return request.payload


class EventPerformer(Performer):
    """Each task sets ``started`` and blocks until ``release`` is set (in-thread shutdown tests)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def handle_task(self, request: TaskRequest) -> bytes:
        self.started.set()
        if not self.release.wait(timeout=30):
            raise TimeoutError("the test never released the task")
        return b"released:" + request.payload


class GatedPerformer(Performer):
    """For a performer in another process: touches ``$GATE_DIR/started``, then waits for ``$GATE_DIR/release``."""

    def __init__(self) -> None:
        self.gate = Path(os.environ[GATE_DIR_ENV])

    def handle_task(self, request: TaskRequest) -> bytes:
        (self.gate / "started").touch()
        deadline = time.monotonic() + 30
        while not (self.gate / "release").exists():  # a condition wait across processes
            if time.monotonic() > deadline:
                raise TimeoutError("the test never released the task")
            time.sleep(0.01)
        return b"released:" + request.payload


class NotAPerformer:
    """Has no handle_task."""


class BrokenConstructor(Performer):
    def __init__(self) -> None:
        raise ValueError("needs configuration")


ECHO = EchoPerformer()
