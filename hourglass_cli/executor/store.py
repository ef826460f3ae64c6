"""The executor's SQLite store (WAL): every task id it accepted, the submission it accepted, and its signed answer.

:meth:`ExecutorStore.claim` decides, atomically, what a submission that passed every check gets:

- ``NEW``: the task id was never seen; it is recorded as ``running`` with the submission's digest
  (keccak256 of the aggregator's address and the 224 signed bytes, :func:`submission_digest`);
- ``ANSWERED``: the same submission was served before; the stored signed answer is the reply (the performer
  does not run again, nothing is signed again);
- ``RERUN``: the same submission ran before but ended without a signature (failed, cancelled, or interrupted
  by a restart); it runs again;
- ``RUNNING``: the same submission is running now (the service joins that run);
- ``CONFLICT``: a *different* submission (other aggregator, payload, block, reference timestamp, …) claimed
  this task id first; it is refused.

:meth:`ExecutorStore.answer` stores the output and both signatures with status ``done`` in one statement, and
the service replies only after it returned: an executor killed after signing but before replying answers a
re-sent submission with exactly what it signed. Tasks still ``running`` when the executor stopped are marked
``interrupted`` on the next open (nothing was signed for them).
"""

from __future__ import annotations

import enum
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from hourglass_cli.errors import HourglassError
from hourglass_cli.sqlite_db import integrity_problems, open_database

SCHEMA_VERSION = 2
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
    error TEXT,
    request_digest BLOB,
    output BLOB,
    result_signature BLOB,
    auth_signature BLOB,
    attempts INTEGER NOT NULL DEFAULT 1
);
"""

# v1 kept only the task ids: its rows have no digest, so a re-sent submission of such a task is refused as before.
_MIGRATIONS = {
    2: "ALTER TABLE tasks ADD COLUMN request_digest BLOB; ALTER TABLE tasks ADD COLUMN output BLOB; "
       "ALTER TABLE tasks ADD COLUMN result_signature BLOB; ALTER TABLE tasks ADD COLUMN auth_signature BLOB; "
       "ALTER TABLE tasks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1",
}


class StoreError(HourglassError):
    """The executor's database cannot be opened or used."""


class Claim(enum.Enum):
    NEW = "new"
    RERUN = "rerun"
    ANSWERED = "answered"
    RUNNING = "running"
    CONFLICT = "conflict"


@dataclass(frozen=True)
class SignedAnswer:
    """What an executor signed for a task: the performer's output and the two signatures."""

    output: bytes
    result_signature: bytes
    auth_signature: bytes


@dataclass(frozen=True)
class ClaimResult:
    kind: Claim
    answer: SignedAnswer | None = None
    attempts: int = 1


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
    attempts: int = 1
    answered: bool = False


def submission_digest(aggregator: bytes, signed_message: bytes) -> bytes:
    """What identifies one submission: keccak256(aggregator address (20 bytes) ‖ the 224 signed bytes)."""
    from eth_utils import keccak

    return keccak(bytes(aggregator) + bytes(signed_message))


class ExecutorStore:
    """Processed task ids and signed answers in SQLite; safe to use from the gRPC handler threads."""

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
            error=StoreError, on_open=mark_interrupted, migrations=_MIGRATIONS,
            corrupt_hint="move the file away (the executor starts with an empty store) or restore it from a backup; "
                         "processed task ids in it are then forgotten")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def claim(self, task_id: str, *, digest: bytes, avs: str, aggregator: str, operator_set_id: int,
              task_block: int) -> ClaimResult:
        """What the submission with `digest` gets for `task_id` (see the module docstring); atomic."""
        key = task_id.lower()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT status, request_digest, output, result_signature, auth_signature, attempts "
                                 "FROM tasks WHERE task_id = ?", (key,)).fetchone()
                if row is None:
                    db.execute("INSERT INTO tasks (task_id, status, avs, aggregator, operator_set_id, task_block, "
                               "received_at, request_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               (key, RUNNING, avs, aggregator, operator_set_id, task_block, time.time(), digest))
                    result = ClaimResult(Claim.NEW)
                else:
                    status, stored, output, result_sig, auth_sig, attempts = row
                    if stored is None or bytes(stored) != digest:
                        result = ClaimResult(Claim.CONFLICT)
                    elif status == DONE and output is not None and result_sig and auth_sig:
                        result = ClaimResult(Claim.ANSWERED, SignedAnswer(bytes(output), bytes(result_sig),
                                                                          bytes(auth_sig)), int(attempts))
                    elif status == RUNNING:
                        result = ClaimResult(Claim.RUNNING, attempts=int(attempts))
                    else:  # failed or interrupted: nothing was signed, so it may run again
                        db.execute("UPDATE tasks SET status = ?, attempts = attempts + 1, received_at = ?, "
                                   "finished_at = NULL, error = NULL WHERE task_id = ?", (RUNNING, time.time(), key))
                        result = ClaimResult(Claim.RERUN, attempts=int(attempts) + 1)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return result

    def answer(self, task_id: str, answer: SignedAnswer) -> None:
        """Record the signed answer of a claimed task (status done), in one statement, before the reply."""
        with self._lock:
            self._db.execute(
                "UPDATE tasks SET status = ?, finished_at = ?, result_bytes = ?, error = NULL, output = ?, "
                "result_signature = ?, auth_signature = ? WHERE task_id = ?",
                (DONE, time.time(), len(answer.output), answer.output, answer.result_signature,
                 answer.auth_signature, task_id.lower()))

    def fail(self, task_id: str, error: str) -> None:
        """Record that a claimed task ended without a signature (it may run again if re-sent)."""
        with self._lock:
            self._db.execute("UPDATE tasks SET status = ?, finished_at = ?, error = ? WHERE task_id = ? AND status = ?",
                             (FAILED, time.time(), error, task_id.lower(), RUNNING))

    def get(self, task_id: str) -> TaskRecord | None:
        """The record of ``task_id``, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT task_id, status, avs, aggregator, operator_set_id, task_block, received_at, finished_at, "
                "result_bytes, error, attempts, auth_signature IS NOT NULL FROM tasks WHERE task_id = ?",
                (task_id.lower(),)).fetchone()
        return TaskRecord(*row[:11], answered=bool(row[11])) if row else None

    def count(self, status: str | None = None) -> int:
        """How many task ids are recorded (with ``status``, if given)."""
        with self._lock:
            if status is None:
                return int(self._db.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])
            return int(self._db.execute("SELECT COUNT(*) FROM tasks WHERE status = ?", (status,)).fetchone()[0])

    def problems(self) -> list[str]:
        """Integrity problems of the file and of the rows (a done task without its signatures, …); empty if sound."""
        with self._lock:
            found = integrity_problems(self._db)
            rows = self._db.execute(
                "SELECT task_id FROM tasks WHERE status NOT IN (?, ?, ?, ?) OR (status = ? AND request_digest IS NOT "
                "NULL AND (output IS NULL OR result_signature IS NULL OR auth_signature IS NULL))",
                (RUNNING, DONE, FAILED, INTERRUPTED, DONE)).fetchall()
        return found + [f"task {r[0]}: inconsistent row" for r in rows]
