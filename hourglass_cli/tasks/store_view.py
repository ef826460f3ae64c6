"""A read-only view of the aggregator's SQLite store (it keeps writing while we read; WAL allows both).

Every query opens the file with `mode=ro`, so a reader can never change the store: a missing file, one the
aggregator is still creating (no tables yet), a damaged one or one locked for longer than the reader's timeout
reads as "nothing known" (`recent`, `task`) or as "unreadable now" (`try_recent`: None).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hourglass_cli.aggregator.store import (
    _TASK_COLUMNS, ResponseRecord, SubmissionRecord, TaskRecord,
)

_RESPONSE_COLUMNS = "operator, outcome, output, result_signature, auth_signature, detail, received_at"
_SUBMISSION_COLUMNS = "attempt, tx_hash, outcome, detail, gas_used, sent_at"


@dataclass(frozen=True)
class TaskView:
    """A task as the aggregator recorded it, with every response and submitResult attempt."""

    task: TaskRecord
    responses: list[ResponseRecord] = field(default_factory=list)
    submissions: list[SubmissionRecord] = field(default_factory=list)

    @property
    def ok_responses(self) -> list[ResponseRecord]:
        return [r for r in self.responses if r.outcome == "ok"]


class StoreView:
    """Opens the store read-only per query, so a missing or locked file is just "nothing known yet"."""

    def __init__(self, path: Path | None, chain: str = "l1", timeout: float = 2.0) -> None:
        self.path, self.chain, self.timeout = path, chain, timeout

    def _connect(self) -> sqlite3.Connection | None:
        if self.path is None or not self.path.is_file():
            return None
        try:
            return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=self.timeout)
        except sqlite3.Error:
            return None

    def _views(self, db: sqlite3.Connection, hashes: Iterable[str]) -> list[TaskView]:
        views = []
        for task_hash in hashes:
            row = db.execute(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE chain = ? AND task_hash = ?",
                             (self.chain, task_hash)).fetchone()
            if row is None:
                continue
            responses = db.execute(f"SELECT {_RESPONSE_COLUMNS} FROM responses WHERE chain = ? AND task_hash = ? "
                                   "ORDER BY received_at", (self.chain, task_hash)).fetchall()
            submissions = db.execute(f"SELECT {_SUBMISSION_COLUMNS} FROM submissions WHERE chain = ? AND "
                                     "task_hash = ? ORDER BY attempt", (self.chain, task_hash)).fetchall()
            views.append(TaskView(TaskRecord(*row), [ResponseRecord(*r) for r in responses],
                                  [SubmissionRecord(*s) for s in submissions]))
        return views

    def task(self, task_hash: str) -> TaskView | None:
        db = self._connect()
        if db is None:
            return None
        try:
            db.execute("BEGIN")  # one snapshot: the task, its responses and submissions as of one instant
            found = self._views(db, [task_hash.lower()])
        except sqlite3.Error:
            return None
        finally:
            db.close()
        return found[0] if found else None

    def try_recent(self, limit: int = 20) -> list[TaskView] | None:
        """The newest tasks first; None when the store cannot be read now (missing, being created, locked)."""
        db = self._connect()
        if db is None:
            return None
        try:
            db.execute("BEGIN")  # one snapshot for the list and every task in it
            hashes = [h for (h,) in db.execute("SELECT task_hash FROM tasks WHERE chain = ? ORDER BY seen_at DESC "
                                               "LIMIT ?", (self.chain, limit)).fetchall()]
            return self._views(db, hashes)
        except sqlite3.Error:
            return None
        finally:
            db.close()

    def recent(self, limit: int = 20) -> list[TaskView]:
        """The newest tasks first, with their responses and submissions ([] when the store cannot be read)."""
        return self.try_recent(limit) or []

    def find(self, prefix: str, suffix: str = "", limit: int = 10) -> list[str]:
        """Task hashes that start with `prefix` and end with `suffix` (a short hash as `task list` shows it)."""
        db = self._connect()
        if db is None:
            return []
        try:
            pattern = prefix.lower() + "%" + suffix.lower()  # hex digits only: no LIKE wildcards inside
            return [h for (h,) in db.execute("SELECT task_hash FROM tasks WHERE chain = ? AND task_hash LIKE ? "
                                             "ORDER BY seen_at DESC LIMIT ?", (self.chain, pattern, limit))]
        except sqlite3.Error:
            return []
        finally:
            db.close()


def name_operators(text: str, operators: dict[str, str]) -> str:
    """`text` with every known operator address (lower-case key of `operators`) replaced by its devnet name."""
    if not operators or "0x" not in text:
        return text
    import re

    def name(match: re.Match[str]) -> str:
        return operators.get(match.group(0).lower(), match.group(0))

    return re.sub(r"0x[0-9a-fA-F]{40}(?![0-9a-fA-F])", name, text)


@dataclass
class OperatorPerformance:
    """One executor operator across the tasks (and so the workflow phases) the aggregator has recorded.

    answered: valid signed answers; agreed: answers whose output is the task's certified result (the output most
    valid answers of a completed task share); late: valid answers that arrived after the certificate was sent;
    missed: finished tasks of its operator set with no valid answer from it (refusals and errors included);
    median_latency_s: from the aggregator seeing the task to the answer.
    """

    operator: str
    answered: int = 0
    agreed: int = 0
    late: int = 0
    missed: int = 0
    invalid: int = 0
    median_latency_s: float | None = None


def operator_performance(view: StoreView, operators: Iterable[str] = ()) -> list[OperatorPerformance]:
    """Per-operator figures from the store (read-only); `operators` adds ones that never answered at all."""
    import statistics
    from collections import Counter

    db = view._connect()
    found: dict[str, OperatorPerformance] = {op.lower(): OperatorPerformance(op) for op in operators}
    if db is None:
        return list(found.values())
    try:
        tasks = db.execute("SELECT task_hash, status, operator_set_id, seen_at FROM tasks WHERE chain = ?",
                           (view.chain,)).fetchall()
        rows = db.execute("SELECT task_hash, operator, outcome, output, received_at FROM responses WHERE chain = ?",
                          (view.chain,)).fetchall()
        sent = dict(db.execute("SELECT task_hash, MIN(sent_at) FROM submissions WHERE chain = ? AND outcome = 'ok' "
                               "GROUP BY task_hash", (view.chain,)).fetchall())
    except sqlite3.Error:
        return list(found.values())
    finally:
        db.close()
    by_task: dict[str, list[tuple[str, str, bytes | None, float]]] = {}
    for task_hash, operator, outcome, output, received in rows:
        by_task.setdefault(task_hash, []).append((operator, outcome, output, received))
    set_members: dict[int, set[str]] = {}
    for task_hash, _status, set_id, _seen in tasks:
        set_members.setdefault(set_id, set()).update(op.lower() for op, *_ in by_task.get(task_hash, []))
    seen_anywhere = set().union(*set_members.values()) if set_members else set()
    silent = {op for op in found if op not in seen_anywhere}
    spelled = {op.lower(): op for _task, op, *_rest in rows}
    for op in seen_anywhere:
        found.setdefault(op, OperatorPerformance(spelled.get(op, op)))
    latencies: dict[str, list[float]] = {}
    for task_hash, status, set_id, seen in tasks:
        answers = by_task.get(task_hash, [])
        oks = [(op, out, at) for op, outcome, out, at in answers if outcome == "ok"]
        certified = Counter(bytes(out or b"") for _op, out, _at in oks).most_common(1)
        result = certified[0][0] if certified and status == "completed" else None
        for op, outcome, out, at in answers:
            stats = found.setdefault(op.lower(), OperatorPerformance(op))
            if outcome == "ok":
                stats.answered += 1
                latencies.setdefault(op.lower(), []).append(max(0.0, at - seen))
                if result is not None and bytes(out or b"") == result:
                    stats.agreed += 1
                if task_hash in sent and at > sent[task_hash]:
                    stats.late += 1
            elif outcome == "invalid":
                stats.invalid += 1
        if status in ("completed", "failed", "expired"):
            answered = {op.lower() for op, _out, _at in oks}
            # its set's members: who answered its tasks, and given operators never seen answering any (down)
            for member in set_members.get(set_id, set()) | silent:
                if member not in answered:
                    found[member].missed += 1
    for op, values in latencies.items():
        found[op].median_latency_s = round(statistics.median(values), 4)
    return sorted(found.values(), key=lambda s: s.operator.lower())
