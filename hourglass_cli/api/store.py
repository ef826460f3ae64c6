"""The client API's state behind one `ApiStore` interface; `SqliteApiStore` keeps it in SQLite (WAL).

The source design's concepts, as tables: wallets (per owner, by factory and salt), tasks (automations) with
their status and a per-owner/per-wallet index (ULID ids sort by creation, so "newest first" is id order),
executions (the history of every run, with its steps), pending triggers (a run queued and not yet finished: what
it was triggered with, and whether its first step started — a restart runs the ones that had not), auth nonces (each signed message we issued, used once),
API keys (revocable), secrets (encrypted values only — see `secrets.py`). Tasks and executions are stored as
their protobuf bytes plus the columns queries need, so what a client reads back is exactly what was written.
Triggers watched by operators (`hourglass_cli.triggers`): trigger reports (one row per dedup key and operator,
with the output's hash and the operator's weight), trigger fires (one row per dedup key that reached a quorum:
written in the same transaction as the execution it started, so a key fires once) and operator check-ins.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hourglass_cli.errors import HourglassError
from hourglass_cli.sqlite_db import integrity_problems, open_database

SCHEMA_VERSION = 2

_TRIGGER_TABLES = """
CREATE TABLE IF NOT EXISTS trigger_reports (
    request_id TEXT NOT NULL, operator TEXT NOT NULL, task_id TEXT NOT NULL, output_hash TEXT NOT NULL,
    weight TEXT NOT NULL, output TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (request_id, operator));
CREATE INDEX IF NOT EXISTS trigger_reports_task ON trigger_reports (task_id, at);
CREATE TABLE IF NOT EXISTS trigger_fires (
    request_id TEXT PRIMARY KEY, task_id TEXT NOT NULL, execution_id TEXT NOT NULL, outcome TEXT NOT NULL,
    reporters TEXT NOT NULL, event_time INTEGER NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS trigger_fires_task ON trigger_fires (task_id, at);
CREATE TABLE IF NOT EXISTS operator_checkins (operator TEXT PRIMARY KEY, data TEXT NOT NULL, at REAL NOT NULL);
"""
_MIGRATIONS = {2: _TRIGGER_TABLES}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS wallets (
    owner TEXT NOT NULL, factory TEXT NOT NULL, salt TEXT NOT NULL, address TEXT NOT NULL,
    is_hidden INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, PRIMARY KEY (owner, factory, salt));
CREATE INDEX IF NOT EXISTS wallets_address ON wallets (address);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, wallet TEXT NOT NULL, status INTEGER NOT NULL,
    data BLOB NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_owner ON tasks (owner, id);
CREATE INDEX IF NOT EXISTS tasks_wallet ON tasks (owner, wallet, id);
CREATE TABLE IF NOT EXISTS executions (
    id TEXT PRIMARY KEY, task_id TEXT NOT NULL, owner TEXT NOT NULL, idx INTEGER NOT NULL,
    status INTEGER NOT NULL, start_at INTEGER NOT NULL, end_at INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS executions_task ON executions (task_id, id);
CREATE INDEX IF NOT EXISTS executions_owner ON executions (owner, id);
CREATE TABLE IF NOT EXISTS auth_nonces (
    nonce TEXT PRIMARY KEY, wallet TEXT NOT NULL, message_hash TEXT NOT NULL, issued_at REAL NOT NULL,
    expires_at REAL NOT NULL, used_at REAL);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, subject TEXT NOT NULL, roles TEXT NOT NULL, created_at REAL NOT NULL,
    expires_at REAL NOT NULL, revoked_at REAL, label TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS secrets (
    owner TEXT NOT NULL, name TEXT NOT NULL, workflow_id TEXT NOT NULL, org_id TEXT NOT NULL,
    key_id TEXT NOT NULL, nonce BLOB NOT NULL, ciphertext BLOB NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, created_by TEXT NOT NULL,
    PRIMARY KEY (owner, name, workflow_id, org_id));
CREATE INDEX IF NOT EXISTS secrets_owner ON secrets (owner, name);
CREATE TABLE IF NOT EXISTS pending_triggers (
    execution_id TEXT PRIMARY KEY, task_id TEXT NOT NULL, owner TEXT NOT NULL, trigger_output TEXT NOT NULL,
    trigger_input TEXT NOT NULL, queued_at REAL NOT NULL, started_at REAL);
""" + _TRIGGER_TABLES


class ApiStoreError(HourglassError):
    """The client API's database cannot be opened or is corrupt."""


@dataclass(frozen=True)
class WalletRow:
    owner: str
    factory: str
    salt: str
    address: str
    is_hidden: bool


@dataclass(frozen=True)
class SecretRow:
    owner: str
    name: str
    workflow_id: str
    org_id: str
    key_id: str
    nonce: bytes
    ciphertext: bytes
    created_at: int
    updated_at: int
    created_by: str


@dataclass(frozen=True)
class ApiKeyRow:
    id: str
    subject: str
    roles: tuple[str, ...]
    created_at: float
    expires_at: float
    revoked_at: float | None
    label: str


class SqliteApiStore:
    """Every read and write of the client API; safe to call from many threads (one connection, one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_database(
            path, schema=_SCHEMA, version=SCHEMA_VERSION, what="client API", config_key="[api].store",
            corrupt_hint="move the file away to start with an empty store (wallets, automations and history "
                         "are lost)", error=ApiStoreError, migrations=_MIGRATIONS)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of writes (BEGIN IMMEDIATE … COMMIT, rolled back on any error)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _all(self, sql: str, args: Iterable[object] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def _one(self, sql: str, args: Iterable[object] = ()) -> tuple | None:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchone()

    def problems(self) -> list[str]:
        with self._lock:
            return integrity_problems(self._db)

    # -- auth ---------------------------------------------------------------------------------------------

    def add_nonce(self, nonce: str, wallet: str, message_hash: str, issued_at: float, expires_at: float) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM auth_nonces WHERE expires_at < ?", (time.time() - 3600,))
            db.execute("INSERT INTO auth_nonces VALUES (?, ?, ?, ?, ?, NULL)",
                       (nonce, wallet, message_hash, issued_at, expires_at))

    def use_nonce(self, nonce: str, message_hash: str, now: float) -> str:
        """Mark an issued message used: 'ok', or why not ('unknown', 'used', 'expired', 'mismatch')."""
        with self.transaction() as db:
            row = db.execute("SELECT message_hash, expires_at, used_at FROM auth_nonces WHERE nonce = ?",
                             (nonce,)).fetchone()
            if row is None:
                return "unknown"
            if row[0] != message_hash:
                return "mismatch"
            if row[2] is not None:
                return "used"
            if row[1] < now:
                return "expired"
            db.execute("UPDATE auth_nonces SET used_at = ? WHERE nonce = ?", (now, nonce))
            return "ok"

    def add_api_key(self, row: ApiKeyRow) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (row.id, row.subject, ",".join(row.roles), row.created_at, row.expires_at, row.revoked_at,
                        row.label))

    def api_keys(self) -> list[ApiKeyRow]:
        return [ApiKeyRow(r[0], r[1], tuple(x for x in r[2].split(",") if x), r[3], r[4], r[5], r[6])
                for r in self._all("SELECT * FROM api_keys ORDER BY created_at, id")]

    def api_key(self, key_id: str) -> ApiKeyRow | None:
        r = self._one("SELECT * FROM api_keys WHERE id = ?", (key_id,))
        return None if r is None else ApiKeyRow(r[0], r[1], tuple(x for x in r[2].split(",") if x), r[3], r[4],
                                                r[5], r[6])

    def revoke_api_key(self, key_id: str, now: float) -> bool:
        with self.transaction() as db:
            cur = db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                             (now, key_id))
            return cur.rowcount == 1

    # -- wallets ------------------------------------------------------------------------------------------

    def wallets(self, owner: str) -> list[WalletRow]:
        rows = self._all("SELECT owner, factory, salt, address, is_hidden FROM wallets WHERE owner = ? "
                         "ORDER BY length(salt), salt, factory", (owner,))
        return [WalletRow(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def wallet(self, owner: str, factory: str, salt: str) -> WalletRow | None:
        r = self._one("SELECT owner, factory, salt, address, is_hidden FROM wallets WHERE owner = ? AND "
                      "factory = ? AND salt = ?", (owner, factory, salt))
        return None if r is None else WalletRow(r[0], r[1], r[2], r[3], bool(r[4]))

    def wallet_by_address(self, owner: str, address: str) -> WalletRow | None:
        r = self._one("SELECT owner, factory, salt, address, is_hidden FROM wallets WHERE owner = ? AND "
                      "address = ?", (owner, address))
        return None if r is None else WalletRow(r[0], r[1], r[2], r[3], bool(r[4]))

    def add_wallet(self, row: WalletRow, cap: int) -> str:
        """'added', 'exists' or 'full' (the owner has `cap` wallets)."""
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM wallets WHERE owner = ? AND factory = ? AND salt = ?",
                          (row.owner, row.factory, row.salt)).fetchone():
                return "exists"
            count = db.execute("SELECT count(*) FROM wallets WHERE owner = ?", (row.owner,)).fetchone()[0]
            if count >= cap:
                return "full"
            db.execute("INSERT INTO wallets VALUES (?, ?, ?, ?, ?, ?)",
                       (row.owner, row.factory, row.salt, row.address, int(row.is_hidden), time.time()))
            return "added"

    def set_wallet_hidden(self, owner: str, factory: str, salt: str, hidden: bool) -> bool:
        with self.transaction() as db:
            cur = db.execute("UPDATE wallets SET is_hidden = ? WHERE owner = ? AND factory = ? AND salt = ?",
                             (int(hidden), owner, factory, salt))
            return cur.rowcount == 1

    def task_counts(self, owner: str, wallet: str) -> dict[int, int]:
        return {r[0]: r[1] for r in self._all(
            "SELECT status, count(*) FROM tasks WHERE owner = ? AND wallet = ? GROUP BY status", (owner, wallet))}

    # -- tasks --------------------------------------------------------------------------------------------

    def put_task(self, task_id: str, owner: str, wallet: str, status: int, data: bytes) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?, ?, ?)",
                       (task_id, owner, wallet, status, data, time.time()))

    def count_tasks(self, owner: str) -> int:
        return self._one("SELECT count(*) FROM tasks WHERE owner = ?", (owner,))[0]

    def task(self, task_id: str) -> tuple[str, bytes] | None:
        """(owner, Task bytes) of a task, or None."""
        r = self._one("SELECT owner, data FROM tasks WHERE id = ?", (task_id,))
        return None if r is None else (r[0], bytes(r[1]))

    def delete_task(self, task_id: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM tasks WHERE id = ?", (task_id,)).rowcount == 1

    def page_tasks(self, owner: str, wallets: list[str], *, before: str | None, after: str | None,
                   limit: int) -> tuple[list[bytes], bool]:
        """Up to `limit` tasks newest first, older than `after` or newer than `before`; and whether more exist
        in that direction."""
        marks = ",".join("?" * len(wallets))
        where, args = f"owner = ? AND wallet IN ({marks})", [owner, *wallets]
        return self._page("tasks", where, args, before=before, after=after, limit=limit)

    def _page(self, table: str, where: str, args: list[object], *, before: str | None, after: str | None,
              limit: int) -> tuple[list[bytes], bool]:
        if before is not None:
            rows = self._all(f"SELECT data FROM {table} WHERE {where} AND id > ? ORDER BY id ASC LIMIT ?",
                             [*args, before, limit + 1])
            more = len(rows) > limit
            return [bytes(r[0]) for r in reversed(rows[:limit])], more
        cond, extra = (" AND id < ?", [after]) if after is not None else ("", [])
        rows = self._all(f"SELECT data FROM {table} WHERE {where}{cond} ORDER BY id DESC LIMIT ?",
                         [*args, *extra, limit + 1])
        return [bytes(r[0]) for r in rows[:limit]], len(rows) > limit

    def tasks_of(self, owner: str) -> list[tuple[str, str, int]]:
        """(id, wallet, status) of every task of an owner."""
        return [(r[0], r[1], r[2]) for r in self._all("SELECT id, wallet, status FROM tasks WHERE owner = ?",
                                                      (owner,))]

    # -- executions ---------------------------------------------------------------------------------------

    def put_execution(self, execution_id: str, task_id: str, owner: str, index: int, status: int,
                      start_at: int, end_at: int, data: bytes, *, task: tuple[int, bytes] | None = None,
                      queued: tuple[str, str, bool] | None = None, done: bool = False,
                      fire: tuple[str, str, int] | None = None) -> None:
        """Write an execution, in one transaction with: `task` = (status, Task bytes), the task's new state;
        `queued` = (trigger output JSON, trigger input JSON, started), its pending trigger; `done`, the pending
        trigger's removal; `fire` = (dedup key, reporters JSON, event time ms), the quorum that started it (a
        key that fired already raises sqlite3.IntegrityError and nothing is written)."""
        with self.transaction() as db:
            if fire is not None:
                db.execute("INSERT INTO trigger_fires VALUES (?, ?, ?, 'fired', ?, ?, ?)",
                           (fire[0], task_id, execution_id, fire[1], fire[2], time.time()))
            db.execute("INSERT OR REPLACE INTO executions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (execution_id, task_id, owner, index, status, start_at, end_at, data))
            if task is not None:
                db.execute("UPDATE tasks SET status = ?, data = ?, updated_at = ? WHERE id = ?",
                           (task[0], task[1], time.time(), task_id))
            if queued is not None:
                now = time.time()
                db.execute("INSERT INTO pending_triggers VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (execution_id, task_id, owner, queued[0], queued[1], now, now if queued[2] else None))
            if done:
                db.execute("DELETE FROM pending_triggers WHERE execution_id = ?", (execution_id,))

    def start_pending(self, execution_id: str) -> bool:
        """Mark a queued run started (before its first step); False if it was started already."""
        with self.transaction() as db:
            return db.execute("UPDATE pending_triggers SET started_at = ? WHERE execution_id = ? AND started_at IS "
                              "NULL", (time.time(), execution_id)).rowcount == 1

    def pending_triggers(self) -> list[tuple[str, str, str, str, str, float | None]]:
        """(execution id, task id, owner, trigger output JSON, trigger input JSON, started_at) of unfinished runs."""
        return [tuple(r) for r in self._all("SELECT execution_id, task_id, owner, trigger_output, trigger_input, "
                                            "started_at FROM pending_triggers ORDER BY execution_id")]

    def execution(self, execution_id: str) -> tuple[str, str, bytes] | None:
        """(task id, owner, Execution bytes), or None."""
        r = self._one("SELECT task_id, owner, data FROM executions WHERE id = ?", (execution_id,))
        return None if r is None else (r[0], r[1], bytes(r[2]))

    def page_executions(self, task_ids: list[str], *, before: str | None, after: str | None,
                        limit: int) -> tuple[list[bytes], bool]:
        marks = ",".join("?" * len(task_ids))
        return self._page("executions", f"task_id IN ({marks})", list(task_ids), before=before, after=after,
                          limit=limit)

    def count_executions(self, task_ids: list[str]) -> int:
        marks = ",".join("?" * len(task_ids))
        return self._one(f"SELECT count(*) FROM executions WHERE task_id IN ({marks})", task_ids)[0]

    def execution_stats(self, task_ids: list[str], since_ms: int) -> list[tuple[int, int, int]]:
        """(status, start_at, end_at) of executions of `task_ids` that started at or after `since_ms`."""
        marks = ",".join("?" * len(task_ids))
        return [(r[0], r[1], r[2]) for r in self._all(
            f"SELECT status, start_at, end_at FROM executions WHERE task_id IN ({marks}) AND start_at >= ?",
            [*task_ids, since_ms])]

    def pending_executions(self) -> list[tuple[str, str, bytes]]:
        """(id, task id, Execution bytes) of executions still PENDING (a restart finishes or fails them)."""
        return [(r[0], r[1], bytes(r[2])) for r in self._all(
            "SELECT id, task_id, data FROM executions WHERE status = 1 ORDER BY id")]

    # -- secrets ------------------------------------------------------------------------------------------

    def put_secret(self, row: SecretRow, *, create: bool) -> bool:
        """Insert (create) or update a secret: False when it already exists (create) or does not (update)."""
        with self.transaction() as db:
            key = (row.owner, row.name, row.workflow_id, row.org_id)
            exists = db.execute("SELECT created_at FROM secrets WHERE owner = ? AND name = ? AND workflow_id = ? "
                                "AND org_id = ?", key).fetchone()
            if create == bool(exists):
                return False
            created_at = row.created_at if exists is None else exists[0]
            db.execute("INSERT OR REPLACE INTO secrets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (*key, row.key_id, row.nonce, row.ciphertext, created_at, row.updated_at, row.created_by))
            return True

    def delete_secret(self, owner: str, name: str, workflow_id: str, org_id: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM secrets WHERE owner = ? AND name = ? AND workflow_id = ? AND org_id = ?",
                              (owner, name, workflow_id, org_id)).rowcount == 1

    def secrets(self, owner: str) -> list[SecretRow]:
        return [SecretRow(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), bytes(r[6]), r[7], r[8], r[9])
                for r in self._all("SELECT * FROM secrets WHERE owner = ? ORDER BY name, workflow_id, org_id",
                                   (owner,))]

    def all_secrets(self) -> list[SecretRow]:
        return [SecretRow(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), bytes(r[6]), r[7], r[8], r[9])
                for r in self._all("SELECT * FROM secrets")]

    def reencrypt_secret(self, row: SecretRow) -> None:
        with self.transaction() as db:
            db.execute("UPDATE secrets SET key_id = ?, nonce = ?, ciphertext = ? WHERE owner = ? AND name = ? AND "
                       "workflow_id = ? AND org_id = ?",
                       (row.key_id, row.nonce, row.ciphertext, row.owner, row.name, row.workflow_id, row.org_id))

    # -- triggers watched by operators ----------------------------------------------------------------------

    def enabled_tasks(self) -> list[bytes]:
        """Task bytes of every enabled automation."""
        return [r[0] for r in self._all("SELECT data FROM tasks WHERE status = 0 ORDER BY id")]

    def add_report(self, request_id: str, operator: str, task_id: str, output_hash: str, weight: int,
                   output: str) -> bool:
        """Record one operator's report of a dedup key; False when this operator reported the key already."""
        with self.transaction() as db:
            return db.execute("INSERT OR IGNORE INTO trigger_reports VALUES (?, ?, ?, ?, ?, ?, ?)",
                              (request_id, operator, task_id, output_hash, str(weight), output,
                               time.time())).rowcount == 1

    def reports(self, request_id: str) -> list[tuple[str, str, int, str]]:
        """(operator, output hash, weight, output JSON) of every report of a dedup key."""
        return [(r[0], r[1], int(r[2]), r[3]) for r in
                self._all("SELECT operator, output_hash, weight, output FROM trigger_reports WHERE request_id = ? "
                          "ORDER BY at", (request_id,))]

    def recent_reports(self, task_id: str, limit: int = 20) -> list[tuple[str, str, str, float]]:
        """(dedup key, operator, output hash, at) of a task's latest reports, newest first."""
        return [tuple(r) for r in self._all("SELECT request_id, operator, output_hash, at FROM trigger_reports "
                                            "WHERE task_id = ? ORDER BY at DESC LIMIT ?", (task_id, limit))]

    def fire_of(self, request_id: str) -> tuple[str, str, str, str, int] | None:
        """(task id, execution id, outcome, reporters JSON, event time) of a dedup key that reached a quorum."""
        row = self._one("SELECT task_id, execution_id, outcome, reporters, event_time FROM trigger_fires WHERE "
                        "request_id = ?", (request_id,))
        return (row[0], row[1], row[2], row[3], int(row[4])) if row else None

    def add_fire(self, request_id: str, task_id: str, outcome: str, reporters: str, event_time: int) -> bool:
        """Record a dedup key that reached a quorum without an execution (`outcome` says why)."""
        with self.transaction() as db:
            return db.execute("INSERT OR IGNORE INTO trigger_fires VALUES (?, ?, '', ?, ?, ?, ?)",
                              (request_id, task_id, outcome, reporters, event_time, time.time())).rowcount == 1

    def fires(self, task_id: str, limit: int = 20) -> list[tuple[str, str, str, str, int, float]]:
        """(dedup key, execution id, outcome, reporters JSON, event time, at) of a task's fires, newest first."""
        return [tuple(r) for r in self._all("SELECT request_id, execution_id, outcome, reporters, event_time, at "
                                            "FROM trigger_fires WHERE task_id = ? ORDER BY at DESC LIMIT ?",
                                            (task_id, limit))]

    def last_fired_event_time(self, task_id: str) -> int | None:
        row = self._one("SELECT MAX(event_time) FROM trigger_fires WHERE task_id = ? AND outcome = 'fired'",
                        (task_id,))
        return int(row[0]) if row and row[0] is not None else None

    def unfired_reports(self, since: float) -> list[tuple[str, str]]:
        """(dedup key, task id) of keys reported since `since` (unix s) that never reached a quorum."""
        return [tuple(r) for r in self._all(
            "SELECT DISTINCT request_id, task_id FROM trigger_reports WHERE at >= ? AND request_id NOT IN "
            "(SELECT request_id FROM trigger_fires) ORDER BY request_id", (since,))]

    def prune_reports(self, older_than: float) -> int:
        """Forget reports older than `older_than` (unix s) whose key never fired."""
        with self.transaction() as db:
            return db.execute("DELETE FROM trigger_reports WHERE at < ? AND request_id NOT IN "
                              "(SELECT request_id FROM trigger_fires)", (older_than,)).rowcount

    def put_checkin(self, operator: str, data: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO operator_checkins VALUES (?, ?, ?)", (operator, data, time.time()))

    def checkins(self) -> list[tuple[str, str, float]]:
        return [tuple(r) for r in self._all("SELECT operator, data, at FROM operator_checkins ORDER BY operator")]
