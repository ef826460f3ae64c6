"""Where a task stands: one status word, the stages it reached and their timings, from the aggregator's record
(and the mailbox's status when it was asked).

Every timing is in seconds since the aggregator recorded the task (it found the task's TaskCreated log: `seen_at`
in its store) — the one moment `task submit`, `task status`, `task list` and the devnet's live view all know, so
they print the same numbers for the same task. Timing keys are always all present (None: not reached).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hourglass_cli.aggregator import store as st
from hourglass_cli.tasks.store_view import TaskView

TIMINGS_FROM = "aggregator_seen"  # the origin of every timing, as the JSON output names it
# seen: the origin itself (0); first/last_response: the first and the last good executor answer; certificate:
# submitResult sent; verified: TaskVerified (the aggregator's receipt, else the client's sighting); ended: the
# aggregator's final status (completed, failed, expired, cancelled).
TIMING_KEYS = ("seen", "first_response", "last_response", "certificate", "verified", "ended")
# Stages a task reaches, in order (the `stages` list of `task list --json`).
STAGES = ("distributed", "responses", "certificate", "verified")
# The status words, from best to worst news; `verified` is the only success.
STATUS_WORDS = ("verified", "completed", "processing", "pending", "created", "failed", "expired", "cancelled",
                "unknown")


def status_word(on_chain: str | None, aggregator: str | None) -> str:
    """What happened to a task, in one word, from the mailbox's status (None: not asked) and the store's."""
    if on_chain == "VERIFIED" or (on_chain is None and aggregator == st.COMPLETED):
        return "verified"
    if aggregator in (st.FAILED, st.EXPIRED, st.CANCELLED):
        return str(aggregator)
    if on_chain == "EXPIRED":
        return "expired"
    if aggregator == st.COMPLETED:  # the aggregator's submitResult was mined, yet the mailbox says otherwise
        return "completed"
    if aggregator in (st.PROCESSING, st.PENDING):
        return str(aggregator)
    if on_chain == "CREATED":  # on chain, not (yet) seen by the aggregator
        return "created"
    return "unknown"


def timings(view: TaskView | None, verified_seen_at: float | None = None) -> dict[str, float | None]:
    """Stage → seconds since the aggregator recorded the task (every key of TIMING_KEYS; None: not reached)."""
    out: dict[str, float | None] = dict.fromkeys(TIMING_KEYS)
    if view is None:
        return out
    t = view.task
    base = t.seen_at
    out["seen"] = 0.0
    ok = view.ok_responses
    if ok:
        out["first_response"] = ok[0].received_at - base
        out["last_response"] = ok[-1].received_at - base
    if view.submissions:
        out["certificate"] = view.submissions[0].sent_at - base
    if t.status == st.COMPLETED:
        out["verified"] = t.updated_at - base
    elif verified_seen_at is not None:
        out["verified"] = verified_seen_at - base
    if t.status in st.FINAL:
        out["ended"] = t.updated_at - base
    return out


@dataclass(frozen=True)
class Progress:
    """One task's standing, ready to lay out (`cli/_task_view.py`) or to print as JSON (`to_json`)."""

    task_hash: str
    status: str  # a STATUS_WORDS word
    on_chain: str | None  # the mailbox's status name; None when not asked (the devnet's live view)
    aggregator: str | None  # the store's status; None when the aggregator has no record
    block: int | None
    responses_ok: int
    operators: int
    stages: tuple[str, ...]  # the STAGES reached
    seconds: float | None  # since the aggregator saw it: to its end once final, else to now
    reason: str = ""
    timings: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(TIMING_KEYS))

    def to_json(self) -> dict[str, Any]:
        return {"task_hash": self.task_hash, "outcome": self.status, "on_chain": self.on_chain,
                "aggregator": self.aggregator, "block": self.block,
                "responses": {"ok": self.responses_ok, "total": self.operators}, "stages": list(self.stages),
                "seconds": _round(self.seconds), "timings": rounded(self.timings), "timings_from": TIMINGS_FROM,
                "reason": self.reason or None}


def progress(view: TaskView, *, on_chain: str | None, operators: int, reason: str, now: float) -> Progress:
    """`view` as one Progress; `operators` is the executor count (0: unknown, then the answers are counted)."""
    t = view.task
    n = operators or len(view.responses)
    word = status_word(on_chain, t.status)
    stages = []
    if view.responses or t.status != st.PENDING:
        stages.append("distributed")
    if view.responses:
        stages.append("responses")
    if view.submissions:
        stages.append("certificate")
    if word == "verified":
        stages.append("verified")
    end = t.updated_at if t.status in st.FINAL else now
    return Progress(t.task_hash, word, on_chain, t.status, t.block_number, len(view.ok_responses), n, tuple(stages),
                    max(0.0, end - t.seen_at), reason, timings(view))


def rounded(values: dict[str, float | None]) -> dict[str, float | None]:
    return {k: _round(v) for k, v in values.items()}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
