"""Opening a service's SQLite store: WAL, an integrity check, the schema and its version, clear errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from hourglass_cli.errors import HourglassError


def open_database(path: Path, *, schema: str, version: int, what: str, config_key: str, corrupt_hint: str,
                  error: type[HourglassError],
                  on_open: Callable[[sqlite3.Connection], None] | None = None) -> sqlite3.Connection:
    """Open (creating if needed) the `what` database at `path`; any problem raises `error` naming the file.

    `on_open` runs inside the same checks (e.g. to mark interrupted work) before the connection is returned.
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
        db.executescript(schema)
        row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            db.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (str(version),))
        elif row[0] != str(version):
            db.close()
            raise error(f"{where}: written by another hourglass version (schema {row[0]}, this one uses {version})",
                        hint="move the file away to start with an empty store")
        if on_open is not None:
            on_open(db)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise error(f"{where}: the {what} database is unreadable or corrupt ({exc})", hint=corrupt_hint) from None
    return db
