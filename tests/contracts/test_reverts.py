"""Every revert path of the task flow, on py-evm and anvil, from one deployed stack per chain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_abi import encode

from tests.contracts import stack as s
from tests.contracts.chains import anvil_binary, anvil_chain, eth_tester_chain, send
from tests.contracts.reverts import assert_reverts

pytestmark = pytest.mark.slow

RESULT = b"\x2a"
CREATED, VERIFIED, EXPIRED = 1, 2, 3


@pytest.fixture(scope="module", params=["eth-tester", "anvil"])
def base(request: pytest.FixtureRequest) -> Iterator[s.Stack]:
    """Both executor sets (3 BN254 and 3 ECDSA operators of weight 100) configured at 66.67 %."""
    if request.param == "eth-tester":
        chain = eth_tester_chain()
    else:
        binary = anvil_binary()
        if binary is None:
            pytest.fail("anvil is not installed: `make test` installs it (npm @foundry-rs/anvil)")
        chain = anvil_chain(binary)
    stack = s.deploy_stack(chain)
    for i in range(3):
        s.register_bn254_operator(stack, chain.accounts[3 + i], f"rv-bn-{i}".encode(), 100)
        s.register_ecdsa_operator(stack, chain.accounts[6 + i], f"rv-ec-{i}".encode(), 100)
    s.push_tables(stack)
    s.configure_executor_set(stack, s.BN254_SET, s.task_config(stack, s.CURVE_BN254))
    s.configure_executor_set(stack, s.ECDSA_SET, s.task_config(stack, s.CURVE_ECDSA))
    yield stack
    chain.close()


@pytest.fixture
def st(base: s.Stack) -> Iterator[s.Stack]:
    """The base stack, rolled back after each test."""
    snap = base.chain.snapshot()
    timestamps = dict(base.reference_timestamps)
    yield base
    base.chain.revert(snap)
    base.reference_timestamps = timestamps


def _task(st: s.Stack, set_id: int) -> bytes:
    task_hash = s.create_task(st, set_id)
    st.chain.advance(1)
    return task_hash


# ------------------------------------------------------------------ task configuration


def test_config_by_non_owner(st: s.Stack) -> None:
    fn = st.mailbox.functions.setExecutorOperatorSetTaskConfig(st.op_set(s.BN254_SET), s.task_config(st, s.CURVE_BN254))
    assert_reverts(fn, st.app, "InvalidOperatorSetOwner()")


def test_config_sla_above_maximum(st: s.Stack) -> None:
    config = list(s.task_config(st, s.CURVE_BN254))
    config[1] = s.MAX_TASK_SLA + 1
    fn = st.mailbox.functions.setExecutorOperatorSetTaskConfig(st.op_set(s.BN254_SET), tuple(config))
    assert_reverts(fn, st.avs, "TaskSLAExceedsMaximum()")


def test_config_not_populated(st: s.Stack) -> None:
    fn = st.mailbox.functions.setExecutorOperatorSetTaskConfig(
        st.op_set(s.BN254_SET), s.task_config(st, s.CURVE_BN254, hook=s.ZERO)
    )
    assert_reverts(fn, st.avs, "ExecutorOperatorSetTaskConfigNotSet()")
    fn = st.mailbox.functions.registerExecutorOperatorSet(st.op_set(7), True)
    assert_reverts(fn, st.avs, "ExecutorOperatorSetTaskConfigNotSet()")


def test_config_bad_consensus_value(st: s.Stack) -> None:
    fn = st.mailbox.functions.setExecutorOperatorSetTaskConfig(
        st.op_set(s.BN254_SET), s.task_config(st, s.CURVE_BN254, bips=10_001)
    )
    assert_reverts(fn, st.avs, "InvalidConsensusValue()")
    config = list(s.task_config(st, s.CURVE_BN254, consensus=s.CONSENSUS_NONE))
    config[5] = (s.CONSENSUS_NONE, b"\x01")
    fn = st.mailbox.functions.setExecutorOperatorSetTaskConfig(st.op_set(s.BN254_SET), tuple(config))
    assert_reverts(fn, st.avs, "InvalidConsensusValue()")


def test_unregistered_set_rejects_tasks(st: s.Stack) -> None:
    send(st.chain, st.mailbox.functions.registerExecutorOperatorSet(st.op_set(s.BN254_SET), False), st.avs)
    fn = st.mailbox.functions.createTask((st.app, st.op_set(s.BN254_SET), b"x"))
    assert_reverts(fn, st.app, "ExecutorOperatorSetNotRegistered()")


# ------------------------------------------------------------------ createTask


def test_empty_payload(st: s.Stack) -> None:
    fn = st.mailbox.functions.createTask((st.app, st.op_set(s.BN254_SET), b""))
    assert_reverts(fn, st.app, "PayloadIsEmpty()")


def test_stale_table_rejects_new_tasks(st: s.Stack) -> None:
    s.push_tables(st, max_staleness=300)  # the table must outlive now + SLA (120 s)
    s.create_task(st, s.BN254_SET)
    st.chain.advance(200)
    fn = st.mailbox.functions.createTask((st.app, st.op_set(s.BN254_SET), b"x"))
    assert_reverts(fn, st.app, "CertificateStale()")


# ------------------------------------------------------------------ submitResult


def test_unknown_task(st: s.Stack) -> None:
    fn = st.mailbox.functions.submitResult(b"\x01" * 32, b"", RESULT)
    assert assert_reverts(fn, st.app, "InvalidTaskStatus(uint8,uint8)", "uint8", "uint8") == (CREATED, 0)


@pytest.mark.parametrize("base", ["anvil"], indirect=True)  # py-evm cannot mine two blocks in one second
def test_result_in_creation_block(st: s.Stack) -> None:
    w3 = st.chain.w3
    task_hash = s.create_task(st, s.ECDSA_SET)
    cert = s.encode_ecdsa_certificate(s.ecdsa_certificate(st, task_hash, RESULT, st.ecdsa_operators))
    created = st.mailbox.functions.getTaskInfo(task_hash).call()[1]
    w3.provider.make_request("evm_setNextBlockTimestamp", [created])  # same second as the creation
    tx = st.mailbox.functions.submitResult(task_hash, cert, RESULT).transact({"from": st.app, "gas": 3_000_000})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 0
    # The same certificate is accepted one second later: only the timestamp check failed.
    st.chain.advance(1)
    send(st.chain, st.mailbox.functions.submitResult(task_hash, cert, RESULT), st.app)


def test_wrong_reference_timestamp_and_message_hash(st: s.Stack) -> None:
    task_hash = _task(st, s.BN254_SET)
    cert = s.bn254_certificate(st, task_hash, RESULT, st.bn254_operators)
    fn = st.mailbox.functions.submitResult(task_hash, s.encode_bn254_certificate(cert), b"another result")
    assert_reverts(fn, st.app, "InvalidMessageHash()")
    cert = s.bn254_certificate(st, task_hash, RESULT, st.bn254_operators, reference_timestamp=1)
    fn = st.mailbox.functions.submitResult(task_hash, s.encode_bn254_certificate(cert), RESULT)
    assert_reverts(fn, st.app, "InvalidReferenceTimestamp()")


def test_empty_signatures(st: s.Stack) -> None:
    task_hash = _task(st, s.BN254_SET)
    cert = list(s.bn254_certificate(st, task_hash, RESULT, st.bn254_operators))
    cert[2] = (0, 0)
    fn = st.mailbox.functions.submitResult(task_hash, s.encode_bn254_certificate(tuple(cert)), RESULT)
    assert_reverts(fn, st.app, "EmptyCertificateSignature()")
    ecdsa_task = _task(st, s.ECDSA_SET)
    ecdsa_cert = s.ecdsa_certificate(st, ecdsa_task, RESULT, st.ecdsa_operators)[:2] + (b"",)
    fn = st.mailbox.functions.submitResult(ecdsa_task, s.encode_ecdsa_certificate(ecdsa_cert), RESULT)
    assert_reverts(fn, st.app, "EmptyCertificateSignature()")


def test_bn254_threshold_not_met(st: s.Stack) -> None:
    task_hash = _task(st, s.BN254_SET)
    cert = s.bn254_certificate(st, task_hash, RESULT, st.bn254_operators[:1])  # 100 of 300 < 66.67 %
    fn = st.mailbox.functions.submitResult(task_hash, s.encode_bn254_certificate(cert), RESULT)
    assert_reverts(fn, st.app, "ThresholdNotMet()")


def test_ecdsa_threshold_not_met(st: s.Stack) -> None:
    task_hash = _task(st, s.ECDSA_SET)
    cert = s.ecdsa_certificate(st, task_hash, RESULT, st.ecdsa_operators[:1])
    fn = st.mailbox.functions.submitResult(task_hash, s.encode_ecdsa_certificate(cert), RESULT)
    assert_reverts(fn, st.app, "ThresholdNotMet()")


def test_bn254_bad_signature(st: s.Stack) -> None:
    task_hash = _task(st, s.BN254_SET)
    cert = list(s.bn254_certificate(st, task_hash, RESULT, st.bn254_operators))
    other = s.bn254_certificate(st, task_hash, b"other", st.bn254_operators)
    cert[2] = other[2]  # a signature over another message
    fn = st.mailbox.functions.submitResult(task_hash, s.encode_bn254_certificate(tuple(cert)), RESULT)
    assert_reverts(fn, st.app, "VerificationFailed()")


def test_bn254_witness_errors(st: s.Stack) -> None:
    task_hash = _task(st, s.BN254_SET)
    cert = list(s.bn254_certificate(st, task_hash, RESULT, st.bn254_operators[:1]))
    verifier, op_set = st.bn254_verifier.functions, st.op_set(s.BN254_SET)
    w1, w2 = cert[4]
    assert_reverts(verifier.verifyCertificate(op_set, tuple(cert[:4]) + ([w2, w1],)), st.app,
                   "NonSignerIndicesNotSorted()")
    bad_index = (7, w1[1], w1[2])
    assert_reverts(verifier.verifyCertificate(op_set, tuple(cert[:4]) + ([bad_index],)), st.app,
                   "InvalidOperatorIndex()")
    lying = (w1[0], w1[1], (w1[2][0], [1]))  # weights that are not in the tree
    assert_reverts(verifier.verifyCertificate(op_set, tuple(cert[:4]) + ([lying],)), st.app,
                   "VerificationFailed()")
    short_proof = (w1[0], w1[1][:31], w1[2])
    assert_reverts(verifier.verifyCertificate(op_set, tuple(cert[:4]) + ([short_proof],)), st.app,
                   "InvalidProofLength()")


def test_ecdsa_signature_errors(st: s.Stack) -> None:
    task_hash = _task(st, s.ECDSA_SET)
    ts, msg, sigs = s.ecdsa_certificate(st, task_hash, RESULT, st.ecdsa_operators)
    verifier, op_set = st.ecdsa_verifier.functions, st.op_set(s.ECDSA_SET)
    assert_reverts(verifier.verifyCertificate(op_set, (ts, msg, sigs[:64])), st.app, "InvalidSignatureLength()")
    swapped = sigs[65:130] + sigs[:65] + sigs[130:]
    assert_reverts(verifier.verifyCertificate(op_set, (ts, msg, swapped)), st.app, "SignersNotOrdered()")
    outsider = s.ECDSAOperator(st.app, b"\x07" * 32, 0)
    digest = verifier.calculateCertificateDigest(ts, msg).call()
    from hourglass_cli.crypto import ecdsa

    assert_reverts(verifier.verifyCertificate(op_set, (ts, msg, ecdsa.sign_hash(outsider.signing_key, digest))),
                   st.app, "VerificationFailed()")
    assert_reverts(verifier.verifyCertificate(op_set, (ts, msg, b"\x00" * 65)), st.app, "InvalidSignature()")


def test_expiry_and_refund(st: s.Stack) -> None:
    task_hash = _task(st, s.ECDSA_SET)
    fn = st.mailbox.functions.refundFee(task_hash)
    assert_reverts(fn, st.app, "InvalidTaskStatus(uint8,uint8)", "uint8", "uint8")
    st.chain.advance(s.TASK_SLA + 1)
    assert st.mailbox.functions.getTaskStatus(task_hash).call() == EXPIRED
    cert = s.ecdsa_certificate(st, task_hash, RESULT, st.ecdsa_operators)
    fn = st.mailbox.functions.submitResult(task_hash, s.encode_ecdsa_certificate(cert), RESULT)
    assert assert_reverts(fn, st.app, "InvalidTaskStatus(uint8,uint8)", "uint8", "uint8") == (CREATED, EXPIRED)
    assert_reverts(st.mailbox.functions.getTaskResult(task_hash), st.app, "InvalidTaskStatus(uint8,uint8)")
    assert_reverts(st.mailbox.functions.refundFee(task_hash), st.avs, "OnlyRefundCollector()")
    send(st.chain, st.mailbox.functions.refundFee(task_hash), st.app)
    assert_reverts(st.mailbox.functions.refundFee(task_hash), st.app, "FeeAlreadyRefunded()")


def test_verified_task_cannot_be_resubmitted(st: s.Stack) -> None:
    task_hash = _task(st, s.ECDSA_SET)
    cert = s.encode_ecdsa_certificate(s.ecdsa_certificate(st, task_hash, RESULT, st.ecdsa_operators))
    send(st.chain, st.mailbox.functions.submitResult(task_hash, cert, RESULT), st.app)
    fn = st.mailbox.functions.submitResult(task_hash, cert, RESULT)
    assert assert_reverts(fn, st.app, "InvalidTaskStatus(uint8,uint8)", "uint8", "uint8") == (CREATED, VERIFIED)


# ------------------------------------------------------------------ owner functions


def test_fee_split_bounds_and_owner(st: s.Stack) -> None:
    assert_reverts(st.mailbox.functions.setFeeSplit(10_001), st.deployer, "InvalidFeeSplit()")
    assert_reverts(st.mailbox.functions.setFeeSplitCollector(s.ZERO), st.deployer, "InvalidAddressZero()")
    send(st.chain, st.mailbox.functions.setFeeSplit(2_500), st.deployer)
    assert st.mailbox.functions.feeSplit().call() == 2_500


# ------------------------------------------------------------------ tables, keys, registrar


def test_table_updates(st: s.Stack) -> None:
    op_set = st.op_set(s.BN254_SET)
    info = (b"\x01" * 32, 1, (1, 2), [1])
    fn = st.bn254_verifier.functions.updateOperatorTable(op_set, 10**9, info, (st.avs, 0))
    assert_reverts(fn, st.deployer, "OnlyTableUpdater()")
    ts = st.reference_timestamps[s.BN254_SET]
    fn = st.updater.functions.pushOperatorTable(op_set, [], [], (st.avs, 0), ts)
    assert_reverts(fn, st.deployer, "TableUpdateStale()")


def test_key_registration_errors(st: s.Stack) -> None:
    from hourglass_cli.crypto import bn254

    op = st.chain.accounts[9]
    key = bn254.PrivateKey.from_seed(b"newcomer")
    key_data = bn254.key_registration_data(key)
    op_set = st.op_set(s.BN254_SET)
    wrong = key.sign(b"\x00" * 32)
    fn = st.key_registrar.functions.registerKey(op, op_set, key_data, encode(["uint256", "uint256"], list(wrong)))
    assert_reverts(fn, op, "InvalidSignature()")
    taken = bn254.key_registration_data(st.bn254_operators[0].key)
    digest = st.key_registrar.functions.getBN254KeyRegistrationMessageHash(op, op_set, taken).call()
    proof = encode(["uint256", "uint256"], list(st.bn254_operators[0].key.sign(digest)))
    assert_reverts(st.key_registrar.functions.registerKey(op, op_set, taken, proof), op, "KeyAlreadyRegistered()")
    assert_reverts(st.key_registrar.functions.registerKey(op, op_set, key_data, proof), st.app, "InvalidPermissions()")
    assert_reverts(st.key_registrar.functions.registerKey(op, st.op_set(42), key_data, proof), op,
                   "OperatorSetNotConfigured()")
    assert_reverts(st.key_registrar.functions.configureOperatorSet(op_set, s.CURVE_ECDSA), st.avs,
                   "ConfigurationAlreadySet()")


def test_registrar_errors(st: s.Stack) -> None:
    op = st.chain.accounts[9]
    socket = encode(["string"], ["x:1"])
    fn = st.registrar.functions.registerOperator(op, st.avs, [s.BN254_SET], socket)
    assert_reverts(fn, op, "KeyNotRegistered()")
    assert_reverts(fn, st.app, "NotAllocationManager()")
    member = st.ecdsa_operators[0].address
    fn = st.registrar.functions.registerOperator(member, st.avs, [s.AGGREGATOR_SET], socket)
    assert_reverts(fn, member, "KeyNotRegistered()")
    fn = st.registrar.functions.setAvsConfig((s.BN254_SET, [s.BN254_SET]))
    assert_reverts(fn, st.avs, "InvalidAggregatorOperatorSetId()")
    assert_reverts(st.registrar.functions.setAvsConfig((0, [2, 1])), st.avs, "DuplicateExecutorOperatorSetId()")
    assert_reverts(st.registrar.functions.setAvsConfig((0, [])), st.avs, "ExecutorOperatorSetIdsEmpty()")
