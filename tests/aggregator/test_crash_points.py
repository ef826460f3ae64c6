"""`hourglass aggregator run` SIGKILLed at each crash point of a task (failpoints), then restarted: the task is
verified exactly once, with one submitResult transaction, and no executor runs its performer twice.

The points are the windows a random kill rarely hits: an executor's answer received but not stored (the
executors must answer the re-sent submission with what they signed — they used to refuse it and the task was
lost), submitResult signed but not sent (the stored transaction is re-sent as it is), sent but not recorded,
recorded but its receipt not read, and sent while the chain does not mine (the restarted aggregator waits for
that transaction instead of sending a second one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_abi import decode

from hourglass_cli.chain.structs import TaskStatus
from hourglass_cli.ports import free_port
from tests.aggregator.stack import Devnet, build_devnet, wait_for
from tests.aggregator.test_restart import CLI, REPO, healthy, rows

@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    built = build_devnet("anvil", "bn254", tmp_path_factory.mktemp("crash-points"))
    yield built
    built.close()


def spawn(config: Path, port: int, log: Path, failpoints: str = "") -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOURGLASS_FAILPOINTS": failpoints}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-c", CLI, "run", "--config", str(config)], cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT, env=env)
    wait_for(lambda: healthy(port) or proc.poll() is not None, 60.0, "the aggregator's health")
    assert proc.poll() is None, log.read_text()[-3000:]
    return proc


def submit_result_txs(net: Devnet, first_block: int) -> list[str]:
    """Hashes of the aggregator account's submitResult transactions mined from `first_block` on."""
    mailbox = net.contracts.task_mailbox
    selector = bytes.fromhex(mailbox.encode_abi("submitResult", [b"\0" * 32, b"", b""])[2:10])
    found = []
    for number in range(first_block, net.w3.eth.block_number + 1):
        for tx in net.w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] == net.accounts.aggregator.address and bytes(tx["input"])[:4] == selector:
                found.append("0x" + bytes(tx["hash"]).hex())
    return found


def performer_runs(net: Devnet, task_hash: str) -> dict[int, tuple[str, int]]:
    """(status, runs) of the task in each executor's store, for executors that claimed it."""
    out = {}
    for i, executor in net.executors.items():
        record = executor.store.get(task_hash)
        if record is not None:
            out[i] = (record.status, record.attempts)
    return out


@pytest.mark.parametrize("point", ["aggregator.reply.received", "aggregator.submit.signed",
                                   "aggregator.submit.sent", "aggregator.submit.recorded"])
def test_killed_at_a_crash_point_then_restarted_verifies_once(net: Devnet, tmp_path: Path, point: str) -> None:
    port = free_port()
    config = net.aggregator_config(tmp_path / "aggregator", metrics_port=port)
    db, log, marker = tmp_path / "aggregator" / "aggregator.db", tmp_path / "aggregator.log", tmp_path / "fired"
    first_block = net.w3.eth.block_number + 1
    proc = spawn(config, port, log, f"{point}={marker}")
    try:
        task_hash, _ = net.create_task(12)
        assert proc.wait(30) == -signal.SIGKILL, log.read_text()[-3000:]
        assert marker.exists()
        at_kill = performer_runs(net, task_hash)
        if point == "aggregator.reply.received":  # died before a single answer was stored
            assert rows(db, "SELECT COUNT(*) FROM responses WHERE task_hash = ?", task_hash) == [(0,)]
            assert net.status(task_hash) == TaskStatus.CREATED
        if point == "aggregator.submit.signed":  # the transaction exists only in the store
            assert net.status(task_hash) == TaskStatus.CREATED
            assert rows(db, "SELECT outcome FROM submissions WHERE task_hash = ?", task_hash) == [("signed",)]

        proc = spawn(config, port, log, f"{point}={marker}")  # armed still: the marker keeps it from firing twice
        event = net.wait_verified(task_hash)
        assert decode(["uint256"], event["result"]) == (144,)
        wait_for(lambda: rows(db, "SELECT status FROM tasks WHERE task_hash = ?", task_hash) == [("completed",)],
                 15.0, "the store's completed status")
        assert len(net.verified_events(task_hash)) == 1
        assert len(submit_result_txs(net, first_block)) == 1  # no second submitResult, not even a reverted one
        # An executor that had signed before the kill answered the re-sent task from its store: no second run.
        # (One whose run the dying aggregator's cancelled call stopped had signed nothing and may run again.)
        after = performer_runs(net, task_hash)
        assert all(after[i] == (status, runs) for i, (status, runs) in at_kill.items() if status == "done"), \
            (at_kill, after)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_killed_with_its_submission_pending_waits_for_it_after_restart(net: Devnet, tmp_path: Path) -> None:
    """The chain is not mining: submitResult sits in the pool when the aggregator dies. The restarted one must
    wait for that transaction (it is found by hash), not send a second one."""
    port = free_port()
    config = net.aggregator_config(tmp_path / "aggregator", metrics_port=port)
    db, log, marker = tmp_path / "aggregator" / "aggregator.db", tmp_path / "aggregator.log", tmp_path / "fired"
    first_block = net.w3.eth.block_number + 1
    proc = spawn(config, port, log, f"aggregator.submit.recorded={marker}")
    rpc = net.w3.provider.make_request
    try:
        rpc("evm_setAutomine", [False])
        task_hash, _ = create_task_mined(net, 9)
        assert proc.wait(30) == -signal.SIGKILL, log.read_text()[-3000:]
        ((tx_hash, outcome),) = rows(db, "SELECT tx_hash, outcome FROM submissions WHERE task_hash = ?", task_hash)
        assert outcome == "sent" and net.status(task_hash) == TaskStatus.CREATED
        assert net.w3.eth.get_transaction(tx_hash)["blockNumber"] is None  # pending in the pool

        proc = spawn(config, port, log)
        wait_for(lambda: "waiting for an earlier submission" in log.read_text(), 30.0, "the restarted aggregator "
                 "to find its pending transaction")
        rpc("evm_mine", [])
        rpc("evm_setAutomine", [True])
        net.wait_verified(task_hash)
        wait_for(lambda: rows(db, "SELECT status, tx_hash FROM tasks WHERE task_hash = ?", task_hash) ==
                 [("completed", tx_hash)], 15.0, "the store's completed status with the first transaction")
        assert submit_result_txs(net, first_block) == [tx_hash]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        rpc("evm_setAutomine", [True])
        if proc.poll() is None:
            proc.kill()


def create_task_mined(net: Devnet, number: int) -> tuple[str, int]:
    """createTask while the chain does not automine: send it, mine one block, return (hash, block)."""
    from eth_abi import encode

    from hourglass_cli.chain.events import decode_logs
    from hourglass_cli.chain.structs import operator_set

    sender = net.accounts.app.sender(net.w3)
    params = (net.accounts.app.address, operator_set(net.core.avs, net.core.executor_operator_set_id),
              encode(["uint256"], [number]))
    pending = sender.send(net.contracts.task_mailbox.functions.createTask(params), gas=1_000_000)
    net.w3.provider.make_request("evm_mine", [])
    receipt = pending.wait(30)
    (event,) = decode_logs(net.contracts.task_mailbox, receipt, "TaskCreated")
    return "0x" + bytes(event["taskHash"]).hex(), int(receipt["blockNumber"])
