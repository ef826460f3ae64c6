"""The restart monitor: a thread that restarts a performer runtime whose ``is_alive()`` turned False."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hourglass_cli.executor.runtimes.base import PerformerRuntime

log = logging.getLogger("hourglass.executor.runtime")


class RuntimeMonitor:
    """A thread that restarts the performer when ``is_alive()`` turns False.

    Backoff between attempts doubles from ``initial_backoff`` to ``max_backoff`` and resets once the
    performer has stayed up for ``healthy_reset`` seconds. ``runtime.exited`` wakes it without waiting for
    the next ``check_interval``. ``on_down``/``on_up`` are called when it notices a dead performer and after a
    successful restart (the executor turns its health NOT_SERVING/SERVING). Restarts run on this thread.
    """

    def __init__(
        self,
        runtime: PerformerRuntime,
        *,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
        healthy_reset: float = 30.0,
        check_interval: float = 0.5,
        on_down: Callable[[], None] | None = None,
        on_up: Callable[[], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.on_down = on_down
        self.on_up = on_up
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.healthy_reset = healthy_reset
        self.check_interval = check_interval
        self.restarts = 0
        self.failures = 0
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"monitor-{self.runtime.name}", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching and wait for the thread."""
        self._stop.set()
        self.runtime.exited.set()  # wake it
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_for_restarts(self, count: int, timeout: float) -> bool:
        """Block until at least ``count`` successful restarts happened (tests, supervisors)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.restarts >= count, timeout)

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless stopped; True if stopped."""
        return self._stop.wait(seconds)

    def _run(self) -> None:
        backoff = self.initial_backoff
        up_since = time.monotonic()
        while not self._stop.is_set():
            self.runtime.exited.wait(self.check_interval)
            if self._stop.is_set():
                return
            if self.runtime.is_alive():
                self.runtime.exited.clear()
                if time.monotonic() - up_since >= self.healthy_reset:
                    backoff = self.initial_backoff
                continue
            log.warning("performer down runtime=%s restart_in_s=%.2f", self.runtime.name, backoff)
            _notify(self.on_down)
            if self._sleep(backoff):
                return
            backoff = min(backoff * 2, self.max_backoff)
            try:
                self.runtime.restart()
            except Exception as exc:  # keep watching: the next round tries again, later
                self.failures += 1
                log.error("performer restart failed runtime=%s error=%s", self.runtime.name, exc)
                continue
            self.runtime.reset_channel()
            _notify(self.on_up)
            up_since = time.monotonic()
            with self._changed:
                self.restarts += 1
                self._changed.notify_all()
            log.info("performer restarted runtime=%s restarts=%d endpoint=%s",
                     self.runtime.name, self.restarts, self.runtime.endpoint())


def _notify(callback: Callable[[], None] | None) -> None:
    if callback is not None:
        try:
            callback()
        except Exception:  # a reporting hook must not stop the monitor
            log.exception("runtime monitor callback failed")
