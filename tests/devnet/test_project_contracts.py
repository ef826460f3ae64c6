"""The devnet deploys the project's own contracts: its IAVSTaskHook becomes the executor set's hook (and rejects
bad payloads at createTask), other no-argument contracts reach the performers as <NAME_UPPER_SNAKE>."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from hourglass_cli.chain.connection import connect
from hourglass_cli.chain.structs import TaskConfig, operator_set
from hourglass_cli.devnet.deploy import CoreDeployment
from hourglass_cli.devnet.project_contracts import HOOK_FUNCTIONS, classify
from hourglass_cli.errors import DevnetError
from hourglass_cli.scaffold.init import init_project
from tests.devnet._helpers import failed, ok, run, state_of, wait_for

REGISTRY = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;
contract DemoRegistry { uint256 public limit = 7; }
contract NeedsArgs { uint256 public x; constructor(uint256 x_) { x = x_; } }
"""


def _write_out(out: Path, artifacts: dict[str, dict]) -> Path:
    out.mkdir(parents=True)
    for name, art in artifacts.items():
        (out / f"{name}.json").write_text(json.dumps(art))
    (out / "manifest.json").write_text(json.dumps({"artifacts": {n: {} for n in artifacts}}))
    return out


def _hook_abi(ctor: list[str] | None = None) -> list[dict]:
    abi = [{"type": "function", "name": n, "inputs": []} for n in HOOK_FUNCTIONS]
    if ctor is not None:
        abi.append({"type": "constructor", "inputs": [{"type": t, "name": ""} for t in ctor]})
    return abi


def test_classify_finds_the_hook_and_the_no_argument_contracts(tmp_path: Path) -> None:
    out = _write_out(tmp_path / "out", {
        "Hook": {"abi": _hook_abi(["address"]), "bytecode": "0x6000"},
        "Plain": {"abi": [], "bytecode": "0x6001"},
        "WithArgs": {"abi": [{"type": "constructor", "inputs": [{"type": "uint256"}]}], "bytecode": "0x6002"},
        "IThing": {"abi": _hook_abi(), "bytecode": "0x"},  # an interface: nothing to deploy
    })
    found = classify(out)
    assert found.hook is not None and found.hook.name == "Hook" and found.hook.takes_mailbox
    assert [c.name for c in found.others] == ["Plain"]
    assert found.skipped == ("project contract WithArgs not deployed: its constructor takes arguments",)


def _workflow_abi(ctor: list[str]) -> list[dict]:
    from hourglass_cli.devnet.project_contracts import WORKFLOW_FUNCTIONS

    abi = _hook_abi(ctor) + [{"type": "function", "name": n, "inputs": []} for n in WORKFLOW_FUNCTIONS]
    return abi


WORKFLOW_CTOR = ["address", "address", "address", "address", "uint256", "uint256", "bool"]


def test_classify_tells_a_workflow_contract_from_a_hook(tmp_path: Path) -> None:
    """A contract extending WorkflowStateMachine is also an IAVSTaskHook: it is the workflow contract, not a second
    hook, and is constructed with WorkflowStateMachine's arguments."""
    out = _write_out(tmp_path / "out", {
        "Hook": {"abi": _hook_abi(), "bytecode": "0x6000"},
        "MyWorkflow": {"abi": _workflow_abi(WORKFLOW_CTOR), "bytecode": "0x6001"},
    })
    found = classify(out)
    assert found.hook is not None and found.hook.name == "Hook"
    assert found.workflow is not None and found.workflow.name == "MyWorkflow" and found.workflow.workflow
    assert [c.name for c in found.all] == ["Hook", "MyWorkflow"] and found.others == ()


@pytest.mark.parametrize(("artifacts", "message"), [
    ({"W": {"abi": _workflow_abi(["address"]), "bytecode": "0x60"}}, "the workflow contract W has constructor"),
    ({"W": {"abi": _workflow_abi(WORKFLOW_CTOR), "bytecode": "0x60"},
      "V": {"abi": _workflow_abi(WORKFLOW_CTOR), "bytecode": "0x60"}}, "2 workflow contracts"),
])
def test_classify_refuses_workflow_contracts_it_cannot_deploy(tmp_path: Path, artifacts: dict, message: str) -> None:
    with pytest.raises(DevnetError, match=message):
        classify(_write_out(tmp_path / "out", artifacts))


@pytest.mark.parametrize(("artifacts", "message"), [
    ({"A": {"abi": _hook_abi(), "bytecode": "0x60"}, "B": {"abi": _hook_abi(), "bytecode": "0x60"}}, "2 task hooks"),
    ({"H": {"abi": _hook_abi(["uint256"]), "bytecode": "0x60"}}, "constructor arguments the devnet cannot supply"),
])
def test_classify_refuses_what_it_cannot_deploy(tmp_path: Path, artifacts: dict, message: str) -> None:
    with pytest.raises(DevnetError, match=message):
        classify(_write_out(tmp_path / "out", artifacts))


# The template's hook, made to also refuse results above a million (squares of numbers above 1000).
TEMPLATE_RESULT_CHECK = "function validatePreTaskResultSubmission(address, bytes32, bytes memory, bytes memory) " \
                        "external pure {}"
RESULT_CHECK = """error ResultTooLarge(uint256 value);
    function validatePreTaskResultSubmission(address, bytes32, bytes memory, bytes memory result) external pure {
        uint256 value = abi.decode(result, (uint256));
        if (value > 1000000) revert ResultTooLarge(value);
    }"""


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A generated project (not built: the devnet compiles its contracts) with one more contract, its hook refusing
    large results, started."""
    project = init_project("hook-avs", tmp_path_factory.mktemp("projects"))
    (project / "contracts" / "src" / "DemoRegistry.sol").write_text(REGISTRY)
    hook = project / "contracts" / "src" / "HookAvsTaskHook.sol"
    assert TEMPLATE_RESULT_CHECK in hook.read_text(), "the template's hook changed: update RESULT_CHECK"
    hook.write_text(hook.read_text().replace(TEMPLATE_RESULT_CHECK, RESULT_CHECK))
    ok(run(project, "devnet", "start", "--detach", "--chain", "embedded", "--operators", "2"))
    yield project
    run(project, "devnet", "stop", timeout=60)


def test_the_project_hook_is_the_executor_sets_hook(devnet: Path) -> None:
    from eth_abi import decode, encode

    from hourglass_cli.chain import avs as calls
    from hourglass_cli.devnet.accounts import derive_account
    from hourglass_cli.errors import ChainError

    state = state_of(devnet)
    own = state.project_contracts["l1"]
    assert set(own) == {"HookAvsTaskHook", "DemoRegistry"}
    assert any("NeedsArgs" in w for w in state.warnings)
    assert (devnet / "contracts" / "out" / "manifest.json").is_file()  # compiled by the devnet
    deployment = CoreDeployment.from_json(state.deployment or {})
    assert deployment.avs_task_hook == own["HookAvsTaskHook"] == deployment.hook
    # the project has a hook: our workflow contract is deployed and reached by pull (completePhase)
    assert deployment.workflow_contract == "WorkflowStateMachine" and deployment.workflow_path == "pull"
    w3 = connect(state.chains[0].endpoint)
    mailbox = deployment.bind(w3).task_mailbox
    config = TaskConfig.from_tuple(mailbox.functions.getExecutorOperatorSetTaskConfig(
        operator_set(deployment.avs, 1)).call())
    assert config.task_hook == own["HookAvsTaskHook"]

    app = derive_account(2).sender(w3)
    with pytest.raises(ChainError):  # the hook's validatePreTaskCreation: InvalidPayloadLength(1)
        calls.create_task(app, mailbox, deployment.avs, 1, b"\x05", gas=3_000_000)
    task_hash, _ = calls.create_task(app, mailbox, deployment.avs, 1, encode(["uint256"], [9]), gas=3_000_000)
    wait_for(lambda: mailbox.functions.getTaskStatus(task_hash).call() == 2, 60, "TaskVerified")
    assert decode(["uint256"], mailbox.functions.getTaskResult(task_hash).call()) == (81,)


def test_performers_get_the_contract_addresses(devnet: Path) -> None:
    state = state_of(devnet)
    own = state.project_contracts["l1"]
    performers = [pid for r in state.components if r.kind == "executor" for pid, _ in r.children]
    assert performers
    for pid in performers:
        environ = dict(item.split("=", 1) for item in
                       Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0") if "=" in item)
        assert environ["DEMO_REGISTRY"] == own["DemoRegistry"]
        assert environ["HOOK_AVS_TASK_HOOK"] == own["HookAvsTaskHook"]


def test_the_project_hooks_errors_are_named_by_task_submit(devnet: Path) -> None:
    error = failed(run(devnet, "task", "submit", "--signature", "(uint256,uint256)", "--args", "(1,2)", timeout=60))
    assert "TaskMailbox.createTask reverted: HookAvsTaskHook.InvalidPayloadLength(length=64)" in error, error
    assert "unknown error" not in error
    assert "the AVS project's HookAvsTaskHook (contracts/src) rejected it with InvalidPayloadLength" in error


def test_the_project_hooks_errors_are_named_by_the_aggregator(devnet: Path) -> None:
    error = failed(run(devnet, "task", "submit", "--signature", "(uint256)", "--args", "(2000)", "--timeout", "60",
                       timeout=90))
    assert "HookAvsTaskHook.ResultTooLarge(value=4000000)" in error, error
    assert "unknown error" not in error
    assert "submitResult reverted: TaskMailbox.submitResult reverted" not in error, error  # said once

    # a restarted aggregator is a fresh process: it learns the project's errors from its config file
    aggregator = state_of(devnet).record("aggregator")
    assert aggregator is not None and aggregator.pid
    os.kill(aggregator.pid, signal.SIGKILL)

    def restarted() -> bool:
        record = state_of(devnet).record("aggregator")
        return bool(record and record.restarts == 1 and record.status == "healthy" and record.pid != aggregator.pid)

    wait_for(restarted, 60, "the aggregator restarting and serving again")
    error = failed(run(devnet, "task", "submit", "--signature", "(uint256)", "--args", "(3000)", "--timeout", "60",
                       timeout=90))
    assert "HookAvsTaskHook.ResultTooLarge(value=9000000)" in error, error


def test_status_names_the_project_contracts(devnet: Path) -> None:
    own = state_of(devnet).project_contracts["l1"]
    text = " ".join(ok(run(devnet, "devnet", "status", timeout=60)).stdout.split())
    assert f"HookAvsTaskHook (task hook) {own['HookAvsTaskHook']}" in text, text
    assert f"DemoRegistry (project) {own['DemoRegistry']}" in text and "AVSTaskHook 0x" not in text
    assert "WorkflowStateMachine 0x" in text and "workflows pull: the driver calls completePhase" in text


# ------------------------------------------------------------------ the project's own workflow contract (issue #13)

MY_WORKFLOW = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {WorkflowStateMachine} from "@hourglass/workflow/WorkflowStateMachine.sol";

contract MyWorkflow is WorkflowStateMachine {
    constructor(address mailbox_, address avs_, address owner_, address feeCollector_, uint256 creationFee_,
                uint256 executionFee_, bool openRegistration_)
        WorkflowStateMachine(mailbox_, avs_, owner_, feeCollector_, creationFee_, executionFee_, openRegistration_) {}

    function flavour() external pure returns (uint256) {
        return 13;
    }
}
"""


def test_a_project_workflow_contract_is_deployed_instead_of_ours(tmp_path: Path) -> None:
    """contracts/src has a contract extending WorkflowStateMachine and no hook: the devnet deploys it (with our
    constructor's arguments) instead of ours, makes it every executor set's hook (push), and says so."""
    from hourglass_cli.chain.contracts import contract

    project = tmp_path / "wf-avs"
    (project / "contracts" / "src").mkdir(parents=True)
    (project / "contracts" / "src" / "MyWorkflow.sol").write_text(MY_WORKFLOW)
    (project / "hourglass.toml").write_text('[project]\nname = "wf-avs"\n[devnet]\nchain = "embedded"\n'
                                            "executor_sets = [{ id = 1, operators = 1 }, { id = 2, operators = 1, "
                                            'curve = "ecdsa" }]\n')
    start = ok(run(project, "devnet", "start", "--detach"))
    try:
        state = state_of(project)
        own = state.project_contracts["l1"]
        deployment = CoreDeployment.from_json(state.deployment or {})
        assert set(own) == {"MyWorkflow"} and deployment.workflow_state_machine == own["MyWorkflow"]
        assert deployment.workflow_contract == "MyWorkflow" and deployment.workflow_path == "push"
        w3 = connect(state.chains[0].endpoint)
        mine = w3.eth.contract(address=own["MyWorkflow"], abi=json.loads(
            (project / "contracts" / "out" / "MyWorkflow.json").read_text())["abi"])
        assert mine.functions.flavour().call() == 13
        assert mine.functions.mailbox().call() == deployment.task_mailbox and mine.functions.avs().call() == deployment.avs
        assert mine.functions.owner().call() == deployment.avs and mine.functions.openRegistration().call()
        mailbox = contract(w3, "TaskMailbox", deployment.task_mailbox)
        for set_id in (1, 2):
            config = TaskConfig.from_tuple(mailbox.functions.getExecutorOperatorSetTaskConfig(
                operator_set(deployment.avs, set_id)).call())
            assert config.task_hook == own["MyWorkflow"]
        summary = " ".join(start.stdout.split())
        assert f"MyWorkflow (workflows) {own['MyWorkflow']}" in summary and "workflows push" in summary
        assert "WorkflowStateMachine 0x" not in summary  # ours was not deployed
        performers = [pid for r in state.components if r.kind == "executor" for pid, _ in r.children]
        for pid in performers:
            environ = dict(item.split("=", 1) for item in
                           Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0") if "=" in item)
            assert environ["WORKFLOW_STATE_MACHINE"] == environ["MY_WORKFLOW"] == own["MyWorkflow"]
        ok(run(project, "task", "submit", "--operator-set", "2", "--signature", "(uint256)", "--args", "(4)",
               timeout=90))  # an ordinary task passes through the workflow hook
    finally:
        run(project, "devnet", "stop", timeout=60)
