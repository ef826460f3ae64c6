"""One performer run per task, shared by every caller of the same submission.

The first caller of a submission owns the run; a duplicate that arrives while it runs joins it and gets the
same answer (or the same refusal). The performer call is cancelled only when every caller has gone — an
aggregator that died and re-sent the task keeps the run alive for its new call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Flight:
    """The run of one submission (identified by its digest) and the callers waiting for it."""

    def __init__(self, digest: bytes) -> None:
        self.digest = digest
        self._cond = threading.Condition()
        self._callers = 1  # the owner
        self._cancels: list[Callable[[], Any]] = []
        self.abandoned = False
        self.done = False
        self.answer: Any = None
        self.rejection: Exception | None = None

    def join(self) -> bool:
        """Become one more caller; False if every caller left already (the run is being cancelled)."""
        with self._cond:
            if self.abandoned or self.done:
                return False
            self._callers += 1
            return True

    def leave(self) -> None:
        """A caller's RPC ended; the last one to leave a run still going cancels the performer call."""
        with self._cond:
            self._callers -= 1
            cancels: list[Callable[[], Any]] = []
            if self._callers <= 0 and not self.done:
                self.abandoned = True
                cancels, self._cancels = self._cancels, []
            self._cond.notify_all()
        for cancel in cancels:
            cancel()

    def cancel_on(self, cancel: Callable[[], Any]) -> bool:
        """Register the performer call's cancel (the runtime's ``cancel_on`` hook); False if abandoned already."""
        with self._cond:
            if self.abandoned:
                return False
            self._cancels.append(cancel)
            return True

    def finish(self, answer: Any = None, rejection: Exception | None = None) -> None:
        with self._cond:
            self.done, self.answer, self.rejection = True, answer, rejection
            self._cancels = []
            self._cond.notify_all()

    def wait(self, timeout: float | None, gone: Callable[[], bool]) -> bool:
        """Wait until the run is done (True), the caller is `gone`, or `timeout` passes (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: self.done or gone(), timeout) and self.done


class Flights:
    """The runs in progress, by task id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._runs: dict[str, Flight] = {}

    def get(self, task_id: str) -> Flight | None:
        return self._runs.get(task_id)

    def add(self, task_id: str, flight: Flight) -> None:
        self._runs[task_id] = flight

    def remove(self, task_id: str, flight: Flight) -> None:
        with self.lock:
            if self._runs.get(task_id) is flight:
                del self._runs[task_id]

    def __len__(self) -> int:
        return len(self._runs)
