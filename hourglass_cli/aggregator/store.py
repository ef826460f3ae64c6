"""The aggregator's state behind one `Store` interface; `SqliteStore` keeps it in SQLite (WAL).

What is kept: per chain the scanned head and recent head checkpoints (number, hash) to find a fork point
after a reorg; tasks with their status (pending → processing → completed | failed | expired | cancelled)
and the reason for a final status; every executor response received (so a restarted aggregator rebuilds
a certificate without asking executors again — they refuse a task id twice); every submitResult attempt.
A scan is recorded atomically: its new tasks and its new head go in one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hourglass_cli.errors import HourglassError
from hourglass_cli.sqlite_db import integrity_problems, open_database

SCHEMA_VERSION = 2
PENDING, PROCESSING, COMPLETED, FAILED, EXPIRED, CANCELLED = (
    "pending", "processing", "completed", "failed", "expired", "cancelled")
STATUSES = (PENDING, PROCESSING, COMPLETED, FAILED, EXPIRED, CANCELLED)
IN_FLIGHT = (PENDING, PROCESSING)
FINAL = (COMPLETED, FAILED, EXPIRED, CANCELLED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    chain TEXT NOT NULL, number INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (chain, number));
CREATE TABLE IF NOT EXISTS tasks (
    chain TEXT NOT NULL, task_hash TEXT NOT NULL, status TEXT NOT NULL,
    block_number INTEGER NOT NULL, block_hash TEXT NOT NULL, log_index INTEGER NOT NULL,
    avs TEXT NOT NULL, operator_set_id INTEGER NOT NULL, reference_timestamp INTEGER NOT NULL,
    creation_time INTEGER NOT NULL, deadline INTEGER NOT NULL, payload BLOB NOT NULL,
    reason TEXT, tx_hash TEXT, seen_at REAL NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (chain, task_hash));
CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status);
CREATE TABLE IF NOT EXISTS responses (
    chain TEXT NOT NULL, task_hash TEXT NOT NULL, operator TEXT NOT NULL, outcome TEXT NOT NULL,
    output BLOB, result_signature BLOB, auth_signature BLOB, detail TEXT, received_at REAL NOT NULL,
    PRIMARY KEY (chain, task_hash, operator));
CREATE TABLE IF NOT EXISTS submissions (
    chain TEXT NOT NULL, task_hash TEXT NOT NULL, attempt INTEGER NOT NULL, tx_hash TEXT,
    outcome TEXT NOT NULL, detail TEXT, gas_used INTEGER, sent_at REAL NOT NULL, raw_tx BLOB, nonce INTEGER,
    PRIMARY KEY (chain, task_hash, attempt));
"""

_MIGRATIONS = {
    2: "ALTER TABLE submissions ADD COLUMN raw_tx BLOB; ALTER TABLE submissions ADD COLUMN nonce INTEGER",
}

# Submission outcomes: 'signed' (recorded before it is sent: it may or may not have reached the node), 'sent',
# then 'ok' | 'failed' | 'dropped' (it can never be mined: its nonce went to another transaction).
SIGNED, SENT, UNSETTLED = "signed", "sent", ("signed", "sent")


class StoreError(HourglassError):
    """The aggregator's database cannot be opened or used."""


@dataclass(frozen=True)
class Checkpoint:
    """A block the poller scanned up to (or a block holding a task)."""

    number: int
    hash: str


@dataclass(frozen=True)
class NewTask:
    """A TaskCreated log of the AVS, as the poller found it."""

    task_hash: str
    block_number: int
    block_hash: str
    log_index: int
    avs: str
    operator_set_id: int
    reference_timestamp: int
    creation_time: int
    deadline: int
    payload: bytes


@dataclass(frozen=True)
class TaskRecord:
    """A task as stored."""

    chain: str
    task_hash: str
    status: str
    block_number: int
    block_hash: str
    log_index: int
    avs: str
    operator_set_id: int
    reference_timestamp: int
    creation_time: int
    deadline: int
    payload: bytes
    reason: str | None
    tx_hash: str | None
    seen_at: float
    updated_at: float

    @property
    def key(self) -> tuple[str, str]:
        return (self.chain, self.task_hash)


@dataclass(frozen=True)
class ResponseRecord:
    """One executor's answer: outcome 'ok' (well formed, signatures not yet known bad), 'invalid', 'error'."""

    operator: str
    outcome: str
    output: bytes | None
    result_signature: bytes | None
    auth_signature: bytes | None
    detail: str | None
    received_at: float


@dataclass(frozen=True)
class SubmissionRecord:
    """One submitResult attempt; a signed one keeps its raw bytes and nonce until it is settled."""

    attempt: int
    tx_hash: str | None
    outcome: str
    detail: str | None
    gas_used: int | None
    sent_at: float
    raw_tx: bytes | None = None
    nonce: int | None = None


class Store(ABC):
    """What the aggregator keeps; one implementation per database."""

    @abstractmethod
    def checkpoints(self, chain: str) -> list[Checkpoint]:
        """Recorded head checkpoints of `chain`, newest first (the first is the scanned head)."""

    @abstractmethod
    def record_scan(self, chain: str, head: Checkpoint, tasks: Sequence[NewTask], keep: int) -> list[TaskRecord]:
        """Store new tasks and the new scanned head at once; returns the tasks that became pending."""

    @abstractmethod
    def rewind(self, chain: str, fork: Checkpoint | None) -> None:
        """Forget checkpoints above `fork` (None: all of them)."""

    @abstractmethod
    def tasks_above(self, chain: str, block: int) -> list[TaskRecord]:
        """Tasks of `chain` created in blocks above `block`."""

    @abstractmethod
    def get(self, chain: str, task_hash: str) -> TaskRecord | None: ...

    @abstractmethod
    def in_flight(self) -> list[TaskRecord]:
        """Pending and processing tasks, oldest first."""

    @abstractmethod
    def transition(self, chain: str, task_hash: str, status: str, *, only_from: Iterable[str],
                   reason: str | None = None, tx_hash: str | None = None) -> bool:
        """Set `status` if the task is in one of `only_from` (atomic); False otherwise."""

    @abstractmethod
    def add_response(self, chain: str, task_hash: str, response: ResponseRecord) -> None: ...

    @abstractmethod
    def responses(self, chain: str, task_hash: str) -> list[ResponseRecord]: ...

    @abstractmethod
    def add_submission(self, chain: str, task_hash: str, submission: SubmissionRecord) -> None: ...

    @abstractmethod
    def submissions(self, chain: str, task_hash: str) -> list[SubmissionRecord]: ...

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Tasks per status."""

    @abstractmethod
    def problems(self) -> list[str]:
        """Integrity problems of the store (empty: sound)."""

    @abstractmethod
    def close(self) -> None: ...


_TASK_COLUMNS = ("chain, task_hash, status, block_number, block_hash, log_index, avs, operator_set_id, "
                 "reference_timestamp, creation_time, deadline, payload, reason, tx_hash, seen_at, updated_at")


class SqliteStore(Store):
    """The Store in one SQLite file (WAL); safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        return open_database(
            self.path, schema=_SCHEMA, version=SCHEMA_VERSION, what="aggregator", config_key="[aggregator].store",
            error=StoreError, migrations=_MIGRATIONS,
            corrupt_hint="move the file away (the aggregator then rescans from [[chains]].start_block) or restore it "
                         "from a backup")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- blocks --

    def checkpoints(self, chain: str) -> list[Checkpoint]:
        with self._lock:
            rows = self._db.execute("SELECT number, hash FROM checkpoints WHERE chain = ? ORDER BY number DESC",
                                    (chain,)).fetchall()
        return [Checkpoint(int(n), h) for n, h in rows]

    def record_scan(self, chain: str, head: Checkpoint, tasks: Sequence[NewTask], keep: int) -> list[TaskRecord]:
        now = time.time()
        fresh: list[str] = []
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for t in tasks:
                    row = db.execute("SELECT status, block_hash FROM tasks WHERE chain = ? AND task_hash = ?",
                                     (chain, t.task_hash)).fetchone()
                    values = (t.block_number, t.block_hash, t.log_index, t.avs, t.operator_set_id,
                              t.reference_timestamp, t.creation_time, t.deadline, t.payload)
                    if row is None:
                        db.execute(f"INSERT INTO tasks ({_TASK_COLUMNS}) VALUES "
                                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)",
                                   (chain, t.task_hash, PENDING, *values, now, now))
                        fresh.append(t.task_hash)
                    elif row[0] == CANCELLED and row[1] != t.block_hash:
                        # The same hash again in a new block (recreated after a reorg): a new task.
                        db.execute("UPDATE tasks SET status = ?, block_number = ?, block_hash = ?, log_index = ?, "
                                   "avs = ?, operator_set_id = ?, reference_timestamp = ?, creation_time = ?, "
                                   "deadline = ?, payload = ?, reason = NULL, tx_hash = NULL, seen_at = ?, "
                                   "updated_at = ? WHERE chain = ? AND task_hash = ?",
                                   (PENDING, *values, now, now, chain, t.task_hash))
                        db.execute("DELETE FROM responses WHERE chain = ? AND task_hash = ?", (chain, t.task_hash))
                        fresh.append(t.task_hash)
                db.execute("INSERT OR REPLACE INTO checkpoints (chain, number, hash) VALUES (?, ?, ?)",
                           (chain, head.number, head.hash))
                db.execute("DELETE FROM checkpoints WHERE chain = ? AND number NOT IN (SELECT number FROM checkpoints "
                           "WHERE chain = ? ORDER BY number DESC LIMIT ?)", (chain, chain, keep))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return [r for r in (self.get(chain, h) for h in fresh) if r is not None]

    def rewind(self, chain: str, fork: Checkpoint | None) -> None:
        with self._lock:
            self._db.execute("DELETE FROM checkpoints WHERE chain = ? AND number > ?",
                             (chain, -1 if fork is None else fork.number))

    # -- tasks --

    @staticmethod
    def _task(row: Sequence[object]) -> TaskRecord:
        return TaskRecord(*row)  # type: ignore[arg-type]

    def tasks_above(self, chain: str, block: int) -> list[TaskRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE chain = ? AND block_number > ?",
                                    (chain, block)).fetchall()
        return [self._task(r) for r in rows]

    def get(self, chain: str, task_hash: str) -> TaskRecord | None:
        with self._lock:
            row = self._db.execute(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE chain = ? AND task_hash = ?",
                                   (chain, task_hash)).fetchone()
        return self._task(row) if row else None

    def in_flight(self) -> list[TaskRecord]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE status IN (?, ?) ORDER BY seen_at",
                                    IN_FLIGHT).fetchall()
        return [self._task(r) for r in rows]

    def transition(self, chain: str, task_hash: str, status: str, *, only_from: Iterable[str],
                   reason: str | None = None, tx_hash: str | None = None) -> bool:
        allowed = tuple(only_from)
        marks = ", ".join("?" for _ in allowed)
        with self._lock:
            cursor = self._db.execute(
                f"UPDATE tasks SET status = ?, reason = COALESCE(?, reason), tx_hash = COALESCE(?, tx_hash), "
                f"updated_at = ? WHERE chain = ? AND task_hash = ? AND status IN ({marks})",
                (status, reason, tx_hash, time.time(), chain, task_hash, *allowed))
            return cursor.rowcount == 1

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status").fetchall()
        found = {s: 0 for s in STATUSES}
        found.update({s: int(n) for s, n in rows})
        return found

    # -- responses and submissions --

    def add_response(self, chain: str, task_hash: str, response: ResponseRecord) -> None:
        r = response
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses (chain, task_hash, operator, outcome, output, "
                             "result_signature, auth_signature, detail, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (chain, task_hash, r.operator, r.outcome, r.output, r.result_signature, r.auth_signature,
                              r.detail, r.received_at))

    def responses(self, chain: str, task_hash: str) -> list[ResponseRecord]:
        with self._lock:
            rows = self._db.execute("SELECT operator, outcome, output, result_signature, auth_signature, detail, "
                                    "received_at FROM responses WHERE chain = ? AND task_hash = ? ORDER BY received_at",
                                    (chain, task_hash)).fetchall()
        return [ResponseRecord(o, oc, out, rs, a, d, t) for o, oc, out, rs, a, d, t in rows]

    def add_submission(self, chain: str, task_hash: str, submission: SubmissionRecord) -> None:
        s = submission
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO submissions (chain, task_hash, attempt, tx_hash, outcome, detail, "
                             "gas_used, sent_at, raw_tx, nonce) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (chain, task_hash, s.attempt, s.tx_hash, s.outcome, s.detail, s.gas_used, s.sent_at,
                              s.raw_tx, s.nonce))

    def submissions(self, chain: str, task_hash: str) -> list[SubmissionRecord]:
        with self._lock:
            rows = self._db.execute("SELECT attempt, tx_hash, outcome, detail, gas_used, sent_at, raw_tx, nonce FROM "
                                    "submissions WHERE chain = ? AND task_hash = ? ORDER BY attempt",
                                    (chain, task_hash)).fetchall()
        return [SubmissionRecord(*r[:6], bytes(r[6]) if r[6] is not None else None, r[7]) for r in rows]

    def problems(self) -> list[str]:
        with self._lock:
            found = integrity_problems(self._db)
            bad = self._db.execute(f"SELECT chain, task_hash FROM tasks WHERE status NOT IN "
                                   f"({', '.join('?' for _ in STATUSES)})", STATUSES).fetchall()
            orphans = self._db.execute("SELECT DISTINCT r.chain, r.task_hash FROM responses r LEFT JOIN tasks t ON "
                                       "t.chain = r.chain AND t.task_hash = r.task_hash WHERE t.task_hash IS NULL"
                                       ).fetchall()
        return found + [f"task {c}/{h}: unknown status" for c, h in bad] + \
            [f"responses of unknown task {c}/{h}" for c, h in orphans]
