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
