"""The aggregator's state behind one `Store` interface; `SqliteStore` keeps it in SQLite (WAL).

What is kept: per chain the scanned head and recent head checkpoints (number, hash) to find a fork point
after a reorg; tasks with their status (pending → processing → completed | failed | expired | cancelled)
and the reason for a final status; every executor response received (so a restarted aggregator rebuilds
a certificate without asking executors again — they refuse a task id twice); every submitResult attempt.
A scan is recorded atomically: its new tasks and its new head go in one transaction.

For the workflow driver (schema 3): per chain its own scanned head checkpoints, every workflow phase it saw start
(open until the contract's state says it ended; the block of that reading is kept so a reorg below it reopens
the phase), and every transaction it signed (recorded before it is sent, settled like a submission).
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

SCHEMA_VERSION = 3
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

_WORKFLOW_SCHEMA = """
CREATE TABLE IF NOT EXISTS workflow_checkpoints (
    chain TEXT NOT NULL, number INTEGER NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (chain, number));
CREATE TABLE IF NOT EXISTS workflow_phases (
    chain TEXT NOT NULL, execution_id TEXT NOT NULL, phase_index INTEGER NOT NULL, state TEXT NOT NULL,
    opened_block INTEGER NOT NULL, closed_block INTEGER, reason TEXT, updated_at REAL NOT NULL,
    PRIMARY KEY (chain, execution_id, phase_index));
CREATE INDEX IF NOT EXISTS workflow_phases_state ON workflow_phases (chain, state);
CREATE TABLE IF NOT EXISTS workflow_actions (
    chain TEXT NOT NULL, execution_id TEXT NOT NULL, phase_index INTEGER NOT NULL, action TEXT NOT NULL,
    slot INTEGER NOT NULL, attempt INTEGER NOT NULL, tx_hash TEXT, outcome TEXT NOT NULL, detail TEXT,
    gas_used INTEGER, sent_at REAL NOT NULL, raw_tx BLOB, nonce INTEGER,
    PRIMARY KEY (chain, execution_id, phase_index, action, slot, attempt));
"""
_SCHEMA += _WORKFLOW_SCHEMA

_MIGRATIONS = {
    2: "ALTER TABLE submissions ADD COLUMN raw_tx BLOB; ALTER TABLE submissions ADD COLUMN nonce INTEGER",
    3: _WORKFLOW_SCHEMA,
}

# Workflow phases: 'open' (the driver watches it) | 'closed' (the contract says it ended, or it never started).
PHASE_OPEN, PHASE_CLOSED = "open", "closed"
# Workflow action outcomes: 'signed', 'sent' (unsettled, as for submissions), then 'ok' | 'done_elsewhere' (it
# reverted because another caller did it first: success) | 'failed' | 'dropped'.
ACTION_OUTCOMES = ("signed", "sent", "ok", "done_elsewhere", "failed", "dropped", "refused")

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


@dataclass(frozen=True)
class PhaseRecord:
    """A workflow phase the driver saw start."""

    chain: str
    execution_id: str
    phase_index: int
    state: str
    opened_block: int
    closed_block: int | None
    reason: str | None
    updated_at: float

    @property
    def key(self) -> tuple[str, int]:
        return (self.execution_id, self.phase_index)


@dataclass(frozen=True)
class ActionRecord:
    """One transaction attempt of the workflow driver: `action` (task | update | complete | timeout) for `slot`
    (the update number for an update, the verified-update count for a CONTINUOUS completion, else 0)."""

    execution_id: str
    phase_index: int
    action: str
    slot: int
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

    # -- the workflow driver --

    @abstractmethod
    def workflow_checkpoints(self, chain: str) -> list[Checkpoint]:
        """The driver's head checkpoints of `chain`, newest first."""

    @abstractmethod
    def workflow_record_scan(self, chain: str, head: Checkpoint, started: Sequence[tuple[str, int, int]],
                             keep: int) -> None:
        """Open the phases of `started` (execution id, phase index, block) and store the new head, at once."""

    @abstractmethod
    def workflow_rewind(self, chain: str, fork: Checkpoint | None) -> None:
        """Forget the driver's checkpoints above `fork` and reopen phases closed by readings above it."""

    @abstractmethod
    def workflow_phases(self, chain: str, state: str | None = PHASE_OPEN) -> list[PhaseRecord]: ...

    @abstractmethod
    def workflow_close(self, chain: str, execution_id: str, phase_index: int, block: int, reason: str) -> None: ...

    @abstractmethod
    def add_workflow_action(self, chain: str, action: ActionRecord) -> None: ...

    @abstractmethod
    def workflow_actions(self, chain: str, execution_id: str | None = None,
                         phase_index: int | None = None) -> list[ActionRecord]:
        """The driver's attempts (the latest row per attempt), oldest first."""

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

    # -- the workflow driver --

    def workflow_checkpoints(self, chain: str) -> list[Checkpoint]:
        with self._lock:
            rows = self._db.execute("SELECT number, hash FROM workflow_checkpoints WHERE chain = ? ORDER BY number "
                                    "DESC", (chain,)).fetchall()
        return [Checkpoint(int(n), h) for n, h in rows]

    def workflow_record_scan(self, chain: str, head: Checkpoint, started: Sequence[tuple[str, int, int]],
                             keep: int) -> None:
        now = time.time()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for execution_id, index, block in started:
                    # New, or started again in a block above the reading that closed it (a reorg): open.
                    db.execute("INSERT INTO workflow_phases (chain, execution_id, phase_index, state, opened_block, "
                               "closed_block, reason, updated_at) VALUES (?, ?, ?, ?, ?, NULL, NULL, ?) "
                               "ON CONFLICT (chain, execution_id, phase_index) DO UPDATE SET state = excluded.state, "
                               "opened_block = excluded.opened_block, closed_block = NULL, reason = NULL, "
                               "updated_at = excluded.updated_at WHERE workflow_phases.state = ? AND "
                               "workflow_phases.closed_block < excluded.opened_block",
                               (chain, execution_id, index, PHASE_OPEN, block, now, PHASE_CLOSED))
                db.execute("INSERT OR REPLACE INTO workflow_checkpoints (chain, number, hash) VALUES (?, ?, ?)",
                           (chain, head.number, head.hash))
                db.execute("DELETE FROM workflow_checkpoints WHERE chain = ? AND number NOT IN (SELECT number FROM "
                           "workflow_checkpoints WHERE chain = ? ORDER BY number DESC LIMIT ?)", (chain, chain, keep))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def workflow_rewind(self, chain: str, fork: Checkpoint | None) -> None:
        base = -1 if fork is None else fork.number
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM workflow_checkpoints WHERE chain = ? AND number > ?", (chain, base))
                db.execute("UPDATE workflow_phases SET state = ?, closed_block = NULL, reason = NULL, updated_at = ? "
                           "WHERE chain = ? AND state = ? AND closed_block > ?",
                           (PHASE_OPEN, time.time(), chain, PHASE_CLOSED, base))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def workflow_phases(self, chain: str, state: str | None = PHASE_OPEN) -> list[PhaseRecord]:
        query = ("SELECT chain, execution_id, phase_index, state, opened_block, closed_block, reason, updated_at "
                 "FROM workflow_phases WHERE chain = ?")
        args: tuple[object, ...] = (chain,)
        if state is not None:
            query, args = query + " AND state = ?", (chain, state)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY opened_block, execution_id, phase_index", args).fetchall()
        return [PhaseRecord(*r) for r in rows]

    def workflow_close(self, chain: str, execution_id: str, phase_index: int, block: int, reason: str) -> None:
        with self._lock:
            self._db.execute("UPDATE workflow_phases SET state = ?, closed_block = ?, reason = ?, updated_at = ? "
                             "WHERE chain = ? AND execution_id = ? AND phase_index = ?",
                             (PHASE_CLOSED, block, reason, time.time(), chain, execution_id, phase_index))

    def add_workflow_action(self, chain: str, action: ActionRecord) -> None:
        a = action
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO workflow_actions (chain, execution_id, phase_index, action, slot, "
                             "attempt, tx_hash, outcome, detail, gas_used, sent_at, raw_tx, nonce) VALUES "
                             "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (chain, a.execution_id, a.phase_index, a.action, a.slot, a.attempt, a.tx_hash, a.outcome,
                              a.detail, a.gas_used, a.sent_at, a.raw_tx, a.nonce))

    def workflow_actions(self, chain: str, execution_id: str | None = None,
                         phase_index: int | None = None) -> list[ActionRecord]:
        query = ("SELECT execution_id, phase_index, action, slot, attempt, tx_hash, outcome, detail, gas_used, "
                 "sent_at, raw_tx, nonce FROM workflow_actions WHERE chain = ?")
        args: list[object] = [chain]
        if execution_id is not None:
            query += " AND execution_id = ?"
            args.append(execution_id)
        if phase_index is not None:
            query += " AND phase_index = ?"
            args.append(phase_index)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY sent_at, attempt", args).fetchall()
        return [ActionRecord(*r[:10], bytes(r[10]) if r[10] is not None else None, r[11]) for r in rows]

    def problems(self) -> list[str]:
        with self._lock:
            found = integrity_problems(self._db)
            phases = self._db.execute("SELECT chain, execution_id, phase_index FROM workflow_phases WHERE state NOT IN "
                                      "(?, ?) OR (state = ? AND closed_block IS NULL)",
                                      (PHASE_OPEN, PHASE_CLOSED, PHASE_CLOSED)).fetchall()
            actions = self._db.execute(
                f"SELECT a.chain, a.execution_id, a.phase_index, a.action, a.slot, a.attempt, a.outcome, "
                f"a.tx_hash IS NULL, a.raw_tx IS NULL, p.chain IS NULL FROM workflow_actions a LEFT JOIN "
                f"workflow_phases p ON p.chain = a.chain AND p.execution_id = a.execution_id AND "
                f"p.phase_index = a.phase_index WHERE a.outcome NOT IN ({', '.join('?' for _ in ACTION_OUTCOMES)}) "
                f"OR p.chain IS NULL OR (a.outcome IN ('signed', 'sent') AND (a.tx_hash IS NULL OR "
                f"(a.outcome = 'signed' AND a.raw_tx IS NULL)))", ACTION_OUTCOMES).fetchall()
        for c, e, i in phases:
            found.append(f"workflow phase {c}/{e}/{i}: unknown state, or closed without the block it was closed at")
        for c, e, i, action, slot, attempt, outcome, no_hash, no_raw, unknown in actions:
            what = f"workflow action {c}/{e}/{i} {action}#{slot} attempt {attempt}"
            if unknown:
                found.append(f"{what}: of a phase the store does not know")
            elif outcome not in ACTION_OUTCOMES:
                found.append(f"{what}: unknown outcome {outcome!r}")
            else:
                found.append(f"{what}: {outcome} without its " + ("hash" if no_hash else "signed bytes") +
                             " (it cannot be settled)")
        with self._lock:
            bad = self._db.execute(f"SELECT chain, task_hash FROM tasks WHERE status NOT IN "
                                   f"({', '.join('?' for _ in STATUSES)})", STATUSES).fetchall()
            orphans = self._db.execute("SELECT DISTINCT r.chain, r.task_hash FROM responses r LEFT JOIN tasks t ON "
                                       "t.chain = r.chain AND t.task_hash = r.task_hash WHERE t.task_hash IS NULL"
                                       ).fetchall()
        return found + [f"task {c}/{h}: unknown status" for c, h in bad] + \
            [f"responses of unknown task {c}/{h}" for c, h in orphans]
