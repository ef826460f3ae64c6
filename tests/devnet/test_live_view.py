"""The foreground devnet's live view shows the tasks (hash, status, stages, time) below the components.

The view reads the aggregator's real SQLite store read-only: it copes with a store that does not exist yet, is
being created, is damaged or is locked (keeping the last rows), and never writes it. The slow test runs
`devnet start` in the foreground on a pseudo-terminal of 80 and of 120 columns and submits tasks from another
process, as a user does from a second shell.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import re
import signal
import sqlite3
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hourglass_cli.aggregator import store as st
from hourglass_cli.aggregator.store import Checkpoint, NewTask, ResponseRecord, SqliteStore, SubmissionRecord
from tests.devnet._helpers import failed, hourglass, ok, run, wait_for

OPERATORS = {"0x" + "11" * 20: "executor-1", "0x" + "22" * 20: "executor-2"}
FIRST, SECOND = "0x" + "a1" * 32, "0x" + "b2" * 32


@pytest.fixture
def live_tasks() -> Any:
    """The view's task source, `cli._devnet_view.LiveTasks` (imported here, so each test fails on its own)."""
    from hourglass_cli.cli._devnet_view import LiveTasks

    return LiveTasks


def _new(task_hash: str, block: int) -> NewTask:
    return NewTask(task_hash=task_hash, block_number=block, block_hash="0x" + f"{block:064x}", log_index=0,
                   avs="0x" + "33" * 20, operator_set_id=1, reference_timestamp=block, creation_time=block,
                   deadline=block + 120, payload=b"\x05")


def _record(store: SqliteStore, task_hash: str, block: int, *, fail: bool) -> None:
    """A task as the aggregator's poller and session write it: seen, distributed, answered, then its verdict."""
    store.record_scan("l1", Checkpoint(block, "0x" + f"{block:064x}"), [_new(task_hash, block)], keep=10)
    store.transition("l1", task_hash, st.PROCESSING, only_from=(st.PENDING,))
    for address in OPERATORS:
        if fail:
            store.add_response("l1", task_hash, ResponseRecord(address, "error", None, None, None,
                                                               "INTERNAL: performer error: boom", time.time()))
        else:
            store.add_response("l1", task_hash, ResponseRecord(address, "ok", b"\x19", b"s", b"a", None, time.time()))
    if fail:
        reason = "threshold cannot be met: " + "; ".join(f"{a}: INTERNAL: boom" for a in OPERATORS)
        store.transition("l1", task_hash, st.FAILED, only_from=st.IN_FLIGHT, reason=reason)
    else:
        store.add_submission("l1", task_hash, SubmissionRecord(1, "0x" + "cc" * 32, "ok", None, 1, time.time()))
        store.transition("l1", task_hash, st.COMPLETED, only_from=st.IN_FLIGHT)


def _files(folder: Path) -> dict[str, str]:
    """sha256 of every file in `folder`, except SQLite's shared-memory index (-shm: every WAL reader marks it)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if not p.name.endswith("-shm")}


def test_a_store_that_does_not_exist_yet_shows_no_tasks_and_is_not_created(tmp_path: Path, live_tasks: Any) -> None:
    path = tmp_path / "aggregator.db"
    tasks = live_tasks(path, OPERATORS)
    assert tasks.refresh(10) == [] and list(tmp_path.iterdir()) == []
    store = SqliteStore(path)
    try:
        _record(store, FIRST, 7, fail=False)
        (row,) = tasks.refresh(10)
        assert (row.task_hash, row.status, row.responses_ok, row.operators) == (FIRST, "verified", 2, 2)
        assert row.stages == ("distributed", "responses", "certificate", "verified") and row.seconds is not None
    finally:
        store.close()


@pytest.mark.parametrize("content", [b"", b"SQLite format 3\x00" + b"\x07" * 300, b"not a database at all\n"])
def test_an_empty_or_damaged_store_shows_no_tasks_and_stays_as_it_was(tmp_path: Path, content: bytes,
                                                                     live_tasks: Any) -> None:
    path = tmp_path / "aggregator.db"
    path.write_bytes(content)
    before = _files(tmp_path)
    assert live_tasks(path, OPERATORS).refresh(10) == []
    assert _files(tmp_path) == before


def test_a_store_mid_creation_shows_no_tasks(tmp_path: Path, live_tasks: Any) -> None:
    """The aggregator creates its tables in one transaction: until it commits a reader sees a file without them."""
    path = tmp_path / "aggregator.db"
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("BEGIN IMMEDIATE")
        for statement in st._SCHEMA.split(";"):
            if statement.strip():
                writer.execute(statement)
        tasks = live_tasks(path, OPERATORS)
        assert tasks.refresh(10) == []
        writer.execute("COMMIT")
        assert tasks.refresh(10) == []  # the tables, no task yet
    finally:
        writer.close()


def test_a_locked_store_keeps_the_last_rows(tmp_path: Path, live_tasks: Any) -> None:
    path = tmp_path / "aggregator.db"
    store = SqliteStore(path)
    _record(store, FIRST, 7, fail=False)
    tasks = live_tasks(path, OPERATORS)
    assert [r.task_hash for r in tasks.refresh(10)] == [FIRST]
    store.close()
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("PRAGMA locking_mode=EXCLUSIVE")
        locker.execute("BEGIN EXCLUSIVE")
        locker.execute("UPDATE tasks SET updated_at = updated_at")
        with pytest.raises(sqlite3.OperationalError, match="locked"):  # what any reader gets now
            sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0).execute("SELECT 1 FROM tasks").fetchall()
        assert [r.task_hash for r in tasks.refresh(10)] == [FIRST]  # the last rows, not an error, not nothing
    finally:
        locker.close()
    store = SqliteStore(path)
    try:
        _record(store, SECOND, 8, fail=True)
        rows = tasks.refresh(10)
        assert [r.task_hash for r in rows] == [SECOND, FIRST]
        assert rows[0].status == "failed" and rows[0].reason.count("executor-") == 2 and "0x1111" not in rows[0].reason
    finally:
        store.close()


def test_the_view_never_writes_the_store(tmp_path: Path, live_tasks: Any) -> None:
    """With the aggregator's connection open (as while it runs), reading changes neither the file nor its WAL."""
    path = tmp_path / "aggregator.db"
    store = SqliteStore(path)
    try:
        _record(store, FIRST, 7, fail=False)
        _record(store, SECOND, 8, fail=True)
        before = _files(tmp_path)
        assert {"aggregator.db", "aggregator.db-wal"} <= set(before)
        tasks = live_tasks(path, OPERATORS)
        for _ in range(5):
            assert len(tasks.refresh(10)) == 2
        assert _files(tmp_path) == before
        assert store.problems() == []
    finally:
        store.close()


# ------------------------------------------------------------------ the foreground view on a terminal

UNLUCKY = 13
RAISE = f'        if number == {UNLUCKY}:\n            raise RuntimeError("unlucky number {UNLUCKY}")\n'
RETURN = '        return encode(["uint256"], [number * number])'
STYLE = re.compile(r"\x1b\[[0-9;]*m")  # bold, colours: inside a line
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|[\r\x07]")  # cursor moves, erases: between lines


class Terminal:
    """A pseudo-terminal of `columns` × 50 whose output a thread collects."""

    def __init__(self, columns: int) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
        self._data = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)

    def start(self) -> None:
        os.close(self.slave)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the other end closed
                return
            if not chunk:
                return
            with self._lock:
                self._data += chunk

    def lines(self) -> list[str]:
        """Every line drawn so far, without styles; a cursor move or an erase ends a line."""
        with self._lock:
            text = STYLE.sub("", self._data.decode(errors="replace"))
        return [line for line in CONTROL.sub("\n", text).split("\n") if line.strip()]

    def close(self) -> None:
        self._reader.join(timeout=10)  # it ends once every process holding the terminal has exited
        os.close(self.master)


def _short(task_hash: str) -> str:
    return task_hash[:10] + "…" + task_hash[-4:]


def _line(terminal: Terminal, pattern: str) -> Callable[[], str | None]:
    regex = re.compile(pattern)
    return lambda: next((line for line in terminal.lines() if regex.search(line)), None)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """`avs init` with a performer that raises for 13."""
    ok(run(tmp_path, "avs", "init", "live-avs"))
    folder = tmp_path / "live-avs"
    performer = folder / "live_avs" / "performer.py"
    source = performer.read_text()
    assert RETURN in source
    performer.write_text(source.replace(RETURN, RAISE + RETURN))
    yield folder


@pytest.mark.slow
@pytest.mark.parametrize("columns", [80, 120])
def test_tasks_from_another_shell_appear_in_the_foreground_view(project: Path, columns: int) -> None:
    terminal = Terminal(columns)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen(hourglass("devnet", "start", "--chain", "anvil", "--operators", "2"), cwd=project,
                            stdin=terminal.slave, stdout=terminal.slave, stderr=terminal.slave,
                            env={**env, "NO_COLOR": "1", "TERM": "xterm"}, start_new_session=True)
    terminal.start()
    try:
        wait_for(_line(terminal, r"Ctrl-C stops everything"), 120, "the live view")
        wait_for(_line(terminal, r"^no tasks yet: from another shell"), 10, "the view's task section")
        doc = json.loads(ok(run(project, "task", "submit", "--signature", "(uint256)", "--args", "(6)",
                                "--json")).stdout)
        good = wait_for(_line(terminal, rf"^verified +{re.escape(_short(doc['task_hash']))} "), 30,
                        "the verified task in the live view")
        assert re.search(r" (\d+ +)?(distributed → )?2/2 → cert(ificate)? → verified +\d+\.\d\d s$", good.rstrip()), good
        result = run(project, "task", "submit", "--signature", "(uint256)", "--args", f"({UNLUCKY})", "--json")
        failed(result)
        bad_hash = json.loads(result.stdout)["task_hash"]
        bad = wait_for(_line(terminal, rf"^failed +{re.escape(_short(bad_hash))} "), 30,
                       "the failed task in the live view")
        assert re.search(r"0/2 +\d+\.\d\d s +every executor: ", bad), bad
        drawn = terminal.lines()
        assert all(len(line) <= columns for line in drawn), [line for line in drawn if len(line) > columns]
        assert any(line.startswith("status") and line.split()[:2] == ["status", "task"] for line in drawn)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        terminal.close()
    assert proc.returncode == 0
    assert _line(terminal, r"^devnet stopped")(), terminal.lines()[-5:]
