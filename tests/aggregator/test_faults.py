"""Faults, each with real executors over gRPC on a real anvil devnet (4 executors, threshold 66.67 %):
an executor down, too few executors (the task expires and the store says why), an executor with a different
result or a bad signature (left out of the certificate), and a reorg that orphans a task (never submitted).

The mailbox has EigenLayer's timing here (a result waits for the chain's next second): the tests act in that
window, and it keeps the strict path covered (test_flow runs the devnet's same-second timing)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from eth_abi import decode

from hourglass_cli.aggregator import store as st
from hourglass_cli.aggregator.verify import PAIRINGS
from hourglass_cli.chain import avs as calls
from hourglass_cli.chain import certificates as encoding
from hourglass_cli.chain.sender import reset_nonces
from hourglass_cli.chain.structs import TaskStatus
from hourglass_cli.crypto import digests, ecdsa
from tests.aggregator.conftest import Devnets, settled, start_aggregator
from tests.aggregator.stack import Devnet, wait_for


def early_in_a_second() -> None:
    """Wait for the wall clock's next fraction below 0.2 s: a task created now waits ~0.8 s for its chain second,
    long enough for every executor to answer (and for a test to act) before anything can be submitted."""
    wait_for(lambda: time.time() % 1.0 < 0.2, 2.0, "the start of a second")


@contextmanager
def waiting_for_every_answer(aggregator) -> Iterator[None]:
    """Sessions wait up to 20 s after the threshold for the remaining answers (instead of a 30 ms grace), so an
    answer that must be judged — a wrong result, a bad signature — is in before the certificate, however slow the
    machine. A session still decides at once when every executor has answered."""
    grace = aggregator.deps.signer_grace
    aggregator.deps.signer_grace = 20.0
    try:
        yield
    finally:
        aggregator.deps.signer_grace = grace


def non_signer_indices(event) -> list[int]:
    return [w[0] for w in encoding.decode_bn254_certificate(event["executorCert"])[4]]


def ecdsa_signers(net: Devnet, task_hash: str, event) -> set[str]:
    cert = encoding.decode_ecdsa_certificate(event["executorCert"])
    ts = net.ops.reference_timestamps[net.core.executor_operator_set_id]
    digest = digests.ecdsa_certificate_digest(ts, digests.message_hash(bytes.fromhex(task_hash[2:]), event["result"]),
                                              net.core.ecdsa_certificate_verifier)
    return {ecdsa.recover_hash(digest, cert[2][i:i + 65]) for i in range(0, len(cert[2]), 65)}


@pytest.fixture
def bn254(devnets: Devnets) -> Iterator[tuple[Devnet, object]]:
    net, aggregator = devnets.get("anvil", "bn254", same_second=False)
    yield net, aggregator
    for i in range(1, 5):  # every test leaves four honest executors behind
        if i not in net.executors or getattr(net.executors[i], "kind", "honest") != "honest":
            net.start_executor(i)


def test_one_executor_down_still_verified(bn254) -> None:
    net, aggregator = bn254
    assert not aggregator.deps.same_second_results("l1")  # EigenLayer's timing, read from the mailbox
    net.stop_executor(4)
    task_hash, _ = net.create_task(6)
    event = net.wait_verified(task_hash)
    assert decode(["uint256"], event["result"]) == (36,)
    assert non_signer_indices(event) == [3]  # executor 4 is the table's index 3: a non-signer witness
    down = net.ops.executors[3].address
    replies = {r.operator: r for r in aggregator.store.responses("l1", task_hash)}
    assert down not in replies or (replies[down].outcome == "error" and "UNAVAILABLE" in (replies[down].detail or ""))
    # The verifier cached that non-signer: the next certificate names it by index only (no proof, ~170k gas less).
    (witness,) = encoding.decode_bn254_certificate(event["executorCert"])[4]
    again, _ = net.create_task(5)
    (cached,) = encoding.decode_bn254_certificate(net.wait_verified(again)["executorCert"])[4]
    settled(aggregator, task_hash), settled(aggregator, again)  # the submissions' receipts are recorded
    assert witness[0] == cached[0] == 3 and witness[1] != b"" and cached[1] == b"" and list(cached[2][1]) == []
    gas = {s.gas_used for h in (task_hash, again) for s in aggregator.store.submissions("l1", h) if s.outcome == "ok"}
    full, index_only = (aggregator.store.submissions("l1", h)[-1].gas_used for h in (task_hash, again))
    assert index_only < full - 100_000, gas


def test_below_threshold_the_task_expires_and_the_store_says_why(bn254) -> None:
    net, aggregator = bn254
    avs = net.accounts.avs.sender(net.w3)
    short = net.ops.task_config.__class__(**{**net.ops.task_config.__dict__, "task_sla": 2})
    calls.set_task_config(avs, net.contracts.task_mailbox, net.core.executor_operator_set_id, short).wait()
    try:
        net.stop_executor(3)
        net.stop_executor(4)
        task_hash, _ = net.create_task(7)
        record = wait_for(lambda: (r := aggregator.store.get("l1", task_hash)) and r.status in st.FINAL and r, 15.0,
                          "the task's final status")
    finally:
        calls.set_task_config(avs, net.contracts.task_mailbox, net.core.executor_operator_set_id,
                              net.ops.task_config).wait()
    assert record.status == st.EXPIRED
    reason = record.reason or ""
    assert "threshold not met by the deadline" in reason and "2/4 operators agree" in reason, reason
    assert "50.00% of the weight, 66.67% needed" in reason, reason
    for op in net.ops.executors[2:]:
        assert f"{op.address}: UNAVAILABLE" in reason, reason
    assert aggregator.store.submissions("l1", task_hash) == []
    assert net.status(task_hash) in (TaskStatus.CREATED, TaskStatus.EXPIRED)


@pytest.mark.parametrize("kind", ["wrong_result", "bad_signature"])
def test_a_bad_executor_is_left_out_of_the_certificate(bn254, kind: str) -> None:
    net, aggregator = bn254
    net.start_executor(4, kind).kind = kind
    checks = PAIRINGS.snapshot()[0]
    with waiting_for_every_answer(aggregator):
        task_hash, _ = net.create_task(8)
        event = net.wait_verified(task_hash)
    assert decode(["uint256"], event["result"]) == (64,)
    assert non_signer_indices(event) == [3]
    bad = {r.operator: r for r in aggregator.store.responses("l1", task_hash)}[net.ops.executors[3].address]
    if kind == "wrong_result":
        assert bad.outcome == "ok" and decode(["uint256"], bad.output) == (65,)  # answered, outvoted
        assert PAIRINGS.snapshot()[0] - checks == 1
    else:
        assert bad.outcome == "invalid" and "does not verify" in (bad.detail or "")
        # the batch failed, then each of the four answers was checked alone
        assert PAIRINGS.snapshot()[0] - checks == 5


def test_ecdsa_bad_signature_is_left_out(devnets: Devnets) -> None:
    net, aggregator = devnets.get("anvil", "ecdsa", same_second=False)
    net.start_executor(2, "bad_signature")
    try:
        with waiting_for_every_answer(aggregator):
            task_hash, _ = net.create_task(9)
            event = net.wait_verified(task_hash)
        assert decode(["uint256"], event["result"]) == (81,)
        signers = ecdsa_signers(net, task_hash, event)
        assert net.ops.executors[1].ecdsa_signer not in signers and len(signers) == 3
        bad = {r.operator: r for r in aggregator.store.responses("l1", task_hash)}[net.ops.executors[1].address]
        assert bad.outcome == "invalid" and "result signature" in (bad.detail or "")
    finally:
        net.start_executor(2)


def test_a_task_that_expired_while_the_aggregator_was_down_is_marked_expired(devnets: Devnets, bn254) -> None:
    net, aggregator = bn254
    avs = net.accounts.avs.sender(net.w3)
    short = net.ops.task_config.__class__(**{**net.ops.task_config.__dict__, "task_sla": 1})
    aggregator.stop()
    calls.set_task_config(avs, net.contracts.task_mailbox, net.core.executor_operator_set_id, short).wait()
    try:
        task_hash, block = net.create_task(12)
    finally:
        calls.set_task_config(avs, net.contracts.task_mailbox, net.core.executor_operator_set_id,
                              net.ops.task_config).wait()
    created = int(net.w3.eth.get_block(block)["timestamp"])
    wait_for(lambda: time.time() >= created + 2, 5.0, "the task's SLA to pass")
    net.w3.provider.make_request("evm_mine", [])  # a block after the deadline: the mailbox says EXPIRED
    assert net.status(task_hash) == TaskStatus.EXPIRED
    restarted = start_aggregator(net, net.root / "aggregator")  # same store: catches up from its last block
    devnets.nets[("anvil", "bn254", False)] = (net, restarted)
    record = wait_for(lambda: (r := restarted.store.get("l1", task_hash)) and r.status in st.FINAL and r, 10.0,
                      "the caught-up task's final status")
    assert record.status == st.EXPIRED and "SLA passed" in (record.reason or ""), record
    assert restarted.store.submissions("l1", task_hash) == []


def test_a_task_orphaned_by_a_reorg_is_never_submitted(bn254) -> None:
    net, aggregator = bn254
    rpc = net.w3.provider.make_request
    snapshot = rpc("evm_snapshot", [])["result"]
    early_in_a_second()
    task_hash, block = net.create_task(10)
    # The aggregator has the task and the executors' answers, and waits for the chain's next second …
    wait_for(lambda: len([r for r in aggregator.store.responses("l1", task_hash) if r.outcome == "ok"]) >= 3, 5.0,
             "the executors' answers")
    # … when the block holding the task is orphaned (anvil goes back, then mines other blocks).
    rpc("evm_revert", [snapshot])
    reset_nonces(net.w3)
    for _ in range(3):
        rpc("evm_mine", [])
    record = wait_for(lambda: (r := aggregator.store.get("l1", task_hash)) and r.status in st.FINAL and r, 10.0,
                      "the orphaned task's final status")
    wait_for(lambda: ("l1", task_hash) not in aggregator.sessions, 10.0, "the session's end")
    assert record.status == st.CANCELLED, record
    assert "reorg" in (record.reason or ""), record.reason
    assert aggregator.store.submissions("l1", task_hash) == []
    assert net.status(task_hash) == TaskStatus.NONE and net.verified_events(task_hash) == []
    # The aggregator carries on with the new chain.
    again, _ = net.create_task(11)
    assert decode(["uint256"], net.wait_verified(again)["result"]) == (121,)


@pytest.mark.parametrize("how", ["checked first", "refused by the node"])
def test_a_result_too_large_for_any_block_is_never_retried(bn254, how: str, monkeypatch) -> None:
    """Issue #12: a result no block can hold was sent five times and the task ended with "submitResult failed 5
    times; see the submissions table". Now the aggregator knows the block gas limit and fails the task at once
    saying why; if it cannot read the limit, the node's refusal is final too."""
    from hourglass_cli.aggregator.submitter import Submitter

    net, aggregator = bn254
    if how == "refused by the node":
        monkeypatch.setattr(Submitter, "_block_gas_limit", staticmethod(lambda contracts: None))
    for i in range(1, 5):
        net.start_executor(i, "big_result").kind = "big_result"
    size = 100_000  # ~62M gas of storage alone; anvil's blocks hold 30M
    nonce = net.w3.eth.get_transaction_count(net.accounts.aggregator.address)
    task_hash, _ = net.create_task(size)
    record = settled(aggregator, task_hash, timeout=30)
    assert record.status == st.FAILED, record
    assert record.reason.startswith(f"the result ({size:,} bytes) is too large to submit on chain"), record.reason
    assert "submissions table" not in record.reason and "failed 5 times" not in record.reason
    assert net.w3.eth.get_transaction_count(net.accounts.aggregator.address) == nonce  # nothing mined
    attempts = aggregator.store.submissions("l1", task_hash)
    assert len(attempts) == (0 if how == "checked first" else 1), attempts  # a refusal is not retried
