"""Re-sent submissions are idempotent: the stored signed answer, one performer run per task, reruns only when
nothing was signed — over real gRPC against a real executor (remote runtime to an in-process performer)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest

from hourglass_cli.executor.store import DONE, Claim, ExecutorStore, SignedAnswer, submission_digest
from tests.executor.conftest import Net, RunningExecutor

Code = grpc.StatusCode


def _same_answer(a: object, b: object) -> None:
    for name in ("task_id", "operator_address", "output", "result_signature", "auth_signature", "avs_address",
                 "operator_set_id", "version"):
        assert getattr(a, name) == getattr(b, name), name


def _wait(condition: object, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.005)  # polling a condition, with a deadline


def test_a_resent_submission_gets_the_stored_signed_answer(bn254_net: Net, bn254_square: RunningExecutor) -> None:
    """The aggregator died after the executor answered: its re-sent submission must be answered, not refused."""
    net, square = bn254_net, bn254_square
    task = net.create_task(4)
    submission = net.submission(task)
    first = square.submit(submission)
    again = square.submit(submission)
    _same_answer(first, again)
    # The same id in upper case is the same task (the signed bytes hold the id's 32 bytes).
    upper = square.submit(net.submission(task, task_id="0x" + task.task_id[2:].upper()))
    assert upper.output == first.output and upper.result_signature == first.result_signature
    record = square.executor.store.get(task.task_id)
    assert record.status == DONE and record.attempts == 1 and record.answered


def test_the_performer_runs_once_for_resent_and_concurrent_duplicates(
        bn254_net: Net, bn254_misbehaving: RunningExecutor) -> None:
    net, executor = bn254_net, bn254_misbehaving
    performer, _server = executor.performer
    payload = b"slow:concurrent"
    performer.release.clear()
    performer.blocked.clear()
    submission = net.submission(net.create_task(payload))
    try:
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(executor.submit, submission) for _ in range(8)]
            assert performer.blocked.wait(10)
            _wait(lambda: len(executor.executor.service._flights) == 1, 5, "the run")
            performer.release.set()
            replies = [f.result() for f in futures]
    finally:
        performer.release.set()
    assert {r.output for r in replies} == {b"done:concurrent"}
    assert len({r.result_signature for r in replies}) == 1 and len({r.auth_signature for r in replies}) == 1
    _same_answer(replies[0], executor.submit(submission))
    assert performer.runs[payload] == 1


def test_a_duplicate_keeps_the_run_alive_when_the_first_caller_goes(
        bn254_net: Net, bn254_misbehaving: RunningExecutor) -> None:
    """The aggregator's first call dies with it; its re-sent call joins the run instead of cancelling it."""
    net, executor = bn254_net, bn254_misbehaving
    performer, _server = executor.performer
    payload = b"slow:survivor"
    performer.release.clear()
    performer.blocked.clear()
    task = net.create_task(payload)
    submission = net.submission(task)
    try:
        first = executor.stub.SubmitTask.future(submission, timeout=20)
        assert performer.blocked.wait(10)
        second = executor.stub.SubmitTask.future(submission, timeout=20)
        flight = executor.executor.service._flights.get(task.task_id)
        _wait(lambda: flight._callers == 2, 5, "the second caller to join")
        first.cancel()
        _wait(lambda: flight._callers == 1, 5, "the first caller to leave")
        performer.release.set()
        assert second.result().output == b"done:survivor"
    finally:
        performer.release.set()
    assert performer.runs[payload] == 1


def test_a_run_every_caller_abandoned_is_run_again_when_resent(
        bn254_net: Net, bn254_misbehaving: RunningExecutor) -> None:
    net, executor = bn254_net, bn254_misbehaving
    performer, _server = executor.performer
    payload = b"slow:abandoned"
    performer.release.clear()
    performer.blocked.clear()
    task = net.create_task(payload)
    submission = net.submission(task)
    try:
        first = executor.stub.SubmitTask.future(submission, timeout=20)
        assert performer.blocked.wait(10)
        first.cancel()
        _wait(lambda: executor.executor.store.get(task.task_id).status == "failed", 10, "the cancelled run")
        assert executor.executor.store.get(task.task_id).error.startswith("CANCELLED")
        performer.release.set()
        reply = executor.submit(submission)
    finally:
        performer.release.set()
    assert reply.output == b"done:abandoned" and performer.runs[payload] == 2
    record = executor.executor.store.get(task.task_id)
    assert record.status == DONE and record.attempts == 2


def test_a_failed_run_is_run_again_when_resent(bn254_net: Net, bn254_misbehaving: RunningExecutor) -> None:
    net, executor = bn254_net, bn254_misbehaving
    performer, _server = executor.performer
    submission = net.submission(net.create_task(b"flaky:once"))
    with pytest.raises(grpc.RpcError) as info:
        executor.submit(submission)
    assert info.value.code() == Code.INTERNAL and "flaky the first time" in info.value.details()
    assert executor.submit(submission).output == b"ok:once"
    assert executor.submit(submission).output == b"ok:once"  # answered from the store from now on
    assert performer.runs[b"flaky:once"] == 2


# ------------------------------------------------------------------ the store across restarts

TASK = "0x" + "ab" * 32
ADDR = "0x" + "12" * 20


def _claim(store: ExecutorStore, digest: bytes, task_id: str = TASK) -> Claim:
    return store.claim(task_id, digest=digest, avs=ADDR, aggregator=ADDR, operator_set_id=1, task_block=7).kind


def test_the_signed_answer_survives_a_restart_and_an_interrupted_task_may_rerun(tmp_path: Path) -> None:
    digest = submission_digest(bytes(20), bytes(224))
    other = submission_digest(bytes(20), b"\x01" * 224)
    store = ExecutorStore(tmp_path / "x.db")
    assert _claim(store, digest) is Claim.NEW
    assert _claim(store, digest, "0x" + "cd" * 32) is Claim.NEW
    assert _claim(store, digest) is Claim.RUNNING and _claim(store, other) is Claim.CONFLICT
    answer = SignedAnswer(b"out", b"r" * 64, b"a" * 64)
    store.answer(TASK, answer)
    store.close()  # killed: the second task was still running

    again = ExecutorStore(tmp_path / "x.db")
    found = again.claim(TASK, digest=digest, avs=ADDR, aggregator=ADDR, operator_set_id=1, task_block=7)
    assert found.kind is Claim.ANSWERED and found.answer == answer
    assert _claim(again, other) is Claim.CONFLICT
    assert again.get("0x" + "cd" * 32).status == "interrupted"
    assert _claim(again, digest, "0x" + "cd" * 32) is Claim.RERUN  # nothing was signed for it
    assert again.get("0x" + "cd" * 32).attempts == 2
    assert again.problems() == []


def test_a_version_1_store_is_migrated_and_its_tasks_stay_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('schema', '1');
            CREATE TABLE tasks (task_id TEXT PRIMARY KEY, status TEXT NOT NULL, avs TEXT NOT NULL,
                aggregator TEXT NOT NULL, operator_set_id INTEGER NOT NULL, task_block INTEGER NOT NULL,
                received_at REAL NOT NULL, finished_at REAL, result_bytes INTEGER, error TEXT);""")
        db.execute("INSERT INTO tasks VALUES (?, 'done', ?, ?, 1, 7, 1.0, 2.0, 32, NULL)", (TASK, ADDR, ADDR))
    store = ExecutorStore(path)
    assert store.get(TASK).status == DONE
    assert _claim(store, submission_digest(bytes(20), bytes(224))) is Claim.CONFLICT  # no digest: not provably the same
    assert _claim(store, b"\x00" * 32, "0x" + "cd" * 32) is Claim.NEW
    assert store.problems() == []


def test_claims_are_atomic_across_threads(tmp_path: Path) -> None:
    store = ExecutorStore(tmp_path / "x.db")
    barrier = threading.Barrier(16)
    kinds: list[Claim] = []
    lock = threading.Lock()

    def contend() -> None:
        barrier.wait()
        kind = _claim(store, b"\x01" * 32)
        with lock:
            kinds.append(kind)

    threads = [threading.Thread(target=contend) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kinds.count(Claim.NEW) == 1 and kinds.count(Claim.RUNNING) == 15
