"""WorkflowStateMachine: conditional triggers (six condition types, true and false), triggers from verified
tasks, timeouts, required stake and cancellation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_abi import encode
from eth_utils import keccak

from hourglass_cli.chain.contracts import deploy as deploy_artifact
from hourglass_cli.crypto import ecdsa
from tests.contracts import stack as s
from tests.contracts import workflow_env as w
from tests.contracts.reverts import assert_reverts

pytestmark = pytest.mark.slow

U256 = ["uint256"]
NOT_MET = "ConditionNotMet(uint32,uint8)"


@pytest.fixture(scope="module")
def base() -> w.Env:
    return w.build_env()


@pytest.fixture
def env(base: w.Env) -> Iterator[w.Env]:
    yield from w.rolled_back(base)


def _waiting(env: w.Env, cond: bytes, **kw: object) -> bytes:
    wf = env.register([w.phase("gate", w.CONDITIONAL, condition=cond, **kw)])
    ex, _ = env.execute(wf)
    assert env.state(ex, 0)["status"] == w.WAITING
    return ex


def _refused(env: w.Env, ex: bytes, data: bytes, kind: int) -> None:
    assert assert_reverts(env.wsm.functions.triggerConditionalPhase(ex, 0, data), env.trigger, NOT_MET,
                          "uint32", "uint8") == (0, kind)
    assert env.state(ex, 0)["status"] == w.WAITING  # still waiting, no task


def _opens(env: w.Env, ex: bytes, data: bytes, expected_input: bytes | None = None) -> None:
    env.send(env.wsm.functions.triggerConditionalPhase(ex, 0, data), env.trigger)
    state = env.state(ex, 0)
    assert state["status"] == w.ACTIVE and len(state["taskHashes"]) == 1
    assert state["input"] == (data if expected_input is None else expected_input)


def test_none_condition_opens_on_any_data(env: w.Env) -> None:
    _opens(env, _waiting(env, w.condition(w.C_NONE)), b"anything")


@pytest.mark.parametrize("above, price, met", [
    (True, 5000, True), (True, 4999, False), (False, 5000, True), (False, 5001, False),
])
def test_price_threshold(env: w.Env, above: bool, price: int, met: bool) -> None:
    ex = _waiting(env, w.condition(w.C_PRICE, ["uint256", "bool"], [5000, above]))
    data = encode(U256, [price])
    _opens(env, ex, data) if met else _refused(env, ex, data, w.C_PRICE)


def test_price_threshold_needs_one_word(env: w.Env) -> None:
    ex = _waiting(env, w.condition(w.C_PRICE, ["uint256", "bool"], [5000, True]))
    assert_reverts(env.wsm.functions.triggerConditionalPhase(ex, 0, b"\x01" * 31), env.trigger,
                   "InvalidTriggerData(uint32,uint8)")


def test_time_threshold(env: w.Env) -> None:
    not_before = env.chain.now() + 100
    ex = _waiting(env, w.condition(w.C_TIME, U256, [not_before]), timeout=1000)
    _refused(env, ex, b"", w.C_TIME)
    env.chain.advance(100)
    _opens(env, ex, b"")


def test_data_hash(env: w.Env) -> None:
    ex = _waiting(env, w.condition(w.C_HASH, ["bytes32"], [keccak(b"the document")]))
    _refused(env, ex, b"another document", w.C_HASH)
    _opens(env, ex, b"the document")


@pytest.mark.parametrize("value, met", [(95, True), (105, True), (100, True), (94, False), (106, False)])
def test_oracle_value_within_tolerance(env: w.Env, value: int, met: bool) -> None:
    ex = _waiting(env, w.condition(w.C_ORACLE, ["uint256", "uint256"], [100, 5]))
    data = encode(U256, [value])
    _opens(env, ex, data) if met else _refused(env, ex, data, w.C_ORACLE)


def test_multi_sig_needs_distinct_listed_signers(env: w.Env) -> None:
    keys = [keccak(f"signer-{i}".encode()) for i in range(4)]
    listed = [ecdsa.address_of(k) for k in keys[:3]]
    ex = _waiting(env, w.condition(w.C_MULTISIG, ["address[]", "uint8"], [listed, 2]))
    data = b"release funds"
    digest = env.codec.functions.multiSigDigest(env.wsm.address, ex, 0, keccak(data)).call()
    inner = keccak(encode(["address", "uint256", "bytes32", "uint32", "bytes32"],
                          [env.wsm.address, env.chain.w3.eth.chain_id, ex, 0, keccak(data)]))
    assert digest == keccak(b"\x19Ethereum Signed Message:\n32" + inner)  # the documented EIP-191 digest

    def trigger_data(*signer_keys: bytes, message: bytes = data) -> bytes:
        return encode(["bytes", "bytes[]"], [message, [ecdsa.sign_hash(k, digest) for k in signer_keys]])

    _refused(env, ex, trigger_data(keys[0]), w.C_MULTISIG)  # one of two
    _refused(env, ex, trigger_data(keys[0], keys[0]), w.C_MULTISIG)  # the same signer twice
    _refused(env, ex, trigger_data(keys[0], keys[3]), w.C_MULTISIG)  # an unlisted signer
    _refused(env, ex, trigger_data(keys[0], keys[1], message=b"other data"), w.C_MULTISIG)  # signed other data
    assert_reverts(env.wsm.functions.triggerConditionalPhase(ex, 0, b"\x00" * 40), env.trigger,
                   "InvalidTriggerData(uint32,uint8)")
    _opens(env, ex, trigger_data(keys[2], keys[0]), expected_input=data)  # the task gets the signed data
    assert env.envelope(env.task(ex, 0))["input"] == "0x" + data.hex()


def test_only_trigger_sources_or_the_creator_may_trigger(env: w.Env) -> None:
    ex = _waiting(env, w.condition(w.C_NONE))
    assert_reverts(env.wsm.functions.triggerConditionalPhase(ex, 0, b""), env.stranger,
                   "NotAuthorizedTrigger(address)")
    env.send(env.wsm.functions.triggerConditionalPhase(ex, 0, b""), env.creator)
    assert_reverts(env.wsm.functions.triggerConditionalPhase(ex, 0, b""), env.creator,
                   "InvalidPhaseStatus(uint32,uint8)")
    wf = env.register([w.phase("a")])
    ex2, _ = env.execute(wf)
    assert_reverts(env.wsm.functions.triggerConditionalPhase(ex2, 0, b""), env.creator, "WrongPhaseType(uint32,uint8)")


def test_trigger_from_a_verified_task(env: w.Env) -> None:
    ex = _waiting(env, w.condition(w.C_PRICE, ["uint256", "bool"], [5000, True]))
    low, high = (s.create_task(env.stack, s.ECDSA_SET, b"price?") for _ in range(2))
    assert_reverts(env.wsm.functions.triggerFromTask(ex, 0, low), env.trigger, "TaskNotVerified(bytes32,uint8)")
    env.certify(low, encode(U256, [4000]))
    env.certify(high, encode(U256, [6000]))
    assert_reverts(env.wsm.functions.triggerFromTask(ex, 0, low), env.trigger, NOT_MET)
    assert_reverts(env.wsm.functions.triggerFromTask(ex, 0, high), env.stranger, "NotAuthorizedTrigger(address)")
    receipt = env.send(env.wsm.functions.triggerFromTask(ex, 0, high), env.trigger)
    (activated,) = env.events(receipt, "ConditionalTriggerActivated")
    assert activated["sourceTask"] == high and activated["data"] == encode(U256, [6000])
    assert env.state(ex, 0)["status"] == w.ACTIVE


def test_trigger_from_a_task_of_another_avs_is_refused(env: w.Env) -> None:
    """A second state machine for another AVS: our AVS's verified task is foreign to it."""
    other = deploy_artifact(env.chain.sender(env.owner), "WorkflowStateMachine", env.mailbox.address,
                            env.stranger, env.owner, env.fee_collector, 0, 0, True, gas=25_000_000)
    receipt = env.send(other.functions.registerWorkflow(
        "wf", [w.phase("gate", w.CONDITIONAL, condition=w.condition(w.C_NONE))], [env.trigger]))
    wf = other.events.WorkflowRegistered().process_receipt(receipt, errors=w.DISCARD)[0]["args"]["workflowId"]
    receipt = env.send(other.functions.executeWorkflow(wf, b""))
    ex = other.events.WorkflowExecutionStarted().process_receipt(receipt, errors=w.DISCARD)[0]["args"]["executionId"]
    task = s.create_task(env.stack, s.ECDSA_SET, b"x")
    env.certify(task, b"y")
    assert assert_reverts(other.functions.triggerFromTask(ex, 0, task), env.trigger, "ForeignTask(bytes32)",
                          "bytes32") == (task,)


def test_timeout_fails_the_execution_and_stops_other_phases(env: w.Env) -> None:
    wf = env.register([w.phase("fast", timeout=50), w.phase("slow", timeout=500),
                       w.phase("gate", w.CONDITIONAL, condition=w.condition(w.C_NONE), timeout=500),
                       w.phase("after", deps=(0,))])
    ex, _ = env.execute(wf)
    assert_reverts(env.wsm.functions.checkPhaseTimeout(ex, 0), env.stranger, "PhaseNotTimedOut(uint32,uint256)")
    env.certify(env.task(ex, 0), b"late")
    env.chain.advance(51)
    assert_reverts(env.wsm.functions.completePhase(ex, 0), env.stranger, "PhaseDeadlinePassed(uint32,uint256)")
    receipt = env.send(env.wsm.functions.checkPhaseTimeout(ex, 0), env.stranger)
    assert env.events(receipt, "PhaseTimedOut")[0]["deadline"] == env.state(ex, 0)["deadline"]
    assert sorted(e["phaseIndex"] for e in env.events(receipt, "PhaseFailed")) == [1, 2]  # ExecutionStopped
    assert env.statuses(ex) == [w.TIMED_OUT, w.FAILED, w.FAILED, w.PENDING]
    assert env.execution(ex)["status"] == w.EX_FAILED and len(env.events(receipt, "WorkflowFailed")) == 1
    assert_reverts(env.wsm.functions.checkPhaseTimeout(ex, 1), env.stranger, "ExecutionNotRunning(bytes32,uint8)")


def test_required_stake_is_checked_at_the_phase_start(env: w.Env) -> None:
    wf = env.register([w.phase("ok", stake=300), w.phase("big", deps=(0,), stake=301)])
    ex, _ = env.execute(wf)
    assert env.state(ex, 0)["status"] == w.ACTIVE  # 300 of 300 is enough
    env.certify(env.task(ex, 0), b"r")
    receipt = env.send(env.wsm.functions.completePhase(ex, 0), env.stranger)
    (failed,) = env.events(receipt, "PhaseFailed")
    assert failed["reason"] == keccak(text="InsufficientStake(uint32,uint256,uint256)")[:4] + \
        encode(["uint32", "uint256", "uint256"], [1, 301, 300])
    assert env.statuses(ex) == [w.COMPLETED, w.FAILED] and env.execution(ex)["status"] == w.EX_FAILED


def test_cancel_by_the_creator_only(env: w.Env) -> None:
    wf = env.register([w.phase("a"), w.phase("b")], sender=env.trigger)  # workflow creator = trigger account
    ex, _ = env.execute(wf)  # execution creator = creator account
    assert_reverts(env.wsm.functions.cancelExecution(ex), env.stranger, "NotExecutionCreator(address)")
    receipt = env.send(env.wsm.functions.cancelExecution(ex), env.creator)
    assert env.events(receipt, "WorkflowCancelled")[0]["caller"] == env.creator
    assert env.statuses(ex) == [w.FAILED, w.FAILED] and env.execution(ex)["status"] == w.EX_CANCELLED
    env.certify(env.task(ex, 0), b"r")  # a result after the cancel changes nothing
    assert_reverts(env.wsm.functions.completePhase(ex, 0), env.stranger, "ExecutionNotRunning(bytes32,uint8)")
    ex2, _ = env.execute(wf)
    env.send(env.wsm.functions.cancelExecution(ex2), env.trigger)  # the workflow's creator may too
    assert_reverts(env.wsm.functions.cancelExecution(ex2), env.creator, "ExecutionNotRunning(bytes32,uint8)")
