"""A performer with on-demand misbehaviour, served in-process (remote runtime) by the executor tests.

Payload ``b"big:N"`` answers N bytes; ``b"block"`` blocks until ``release`` is set (a task that outlives its
deadline); ``b"fail"`` raises; ``b"slow:TAG"`` blocks until ``release`` and answers ``b"done:TAG"``;
``b"flaky:TAG"`` raises the first time it runs and answers ``b"ok:TAG"`` after; anything else is handled by the
real example (square of a uint256). ``runs`` counts the runs of each payload.
"""

from __future__ import annotations

import threading
from collections import Counter

from hourglass_cli.performer import TaskRequest
from hourglass_cli.performer.examples.square import SquarePerformer


class MisbehavingPerformer(SquarePerformer):
    """SquarePerformer plus the behaviours above; ``blocked`` is set when a ``block`` task is running."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.blocked = threading.Event()
        self.runs: Counter[bytes] = Counter()
        self._lock = threading.Lock()

    def validate_task(self, request: TaskRequest) -> None:
        if request.payload.startswith((b"big:", b"block", b"fail", b"slow:", b"flaky:")):
            return
        super().validate_task(request)

    def handle_task(self, request: TaskRequest) -> bytes:
        payload = request.payload
        with self._lock:
            self.runs[payload] += 1
            run = self.runs[payload]
        if payload.startswith(b"slow:"):
            self.blocked.set()
            self.release.wait(30)
            return b"done:" + payload[5:]
        if payload.startswith(b"flaky:"):
            if run == 1:
                raise RuntimeError("flaky the first time")
            return b"ok:" + payload[6:]
        if payload.startswith(b"big:"):
            return b"\x07" * int(payload[4:])
        if payload == b"block":
            self.blocked.set()
            self.release.wait(30)
            return b"late"
        if payload == b"fail":
            raise RuntimeError("the performer refuses this task")
        return super().handle_task(request)
