"""Workflows end to end through the CLI, as a user runs them, on the embedded chain and on anvil (issue #13).

`avs init` → `devnet start --detach` → `workflow register workflows/price-oracle.toml` (the template's example)
→ `workflow start price-oracle --input <5200> --wait`: three CONTINUOUS updates, the COORDINATION median, the
CONDITIONAL update opened by the agreed price (the driver's triggerFromTask), the AGGREGATION summary — every
result checked. Then: a conditional phase whose condition is false stays waiting and a later true trigger
completes it; a phase that times out fails the execution with the phase named; a kill -9 of the aggregator
during a CONTINUOUS phase still yields exactly `updates` updates and a completed execution.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_abi import decode

from tests.devnet._helpers import failed, ok, run, state_of, wait_for

pytestmark = pytest.mark.slow

TIMEOUT_WORKFLOW = '''name = "too-slow"
[[phase]]
name = "gate"
type = "conditional"
condition = { none = true }
timeout = "3s"
'''


@dataclass
class Devnet:
    backend: str
    project: Path


def price(n: int) -> str:
    return "0x" + n.to_bytes(32, "big").hex()


@pytest.fixture(scope="module", params=["embedded", "anvil"])
def devnet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    folder = tmp_path_factory.mktemp(f"workflows-{request.param}")
    ok(run(folder, "avs", "init", "oracle-avs"))
    project = folder / "oracle-avs"
    (project / "workflows" / "too-slow.toml").write_text(TIMEOUT_WORKFLOW)
    ok(run(project, "devnet", "start", "--detach", "--chain", request.param))
    try:
        ok(run(project, "workflow", "register", "workflows/price-oracle.toml"))
        ok(run(project, "workflow", "register", "workflows/too-slow.toml"))
        yield Devnet(request.param, project)
    finally:
        ok(run(project, "devnet", "stop", timeout=120))


def start(devnet: Devnet, *args: str, code: int = 0) -> dict:
    result = run(devnet.project, "workflow", "start", *args, "--json", timeout=300)
    assert result.returncode == code, f"{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


def status(devnet: Devnet, execution: str) -> dict:
    result = run(devnet.project, "workflow", "status", execution, "--json")
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_the_example_workflow_completes_with_the_right_results(devnet: Devnet) -> None:
    doc = start(devnet, "price-oracle", "--input", price(5200), "--wait", "--timeout", "240")
    assert doc["status"] == "COMPLETED", doc
    monitor, agree, update, summary = doc["phases"]
    assert monitor["updates"] == 3 and len(monitor["task_hashes"]) == 3
    (updates,) = decode(["bytes[]"], bytes.fromhex(monitor["result"][2:]))
    assert [decode(["uint256"], u)[0] for u in updates] == [5200, 5210, 5220]
    assert decode(["uint256"], bytes.fromhex(agree["result"][2:])) == (5210,)
    assert decode(["uint256", "string"], bytes.fromhex(update["result"][2:]))[0] == 5210
    (combined,) = decode(["bytes[]"], bytes.fromhex(summary["result"][2:]))
    assert [bytes.fromhex(p["result"][2:]) for p in (monitor, agree, update)] == list(combined)
    story = ok(run(devnet.project, "workflow", "logs", doc["execution_id"])).stdout
    assert "PhaseCompleted" in story and "WorkflowCompleted" in story


def test_a_false_condition_waits_and_a_true_trigger_completes_it(devnet: Devnet) -> None:
    doc = start(devnet, "price-oracle", "--input", price(4000))
    execution = doc["execution_id"]
    wait_for(lambda: status(devnet, execution)["phases"][2]["status"] == "WAITING"
             and status(devnet, execution)["phases"][1]["status"] == "COMPLETED", 120, "agree done, update waiting")
    # 4010 is not above 5000: the driver's trigger from the agreed result was refused, the phase keeps waiting
    refused = run(devnet.project, "workflow", "trigger", execution, "update", "--price", "4999")
    assert refused.returncode == 1 and "ConditionNotMet" in refused.stderr, refused.stderr
    ok(run(devnet.project, "workflow", "trigger", execution, "update", "--price", "5300"))
    final = wait_for(lambda: (d := status(devnet, execution))["status"] == "COMPLETED" and d, 120, "completed")
    assert decode(["uint256", "string"], bytes.fromhex(final["phases"][2]["result"][2:]))[0] == 5300


def test_a_phase_that_times_out_fails_the_execution_naming_it(devnet: Devnet) -> None:
    result = run(devnet.project, "workflow", "start", "too-slow", "--wait", "--timeout", "120")
    error = failed(result)
    assert "phase 0 ('gate') timed out" in result.stdout + error, result.stdout + error


def test_a_killed_aggregator_still_gives_exactly_the_required_updates(devnet: Devnet) -> None:
    doc = start(devnet, "price-oracle", "--input", price(5200))
    execution = doc["execution_id"]
    wait_for(lambda: status(devnet, execution)["phases"][0]["task_hashes"], 60, "the first update")
    (aggregator,) = [c for c in state_of(devnet.project).components if c.kind == "aggregator"]
    os.kill(aggregator.pid, signal.SIGKILL)  # the supervisor restarts it; its driver resumes from the store
    final = wait_for(lambda: (d := status(devnet, execution))["status"] in ("COMPLETED", "FAILED") and d, 240,
                     "the execution's end")
    assert final["status"] == "COMPLETED", final
    assert final["phases"][0]["updates"] == 3 and len(final["phases"][0]["task_hashes"]) == 3, final["phases"][0]


def test_devkits_spellings_answer_too(devnet: Devnet) -> None:
    started = json.loads(ok(run(devnet.project, "avs", "call", "--workflow", "start", "price-oracle", "--input",
                                price(5200), "--json")).stdout)
    execution = started["execution_id"]
    doc = json.loads(ok(run(devnet.project, "avs", "status", "--execution-id", execution, "--json")).stdout)
    assert doc["execution_id"] == execution and doc["workflow"] == "price-oracle"
    rows = json.loads(ok(run(devnet.project, "avs", "debug", "--timeout-analysis", "--execution-id", execution,
                             "--json")).stdout)
    assert rows and all(r["execution"] == execution and r["timeout"] > 0 for r in rows), rows
    wait_for(lambda: status(devnet, execution)["status"] == "COMPLETED", 240, "the execution's end")
    story = ok(run(devnet.project, "avs", "logs", "--workflow-id", execution, "--phase", "0")).stdout
    assert "PhaseStarted" in story and "monitor" in story
    assert "aggregator |" in story or "executor-" in story, story  # the devnet's log lines for its tasks


def test_bad_input_is_named_and_nothing_stops(devnet: Devnet) -> None:
    execution = start(devnet, "price-oracle", "--input", price(4000))["execution_id"]
    # a trigger for a phase that is not waiting
    early = run(devnet.project, "workflow", "trigger", execution, "update", "--price", "9000")  # still pending
    assert early.returncode == 1 and "InvalidPhaseStatus" in early.stderr, early.stderr
    wrong = run(devnet.project, "workflow", "trigger", execution, "monitor", "--price", "1")  # not conditional
    assert wrong.returncode == 1 and "WrongPhaseType(phase=0" in wrong.stderr, wrong.stderr
    # a trigger from an address that is not authorized
    env = {"STRANGER_KEY": "0x" + "5c" * 32}
    rpc = state_of(devnet.project).chains[0].endpoint
    address = json.loads(ok(run(devnet.project, "devnet", "status", "--json")).stdout)["deployment"][
        "workflow_state_machine"]
    wait_for(lambda: status(devnet, execution)["phases"][2]["status"] == "WAITING", 120, "update waiting")
    stranger = run(devnet.project, "workflow", "trigger", execution, "2", "--price", "9000", "--rpc", rpc,
                   "--workflow-contract", address, "--key-env", "STRANGER_KEY", env=env)
    assert stranger.returncode == 1 and "NotAuthorizedTrigger" in stranger.stderr, stranger.stderr
    # a workflow id that does not exist
    missing = run(devnet.project, "workflow", "start", "0x" + "77" * 32)
    assert missing.returncode == 1 and "no workflow 0x7777" in missing.stderr, missing.stderr
    # the aggregator (and its driver) kept running: a fresh execution still completes
    assert start(devnet, "price-oracle", "--input", price(5200), "--wait", "--timeout", "240")["status"] == "COMPLETED"


def test_the_example_across_three_operator_sets(tmp_path: Path) -> None:
    """The example with its phases on three executor sets ([devnet] executor_sets): monitor on set 1 (BN254),
    agree on set 2 (ECDSA), update on set 3 (BN254) — each phase's tasks certified by its own set."""
    ok(run(tmp_path, "avs", "init", "sets-avs"))
    project = tmp_path / "sets-avs"
    config = project / "hourglass.toml"
    config.write_text(config.read_text().replace(
        "[devnet]\n", '[devnet]\nexecutor_sets = [{ id = 1, operators = 3 }, { id = 2, operators = 3, curve = "ecdsa" },'
                      " { id = 3, operators = 2 }]\n", 1).replace("\noperators = 4\n", "\n"))
    example = project / "workflows" / "price-oracle.toml"
    text = example.read_text()
    for name, set_id in (("agree", 2), ("update", 3)):
        text = text.replace(f'name = "{name}"\n', f'name = "{name}"\noperator_set = {set_id}\n')
    example.write_text(text)
    ok(run(project, "devnet", "start", "--detach", "--chain", "embedded"))
    try:
        ok(run(project, "workflow", "register", "workflows/price-oracle.toml"))
        doc = json.loads(ok(run(project, "workflow", "start", "price-oracle", "--input", price(5200), "--wait",
                                "--json", timeout=300)).stdout)
        assert doc["status"] == "COMPLETED", doc
        assert [p["operator_set"] for p in doc["phases"]] == [1, 2, 3, 0]
        assert decode(["uint256"], bytes.fromhex(doc["phases"][1]["result"][2:])) == (5210,)
        status = json.loads(ok(run(project, "devnet", "status", "--json")).stdout)
        answered = {p["name"]: p["answered"] for p in status["operator_performance"]}
        assert len(answered) == 8 and all(n > 0 for n in answered.values()), answered  # every set's executors
    finally:
        ok(run(project, "devnet", "stop", timeout=120))
