"""The workflow driver inside a real `hourglass aggregator run` process on the embedded devnet: four executors run
the phases (a phase-aware performer), the aggregator certifies them, and its driver creates the CONTINUOUS updates
and pulls the completions (the mailbox's default hook: no push). The process is SIGKILLed at a driver failpoint
and restarted: the phase still gets exactly `requiredUpdates` tasks, one transaction per slot, and completes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_abi import decode, encode
from web3.logs import DISCARD

from hourglass_cli.chain.contracts import deploy as deploy_artifact
from hourglass_cli.ports import free_port
from tests.aggregator.stack import EXECUTORS, Devnet, build_devnet, wait_for
from tests.aggregator.test_restart import CLI, REPO, healthy

pytestmark = pytest.mark.slow

INTERVAL, UPDATES = 2, 3


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    built = build_devnet("embedded", "ecdsa", tmp_path_factory.mktemp("workflow-e2e"))
    try:
        for i in range(1, EXECUTORS + 1):
            built.start_executor(i, "phases")
        yield built
    finally:
        built.close()


def spawn(config: Path, port: int, log: Path, failpoints: str = "") -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOURGLASS_FAILPOINTS": failpoints}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-c", CLI, "run", "--config", str(config)], cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT, env=env)


@pytest.mark.parametrize("point", ["workflow.update.signed", "workflow.complete.sent"])
def test_killed_at_a_driver_failpoint_then_restarted_updates_exactly_once(net: Devnet, tmp_path: Path,
                                                                          point: str) -> None:
    sender = net.accounts.app.sender(net.w3)
    wsm = deploy_artifact(sender, "WorkflowStateMachine", net.core.task_mailbox, net.core.avs,
                          net.accounts.app.address, net.accounts.app.address, 0, 0, True, gas=25_000_000)
    set_id = net.core.executor_operator_set_id
    monitor = ("monitor", 2, 600, [], b"", set_id, encode(["uint32", "uint32"], [INTERVAL, UPDATES]), 0, 0)
    receipt = sender.transact(wsm.functions.registerWorkflow("e2e", [monitor], []), gas=3_000_000)
    (event,) = wsm.events.WorkflowRegistered().process_receipt(receipt, errors=DISCARD)
    port = free_port()
    config = net.aggregator_config(tmp_path / "aggregator", chain={"workflow_state_machine": wsm.address},
                                   metrics_port=port)
    marker = tmp_path / "fired"
    log = tmp_path / "aggregator.log"
    first = spawn(config, port, log, f"{point}={marker}")
    try:
        wait_for(lambda: healthy(port) or first.poll() is not None, 60.0, "the aggregator's health")
        receipt = sender.transact(wsm.functions.executeWorkflow(event["args"]["workflowId"], b"feed"), gas=3_000_000)
        (started,) = wsm.events.WorkflowExecutionStarted().process_receipt(receipt, errors=DISCARD)
        ex = bytes(started["args"]["executionId"])
        wait_for(lambda: first.poll() is not None, 60.0, f"the kill at {point}")
        assert first.returncode == -signal.SIGKILL and marker.exists(), log.read_text()[-3000:]
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    second = spawn(config, port, log)
    try:
        wait_for(lambda: wsm.functions.getExecution(ex).call()[2] != 1, 90.0, "the execution's end")
        assert wsm.functions.getExecution(ex).call()[2] == 2, log.read_text()[-4000:]  # COMPLETED
        state = wsm.functions.getPhaseState(ex, 0).call()
        assert len(state[6]) == UPDATES
        assert decode(["bytes[]"], state[7])[0] == tuple(f"monitor#{u}".encode() for u in range(UPDATES))
        txs = driver_txs(net, wsm, receipt["blockNumber"])
        assert sorted(txs) == [("completePhase", 1)] * UPDATES + [("startContinuousUpdate", 1)] * (UPDATES - 1), txs
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)


def driver_txs(net: Devnet, wsm: object, first_block: int) -> list[tuple[str, int]]:
    """(function, status) of the aggregator account's transactions to the workflow contract."""
    w3 = net.w3
    names = {bytes.fromhex(wsm.encode_abi(f, [b"\0" * 32, 0])[2:10]): f for f in  # type: ignore[attr-defined]
             ("startPhaseTask", "startContinuousUpdate", "completePhase", "checkPhaseTimeout")}
    found = []
    for number in range(first_block, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] == net.accounts.aggregator.address and tx["to"] == wsm.address:  # type: ignore[attr-defined]
                found.append((names.get(bytes(tx["input"])[:4], "?"),
                              int(w3.eth.get_transaction_receipt(tx["hash"])["status"])))
    return found
