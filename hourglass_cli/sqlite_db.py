"""Opening a service's SQLite store: WAL, an integrity check, the schema, numbered migrations, clear errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path

from hourglass_cli.errors import HourglassError


def _stored_version(db: sqlite3.Connection) -> int | None:
    """The schema version recorded in `meta`, or None for a new database."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    return None if row is None else int(row[0])


def open_database(path: Path, *, schema: str, version: int, what: str, config_key: str, corrupt_hint: str,
                  error: type[HourglassError], migrations: Mapping[int, str] | None = None,
                  on_open: Callable[[sqlite3.Connection], None] | None = None) -> sqlite3.Connection:
    """Open (creating if needed) the `what` database at `path`; any problem raises `error` naming the file.

    `schema` is the newest schema (``CREATE … IF NOT EXISTS``); `migrations[n]` is the SQL that takes a version
    n − 1 database to version n, applied in order in one transaction at open. `on_open` runs inside the same
    checks (e.g. to mark interrupted work) before the connection is returned.
    """
    where = str(path)
    if path.is_dir():
        raise error(f"{where}: is a folder, not a database file", hint=f"set {config_key} to a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(where, timeout=10.0, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise error(f"{where}: cannot open the {what} database ({exc})") from None
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        check = db.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {check[0] if check else 'no answer'}")
        stored = _stored_version(db)
        if stored is not None and stored > version:
            db.close()
            raise error(f"{where}: written by a newer hourglass (schema {stored}, this one uses {version})",
                        hint="upgrade hourglass, or move the file away to start with an empty store")
        if stored is not None and stored < version:
            missing = [n for n in range(stored + 1, version + 1) if n not in (migrations or {})]
            if missing:
                db.close()
                raise error(f"{where}: written by an older hourglass (schema {stored}) that this one cannot "
                            f"migrate to {version}", hint="move the file away to start with an empty store")
            db.execute("BEGIN IMMEDIATE")
            try:
                for n in range(stored + 1, version + 1):
                    for statement in (s.strip() for s in (migrations or {})[n].split(";")):
                        if statement:
                            db.execute(statement)
                db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(version),))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        db.executescript(schema)
        if stored is None:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)", (str(version),))
        if on_open is not None:
            on_open(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise error(f"{where}: the {what} database is unreadable or corrupt ({exc})", hint=corrupt_hint) from None
    except (ValueError, TypeError) as exc:  # a meta row that is not a number
        db.close()
        raise error(f"{where}: the {what} database has an unreadable schema version ({exc})",
                    hint=corrupt_hint) from None
    return db


def integrity_problems(db: sqlite3.Connection) -> list[str]:
    """What ``PRAGMA integrity_check`` and ``foreign_key_check`` report (empty: the file is sound)."""
    rows = [str(r[0]) for r in db.execute("PRAGMA integrity_check").fetchall()]
    problems = [r for r in rows if r != "ok"]
    problems += [f"foreign key: {r}" for r in db.execute("PRAGMA foreign_key_check").fetchall()]
    return problems
