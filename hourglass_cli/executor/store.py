"""The executor's SQLite store (WAL): the task ids it has accepted, with status and timestamps.

:meth:`ExecutorStore.claim` is an atomic insert-if-absent, so two concurrent submissions of one task id
cannot both run: the second gets False (the service answers ALREADY_EXISTS). A task is claimed only after
every check passed, so a forged submission cannot burn a real task id. Tasks still ``running`` when the
executor stopped are marked ``interrupted`` on the next open; they are not run again.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from hourglass_cli.errors import HourglassError
from hourglass_cli.sqlite_db import open_database

SCHEMA_VERSION = 1
RUNNING, DONE, FAILED, INTERRUPTED = "running", "done", "failed", "interrupted"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    avs TEXT NOT NULL,
    aggregator TEXT NOT NULL,
    operator_set_id INTEGER NOT NULL,
    task_block INTEGER NOT NULL,
    received_at REAL NOT NULL,
    finished_at REAL,
    result_bytes INTEGER,
    error TEXT
);
"""


class StoreError(HourglassError):
    """The executor's database cannot be opened or used."""


@dataclass(frozen=True)
class TaskRecord:
    """One processed task id."""

    task_id: str
    status: str
    avs: str
    aggregator: str
    operator_set_id: int
    task_block: int
    received_at: float
    finished_at: float | None
    result_bytes: int | None
    error: str | None


class ExecutorStore:
    """Processed task ids in SQLite; safe to use from the gRPC handler threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        def mark_interrupted(db: sqlite3.Connection) -> None:
            db.execute("UPDATE tasks SET status = ?, finished_at = ? WHERE status = ?",
                       (INTERRUPTED, time.time(), RUNNING))

        return open_database(
            self.path, schema=_SCHEMA, version=SCHEMA_VERSION, what="executor", config_key="[executor].store",
            error=StoreError, on_open=mark_interrupted,
            corrupt_hint="move the file away (the executor starts with an empty store) or restore it from a backup; "
                         "processed task ids in it are then forgotten")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def claim(self, task_id: str, *, avs: str, aggregator: str, operator_set_id: int, task_block: int) -> bool:
        """Record ``task_id`` as running; False if it was seen before (atomic)."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO tasks (task_id, status, avs, aggregator, operator_set_id, task_block, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(task_id) DO NOTHING",
                (task_id.lower(), RUNNING, avs, aggregator, operator_set_id, task_block, time.time()),
            )
            return cursor.rowcount == 1

    def finish(self, task_id: str, *, ok: bool, result_bytes: int | None = None, error: str | None = None) -> None:
        """Mark a claimed task done or failed."""
        with self._lock:
            self._db.execute(
                "UPDATE tasks SET status = ?, finished_at = ?, result_bytes = ?, error = ? WHERE task_id = ?",
                (DONE if ok else FAILED, time.time(), result_bytes, error, task_id.lower()),
            )

    def get(self, task_id: str) -> TaskRecord | None:
        """The record of ``task_id``, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT task_id, status, avs, aggregator, operator_set_id, task_block, received_at, finished_at, "
                "result_bytes, error FROM tasks WHERE task_id = ?", (task_id.lower(),)).fetchone()
        return TaskRecord(*row) if row else None

    def count(self, status: str | None = None) -> int:
        """How many task ids are recorded (with ``status``, if given)."""
        with self._lock:
            if status is None:
                return int(self._db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])
            return int(self._db.execute("SELECT COUNT(*) FROM tasks WHERE status = ?", (status,)).fetchone()[0])
