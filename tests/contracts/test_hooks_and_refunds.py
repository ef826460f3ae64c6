"""Hook callbacks, fees and refunds with a real ERC-20, and the verifier revert paths the base suite lacks.

A test-only RecordingTaskHook (tests/contracts/sol) proves the mailbox calls each hook with the
right arguments, at the right moment, and that a refusing hook blocks the action. Runs on py-evm
(eth-tester) and anvil from one deployed stack per chain, rolled back after each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak
from web3.logs import DISCARD

from hourglass_cli.crypto import bn254, ecdsa
from tests.contracts import stack as s
from tests.contracts.chains import Chain, anvil_binary, anvil_chain, deploy, eth_tester_chain, send
from tests.contracts.reverts import assert_reverts, revert_data
from tests.contracts.sol import deploy_test_contract

pytestmark = pytest.mark.slow

NONE, CREATED, VERIFIED, EXPIRED = 0, 1, 2, 3
REFUSE_PRE_CREATION, REFUSE_POST_CREATION, REFUSE_PRE_RESULT, REFUSE_POST_RESULT = 1, 2, 4, 8
RESULT = b"\x00" * 31 + b"\x2a"
PAYLOAD = b"\x00" * 31 + b"\x05"
FEE = 1_001
FEE_SPLIT = 2_000
TASK_PARAMS_TYPE = "(address,(address,uint32),bytes)"
STATUS_ERROR = ("InvalidTaskStatus(uint8,uint8)", "uint8", "uint8")


@dataclass
class Env:
    stack: s.Stack
    hook: Any
    token: Any
    split_collector: str
    refund_collector: str
    fee_collector: str
    aggregator: str

    @property
    def chain(self) -> Chain:
        return self.stack.chain

    @property
    def mailbox(self) -> Any:
        return self.stack.mailbox

    def params(self, set_id: int = s.ECDSA_SET, refund_collector: str | None = None) -> tuple:
        collector = self.refund_collector if refund_collector is None else refund_collector
        return (collector, self.stack.op_set(set_id), PAYLOAD)

    def balances(self) -> dict[str, int]:
        who = {"app": self.stack.app, "mailbox": self.mailbox.address, "split": self.split_collector,
               "refund": self.refund_collector, "fee": self.fee_collector}
        return {name: self.token.functions.balanceOf(address).call() for name, address in who.items()}


@pytest.fixture(scope="module", params=["eth-tester", "anvil"])
def base(request: pytest.FixtureRequest, sol_artifacts: dict) -> Iterator[Env]:
    """3 operators in both executor sets (weight 100, 66.67 %), the recording hook charging FEE of a
    DevnetERC20, a 20 % fee split; the app holds tokens and has approved the mailbox."""
    if request.param == "eth-tester":
        chain = eth_tester_chain()
    else:
        binary = anvil_binary()
        if binary is None:
            pytest.fail("anvil is not installed: `make test` installs it (npm @foundry-rs/anvil)")
        chain = anvil_chain(binary)
    a = chain.accounts
    stack = s.deploy_stack(chain)
    for i in range(3):
        s.register_bn254_operator(stack, a[3 + i], f"hk-bn-{i}".encode(), 100)
        s.register_ecdsa_operator(stack, a[3 + i], f"hk-ec-{i}".encode(), 100)
    s.push_tables(stack)
    env = Env(stack, deploy_test_contract(chain, sol_artifacts, "RecordingTaskHook"),
              deploy(chain, "DevnetERC20", "Fee", "FEE"), a[6], a[7], a[8], a[9])
    send(chain, env.hook.functions.setFee(FEE), stack.deployer)
    send(chain, stack.mailbox.functions.setFeeSplit(FEE_SPLIT), stack.deployer)
    send(chain, stack.mailbox.functions.setFeeSplitCollector(env.split_collector), stack.deployer)
    for set_id, curve in ((s.BN254_SET, s.CURVE_BN254), (s.ECDSA_SET, s.CURVE_ECDSA)):
        s.configure_executor_set(stack, set_id, s.task_config(
            stack, curve, hook=env.hook.address, fee_token=env.token.address, fee_collector=env.fee_collector))
    send(chain, env.token.functions.mint(stack.app, 10**24), stack.app)
    send(chain, env.token.functions.approve(stack.mailbox.address, 2**256 - 1), stack.app)
    yield env
    chain.close()


@pytest.fixture
def env(base: Env) -> Iterator[Env]:
    snap = base.chain.snapshot()
    timestamps = dict(base.stack.reference_timestamps)
    yield base
    base.chain.revert(snap)
    base.stack.reference_timestamps = timestamps


# ------------------------------------------------------------------ helpers


def _create(env: Env, set_id: int = s.ECDSA_SET) -> bytes:
    receipt = send(env.chain, env.mailbox.functions.createTask(env.params(set_id)), env.stack.app)
    (event,) = env.mailbox.events.TaskCreated().process_receipt(receipt, errors=DISCARD)
    return bytes(event["args"]["taskHash"])


def _predicted_hash(env: Env, count: int, params: tuple) -> bytes:
    return keccak(encode(["uint256", "address", "uint256", TASK_PARAMS_TYPE],
                         [count, env.mailbox.address, env.chain.w3.eth.chain_id, params]))


def _certificate(env: Env, set_id: int, task_hash: bytes, signers: int = 2) -> bytes:
    stack = env.stack
    if set_id == s.BN254_SET:
        cert = s.bn254_certificate(stack, task_hash, RESULT, stack.bn254_operators[:signers])
        return s.encode_bn254_certificate(cert)
    return s.encode_ecdsa_certificate(s.ecdsa_certificate(stack, task_hash, RESULT, stack.ecdsa_operators[:signers]))


def _send_reverted(chain: Chain, fn: Any, sender: str) -> None:
    """Mine `fn` as a real transaction and check that it reverted (state checks follow it)."""
    tx = fn.transact({"from": sender, "gas": 3_000_000})
    assert chain.w3.eth.wait_for_transaction_receipt(tx)["status"] == 0


def _calls(records: list[Any]) -> list[tuple]:
    return [(r[0], r[1], bytes(r[2]), r[3]) for r in records]


# ------------------------------------------------------------------ hook callbacks


def test_pre_task_creation_hook_gets_caller_and_params_and_can_block(env: Env) -> None:
    app, params = env.stack.app, env.params()
    send(env.chain, env.hook.functions.setRefuse(REFUSE_PRE_CREATION), app)
    fn = env.mailbox.functions.createTask(params)
    caller, seen = assert_reverts(fn, app, "PreTaskCreationRefused(address,(address,(address,uint32),bytes))",
                                  "address", TASK_PARAMS_TYPE)
    assert caller == app.lower() and seen == (params[0].lower(), (params[1][0].lower(), params[1][1]), PAYLOAD)
    before = env.balances()
    _send_reverted(env.chain, fn, app)
    assert env.balances() == before  # no fee pulled
    assert env.hook.functions.postTaskCreationCalls().call() == []
    # The counter did not move: the task that now gets created is task number 0.
    send(env.chain, env.hook.functions.setRefuse(0), app)
    assert _create(env) == _predicted_hash(env, 0, params)


def test_post_task_creation_hook_runs_after_the_task_is_stored(env: Env) -> None:
    task_hash = _create(env)
    assert _calls(env.hook.functions.postTaskCreationCalls().call()) == [
        (env.mailbox.address, s.ZERO, task_hash, CREATED)]  # from the mailbox, the task already CREATED


def test_refusing_post_task_creation_hook_rolls_the_task_back(env: Env) -> None:
    app, params = env.stack.app, env.params()
    predicted = _predicted_hash(env, 0, params)
    send(env.chain, env.hook.functions.setRefuse(REFUSE_POST_CREATION), app)
    fn = env.mailbox.functions.createTask(params)
    assert assert_reverts(fn, app, "PostTaskCreationRefused(bytes32)", "bytes32") == (predicted,)
    before = env.balances()
    _send_reverted(env.chain, fn, app)
    assert env.balances() == before
    assert env.mailbox.functions.getTaskStatus(predicted).call() == NONE


@pytest.mark.parametrize("set_id", [s.BN254_SET, s.ECDSA_SET], ids=["bn254", "ecdsa"])
def test_pre_result_hook_gets_caller_task_cert_result_and_runs_first(env: Env, set_id: int) -> None:
    task_hash = _create(env, set_id)
    env.chain.advance(1)
    cert = _certificate(env, set_id, task_hash)
    send(env.chain, env.hook.functions.setRefuse(REFUSE_PRE_RESULT), env.aggregator)
    fn = env.mailbox.functions.submitResult(task_hash, cert, RESULT)
    error = "PreTaskResultSubmissionRefused(address,bytes32,bytes,bytes)"
    assert assert_reverts(fn, env.aggregator, error, "address", "bytes32", "bytes", "bytes") == (
        env.aggregator.lower(), task_hash, cert, RESULT)
    # It runs before the certificate is even decoded.
    junk = env.mailbox.functions.submitResult(task_hash, b"junk", b"any result")
    assert assert_reverts(junk, env.aggregator, error, "address", "bytes32", "bytes", "bytes") == (
        env.aggregator.lower(), task_hash, b"junk", b"any result")
    before = env.balances()
    _send_reverted(env.chain, fn, env.aggregator)
    assert env.balances() == before
    assert env.mailbox.functions.getTaskStatus(task_hash).call() == CREATED

    send(env.chain, env.hook.functions.setRefuse(0), env.aggregator)
    send(env.chain, fn, env.aggregator)
    assert _calls(env.hook.functions.postTaskResultSubmissionCalls().call()) == [
        (env.mailbox.address, env.aggregator, task_hash, VERIFIED)]  # called after the result is stored


def test_refusing_post_result_hook_rolls_the_result_back(env: Env) -> None:
    task_hash = _create(env)
    env.chain.advance(1)
    fn = env.mailbox.functions.submitResult(task_hash, _certificate(env, s.ECDSA_SET, task_hash), RESULT)
    send(env.chain, env.hook.functions.setRefuse(REFUSE_POST_RESULT), env.aggregator)
    assert assert_reverts(fn, env.aggregator, "PostTaskResultSubmissionRefused(address,bytes32)",
                          "address", "bytes32") == (env.aggregator.lower(), task_hash)
    before = env.balances()
    _send_reverted(env.chain, fn, env.aggregator)
    assert env.balances() == before  # the fee was not paid out
    assert env.mailbox.functions.getTaskStatus(task_hash).call() == CREATED
    assert env.hook.functions.postTaskResultSubmissionCalls().call() == []


# ------------------------------------------------------------------ fees and refunds


@pytest.mark.parametrize("split", [0, FEE_SPLIT, 10_000])
def test_fee_pulled_at_creation_and_split_on_verification(env: Env, split: int) -> None:
    send(env.chain, env.mailbox.functions.setFeeSplit(split), env.stack.deployer)
    before = env.balances()
    task_hash = _create(env)
    after_creation = env.balances()
    assert after_creation["app"] == before["app"] - FEE
    assert after_creation["mailbox"] == before["mailbox"] + FEE
    # The split is fixed at creation: changing it afterwards does not touch this task.
    send(env.chain, env.mailbox.functions.setFeeSplit(5_000), env.stack.deployer)
    assert env.mailbox.functions.getTaskInfo(task_hash).call()[6] == split

    env.chain.advance(1)
    send(env.chain, env.mailbox.functions.submitResult(task_hash, _certificate(env, s.ECDSA_SET, task_hash), RESULT),
         env.aggregator)
    to_split = FEE * split // 10_000
    paid = env.balances()
    assert paid["split"] == before["split"] + to_split
    assert paid["fee"] == before["fee"] + FEE - to_split
    assert paid["mailbox"] == before["mailbox"]
    assert paid["refund"] == before["refund"]


def test_refund_after_expiry_by_the_refund_collector(env: Env) -> None:
    mailbox, app = env.mailbox, env.stack.app
    task_hash = _create(env)
    refund = mailbox.functions.refundFee(task_hash)
    assert assert_reverts(refund, env.refund_collector, *STATUS_ERROR) == (EXPIRED, CREATED)
    assert_reverts(refund, app, "OnlyRefundCollector()")  # the creator is not the refund collector
    env.chain.advance(s.TASK_SLA + 1)
    assert mailbox.functions.getTaskStatus(task_hash).call() == EXPIRED
    for outsider in (app, env.aggregator, env.fee_collector):
        assert_reverts(refund, outsider, "OnlyRefundCollector()")

    before = env.balances()
    receipt = send(env.chain, refund, env.refund_collector)
    after = env.balances()
    assert after["refund"] == before["refund"] + FEE and after["mailbox"] == before["mailbox"] - FEE
    assert after["fee"] == before["fee"] and after["split"] == before["split"]
    (event,) = mailbox.events.FeeRefunded().process_receipt(receipt, errors=DISCARD)
    assert dict(event["args"]) == {"refundCollector": env.refund_collector, "taskHash": task_hash, "avsFee": FEE}
    info = mailbox.functions.getTaskInfo(task_hash).call()
    assert (info[7], info[8]) == (EXPIRED, True)

    assert_reverts(refund, env.refund_collector, "FeeAlreadyRefunded()")
    cert = _certificate(env, s.ECDSA_SET, task_hash)
    assert assert_reverts(mailbox.functions.submitResult(task_hash, cert, RESULT), env.aggregator,
                          *STATUS_ERROR) == (CREATED, EXPIRED)


def test_refund_of_a_verified_task_is_refused(env: Env) -> None:
    task_hash = _create(env)
    env.chain.advance(1)
    send(env.chain, env.mailbox.functions.submitResult(task_hash, _certificate(env, s.ECDSA_SET, task_hash), RESULT),
         env.aggregator)
    refund = env.mailbox.functions.refundFee(task_hash)
    assert assert_reverts(refund, env.refund_collector, *STATUS_ERROR) == (EXPIRED, VERIFIED)
    env.chain.advance(s.TASK_SLA + 1)
    assert assert_reverts(refund, env.refund_collector, *STATUS_ERROR) == (EXPIRED, VERIFIED)
    assert env.balances()["mailbox"] == 0


def test_refund_of_an_unknown_task_is_refused(env: Env) -> None:
    assert_reverts(env.mailbox.functions.refundFee(keccak(b"no such task")), env.refund_collector,
                   "OnlyRefundCollector()")


def test_refund_of_a_fee_free_task_moves_no_tokens(env: Env) -> None:
    send(env.chain, env.hook.functions.setFee(0), env.stack.deployer)
    task_hash = _create(env)
    env.chain.advance(s.TASK_SLA + 1)
    before = env.balances()
    receipt = send(env.chain, env.mailbox.functions.refundFee(task_hash), env.refund_collector)
    assert env.balances() == before
    (event,) = env.mailbox.events.FeeRefunded().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["avsFee"] == 0
    assert_reverts(env.mailbox.functions.refundFee(task_hash), env.refund_collector, "FeeAlreadyRefunded()")


def test_invalid_fee_receiver(env: Env) -> None:
    stack, app = env.stack, env.stack.app
    # No refund collector for a paid task.
    fn = env.mailbox.functions.createTask(env.params(refund_collector=s.ZERO))
    assert_reverts(fn, app, "InvalidFeeReceiver()")
    # No AVS fee collector for a paid task.
    s.configure_executor_set(stack, s.ECDSA_SET, s.task_config(
        stack, s.CURVE_ECDSA, hook=env.hook.address, fee_token=env.token.address, fee_collector=s.ZERO))
    assert_reverts(env.mailbox.functions.createTask(env.params()), app, "InvalidFeeReceiver()")
    # Neither matters when there is nothing to receive: a zero fee ...
    send(env.chain, env.hook.functions.setFee(0), app)
    s.create_task(stack, s.ECDSA_SET, PAYLOAD)
    # ... or no fee token (the hook's fee is recorded, nothing is pulled).
    send(env.chain, env.hook.functions.setFee(FEE), app)
    s.configure_executor_set(stack, s.ECDSA_SET, s.task_config(stack, s.CURVE_ECDSA, hook=env.hook.address))
    before = env.balances()
    task_hash = _create(env)
    assert env.balances() == before
    assert env.mailbox.functions.getTaskInfo(task_hash).call()[3] == FEE


# ------------------------------------------------------------------ curve types, nominal thresholds, arrays


def test_invalid_curve_type(env: Env) -> None:
    stack = env.stack
    unconfigured = stack.op_set(9)
    assert_reverts(stack.key_registrar.functions.configureOperatorSet(unconfigured, 0), stack.avs,
                   "InvalidCurveType()")
    assert_reverts(stack.updater.functions.pushOperatorTable(unconfigured, [], [], (stack.avs, 0), 0),
                   stack.deployer, "InvalidCurveType()")
    operator = stack.ecdsa_operators[0].address
    assert_reverts(stack.key_registrar.functions.getBN254Key(stack.op_set(s.ECDSA_SET), operator), stack.app,
                   "InvalidCurveType()")
    assert_reverts(stack.key_registrar.functions.getECDSAKey(stack.op_set(s.BN254_SET), operator), stack.app,
                   "InvalidCurveType()")
    # The mailbox refuses CurveType.NONE before its own curve switch can: the config is "not set".
    config = s.task_config(stack, 0, hook=env.hook.address)
    assert_reverts(env.mailbox.functions.setExecutorOperatorSetTaskConfig(stack.op_set(s.ECDSA_SET), config),
                   stack.avs, "ExecutorOperatorSetTaskConfigNotSet()")


def test_bn254_verify_certificate_nominal(env: Env) -> None:
    stack = env.stack
    verifier, op_set = stack.bn254_verifier.functions, stack.op_set(s.BN254_SET)
    cert = s.bn254_certificate(stack, keccak(b"nominal"), RESULT, stack.bn254_operators[:2])  # 200 of 300 signed
    assert verifier.verifyCertificateNominal(op_set, cert, [200]).call() is True
    assert verifier.verifyCertificateNominal(op_set, cert, [201]).call() is False
    # (Each call here runs a pairing, slow on py-evm: one mismatch case per function.)
    assert_reverts(verifier.verifyCertificateNominal(op_set, cert, []), stack.app, "ArrayLengthMismatch()")
    assert_reverts(verifier.verifyCertificateProportion(op_set, cert, [6667, 0]), stack.app, "ArrayLengthMismatch()")
    forged = list(cert)
    forged[2] = bn254.g1_add(cert[2], bn254.G1_GENERATOR)
    assert_reverts(verifier.verifyCertificateNominal(op_set, tuple(forged), [0]), stack.app, "VerificationFailed()")


def test_ecdsa_verify_certificate_nominal(env: Env) -> None:
    stack = env.stack
    verifier, op_set = stack.ecdsa_verifier.functions, stack.op_set(s.ECDSA_SET)
    cert = s.ecdsa_certificate(stack, keccak(b"nominal"), RESULT, stack.ecdsa_operators[:2])
    signers = sorted((op.signer for op in stack.ecdsa_operators[:2]), key=lambda a: int(a, 16))
    assert verifier.verifyCertificateNominal(op_set, cert, [200]).call() == [True, signers]
    assert verifier.verifyCertificateNominal(op_set, cert, [201]).call() == [False, signers]
    for thresholds in ([], [200, 0]):
        assert_reverts(verifier.verifyCertificateNominal(op_set, cert, thresholds), stack.app, "ArrayLengthMismatch()")
        assert_reverts(verifier.verifyCertificateProportion(op_set, cert, thresholds), stack.app,
                       "ArrayLengthMismatch()")
    outsider = ecdsa.sign_hash(b"\x07" * 32, verifier.calculateCertificateDigest(cert[0], cert[1]).call())
    assert_reverts(verifier.verifyCertificateNominal(op_set, (cert[0], cert[1], outsider), [0]), stack.app,
                   "VerificationFailed()")


def test_table_updater_array_length_mismatch(env: Env) -> None:
    stack = env.stack
    ops = [op.address for op in stack.ecdsa_operators]
    push = stack.updater.functions.pushOperatorTable
    assert_reverts(push(stack.op_set(s.ECDSA_SET), ops, [[1], [1]], (stack.avs, 0), 0), stack.deployer,
                   "ArrayLengthMismatch()")
    assert_reverts(push(stack.op_set(s.ECDSA_SET), ops, [[1], [1, 2], [1]], (stack.avs, 0), 0), stack.deployer,
                   "ArrayLengthMismatch()")
    assert_reverts(push(stack.op_set(s.BN254_SET), ops, [[1], [1, 2], [1]], (stack.avs, 0), 0), stack.deployer,
                   "ArrayLengthMismatch()")


# ------------------------------------------------------------------ certificate reverts through submitResult


def _submit_reverts(env: Env, task_hash: bytes, cert: bytes, error: str, label: str = "") -> None:
    try:
        assert_reverts(env.mailbox.functions.submitResult(task_hash, cert, RESULT), env.aggregator, error)
    except AssertionError as exc:
        raise AssertionError(f"{label}: {exc}") from None


def test_unsorted_or_duplicated_ecdsa_signers(env: Env) -> None:
    task_hash = _create(env)
    env.chain.advance(1)
    ts, msg, sigs = s.ecdsa_certificate(env.stack, task_hash, RESULT, env.stack.ecdsa_operators)
    a, b, c = sigs[:65], sigs[65:130], sigs[130:]
    for label, bad in {"duplicated": a + a, "duplicated among others": a + b + b, "descending": c + b + a,
                       "unsorted": a + c + b}.items():
        _submit_reverts(env, task_hash, s.encode_ecdsa_certificate((ts, msg, bad)), "SignersNotOrdered()", label)
    _submit_reverts(env, task_hash, s.encode_ecdsa_certificate((ts, msg, a + b + c[:64])), "InvalidSignatureLength()")
    send(env.chain, env.mailbox.functions.submitResult(task_hash, s.encode_ecdsa_certificate((ts, msg, sigs)), RESULT),
         env.aggregator)


def _bn254_parts(env: Env, task_hash: bytes, signers: list[int]) -> tuple[tuple, list]:
    ops = env.stack.bn254_operators
    cert = s.bn254_certificate(env.stack, task_hash, RESULT, [ops[i] for i in signers])
    return cert[:4], list(cert[4])


def test_bn254_non_signer_indices_out_of_order(env: Env) -> None:
    task_hash = _create(env, s.BN254_SET)
    env.chain.advance(1)
    head, (w1, w2) = _bn254_parts(env, task_hash, [0])  # witnesses for operators 1 and 2
    for witnesses in ([w2, w1], [w1, w1], [w2, w2]):
        _submit_reverts(env, task_hash, s.encode_bn254_certificate(head + (witnesses,)), "NonSignerIndicesNotSorted()")
    _submit_reverts(env, task_hash, s.encode_bn254_certificate(head + ([(3, w2[1], w2[2])],)), "InvalidOperatorIndex()")


def test_bn254_invalid_merkle_proofs(env: Env) -> None:
    task_hash = _create(env, s.BN254_SET)
    env.chain.advance(1)
    head, (w2,) = _bn254_parts(env, task_hash, [0, 1])  # the witness of operator 2, index 2 of 4 leaves
    index, proof, info = w2
    _, (w1, _) = _bn254_parts(env, task_hash, [0])
    flipped = proof[:5] + bytes([proof[5] ^ 1]) + proof[6:]
    cases = {
        "a flipped bit in a sibling": ((index, flipped, info), "VerificationFailed()"),
        "another operator's proof": ((index, w1[1], info), "VerificationFailed()"),
        "another operator's key": ((index, proof, w1[2]), "VerificationFailed()"),
        "siblings in the wrong order": ((index, proof[32:] + proof[:32], info), "VerificationFailed()"),
        "too few siblings for the index": ((index, proof[:32], info), "InvalidIndex()"),
        "not a whole number of siblings": ((index, proof + b"\x00", info), "InvalidProofLength()"),
        "an empty proof": ((index, b"", info), "InvalidIndex()"),
    }
    for label, (witness, error) in cases.items():
        _submit_reverts(env, task_hash, s.encode_bn254_certificate(head + ([witness],)), error, label)
    # Leaving a non-signer out altogether makes the aggregate key wrong: the pairing fails.
    _submit_reverts(env, task_hash, s.encode_bn254_certificate(head + ([],)), "VerificationFailed()")
    # And the honest witness verifies.
    send(env.chain, env.mailbox.functions.submitResult(task_hash, s.encode_bn254_certificate(head + ([w2],)), RESULT),
         env.aggregator)
    assert env.mailbox.functions.getTaskStatus(task_hash).call() == VERIFIED


# ------------------------------------------------------------------ owner-only settings, the verifiers' own checks


def test_owner_only_mailbox_settings(env: Env) -> None:
    mailbox, app, avs = env.mailbox.functions, env.stack.app, env.stack.avs
    # Error(string) reverts: eth-tester reports the message, anvil the ABI-encoded Error(string).
    assert b"Ownable: caller is not the owner" in revert_data(mailbox.setFeeSplit(1), app)
    assert b"Ownable: caller is not the owner" in revert_data(mailbox.setFeeSplitCollector(app), app)
    assert b"Initializable: contract is already initialized" in revert_data(
        mailbox.initialize(app, 0, app), env.stack.deployer)
    # Only the operator set's owner (the AVS, per the pushed table) may (de)register it.
    assert_reverts(mailbox.registerExecutorOperatorSet(env.stack.op_set(s.ECDSA_SET), False), app,
                   "InvalidOperatorSetOwner()")
    send(env.chain, mailbox.registerExecutorOperatorSet(env.stack.op_set(s.ECDSA_SET), False), avs)
    assert_reverts(mailbox.createTask(env.params()), app, "ExecutorOperatorSetNotRegistered()")


def test_verifiers_check_reference_timestamp_and_staleness(env: Env) -> None:
    """Unreachable through the mailbox (it pins the task's timestamp and refuses tables that would go
    stale within the SLA), but the verifiers are public: they check on their own."""
    stack = env.stack
    bn_cert = s.bn254_certificate(stack, keccak(b"stale"), RESULT, stack.bn254_operators)
    ec_cert = s.ecdsa_certificate(stack, keccak(b"stale"), RESULT, stack.ecdsa_operators)
    bn, ec = stack.bn254_verifier.functions, stack.ecdsa_verifier.functions
    bn_set, ec_set = stack.op_set(s.BN254_SET), stack.op_set(s.ECDSA_SET)
    unknown = stack.reference_timestamps[s.BN254_SET] - 1
    assert_reverts(bn.verifyCertificate(bn_set, (unknown,) + bn_cert[1:]), stack.app,
                   "ReferenceTimestampDoesNotExist()")
    assert_reverts(ec.verifyCertificate(ec_set, (unknown,) + ec_cert[1:]), stack.app,
                   "ReferenceTimestampDoesNotExist()")

    env.chain.advance(1)
    s.push_tables(stack, max_staleness=300)
    bn_cert = s.bn254_certificate(stack, keccak(b"stale"), RESULT, stack.bn254_operators)
    ec_cert = s.ecdsa_certificate(stack, keccak(b"stale"), RESULT, stack.ecdsa_operators)
    assert ec.verifyCertificate(ec_set, ec_cert).call()[0] == [300]
    env.chain.advance(301)
    assert_reverts(bn.verifyCertificate(bn_set, bn_cert), stack.app, "CertificateStale()")
    assert_reverts(ec.verifyCertificate(ec_set, ec_cert), stack.app, "CertificateStale()")
