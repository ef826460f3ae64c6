"""A read-only view of the aggregator's SQLite store (it keeps writing while we read; WAL allows both)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from hourglass_cli.aggregator.store import (
    _TASK_COLUMNS, ResponseRecord, SubmissionRecord, TaskRecord,
)


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

    def __init__(self, path: Path | None, chain: str = "l1") -> None:
        self.path, self.chain = path, chain

    def _connect(self) -> sqlite3.Connection | None:
        if self.path is None or not self.path.is_file():
            return None
        try:
            return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=2.0)
        except sqlite3.Error:
            return None

    def task(self, task_hash: str) -> TaskView | None:
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE chain = ? AND task_hash = ?",
                             (self.chain, task_hash.lower())).fetchone()
            if row is None:
                return None
            responses = db.execute("SELECT operator, outcome, output, result_signature, auth_signature, detail, "
                                   "received_at FROM responses WHERE chain = ? AND task_hash = ? ORDER BY received_at",
                                   (self.chain, task_hash.lower())).fetchall()
            submissions = db.execute("SELECT attempt, tx_hash, outcome, detail, gas_used, sent_at FROM submissions "
                                     "WHERE chain = ? AND task_hash = ? ORDER BY attempt",
                                     (self.chain, task_hash.lower())).fetchall()
        except sqlite3.Error:
            return None
        finally:
            db.close()
        return TaskView(TaskRecord(*row), [ResponseRecord(*r) for r in responses],
                        [SubmissionRecord(*s) for s in submissions])

    def recent(self, limit: int = 20) -> list[TaskView]:
        """The newest tasks first, with their responses and submissions."""
        db = self._connect()
        if db is None:
            return []
        try:
            hashes = [h for (h,) in db.execute("SELECT task_hash FROM tasks WHERE chain = ? ORDER BY seen_at DESC "
                                               "LIMIT ?", (self.chain, limit)).fetchall()]
        except sqlite3.Error:
            return []
        finally:
            db.close()
        return [v for v in (self.task(h) for h in hashes) if v is not None]
