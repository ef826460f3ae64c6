"""WorkflowStateMachine: each phase type end to end with real verified tasks, push and pull completion."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_abi import decode, encode
from eth_utils import keccak

from tests.contracts import stack as s
from tests.contracts import workflow_env as w
from tests.contracts.reverts import assert_reverts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base() -> w.Env:
    return w.build_env()


@pytest.fixture
def env(base: w.Env) -> Iterator[w.Env]:
    yield from w.rolled_back(base)


def test_immediate_phase_pull_path_and_envelope(env: w.Env) -> None:
    wf = env.register([w.phase("fetch price")])
    ex, receipt = env.execute(wf, b"\x01\x02")
    (started,) = env.events(receipt, "PhaseStarted")
    task = env.task(ex, 0)
    assert started["taskHash"] == task and started["phaseType"] == w.IMMEDIATE
    assert env.state(ex, 0)["status"] == w.ACTIVE
    assert env.mailbox.functions.getTaskInfo(task).call()[0] == env.wsm.address  # the contract created it
    assert env.envelope(task) == {
        "hourglass_workflow": 1, "workflow": "0x" + wf.hex(), "execution": "0x" + ex.hex(), "phase": 0,
        "name": "fetch price", "type": "IMMEDIATE", "update": 0, "input": "0x0102", "dependencies": [],
    }
    assert env.wsm.functions.getTaskPhase(task).call() == [True, ex, 0, 0]

    # Unverified: completePhase refuses (TaskNotVerified, status CREATED).
    assert assert_reverts(env.wsm.functions.completePhase(ex, 0), env.stranger, "TaskNotVerified(bytes32,uint8)",
                          "bytes32", "uint8") == (task, w.TASK_CREATED)
    env.certify(task, b"42")
    assert env.state(ex, 0)["status"] == w.ACTIVE  # default hook: nothing pushed
    receipt = env.send(env.wsm.functions.completePhase(ex, 0), env.stranger)
    assert env.events(receipt, "PhaseCompleted")[0]["result"] == b"42"
    assert len(env.events(receipt, "WorkflowCompleted")) == 1
    assert env.state(ex, 0)["result"] == b"42" and env.execution(ex)["status"] == w.EX_COMPLETED
    assert_reverts(env.wsm.functions.completePhase(ex, 0), env.stranger, "ExecutionNotRunning(bytes32,uint8)")


def test_push_path_completes_in_submit_result_and_defers_the_next_task(env: w.Env) -> None:
    env.use_push(s.ECDSA_SET)
    wf = env.register([w.phase("a"), w.phase("b", deps=(0,))])
    ex, _ = env.execute(wf)
    receipt = env.certify(env.task(ex, 0), b"ra")
    assert [e["phaseIndex"] for e in env.events(receipt, "PhaseCompleted")] == [0]
    # The mailbox is nonReentrant: phase 1 starts, but its task comes in a later transaction.
    assert env.events(receipt, "PhaseStarted")[0]["taskHash"] == b"\x00" * 32
    assert len(env.events(receipt, "PhaseTaskDeferred")) == 1
    assert env.statuses(ex) == [w.COMPLETED, w.ACTIVE]
    assert env.wsm.functions.getPhaseTaskHashes(ex, 1).call() == []
    assert_reverts(env.wsm.functions.completePhase(ex, 1), env.stranger, "PhaseHasNoTask(uint32)")

    env.send(env.wsm.functions.startPhaseTask(ex, 1), env.stranger)
    assert_reverts(env.wsm.functions.startPhaseTask(ex, 1), env.stranger, "PhaseTaskExists(uint32)")
    task = env.task(ex, 1)
    assert env.envelope(task)["dependencies"] == ["0x" + b"ra".hex()]
    receipt = env.certify(task, b"rb")
    assert len(env.events(receipt, "WorkflowCompleted")) == 1
    assert env.execution(ex)["status"] == w.EX_COMPLETED


def test_push_of_a_foreign_task_passes_through(env: w.Env) -> None:
    """A task someone else created with a copy of the phase's envelope cannot complete the phase."""
    env.use_push(s.ECDSA_SET)
    wf = env.register([w.phase("a")])
    ex, _ = env.execute(wf)
    own = env.task(ex, 0)
    forged = s.create_task(env.stack, s.ECDSA_SET, env.mailbox.functions.getTaskInfo(own).call()[w.PAYLOAD_INDEX])
    receipt = env.certify(forged, b"forged")  # the hook does not revert for unknown tasks
    assert env.events(receipt, "PhaseCompleted") == [] and env.events(receipt, "PhasePushFailed") == []
    assert env.state(ex, 0)["status"] == w.ACTIVE
    assert_reverts(env.wsm.functions.completePhase(ex, 0), env.stranger, "TaskNotVerified(bytes32,uint8)")
    env.certify(own, b"real")
    assert env.state(ex, 0)["result"] == b"real"


def test_hook_only_answers_the_mailbox(env: w.Env) -> None:
    assert_reverts(env.wsm.functions.handlePostTaskResultSubmission(env.stranger, b"\x01" * 32), env.stranger,
                   "OnlyMailbox()")
    assert_reverts(env.wsm.functions.pushTaskResult(b"\x01" * 32), env.stranger, "OnlySelf()")
    assert env.wsm.functions.calculateTaskFee((env.stranger, env.stack.op_set(2), b"x")).call() == 0


def test_fan_out_fan_in_and_aggregation_without_a_task(env: w.Env) -> None:
    wf = env.register([
        w.phase("root"), w.phase("left", deps=(0,)), w.phase("right", deps=(0,)),
        w.phase("join", w.AGGREGATION, deps=(1, 2), set_id=0),
    ])
    ex, _ = env.execute(wf)
    env.certify(env.task(ex, 0), b"r0")
    receipt = env.send(env.wsm.functions.completePhase(ex, 0), env.stranger)
    assert sorted(e["phaseIndex"] for e in env.events(receipt, "PhaseStarted")) == [1, 2]  # fan-out
    env.certify(env.task(ex, 2), b"r2")
    env.send(env.wsm.functions.completePhase(ex, 2), env.stranger)
    assert env.statuses(ex) == [w.COMPLETED, w.ACTIVE, w.COMPLETED, w.PENDING]  # fan-in waits for both
    env.certify(env.task(ex, 1), b"r1")
    receipt = env.send(env.wsm.functions.completePhase(ex, 1), env.stranger)
    assert env.statuses(ex) == [w.COMPLETED] * 4
    assert env.wsm.functions.getPhaseTaskHashes(ex, 3).call() == []
    assert decode(["bytes[]"], env.state(ex, 3)["result"])[0] == (b"r1", b"r2")
    assert len(env.events(receipt, "WorkflowCompleted")) == 1


def test_aggregation_with_an_operator_set_runs_a_reducer_task(env: w.Env) -> None:
    wf = env.register([w.phase("a"), w.phase("b"), w.phase("reduce", w.AGGREGATION, deps=(0, 1))])
    ex, _ = env.execute(wf)
    for i, result in enumerate((b"x", b"y")):
        env.certify(env.task(ex, i), result)
        env.send(env.wsm.functions.completePhase(ex, i), env.stranger)
    envelope = env.envelope(env.task(ex, 2))
    assert envelope["type"] == "AGGREGATION"
    assert envelope["input"] == "0x" + encode(["bytes[]"], [[b"x", b"y"]]).hex()
    assert envelope["dependencies"] == ["0x78", "0x79"]
    env.certify(env.task(ex, 2), b"xy")
    env.send(env.wsm.functions.completePhase(ex, 2), env.stranger)
    assert env.state(ex, 2)["result"] == b"xy" and env.execution(ex)["status"] == w.EX_COMPLETED


def test_continuous_one_task_per_slot_then_the_list_of_results(env: w.Env) -> None:
    wf = env.register([w.phase("monitor", w.CONTINUOUS, metadata=w.continuous(30, 3), timeout=3600)])
    ex, _ = env.execute(wf, b"feed")
    first = env.task(ex, 0)
    assert env.envelope(first)["type"] == "CONTINUOUS" and env.envelope(first)["update"] == 0
    # Not due yet, whoever asks.
    assert_reverts(env.wsm.functions.startContinuousUpdate(ex, 0), env.stranger, "UpdateNotDue(uint32,uint256)")
    env.certify(first, b"u0")
    receipt = env.send(env.wsm.functions.completePhase(ex, 0), env.stranger)
    assert env.events(receipt, "PhaseUpdateRecorded")[0]["verifiedUpdates"] == 1
    assert env.state(ex, 0)["status"] == w.ACTIVE
    assert_reverts(env.wsm.functions.completePhase(ex, 0), env.stranger, "NothingNewVerified(uint32)")

    for update in (1, 2):
        env.chain.advance(30)
        env.send(env.wsm.functions.startContinuousUpdate(ex, 0), env.stranger)
        again = "UpdateNotDue(uint32,uint256)" if update < 2 else "AllUpdatesCreated(uint32,uint32)"
        assert_reverts(env.wsm.functions.startContinuousUpdate(ex, 0), env.trigger, again)
        assert env.envelope(env.task(ex, 0, update))["update"] == update
    env.chain.advance(30)
    assert_reverts(env.wsm.functions.startContinuousUpdate(ex, 0), env.stranger, "AllUpdatesCreated(uint32,uint32)")
    assert len(env.wsm.functions.getPhaseTaskHashes(ex, 0).call()) == 3  # one task per slot
    # Updates may verify in any order; the result keeps update order.
    env.certify(env.task(ex, 0, 2), b"u2")
    env.certify(env.task(ex, 0, 1), b"u1")
    receipt = env.send(env.wsm.functions.completePhase(ex, 0), env.stranger)
    assert len(env.events(receipt, "PhaseUpdateRecorded")) == 2
    assert decode(["bytes[]"], env.state(ex, 0)["result"])[0] == (b"u0", b"u1", b"u2")
    assert env.state(ex, 0)["verifiedUpdates"] == 3 and env.execution(ex)["status"] == w.EX_COMPLETED


def test_continuous_push_path_records_each_update(env: w.Env) -> None:
    env.use_push(s.ECDSA_SET)
    wf = env.register([w.phase("monitor", w.CONTINUOUS, metadata=w.continuous(10, 2))])
    ex, _ = env.execute(wf)
    receipt = env.certify(env.task(ex, 0), b"u0")
    assert env.events(receipt, "PhaseUpdateRecorded")[0]["update"] == 0
    env.chain.advance(10)
    env.send(env.wsm.functions.startContinuousUpdate(ex, 0), env.stranger)
    receipt = env.certify(env.task(ex, 0, 1), b"u1")
    assert len(env.events(receipt, "PhaseCompleted")) == 1
    assert decode(["bytes[]"], env.state(ex, 0)["result"])[0] == (b"u0", b"u1")


def test_conditional_waits_then_runs_with_the_trigger_data(env: w.Env) -> None:
    cond = w.condition(w.C_PRICE, ["uint256", "bool"], [5000, True])
    wf = env.register([w.phase("gate", w.CONDITIONAL, condition=cond)])
    ex, receipt = env.execute(wf)
    assert env.events(receipt, "PhaseStarted")[0]["taskHash"] == b"\x00" * 32
    assert env.state(ex, 0)["status"] == w.WAITING
    price = encode(["uint256"], [5001])
    receipt = env.send(env.wsm.functions.triggerConditionalPhase(ex, 0, price), env.trigger)
    (activated,) = env.events(receipt, "ConditionalTriggerActivated")
    assert activated["data"] == price and activated["caller"] == env.trigger
    task = env.task(ex, 0)
    assert env.envelope(task)["input"] == "0x" + price.hex() and env.envelope(task)["type"] == "CONDITIONAL"
    env.certify(task, b"acted")
    env.send(env.wsm.functions.completePhase(ex, 0), env.stranger)
    assert env.execution(ex)["status"] == w.EX_COMPLETED


@pytest.mark.parametrize("curve_set", [s.ECDSA_SET, s.BN254_SET])
def test_coordination_below_and_above_the_threshold(env: w.Env, curve_set: int) -> None:
    # ECDSA 3 x 100: two signers = 6666 bips. BN254 100/100/100/50: all but operator 0 = 250/350 = 7142 bips.
    below, above = ([0, 1], None) if curve_set == s.ECDSA_SET else ([1, 2, 3], [0, 1, 2])
    measured = 6666 if curve_set == s.ECDSA_SET else 7142
    wf = env.register([w.phase("agree", w.COORDINATION, set_id=curve_set, threshold=7500)])
    ex, _ = env.execute(wf)
    env.certify(env.task(ex, 0), b"r", below)  # the mailbox takes it (50 %), the phase does not
    receipt = env.send(env.wsm.functions.completePhase(ex, 0), env.stranger)
    (failed,) = env.events(receipt, "PhaseFailed")
    selector = keccak(text="ConsensusBelowThreshold(uint32,uint256,uint16)")[:4]
    assert failed["reason"] == selector + encode(["uint32", "uint256", "uint16"], [0, measured, 7500])
    assert env.state(ex, 0)["failure"] == failed["reason"]
    assert env.execution(ex)["status"] == w.EX_FAILED and len(env.events(receipt, "WorkflowFailed")) == 1

    ex2, _ = env.execute(wf)
    env.certify(env.task(ex2, 0), b"r", above)  # 10000 / 8571 bips
    env.send(env.wsm.functions.completePhase(ex2, 0), env.stranger)
    assert env.state(ex2, 0)["status"] == w.COMPLETED and env.execution(ex2)["status"] == w.EX_COMPLETED


def test_bn254_push_path(env: w.Env) -> None:
    env.use_push(s.BN254_SET)
    wf = env.register([w.phase("agree", w.COORDINATION, set_id=s.BN254_SET, threshold=8000)])
    ex, _ = env.execute(wf)
    receipt = env.certify(env.task(ex, 0), b"ok", [0, 1, 2])  # 300 / 350
    assert len(env.events(receipt, "WorkflowCompleted")) == 1
    assert env.state(ex, 0)["result"] == b"ok"
