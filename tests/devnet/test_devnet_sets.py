"""Issue #13 on a running devnet, as a user starts it: three executor sets (BN254, ECDSA, BN254 at 50 %) from
hourglass.toml on the embedded chain, WorkflowStateMachine deployed and the sets' task hook.

A task for set 2 and one for set 3 are both verified (the aggregator takes each task's set from TaskCreated and
asks only that set's executors); `devnet status --json` and the summary name the workflow contract and every set;
the aggregator's config names it per chain; and a one-phase workflow on set 2 completes by the push path, its
result being what the performer read from WORKFLOW_STATE_MACHINE.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.devnet._helpers import ok, run, state_of, status_json, wait_for

pytestmark = pytest.mark.slow

SETS = [(1, 1, "bn254", None), (2, 2, "ecdsa", None), (3, 1, "bn254", 5000)]
PERFORMER = '''
import os

from hourglass_cli.performer.examples.square import SquarePerformer


class PhasePerformer(SquarePerformer):
    """Squares numbers; a workflow phase's result is the workflow contract's address from the environment."""

    def handle_phase(self, request):
        return os.environ["WORKFLOW_STATE_MACHINE"].encode()
'''


@dataclass
class Running:
    project: Path
    start_stdout: str


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    project = tmp_path_factory.mktemp("sets-avs")
    entries = ", ".join("{ id = %d, operators = %d, curve = \"%s\"%s }" % (i, n, c, f", threshold = {t}" if t else "")
                        for i, n, c, t in SETS)
    command = json.dumps([sys.executable, "-m", "hourglass_cli.performer", "phase_performer:PhasePerformer"])
    (project / "hourglass.toml").write_text(f'[project]\nname = "sets-avs"\n\n[devnet]\nchain = "embedded"\n'
                                            f"executor_sets = [{entries}]\n\n[performer]\ncommand = {command}\n")
    (project / "phase_performer.py").write_text(PERFORMER)
    result = ok(run(project, "devnet", "start", "--detach"))
    try:
        yield Running(project, result.stdout)
    finally:
        run(project, "devnet", "stop", timeout=60)


def _submit(devnet: Running, set_id: int, number: int) -> dict:
    out = ok(run(devnet.project, "task", "submit", "--operator-set", str(set_id), "--signature", "(uint256)",
                 "--args", f"({number})", "--result-abi", "(uint256)", "--json", timeout=90)).stdout
    return json.loads(out)


def test_tasks_of_set_2_and_set_3_are_both_verified(devnet: Running) -> None:
    from hourglass_cli.chain.connection import connect
    from hourglass_cli.devnet.deploy import CoreDeployment

    state = state_of(devnet.project)
    mailbox = CoreDeployment.from_json(state.deployment or {}).bind(connect(state.chains[0].endpoint)).task_mailbox
    for set_id, number, signers in ((2, 6, 2), (3, 7, 1)):
        doc = _submit(devnet, set_id, number)
        assert doc["outcome"] == "verified" and doc["status"] == "VERIFIED", doc
        assert doc["responses"]["ok"] == signers, doc  # only that set's executors were asked
        task = bytes.fromhex(doc["task_hash"][2:])
        assert mailbox.functions.getTaskInfo(task).call()[5] == set_id  # executorOperatorSetId
        from eth_abi import decode

        assert decode(["uint256"], mailbox.functions.getTaskResult(task).call()) == (number**2,)


def test_status_json_lists_the_workflow_contract_and_every_set(devnet: Running) -> None:
    doc = status_json(devnet.project)
    assert doc["running"] and doc["healthy"], doc["components"]
    deployment = doc["deployment"]
    wsm = deployment["workflow_state_machine"]
    assert wsm.startswith("0x") and len(wsm) == 42 and deployment["workflow_path"] == "push"
    assert deployment["workflow_contract"] == "WorkflowStateMachine" and deployment["task_hook"] == wsm
    assert deployment["executor_sets"] == [{"id": i, "curve": c} for i, _, c, _ in SETS]
    executors = [c["name"] for c in doc["components"] if c["kind"] == "executor"]
    assert executors == [f"executor-{i}" for i in range(1, 5)]
    sets = [op["operator_set_id"] for op in doc["operators"] if op["role"] == "executor"]
    assert sets == [1, 2, 2, 3]
    assert {k: v["bips"] for k, v in doc["task_configs"].items()} == {"1": 6667, "2": 6667, "3": 5000}
    assert all(v["taskHook"] == wsm for v in doc["task_configs"].values())
    table = " ".join(ok(run(devnet.project, "devnet", "status", timeout=30)).stdout.split())
    assert f"WorkflowStateMachine {wsm}" in table and "workflows push" in table
    assert "executor set 2 2 operators, ecdsa" in table and "executor set 3 1 operator, bn254, threshold 50%" in table
    summary = " ".join(devnet.start_stdout.split())
    assert f"WorkflowStateMachine {wsm}" in summary and "workflows push: the executor sets' task hook" in summary
    assert "aggregator set 0, bn254" in summary and "executor set 2 2 operators, ecdsa, threshold 66.67%" in summary


def test_the_aggregator_config_names_the_workflow_contract(devnet: Running) -> None:
    state = state_of(devnet.project)
    aggregator = next(c for c in state.components if c.kind == "aggregator")
    config = tomllib.loads(Path(aggregator.config).read_text())
    assert [c["workflow_state_machine"] for c in config["chains"]] == [(state.deployment or {})["workflow_state_machine"]]
    for record in state.components:
        if record.kind == "executor":
            executor = tomllib.loads(Path(record.config).read_text())
            assert executor["contracts"]["workflow_state_machine"] == config["chains"][0]["workflow_state_machine"]


def test_a_workflow_phase_on_set_2_completes_by_push(devnet: Running) -> None:
    """executeWorkflow creates the phase's task on set 2; the aggregator gets it certified; the mailbox's
    submitResult calls the workflow contract as the set's hook, which completes the phase and the execution."""
    from web3.logs import DISCARD

    from hourglass_cli.chain.connection import connect
    from hourglass_cli.chain.contracts import contract
    from hourglass_cli.devnet.accounts import derive_account

    state = state_of(devnet.project)
    w3 = connect(state.chains[0].endpoint)
    address = (state.deployment or {})["workflow_state_machine"]
    wsm = contract(w3, "WorkflowStateMachine", address)
    app = derive_account(2).sender(w3)
    phase = ("sign", 0, 600, [], b"", 2, b"", 0, 0)  # IMMEDIATE on set 2
    receipt = app.send(wsm.functions.registerWorkflow("devnet-wf", [phase], []), gas=3_000_000).wait()
    (registered,) = wsm.events.WorkflowRegistered().process_receipt(receipt, errors=DISCARD)
    receipt = app.send(wsm.functions.executeWorkflow(registered["args"]["workflowId"], b"input"),
                       gas=5_000_000).wait()
    (started,) = wsm.events.WorkflowExecutionStarted().process_receipt(receipt, errors=DISCARD)
    execution = started["args"]["executionId"]
    completed = 2  # ExecutionStatus.COMPLETED
    wait_for(lambda: wsm.functions.getExecution(execution).call()[2] == completed, 60, "the execution completing")
    assert wsm.functions.getPhaseStatuses(execution).call() == [2]  # PhaseStatus.COMPLETED
    assert bytes(wsm.functions.getPhaseResult(execution, 0).call()) == address.encode()


def test_task_list_counts_each_tasks_own_set(devnet: Running) -> None:
    """k/n in `task list --json`: n is the executors of the task's own set (it counted every executor)."""
    import json

    for set_id, number in ((2, 4), (3, 5)):
        _submit(devnet, set_id, number)
    rows = json.loads(ok(run(devnet.project, "task", "list", "--json")).stdout)
    totals = {row["responses"]["total"] for row in rows}
    assert totals <= {1, 2} and 2 in totals and 1 in totals, rows  # set 2 has 2 executors, sets 1 and 3 one each
