"""TaskCreated / TaskVerified byte-exact, getTaskInfo field by field, and the task clock.

The clock: EXPIRED is computed lazily (`now > creationTime + taskSLA`, nothing written), a result
is accepted up to and including the deadline second, and never in the creation block.
Runs on py-evm (eth-tester) and anvil from one deployed stack per chain, rolled back per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak
from web3.logs import DISCARD

from hourglass_cli.chain import avs as calls
from tests.contracts import stack as s
from tests.contracts.chains import Chain, anvil_binary, anvil_chain, deploy, eth_tester_chain, send
from tests.contracts.reverts import assert_reverts
from tests.contracts.sol import deploy_test_contract

pytestmark = pytest.mark.slow

NONE, CREATED, VERIFIED, EXPIRED = 0, 1, 2, 3
RESULT = b"\x00" * 31 + b"\x2a"
PAYLOAD = b"\x00" * 31 + b"\x05"
FLAT_FEE, FEE_PER_BYTE = 1_000, 10
FEE_SPLIT = 2_500
METADATA = b"task metadata"
TASK_PARAMS_TYPE = "(address,(address,uint32),bytes)"
TASK_CREATED = "TaskCreated(address,bytes32,address,uint32,uint32,address,uint96,uint256,bytes)"
TASK_VERIFIED = "TaskVerified(address,bytes32,address,uint32,bytes,bytes)"


class Roles:
    """Who does what: every role is a different account, so a field mixed up shows."""

    def __init__(self, chain: Chain) -> None:
        a = chain.accounts
        self.split_collector, self.refund_collector, self.fee_collector, self.aggregator = a[6], a[7], a[8], a[9]


@pytest.fixture(scope="module", params=["eth-tester", "anvil"])
def base(request: pytest.FixtureRequest) -> Iterator[tuple[s.Stack, Any, Any]]:
    """3 operators in both executor sets (weight 100, 66.67 %), a fee hook and fee token, a fee split."""
    if request.param == "eth-tester":
        chain = eth_tester_chain()
    else:
        binary = anvil_binary()
        if binary is None:
            pytest.fail("anvil is not installed: `make test` installs it (npm @foundry-rs/anvil)")
        chain = anvil_chain(binary)
    roles = Roles(chain)
    stack = s.deploy_stack(chain)
    for i in range(3):
        s.register_bn254_operator(stack, chain.accounts[3 + i], f"ev-bn-{i}".encode(), 100)
        s.register_ecdsa_operator(stack, chain.accounts[3 + i], f"ev-ec-{i}".encode(), 100)
    s.push_tables(stack)
    token = deploy(chain, "DevnetERC20", "Fee", "FEE")
    hook = deploy(chain, "FeeAVSTaskHook", stack.mailbox.address, stack.avs, FLAT_FEE, FEE_PER_BYTE)
    send(chain, stack.mailbox.functions.setFeeSplit(FEE_SPLIT), stack.deployer)
    send(chain, stack.mailbox.functions.setFeeSplitCollector(roles.split_collector), stack.deployer)
    for set_id, curve in ((s.BN254_SET, s.CURVE_BN254), (s.ECDSA_SET, s.CURVE_ECDSA)):
        s.configure_executor_set(stack, set_id, _config(stack, curve, hook.address, token.address, roles))
    send(chain, token.functions.mint(stack.app, 10**24), stack.app)
    send(chain, token.functions.approve(stack.mailbox.address, 2**256 - 1), stack.app)
    yield stack, token, hook
    chain.close()


@pytest.fixture
def st(base: tuple[s.Stack, Any, Any]) -> Iterator[tuple[s.Stack, Any, Any]]:
    stack = base[0]
    snap = stack.chain.snapshot()
    timestamps = dict(stack.reference_timestamps)
    yield base
    stack.chain.revert(snap)
    stack.reference_timestamps = timestamps


def _config(stack: s.Stack, curve: int, hook: str, token: str, roles: Roles) -> tuple:
    config = s.task_config(stack, curve, hook=hook, fee_token=token, fee_collector=roles.fee_collector)
    return config[:-1] + (METADATA,)


def _logs(receipt: Any, address: str, signature: str) -> list[Any]:
    topic = keccak(text=signature)
    return [log for log in receipt["logs"] if log["address"] == address and bytes(log["topics"][0]) == topic]


def _word(address: str) -> bytes:
    return b"\x00" * 12 + bytes.fromhex(address[2:])


def _mine_block_at(chain: Chain, timestamp: int) -> int:
    """Mine an empty block with exactly this timestamp; returns its number."""
    if chain.name == "anvil":
        chain.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
        chain.w3.provider.make_request("evm_mine", [])
    else:
        chain.w3.provider.ethereum_tester.time_travel(timestamp + 1)  # mines the open block at timestamp
    block = chain.w3.eth.get_block("latest")
    assert block["timestamp"] == timestamp
    return int(block["number"])


def _next_transaction_at(chain: Chain, timestamp: int) -> None:
    """The next transaction is mined in a block with exactly this timestamp."""
    if chain.name == "anvil":
        chain.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    else:
        chain.w3.provider.ethereum_tester.time_travel(timestamp)  # opens the next block at timestamp


def _certificate(stack: s.Stack, set_id: int, task_hash: bytes) -> bytes:
    """Operators 0 and 1 sign (200 of 300); operator 2 is a non-signer (a Merkle witness for BN254)."""
    if set_id == s.BN254_SET:
        return s.encode_bn254_certificate(s.bn254_certificate(stack, task_hash, RESULT, stack.bn254_operators[:2]))
    return s.encode_ecdsa_certificate(s.ecdsa_certificate(stack, task_hash, RESULT, stack.ecdsa_operators[:2]))


@pytest.mark.parametrize("set_id", [s.BN254_SET, s.ECDSA_SET], ids=["bn254", "ecdsa"])
def test_task_lifecycle_events_and_task_info(st: tuple[s.Stack, Any, Any], set_id: int) -> None:
    stack, token, hook = st
    chain, mailbox, roles = stack.chain, stack.mailbox, Roles(stack.chain)
    params = (roles.refund_collector, stack.op_set(set_id), PAYLOAD)
    fee = FLAT_FEE + FEE_PER_BYTE * len(PAYLOAD)
    ref_ts = stack.reference_timestamps[set_id]
    expected_hash = keccak(encode(["uint256", "address", "uint256", TASK_PARAMS_TYPE],
                                  [0, mailbox.address, chain.w3.eth.chain_id, params]))
    assert mailbox.functions.createTask(params).call({"from": stack.app}) == expected_hash

    receipt = send(chain, mailbox.functions.createTask(params), stack.app)
    created_at = chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    (log,) = _logs(receipt, mailbox.address, TASK_CREATED)
    assert [bytes(t) for t in log["topics"][1:]] == [_word(stack.app), expected_hash, _word(stack.avs)]
    assert bytes(log["data"]) == encode(
        ["uint32", "uint32", "address", "uint96", "uint256", "bytes"],
        [set_id, ref_ts, roles.refund_collector, fee, created_at + s.TASK_SLA, PAYLOAD],
    )
    event = mailbox.events.TaskCreated().process_log(log)
    assert dict(event["args"]) == {
        "creator": stack.app, "taskHash": expected_hash, "avs": stack.avs, "executorOperatorSetId": set_id,
        "operatorTableReferenceTimestamp": ref_ts, "refundCollector": roles.refund_collector, "avsFee": fee,
        "taskDeadline": created_at + s.TASK_SLA, "payload": PAYLOAD,
    }

    config = mailbox.functions.getExecutorOperatorSetTaskConfig(stack.op_set(set_id)).call()
    curve = s.CURVE_BN254 if set_id == s.BN254_SET else s.CURVE_ECDSA
    assert tuple(config) == (hook.address, s.TASK_SLA, token.address, curve, roles.fee_collector,
                             (s.CONSENSUS_THRESHOLD, encode(["uint16"], [6667])), METADATA)
    expected_info = [
        stack.app,  # creator
        created_at,  # creationTime
        stack.avs,  # avs
        fee,  # avsFee
        roles.refund_collector,  # refundCollector
        set_id,  # executorOperatorSetId
        FEE_SPLIT,  # feeSplit, as it was at creation
        CREATED,  # status
        False,  # isFeeRefunded
        ref_ts,  # operatorTableReferenceTimestamp
        tuple(config),  # executorOperatorSetTaskConfig, copied at creation
        PAYLOAD,  # payload
        b"",  # executorCert
        b"",  # result
    ]
    assert _info(mailbox, expected_hash) == expected_info
    assert mailbox.functions.getTaskStatus(expected_hash).call() == CREATED
    assert assert_reverts(mailbox.functions.getTaskResult(expected_hash), stack.app,
                          "InvalidTaskStatus(uint8,uint8)", "uint8", "uint8") == (VERIFIED, CREATED)

    # A second task: the global counter went up by one, whatever the creator or params.
    second = s.create_task(stack, set_id, PAYLOAD)
    assert second == keccak(encode(["uint256", "address", "uint256", TASK_PARAMS_TYPE],
                                   [1, mailbox.address, chain.w3.eth.chain_id, (stack.app, stack.op_set(set_id),
                                                                                 PAYLOAD)]))

    chain.advance(1)
    cert = _certificate(stack, set_id, expected_hash)
    receipt = send(chain, mailbox.functions.submitResult(expected_hash, cert, RESULT), roles.aggregator)
    (log,) = _logs(receipt, mailbox.address, TASK_VERIFIED)
    assert [bytes(t) for t in log["topics"][1:]] == [_word(roles.aggregator), expected_hash, _word(stack.avs)]
    assert bytes(log["data"]) == encode(["uint32", "bytes", "bytes"], [set_id, cert, RESULT])
    event = mailbox.events.TaskVerified().process_log(log)
    assert dict(event["args"]) == {
        "aggregator": roles.aggregator, "taskHash": expected_hash, "avs": stack.avs,
        "executorOperatorSetId": set_id, "executorCert": cert, "result": RESULT,
    }
    assert not _logs(receipt, mailbox.address, TASK_CREATED)

    expected_info[7], expected_info[12], expected_info[13] = VERIFIED, cert, RESULT
    assert _info(mailbox, expected_hash) == expected_info
    assert mailbox.functions.getTaskStatus(expected_hash).call() == VERIFIED
    assert mailbox.functions.getTaskResult(expected_hash).call() == RESULT
    # A verified task stays VERIFIED past its deadline; the other one expires.
    chain.advance(s.TASK_SLA + 1)
    assert mailbox.functions.getTaskStatus(expected_hash).call() == VERIFIED
    assert mailbox.functions.getTaskStatus(second).call() == EXPIRED


def _info(mailbox: Any, task_hash: bytes, block: int | str = "latest") -> list[Any]:
    info = list(mailbox.functions.getTaskInfo(task_hash).call(block_identifier=block))
    info[10] = tuple(tuple(x) if isinstance(x, (list, tuple)) else x for x in info[10])
    return info


def test_unknown_task_is_none_everywhere(st: tuple[s.Stack, Any, Any]) -> None:
    stack = st[0]
    unknown = keccak(b"no such task")
    assert stack.mailbox.functions.getTaskStatus(unknown).call() == NONE
    info = _info(stack.mailbox, unknown)
    assert info[7] == NONE and info[0] == s.ZERO and info[1] == 0 and info[11] == b""
    assert assert_reverts(stack.mailbox.functions.getTaskResult(unknown), stack.app,
                          "InvalidTaskStatus(uint8,uint8)", "uint8", "uint8") == (VERIFIED, NONE)


def test_expired_is_computed_lazily(st: tuple[s.Stack, Any, Any]) -> None:
    stack, token, _ = st
    chain, mailbox, roles = stack.chain, stack.mailbox, Roles(stack.chain)
    receipt = send(chain, mailbox.functions.createTask((roles.refund_collector, stack.op_set(s.ECDSA_SET), PAYLOAD)),
                   stack.app)
    task_hash = bytes(mailbox.events.TaskCreated().process_receipt(receipt, errors=DISCARD)[0]["args"]["taskHash"])
    created_block = receipt["blockNumber"]
    created_at = chain.w3.eth.get_block(created_block)["timestamp"]

    at_deadline = _mine_block_at(chain, created_at + s.TASK_SLA)
    after_deadline = _mine_block_at(chain, created_at + s.TASK_SLA + 1)
    # No transaction was sent between creation and expiry: the status flips with the clock alone.
    for number in range(created_block + 1, after_deadline + 1):
        assert len(chain.w3.eth.get_block(number)["transactions"]) == 0
    status = mailbox.functions.getTaskStatus
    assert status(task_hash).call(block_identifier=created_block) == CREATED
    assert status(task_hash).call(block_identifier=at_deadline) == CREATED  # `now > deadline`, not `>=`
    assert status(task_hash).call(block_identifier=after_deadline) == EXPIRED
    before, after = _info(mailbox, task_hash, created_block), _info(mailbox, task_hash, after_deadline)
    assert after[7] == EXPIRED and before[7] == CREATED
    assert after[:7] + after[8:] == before[:7] + before[8:]  # nothing else moved

    cert = _certificate(stack, s.ECDSA_SET, task_hash)
    fn = mailbox.functions.submitResult(task_hash, cert, RESULT)
    assert assert_reverts(fn, roles.aggregator, "InvalidTaskStatus(uint8,uint8)", "uint8", "uint8") == (
        CREATED, EXPIRED)
    assert assert_reverts(mailbox.functions.getTaskResult(task_hash), stack.app,
                          "InvalidTaskStatus(uint8,uint8)", "uint8", "uint8") == (VERIFIED, EXPIRED)
    # A state-changing path accepts the lazily computed status too: the fee comes back.
    balance = token.functions.balanceOf(roles.refund_collector).call()
    send(chain, mailbox.functions.refundFee(task_hash), roles.refund_collector)
    assert token.functions.balanceOf(roles.refund_collector).call() == balance + _info(mailbox, task_hash)[3]
    assert _info(mailbox, task_hash)[7:9] == [EXPIRED, True]


def test_result_at_the_deadline_second_is_accepted(st: tuple[s.Stack, Any, Any]) -> None:
    stack = st[0]
    chain, mailbox, roles = stack.chain, stack.mailbox, Roles(stack.chain)
    task_hash = s.create_task(stack, s.BN254_SET, PAYLOAD)
    created_at = _info(mailbox, task_hash)[1]
    cert = _certificate(stack, s.BN254_SET, task_hash)
    _next_transaction_at(chain, created_at + s.TASK_SLA)
    receipt = send(chain, mailbox.functions.submitResult(task_hash, cert, RESULT), roles.aggregator)
    assert chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == created_at + s.TASK_SLA
    assert mailbox.functions.getTaskStatus(task_hash).call() == VERIFIED


def test_result_in_the_creation_block_is_refused(st: tuple[s.Stack, Any, Any], sol_artifacts: dict) -> None:
    """createTask and submitResult in one transaction (hence one block) → TimestampAtCreation()."""
    stack = st[0]
    chain, mailbox = stack.chain, stack.mailbox
    s.configure_executor_set(stack, s.ECDSA_SET, s.task_config(stack, s.CURVE_ECDSA))  # no fee for the contract
    submitter = deploy_test_contract(chain, sol_artifacts, "SameBlockSubmitter")
    params = (stack.app, stack.op_set(s.ECDSA_SET), PAYLOAD)
    task_hash = mailbox.functions.createTask(params).call({"from": stack.app})  # the creator is not hashed
    cert = _certificate(stack, s.ECDSA_SET, task_hash)
    fn = submitter.functions.createAndSubmit(mailbox.address, params, cert, RESULT)
    assert_reverts(fn, stack.app, "TimestampAtCreation()")
    # The task hash does not depend on the creator: the app creates the same task, and the same
    # certificate, submitted a block later, verifies.
    assert s.create_task(stack, s.ECDSA_SET, PAYLOAD) == task_hash
    chain.advance(1)
    send(chain, mailbox.functions.submitResult(task_hash, cert, RESULT), stack.app)
    assert mailbox.functions.getTaskStatus(task_hash).call() == VERIFIED



@pytest.mark.parametrize("base", ["anvil"], indirect=True)  # eth-tester gives every block a second of its own
@pytest.mark.parametrize("same_second", [True, False], ids=["devnet-timing", "eigenlayer-timing"])
def test_a_result_in_a_later_block_of_the_creation_second(st: tuple[s.Stack, Any, Any], same_second: bool) -> None:
    """Our devnet mailbox (SAME_SECOND_RESULTS) takes a result from the block after the task's; with EigenLayer's
    timing a later block at the same timestamp is refused with TimestampAtCreation(), and a later second works."""
    stack = st[0]
    chain = stack.chain
    mailbox = deploy(chain, "TaskMailbox", stack.bn254_verifier.address, stack.ecdsa_verifier.address,
                     s.MAX_TASK_SLA, same_second, s.VERSION, sender=stack.deployer)
    assert mailbox.functions.SAME_SECOND_RESULTS().call() is same_second
    calls.set_task_config(chain.sender(stack.avs), mailbox, s.ECDSA_SET,
                          s.task_config(stack, s.CURVE_ECDSA)).wait()
    at = chain.now() + 5
    _next_transaction_at(chain, at)
    task_hash, receipt = calls.create_task(chain.sender(stack.app), mailbox, stack.avs, s.ECDSA_SET, PAYLOAD,
                                           refund_collector=stack.app, gas=5_000_000)
    assert chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == at
    cert = _certificate(stack, s.ECDSA_SET, task_hash)
    submit = mailbox.functions.submitResult(task_hash, cert, RESULT)
    _next_transaction_at(chain, at)  # the next block, same second
    if same_second:
        receipt = send(chain, submit, stack.app)
        assert chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == at
        assert mailbox.functions.getTaskStatus(task_hash).call() == VERIFIED
        return
    assert_reverts(submit, stack.app, "TimestampAtCreation()")
    _next_transaction_at(chain, at + 1)
    send(chain, submit, stack.app)
    assert mailbox.functions.getTaskStatus(task_hash).call() == VERIFIED
