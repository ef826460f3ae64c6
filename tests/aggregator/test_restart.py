"""`hourglass aggregator run --config FILE` as a process: SIGKILL while a task is in flight, restart, and the task
is verified exactly once (from the answers the store kept — executors refuse a task id twice); a task created
while the aggregator was down is caught up; SIGTERM stops it cleanly and no secret is logged."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_abi import decode

from hourglass_cli.chain.structs import TaskStatus
from hourglass_cli.executor.server import free_port
from tests.aggregator.stack import Devnet, build_devnet, wait_for
from tests.aggregator.test_faults import early_in_a_second

REPO = Path(__file__).resolve().parents[2]
CLI = "from hourglass_cli.cli.aggregator import app; app(prog_name='hourglass aggregator')"


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    built = build_devnet("anvil", "bn254", tmp_path_factory.mktemp("restart"), same_second=False)  # act in the wait
    yield built
    built.close()


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as reply:
            return json.loads(reply.read())["status"] == "ok"
    except OSError:
        return False


def spawn(config: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-c", CLI, "run", "--config", str(config)], cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT)
    wait_for(lambda: healthy(port) or proc.poll() is not None, 60.0, "the aggregator's health")
    assert proc.poll() is None, log.read_text()[-3000:]
    return proc


def rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute(sql, args).fetchall()


def test_sigkill_mid_task_then_restart_verifies_exactly_once(net: Devnet, tmp_path: Path) -> None:
    port = free_port()
    config = net.aggregator_config(tmp_path / "aggregator", metrics_port=port)
    db, log = tmp_path / "aggregator" / "aggregator.db", tmp_path / "aggregator.log"
    proc = spawn(config, port, log)
    try:
        early_in_a_second()
        task_hash, _ = net.create_task(13)
        # Killed once the executors' answers are stored, while it waits for the chain's next second.
        wait_for(lambda: len(rows(db, "SELECT 1 FROM responses WHERE task_hash = ? AND outcome = 'ok'",
                                  task_hash)) >= 3, 10.0, "the stored answers")
        proc.kill()
        assert proc.wait(10) == -signal.SIGKILL
        assert net.status(task_hash) == TaskStatus.CREATED
        assert rows(db, "SELECT status FROM tasks WHERE task_hash = ?", task_hash) == [("processing",)]
        during, _ = net.create_task(14)  # created while the aggregator is down

        proc = spawn(config, port, log)
        first, second = net.wait_verified(task_hash), net.wait_verified(during)
        assert decode(["uint256"], first["result"]) == (169,) and decode(["uint256"], second["result"]) == (196,)
        assert len(net.verified_events(task_hash)) == 1
        wait_for(lambda: rows(db, "SELECT status FROM tasks WHERE task_hash = ?", task_hash) == [("completed",)],
                 10.0, "the store's completed status")
        assert rows(db, "SELECT COUNT(*) FROM submissions WHERE task_hash = ? AND outcome = 'ok'", task_hash) == [(1,)]
        # Each executor served the task once: the restarted aggregator used the stored answers.
        for executor in net.executors.values():
            record = executor.store.get(task_hash)
            assert record is None or record.status == "done"

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert "aggregator stopped" in text and "task completed" in text
    assert "hourglass-devnet" not in text  # the keystore password is never logged
    assert net.accounts.aggregator.private_key.hex() not in text
