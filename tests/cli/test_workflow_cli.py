"""`hourglass workflow` as a user runs it (subprocesses) against a real WorkflowStateMachine on anvil: register a
definition file, list, start, status with phases/tasks/results, trigger a conditional phase (a false condition is
refused by name and the phase keeps waiting), cancel; --json everywhere and exit codes scripts can rely on.
The phase tasks are certified for real by the test (the devnet's driver and executors do it in the e2e tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contracts import stack as s
from tests.contracts import workflow_env as w
from tests.contracts.chains import anvil_binary, anvil_chain

pytestmark = pytest.mark.slow

KEY_ENV = "HG_TEST_WORKFLOW_KEY"
DEFINITION = f'''
name = "gated"
authorized_triggers = []

[[phase]]
name = "fetch"
type = "immediate"
timeout = "10m"
operator_set = {s.ECDSA_SET}

[[phase]]
name = "gate"
type = "conditional"
depends_on = ["fetch"]
condition = {{ price_above = 5000 }}
timeout = "10m"
operator_set = {s.ECDSA_SET}
'''


@pytest.fixture(scope="module")
def env() -> Iterator[w.Env]:
    binary = anvil_binary()
    if binary is None:
        pytest.fail("anvil is not installed: `make test` installs it (npm @foundry-rs/anvil)")
    chain = anvil_chain(binary)
    try:
        yield w.build_env(chain)
    finally:
        chain.close()


def hg(env: w.Env, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    url = env.chain.w3.provider.endpoint_uri
    key = env.chain.keys[env.creator]
    extra = os.environ | {KEY_ENV: "0x" + bytes(key).hex(), "COLUMNS": "120", "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "hourglass_cli", "workflow", *args, "--rpc", url,
                           "--workflow-contract", env.wsm.address,
                           *(["--key-env", KEY_ENV] if args[0] in ("register", "start", "trigger", "cancel") else [])],
                          capture_output=True, text=True, timeout=120, env=extra)
    assert done.returncode == code, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def test_register_start_follow_trigger_and_cancel(env: w.Env, tmp_path: Path) -> None:
    path = tmp_path / "gated.toml"
    path.write_text(DEFINITION)
    registered = json.loads(hg(env, "register", str(path), "--json").stdout)
    assert registered["name"] == "gated" and registered["phases"] == 2
    listed = json.loads(hg(env, "list", "--json").stdout)
    assert [x["name"] for x in listed if x["workflow_id"] == registered["workflow_id"]] == ["gated"]

    started = json.loads(hg(env, "start", "gated", "--input", "0x0102", "--json").stdout)
    ex = started["execution_id"]
    doc = json.loads(hg(env, "status", ex, "--json").stdout)
    assert doc["status"] == "RUNNING" and [p["status"] for p in doc["phases"]] == ["ACTIVE", "PENDING"]
    (task,) = doc["phases"][0]["task_hashes"]
    row, pending = json.loads(hg(env, "debug", ex, "--json").stdout)
    assert (row["phase"], row["name"], row["status"], row["timeout"]) == (0, "fetch", "ACTIVE", 600)
    assert row["waits_on"].startswith(f"task {task}") and not row["overdue"]
    assert (pending["name"], pending["waits_on"]) == ("gate", "dependencies 'fetch'")

    env.certify(bytes.fromhex(task[2:]), b"price:6000")
    env.send(env.wsm.functions.completePhase(bytes.fromhex(ex[2:]), 0), env.stranger)  # the driver's pull
    doc = json.loads(hg(env, "status", ex, "--json").stdout)
    assert [p["status"] for p in doc["phases"]] == ["COMPLETED", "WAITING"]
    assert doc["phases"][0]["result"] == "0x" + b"price:6000".hex()

    # A false condition is refused, named, and the phase keeps waiting; a true one opens it.
    refused = hg(env, "trigger", ex, "gate", "--price", "4999", code=1)
    assert "ConditionNotMet" in refused.stderr, refused.stderr
    assert json.loads(hg(env, "status", ex, "--json").stdout)["phases"][1]["status"] == "WAITING"
    hg(env, "trigger", ex, "gate", "--price", "5001")
    doc = json.loads(hg(env, "status", ex, "--json").stdout)
    assert doc["phases"][1]["status"] == "ACTIVE" and len(doc["phases"][1]["task_hashes"]) == 1

    text = hg(env, "status", ex).stdout
    assert "gated" in text and "fetch" in text and "gate" in text and "completed" in text and "active" in text

    story = hg(env, "logs", ex).stdout
    for event in ("WorkflowExecutionStarted", "PhaseStarted", "PhaseCompleted", "ConditionalTriggerActivated"):
        assert event in story, story
    only = [json.loads(line) for line in hg(env, "logs", ex, "--phase", "gate", "--json").stdout.splitlines()]
    assert only and all(e["phase"] in (None, 1) for e in only), only
    assert any(e["event"] == "ConditionalTriggerActivated" for e in only)

    hg(env, "cancel", ex)
    doc = json.loads(hg(env, "status", ex, "--json", code=1).stdout)  # cancelled: exit 1
    assert doc["status"] == "CANCELLED"


def test_bad_input_is_named(env: w.Env, tmp_path: Path) -> None:
    missing = hg(env, "start", "no-such-workflow", code=1)
    assert "no workflow named 'no-such-workflow'" in missing.stderr
    unknown = hg(env, "status", "0x" + "00" * 32, code=1)
    assert "no execution 0x" in unknown.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[phase]]\nname = "a"\ntype = "immediate"\n')
    error = hg(env, "register", str(bad), code=1)
    assert f"{bad}: phase 0 ('a'): timeout is required" in error.stderr
    assert "'0x12' is not an execution id" in hg(env, "status", "0x12", code=2).stderr
