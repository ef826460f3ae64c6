"""Crash points for crash-safety tests: a process SIGKILLs itself at a named point of its work.

Off unless ``HOURGLASS_FAILPOINTS`` is set (then read once): ``name=MARKER[@N][;name=MARKER[@N]…]``. The N-th
time (default the first) a process reaches ``hit(name)``, it creates the file MARKER (``O_EXCL``) and, if it was
the one that created it, kills itself with SIGKILL — so across restarts of a supervised process (which inherit
the same environment) each point fires exactly once. The names are listed in `POINTS`; tests use them to stop a
process in the windows a random kill rarely lands in (a reply signed but not sent, a transaction sent but not
recorded).
"""

from __future__ import annotations

import logging
import os
import signal
import threading

ENV = "HOURGLASS_FAILPOINTS"

POINTS = {
    "executor.claimed": "the executor recorded the task as running; the performer has not run",
    "executor.answer.stored": "the executor stored its signed answer; the reply has not been sent",
    "aggregator.reply.received": "an executor's answer reached the aggregator; it is not stored yet",
    "aggregator.submit.signed": "submitResult is signed and recorded; it has not been sent",
    "aggregator.submit.sent": "the node took submitResult; the aggregator has not recorded it as sent",
    "aggregator.submit.recorded": "submitResult is recorded as sent; its receipt has not been read",
}
# The workflow driver's transactions: task = startPhaseTask, update = startContinuousUpdate, complete =
# completePhase, timeout = checkPhaseTimeout.
for _action in ("task", "update", "complete", "timeout"):
    POINTS[f"workflow.{_action}.signed"] = f"the driver's {_action} transaction is signed and recorded; not sent"
    POINTS[f"workflow.{_action}.sent"] = f"the node took the driver's {_action} transaction; not recorded as sent"
    POINTS[f"workflow.{_action}.recorded"] = f"the driver's {_action} transaction is recorded as sent; no receipt yet"

_armed: dict[str, tuple[str, int]] | None = None
_hits: dict[str, int] = {}
_lock = threading.Lock()


def _parse(text: str) -> dict[str, tuple[str, int]]:
    armed: dict[str, tuple[str, int]] = {}
    for item in filter(None, (part.strip() for part in text.split(";"))):
        name, _, rest = item.partition("=")
        marker, _, count = rest.partition("@")
        if name not in POINTS or not marker:
            raise ValueError(f"{ENV}: {item!r} is not name=MARKER[@N] with a name of {sorted(POINTS)}")
        armed[name] = (marker, int(count) if count else 1)
    return armed


def hit(name: str) -> None:
    """Reach the crash point `name`: returns unless it is armed for this hit (then the process dies)."""
    global _armed
    if _armed is None:
        try:
            _armed = _parse(os.environ.get(ENV, ""))
        except ValueError as exc:  # a test's typo must not take a service down: warn and run without
            logging.getLogger("hourglass").warning("failpoints off: %s", exc)
            _armed = {}
    if not _armed or name not in _armed:
        return
    marker, nth = _armed[name]
    with _lock:
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] != nth:
            return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return  # fired already (in an earlier life of this process)
    os.kill(os.getpid(), signal.SIGKILL)
