"""A pool of JavaScript worker processes (see _jsbox_worker.py): one request per worker at a time.

A worker that overruns its wall-clock backstop, dies, or answers garbage is killed and replaced; the others go on.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from hourglass_cli.api._jsbox_worker import _LEN, decode_frame, encode_frame
from hourglass_cli.errors import HourglassError

STARTUP_TIMEOUT_S = 30.0  # a cold Python start under load; the hello frame is the readiness check


class JsEngineError(HourglassError):
    """The JavaScript worker process could not start or died."""

    default_hint = "check that quickjs-ng is installed in this Python (`pip install quickjs-ng`) and see stderr"


class WorkerTimeout(Exception):
    """The worker did not answer within the wall-clock backstop; it has been killed."""


class WorkerCrashed(Exception):
    """The worker exited or broke the protocol mid-request; it has been killed."""


class WorkerNotReading(WorkerCrashed):
    """The worker was gone before it read the request (the request did not run)."""


class _Worker:
    def __init__(self) -> None:
        root = Path(__file__).resolve().parents[2]  # the folder holding hourglass_cli, checkout or site-packages
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hourglass_cli.api._jsbox_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True, bufsize=0)
        self._in = self.proc.stdin.fileno()  # type: ignore[union-attr]
        self._out = self.proc.stdout.fileno()  # type: ignore[union-attr]
        try:
            hello, _ = decode_frame(self._read_frame(time.monotonic() + STARTUP_TIMEOUT_S))
        except (WorkerTimeout, WorkerCrashed) as exc:
            self.kill()
            raise JsEngineError(f"the JavaScript worker did not start ({exc})") from None
        if not hello.get("ready"):
            self.kill()
            raise JsEngineError(f"the JavaScript worker could not start: {hello.get('error')}")
        self.engine: str = hello["engine"]

    def _read_exact(self, n: int, deadline: float) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._out], [], [], left)[0]:
                raise WorkerTimeout("no answer in time")
            chunk = os.read(self._out, n - len(buf))
            if not chunk:
                code = self.proc.wait()
                raise WorkerCrashed(f"the worker exited with {_describe_exit(code)}")
            buf += chunk
        return bytes(buf)

    def _read_frame(self, deadline: float) -> bytes:
        (n,) = _LEN.unpack(self._read_exact(4, deadline))
        return self._read_exact(n, deadline)

    def request(self, header: dict[str, Any], parts: list[bytes], wall_s: float) -> tuple[dict[str, Any], list[bytes]]:
        """Send one request and wait for its answer at most wall_s seconds."""
        deadline = time.monotonic() + wall_s
        data = memoryview(encode_frame(header, parts))
        try:
            while data:
                data = data[os.write(self._in, data):]
        except (BrokenPipeError, OSError) as exc:
            raise WorkerNotReading(f"the worker stopped reading ({exc})") from None
        try:
            return decode_frame(self._read_frame(deadline))
        except (ValueError, KeyError) as exc:
            raise WorkerCrashed(f"the worker sent a malformed answer ({exc})") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()

    def stop(self) -> None:
        """Close its stdin (it exits at EOF), then reap it; kill it if it does not go."""
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


def _describe_exit(code: int) -> str:
    if code < 0:
        import signal

        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"status {code}"


class JsPool:
    """Up to `size` worker processes (default: the number of CPUs, at least 2), started on demand and reused."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size or max(2, os.cpu_count() or 2)
        self._idle: list[_Worker] = []
        self._count = 0
        self._closed = False
        self._cond = threading.Condition()

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise JsEngineError("the JavaScript pool is closed")
                while self._idle:
                    worker = self._idle.pop(0)  # the longest idle: it has had most time to prepare its spare
                    if worker.proc.poll() is None:
                        return worker
                    self._count -= 1  # died while idle (killed from outside): reap it, use or start another
                    worker.kill()
                if self._count < self.size:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            return _Worker()
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._cond:
            keep = healthy and not self._closed
            if keep:
                self._idle.append(worker)
            else:
                self._count -= 1
            self._cond.notify()
        if not healthy:
            worker.kill()
        elif not keep:
            worker.stop()

    def call(self, header: dict[str, Any], parts: list[bytes], wall_s: float) -> tuple[dict[str, Any], list[bytes]]:
        """One request on a free worker; WorkerTimeout / WorkerCrashed when it had to be killed. A worker that
        cannot even take the request (it died between runs) is replaced and the request sent to another: it never
        ran, so sending it again runs it once."""
        for attempt in range(3):
            worker = self._acquire()
            healthy = False
            try:
                answer = worker.request(header, parts, wall_s)
                healthy = True
                return answer
            except WorkerNotReading:
                if attempt == 2:
                    raise WorkerCrashed("the JavaScript workers keep dying before taking a request") from None
            finally:
                self._release(worker, healthy)
        raise AssertionError("unreachable")

    def warm(self, n: int = 1) -> None:
        """Start up to n workers now, so the first requests do not wait for a Python start."""
        started = []
        for _ in range(min(n, self.size)):
            started.append(self._acquire())
        for worker in started:
            self._release(worker, True)

    def close(self) -> None:
        """Stop every idle worker; busy ones are stopped when their request ends."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        for worker in idle:
            worker.stop()
