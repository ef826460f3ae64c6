"""Issue #13 without a chain: the workflow contract's address reaches the executors' config, the performer's
environment (WORKFLOW_STATE_MACHINE, as TASK_MAILBOX does) and the devnet's summary and status rows."""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import SimpleNamespace

from hourglass_cli.devnet.deploy import CoreDeployment

A = "0x" + "11" * 20
WSM = "0x" + "77" * 20
HOOK = "0x" + "88" * 20


def deployment(**changes: object) -> CoreDeployment:
    values = dict(chain_id=31337, deployer=A, avs=A, key_registrar=A, operator_table_updater=A,
                  bn254_certificate_verifier=A, ecdsa_certificate_verifier=A, task_mailbox=A, task_avs_registrar=A,
                  avs_task_hook=HOOK, curve="bn254", executor_sets=((1, "bn254"), (2, "ecdsa")),
                  workflow_state_machine=WSM, workflow_contract="WorkflowStateMachine", task_hook=WSM)
    values.update(changes)
    return CoreDeployment(**values)  # type: ignore[arg-type]


def test_push_or_pull_follows_the_configured_hook() -> None:
    assert deployment().workflow_path == "push" and deployment().hook == WSM
    assert deployment(task_hook=HOOK).workflow_path == "pull"
    assert deployment(workflow_state_machine="", task_hook="").workflow_path == ""
    assert deployment().curve_of(2).label == "ecdsa" and deployment().curve_of(0).label == "bn254"
    old = {k: v for k, v in deployment().to_json().items()
           if k not in ("executor_sets", "workflow_state_machine", "workflow_contract", "task_hook", "workflow_path")}
    legacy = CoreDeployment.from_json(old)  # a state.json written before issue #13
    assert legacy.sets == ((1, "bn254"),) and legacy.hook == HOOK and legacy.workflow_path == ""


def test_executors_give_their_performer_the_workflow_contract(tmp_path: Path) -> None:
    from hourglass_cli.devnet.options import default_performer_command, executor_config
    from hourglass_cli.executor.config import parse_executor_config
    from hourglass_cli.executor.server import runtime_env

    operator = SimpleNamespace(address=A, curve="ecdsa", keystore=str(tmp_path / "k.json"))
    text = executor_config(operator=operator, deployment=deployment(), rpc_url="http://127.0.0.1:8545",
                           l2_rpc_url="http://127.0.0.1:8545", port=9001,
                           performer={"runtime": "process", "command": default_performer_command()},
                           performer_port=0, log_dir=tmp_path, task_timeout=30.0)
    config = parse_executor_config(tomllib.loads(text))
    assert config.contracts.workflow_state_machine == WSM
    env = runtime_env(config, 1234).env
    assert env["WORKFLOW_STATE_MACHINE"] == WSM and env["TASK_MAILBOX"] == A
    without = executor_config(operator=operator, deployment=deployment(workflow_state_machine=""),
                              rpc_url="http://127.0.0.1:8545", l2_rpc_url="http://127.0.0.1:8545", port=9001,
                              performer={"runtime": "process", "command": ["x"]}, performer_port=0,
                              log_dir=tmp_path, task_timeout=30.0)
    assert "WORKFLOW_STATE_MACHINE" not in runtime_env(parse_executor_config(tomllib.loads(without)), 1).env


def test_summary_rows_name_the_workflow_contract_its_path_and_every_set() -> None:
    from hourglass_cli.cli._devnet_view import contract_rows, set_rows, workflow_row

    doc = deployment().to_json()
    assert ("WorkflowStateMachine", WSM) in contract_rows(doc)
    assert workflow_row(doc) == [("workflows", "push: the executor sets' task hook")]
    pulled = deployment(task_hook=HOOK).to_json()
    assert workflow_row(pulled) == [("workflows", "pull: the driver calls completePhase")]
    # a project's subclass is named as the project's, in the workflow contract's row
    mine = deployment(workflow_contract="MyWorkflow").to_json()
    assert ("MyWorkflow (workflows)", WSM) in contract_rows(mine, {"MyWorkflow": WSM})
    operators = {"operators": [{"role": "executor", "operator_set_id": 1}] * 2 + [{"role": "executor",
                                                                                  "operator_set_id": 2}] * 3,
                 "taskConfigs": {"1": {"bips": 6667}, "2": {"bips": 5000}}}
    assert set_rows(doc, operators) == [("executor set 1", "2 operators, bn254, threshold 66.67%"),
                                        ("executor set 2", "3 operators, ecdsa, threshold 50%")]
    assert workflow_row(deployment(workflow_state_machine="").to_json()) == []
