"""WorkflowStateMachine: every registration rule, access control, fees and refunds, execution ids, views."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_abi import encode

from tests.contracts import workflow_env as w
from tests.contracts.reverts import assert_reverts

pytestmark = pytest.mark.slow

ADDR = "0x" + "11" * 20


@pytest.fixture(scope="module")
def base() -> w.Env:
    return w.build_env()


@pytest.fixture
def env(base: w.Env) -> Iterator[w.Env]:
    yield from w.rolled_back(base)


def _rejects(env: w.Env, phases: list[tuple], error: str, *types: str) -> tuple:
    return assert_reverts(env.wsm.functions.registerWorkflow("wf", phases, []), env.creator, error, *types)


def test_phase_count_limits(env: w.Env) -> None:
    _rejects(env, [], "NoPhases()")
    assert _rejects(env, [w.phase(f"p{i}") for i in range(51)], "TooManyPhases(uint256,uint256)",
                    "uint256", "uint256") == (51, 50)
    env.register([w.phase(f"p{i}") for i in range(50)])


def test_dependency_rules(env: w.Env) -> None:
    many = [w.phase(f"p{i}") for i in range(11)] + [w.phase("x", deps=tuple(range(11)))]
    assert _rejects(env, many, "TooManyDependencies(uint32,uint256,uint256)", "uint32", "uint256", "uint256") == \
        (11, 11, 10)
    assert _rejects(env, [w.phase("a", deps=(0,))], "InvalidDependency(uint32,uint32)", "uint32", "uint32") == (0, 0)
    assert _rejects(env, [w.phase("a"), w.phase("b", deps=(2,)), w.phase("c")], "InvalidDependency(uint32,uint32)",
                    "uint32", "uint32") == (1, 2)


def test_timeout_and_threshold_rules(env: w.Env) -> None:
    assert _rejects(env, [w.phase("a"), w.phase("b", timeout=0)], "ZeroTimeout(uint32)", "uint32") == (1,)
    for bad in (0, 10_001):
        assert _rejects(env, [w.phase("c", w.COORDINATION, threshold=bad)],
                        "InvalidConsensusThreshold(uint32,uint16)", "uint32", "uint16") == (0, bad)
    env.register([w.phase("c", w.COORDINATION, threshold=10_000)])


def test_phase_names_are_json_safe(env: w.Env) -> None:
    for bad in ("", 'say "hi"', "back\\slash", "tab\there", "x" * 65, "naïve"):
        assert _rejects(env, [w.phase(bad)], "InvalidPhaseName(uint32)", "uint32") == (0,)
    env.register([w.phase("fetch: price/ETH-USD (v2) #1")])


@pytest.mark.parametrize("cond, error", [
    (b"", "InvalidTriggerCondition(uint32)"),
    (b"\x00" * 31, "InvalidTriggerCondition(uint32)"),
    (w.condition(6), "UnknownConditionType(uint32,uint256)"),
    (encode(["uint256", "bytes"], [255, b""]), "UnknownConditionType(uint32,uint256)"),
    (w.condition(w.C_NONE, ["uint256"], [1]), "InvalidTriggerCondition(uint32)"),
    (w.condition(w.C_PRICE, ["uint256"], [1]), "InvalidTriggerCondition(uint32)"),
    (w.condition(w.C_PRICE, ["uint256", "uint256"], [1, 2]), "InvalidTriggerCondition(uint32)"),
    (w.condition(w.C_TIME, ["uint256", "uint256"], [1, 2]), "InvalidTriggerCondition(uint32)"),
    (w.condition(w.C_HASH), "InvalidTriggerCondition(uint32)"),
    (w.condition(w.C_ORACLE, ["uint256"], [1]), "InvalidTriggerCondition(uint32)"),
    (w.condition(w.C_MULTISIG, ["address[]", "uint8"], [[ADDR], 2]), "InvalidTriggerCondition(uint32)"),
    (w.condition(w.C_MULTISIG, ["address[]", "uint8"], [[ADDR], 0]), "InvalidTriggerCondition(uint32)"),
    (w.condition(w.C_MULTISIG, ["address[]", "uint8"], [[ADDR, ADDR], 1]), "InvalidTriggerCondition(uint32)"),
    (w.condition(w.C_MULTISIG, ["address[]", "uint8"], [["0x" + "00" * 20], 1]), "InvalidTriggerCondition(uint32)"),
    (encode(["uint8", "bytes", "uint256"], [1, encode(["uint256", "bool"], [1, True]), 7]),
     "InvalidTriggerCondition(uint32)"),  # trailing bytes
])
def test_conditional_needs_a_decodable_condition_of_a_known_type(env: w.Env, cond: bytes, error: str) -> None:
    _rejects(env, [w.phase("ok"), w.phase("gate", w.CONDITIONAL, condition=cond)], error)
    args = assert_reverts(env.wsm.functions.registerWorkflow("wf", [w.phase("gate", w.CONDITIONAL, condition=cond)],
                                                             []), env.creator, error, "uint32")
    assert args == (0,)


def test_every_condition_type_registers(env: w.Env) -> None:
    conds = [
        w.condition(w.C_NONE), w.condition(w.C_PRICE, ["uint256", "bool"], [1, False]),
        w.condition(w.C_TIME, ["uint256"], [1]), w.condition(w.C_HASH, ["bytes32"], [b"\x01" * 32]),
        w.condition(w.C_MULTISIG, ["address[]", "uint8"], [[ADDR, "0x" + "22" * 20], 2]),
        w.condition(w.C_ORACLE, ["uint256", "uint256"], [100, 5]),
    ]
    env.register([w.phase(f"c{i}", w.CONDITIONAL, condition=c) for i, c in enumerate(conds)])


def test_continuous_metadata(env: w.Env) -> None:
    for bad in (b"", w.continuous(0, 3), w.continuous(10, 0), encode(["uint256", "uint256"], [2**32, 1]),
                w.continuous(10, 3) + b"\x00"):
        assert _rejects(env, [w.phase("m", w.CONTINUOUS, metadata=bad)], "InvalidContinuousMetadata(uint32)",
                        "uint32") == (0,)
    env.register([w.phase("m", w.CONTINUOUS, metadata=w.continuous(10, 3))])


def test_authorized_creators_or_open_registration(env: w.Env) -> None:
    env.send(env.wsm.functions.setOpenRegistration(False), env.owner)
    assert not env.wsm.functions.isAuthorizedCreator(env.creator).call()
    assert assert_reverts(env.wsm.functions.registerWorkflow("wf", [w.phase("a")], []), env.creator,
                          "NotAuthorizedCreator(address)", "address") == (env.creator.lower(),)
    env.send(env.wsm.functions.setCreatorAuthorization(env.creator, True), env.owner)
    env.register([w.phase("a")])
    env.register([w.phase("a")], sender=env.owner)  # the owner always may
    for fn in (env.wsm.functions.setOpenRegistration(True), env.wsm.functions.setFees(1, 1),
               env.wsm.functions.setFeeCollector(env.creator),
               env.wsm.functions.setCreatorAuthorization(env.stranger, True)):
        with pytest.raises(Exception, match="Ownable: caller is not the owner"):
            fn.call({"from": env.stranger})
    assert_reverts(env.wsm.functions.setFeeCollector("0x" + "00" * 20), env.owner, "InvalidAddressZero()")


def test_fees_are_forwarded_and_the_excess_refunded(env: w.Env) -> None:
    eth = env.chain.w3.eth
    env.send(env.wsm.functions.setFees(1_000, 300), env.owner)
    assert assert_reverts(env.wsm.functions.registerWorkflow("wf", [w.phase("a")], []), env.creator,
                          "InsufficientFee(uint256,uint256)", "uint256", "uint256") == (1_000, 0)
    collector_before, creator_before = eth.get_balance(env.fee_collector), eth.get_balance(env.creator)
    chain_sender = env.chain.sender(env.creator)
    receipt = chain_sender.transact(env.wsm.functions.registerWorkflow("wf", [w.phase("a")], []), gas=3_000_000,
                                    value=5_000)
    gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert eth.get_balance(env.fee_collector) == collector_before + 1_000
    assert eth.get_balance(env.creator) == creator_before - 1_000 - gas_cost
    assert eth.get_balance(env.wsm.address) == 0
    (event,) = env.wsm.events.WorkflowRegistered().process_receipt(receipt)
    wf = bytes(event["args"]["workflowId"])

    fn = env.wsm.functions.executeWorkflow(wf, b"x")
    assert assert_reverts(fn, env.creator, "InsufficientFee(uint256,uint256)", "uint256", "uint256") == (300, 0)
    env.execute(wf, value=301)
    assert eth.get_balance(env.fee_collector) == collector_before + 1_300
    assert eth.get_balance(env.wsm.address) == 0


def test_two_executions_in_one_block_get_different_ids(env: w.Env) -> None:
    wf = env.register([w.phase("a")])
    w3 = env.chain.w3
    tester = w3.provider.ethereum_tester
    tester.disable_auto_mine_transactions()
    try:
        hashes = [w3.eth.send_transaction({"from": who, "to": env.wsm.address, "gas": 3_000_000,
                                           "data": env.wsm.functions.executeWorkflow(wf, b"same")._encode_transaction_data()})
                  for who in (env.creator, env.stranger)]
        tester.mine_blocks(1)
    finally:
        tester.enable_auto_mine_transactions()
    receipts = [w3.eth.get_transaction_receipt(h) for h in hashes]
    assert receipts[0]["blockNumber"] == receipts[1]["blockNumber"]
    ids = [bytes(env.wsm.events.WorkflowExecutionStarted().process_receipt(r, errors=w.DISCARD)[0]["args"]
                 ["executionId"]) for r in receipts]
    assert ids[0] != ids[1]
    assert [bytes(x) for x in env.wsm.functions.getWorkflowExecutions(wf).call()] == ids
    # Each execution got its own task.
    assert env.task(ids[0], 0) != env.task(ids[1], 0)


def test_views_return_the_definition_and_the_execution(env: w.Env) -> None:
    cond = w.condition(w.C_TIME, ["uint256"], [1])
    phases = [w.phase("a", stake=5), w.phase("b", w.CONDITIONAL, deps=(0,), condition=cond, timeout=99)]
    wf = env.register(phases, triggers=[env.trigger, env.trigger, env.stranger], name="my workflow")
    creator, created_at, name, got, triggers, executions = env.wsm.functions.getWorkflow(wf).call()
    assert (creator, name, executions) == (env.creator, "my workflow", 0) and created_at > 0
    assert [tuple(p) for p in got] == [tuple(p) for p in phases]
    assert triggers == [env.trigger, env.stranger]  # duplicates dropped
    assert env.wsm.functions.isAuthorizedTrigger(wf, env.stranger).call()
    assert env.wsm.functions.isAuthorizedTrigger(wf, env.creator).call()  # the creator
    assert not env.wsm.functions.isAuthorizedTrigger(wf, env.owner).call()
    assert_reverts(env.wsm.functions.getWorkflow(b"\x01" * 32), env.creator, "UnknownWorkflow(bytes32)")
    assert_reverts(env.wsm.functions.executeWorkflow(b"\x01" * 32, b""), env.creator, "UnknownWorkflow(bytes32)")

    ex, _ = env.execute(wf, b"pay")
    info = env.execution(ex)
    assert (info["workflowId"], info["creator"], info["status"], info["phaseCount"], info["payload"]) == \
        (wf, env.creator, w.EX_RUNNING, 2, b"pay")
    a = env.state(ex, 0)
    assert a["status"] == w.ACTIVE and a["deadline"] == a["startedAt"] + 600 and len(a["taskHashes"]) == 1
    assert env.statuses(ex) == [w.ACTIVE, w.PENDING]
    assert_reverts(env.wsm.functions.getPhaseState(ex, 2), env.creator, "InvalidPhaseIndex(uint32,uint256)")
    assert_reverts(env.wsm.functions.getExecution(b"\x02" * 32), env.creator, "UnknownExecution(bytes32)")
