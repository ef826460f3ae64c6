"""Per-operator performance from a real aggregator store file (written by SqliteStore, read read-only)."""

from __future__ import annotations

from pathlib import Path

from hourglass_cli.aggregator import store as st
from hourglass_cli.tasks.store_view import StoreView, operator_performance

A, B, C, D = ("0x" + c * 40 for c in "abcd")


def _task(store: st.SqliteStore, n: int, status: str) -> str:
    task_hash = "0x" + f"{n:064x}"
    head = st.Checkpoint(n, "0x" + f"{n:064x}")
    store.record_scan("l1", head, [st.NewTask(task_hash, n, head.hash, 0, "0x" + "11" * 20, 1, 100, 100, 200,
                                              b"p")], keep=100)
    store.transition("l1", task_hash, status, only_from=st.STATUSES)
    return task_hash


def test_answered_agreed_late_missed_and_latency(tmp_path: Path) -> None:
    path = tmp_path / "aggregator.db"
    store = st.SqliteStore(path)
    try:
        t1, t2 = _task(store, 1, "completed"), _task(store, 2, "failed")
        seen = store.get("l1", t1).seen_at
        for op, out, after in ((A, b"42", 0.1), (B, b"42", 0.3), (C, b"41", 0.2)):
            store.add_response("l1", t1, st.ResponseRecord(op, "ok", out, b"s", b"a", None, seen + after))
        store.add_submission("l1", t1, st.SubmissionRecord(1, "0x" + "99" * 32, "ok", None, 500_000, seen + 0.25))
        store.add_response("l1", t2, st.ResponseRecord(A, "invalid", None, None, None, "bad signature", seen + 1))
        store.add_response("l1", t2, st.ResponseRecord(B, "error", None, None, None, "UNAVAILABLE", seen + 1))
    finally:
        store.close()
    stats = {s.operator: s for s in operator_performance(StoreView(path), [A, B, C, D])}
    assert (stats[A].answered, stats[A].agreed, stats[A].late, stats[A].missed, stats[A].invalid) == (1, 1, 0, 1, 1)
    assert (stats[B].answered, stats[B].agreed, stats[B].late, stats[B].missed) == (1, 1, 1, 1)  # after the cert
    assert (stats[C].answered, stats[C].agreed, stats[C].missed) == (1, 0, 1)  # a different result
    assert (stats[D].answered, stats[D].missed) == (0, 2)  # never answered anything: down for both tasks
    assert stats[A].median_latency_s == 0.1 and stats[D].median_latency_s is None


def test_no_store_yet_lists_the_given_operators_with_zeros(tmp_path: Path) -> None:
    (only,) = operator_performance(StoreView(tmp_path / "missing.db"), [A])
    assert (only.operator, only.answered, only.missed) == (A, 0, 0)
