"""createTask → submitResult end to end with real BN254 and ECDSA certificates, on py-evm and anvil."""

from __future__ import annotations

import pytest

from hourglass_cli.crypto import digests
from tests.contracts import stack as s
from tests.contracts.chains import Chain, send

pytestmark = pytest.mark.slow

RESULT = b"\x00" * 31 + b"\x19"
STATUS_CREATED, STATUS_VERIFIED, STATUS_EXPIRED = 1, 2, 3


def _bn254_stack(chain: Chain) -> s.Stack:
    stack = s.deploy_stack(chain)
    for i, weight in enumerate((100, 100, 100, 50)):
        s.register_bn254_operator(stack, chain.accounts[3 + i], f"bn254-{i}".encode(), weight)
    s.push_tables(stack)
    s.configure_executor_set(stack, s.BN254_SET, s.task_config(stack, s.CURVE_BN254))
    return stack


def _ecdsa_stack(chain: Chain) -> s.Stack:
    stack = s.deploy_stack(chain)
    for i, weight in enumerate((100, 100, 100)):
        s.register_ecdsa_operator(stack, chain.accounts[3 + i], f"ecdsa-{i}".encode(), weight)
    s.push_tables(stack)
    s.configure_executor_set(stack, s.ECDSA_SET, s.task_config(stack, s.CURVE_ECDSA))
    return stack


def test_bn254_task_verifies_with_a_non_signer(chain: Chain) -> None:
    stack = _bn254_stack(chain)
    task_hash = s.create_task(stack, s.BN254_SET)
    assert stack.mailbox.functions.getTaskStatus(task_hash).call() == STATUS_CREATED

    # 3 of 4 operators sign: 300 of 350 weight ≥ 66.67 %; operator 2 is a proven non-signer.
    signers = [op for i, op in enumerate(stack.bn254_operators) if i != 2]
    cert = s.bn254_certificate(stack, task_hash, RESULT, signers)
    cert_bytes = s.encode_bn254_certificate(cert)
    assert stack.mailbox.functions.getBN254CertificateBytes(cert).call() == cert_bytes
    assert stack.mailbox.functions.getMessageHash(task_hash, RESULT).call() == digests.message_hash(task_hash, RESULT)
    assert stack.bn254_verifier.functions.calculateCertificateDigest(cert[0], cert[1]).call() == \
        digests.bn254_certificate_digest(cert[0], cert[1])

    chain.advance(1)
    receipt = send(chain, stack.mailbox.functions.submitResult(task_hash, cert_bytes, RESULT), chain.accounts[9])
    (event,) = stack.mailbox.events.TaskVerified().process_receipt(receipt)
    assert event["args"]["taskHash"] == task_hash and event["args"]["result"] == RESULT
    assert stack.mailbox.functions.getTaskStatus(task_hash).call() == STATUS_VERIFIED
    assert stack.mailbox.functions.getTaskResult(task_hash).call() == RESULT
    info = stack.mailbox.functions.getTaskInfo(task_hash).call()
    assert info[7] == STATUS_VERIFIED and info[12] == cert_bytes
    # The non-signer's info is now cached by the verifier.
    ts = stack.reference_timestamps[s.BN254_SET]
    assert stack.bn254_verifier.functions.isNonsignerCached(stack.op_set(s.BN254_SET), ts, 2).call()


def test_bn254_table_matches_the_python_merkle_tree(chain: Chain) -> None:
    from hourglass_cli.crypto import bn254, merkle

    stack = _bn254_stack(chain)
    ts = stack.reference_timestamps[s.BN254_SET]
    info = stack.bn254_verifier.functions.getOperatorSetInfo(stack.op_set(s.BN254_SET), ts).call()
    leaves = [merkle.operator_info_leaf(op.key.public_g1(), [op.weight]) for op in stack.bn254_operators]
    assert info[0] == merkle.merkle_root(leaves)
    assert info[1] == 4
    assert tuple(info[2]) == bn254.aggregate_g1([op.key.public_g1() for op in stack.bn254_operators])
    assert info[3] == [350]
    op0 = stack.bn254_operators[0]
    assert stack.bn254_verifier.functions.calculateOperatorInfoLeaf((op0.key.public_g1(), [100])).call() == leaves[0]


def test_ecdsa_task_verifies(chain: Chain) -> None:
    stack = _ecdsa_stack(chain)
    task_hash = s.create_task(stack, s.ECDSA_SET)
    cert = s.ecdsa_certificate(stack, task_hash, RESULT, stack.ecdsa_operators[:2])
    ts, msg = cert[0], cert[1]
    assert stack.ecdsa_verifier.functions.calculateCertificateDigest(ts, msg).call() == \
        digests.ecdsa_certificate_digest(ts, msg, stack.ecdsa_verifier.address)
    assert stack.ecdsa_verifier.functions.calculateCertificateDigestBytes(ts, msg).call() == \
        digests.ecdsa_certificate_digest_bytes(ts, msg, stack.ecdsa_verifier.address)

    signed, signers = stack.ecdsa_verifier.functions.verifyCertificate(stack.op_set(s.ECDSA_SET), cert).call()
    assert signed == [200]
    assert signers == sorted((op.signer for op in stack.ecdsa_operators[:2]), key=lambda a: int(a, 16))

    chain.advance(1)
    cert_bytes = s.encode_ecdsa_certificate(cert)
    assert stack.mailbox.functions.getECDSACertificateBytes(cert).call() == cert_bytes
    send(chain, stack.mailbox.functions.submitResult(task_hash, cert_bytes, RESULT), chain.accounts[9])
    assert stack.mailbox.functions.getTaskResult(task_hash).call() == RESULT


def test_registrar_records_sockets_and_members(chain: Chain) -> None:
    stack = s.deploy_stack(chain)
    op = s.register_ecdsa_operator(stack, chain.accounts[3], b"x", 10)
    assert stack.registrar.functions.getOperatorSocket(op.address).call() == "localhost:9100"
    assert stack.registrar.functions.getRegisteredOperators(s.ECDSA_SET).call() == [op.address]
    send(chain, stack.registrar.functions.updateSocket(op.address, "example:1"), op.address)
    assert stack.registrar.functions.getOperatorSocket(op.address).call() == "example:1"
    assert stack.key_registrar.functions.getECDSAAddress(stack.op_set(s.ECDSA_SET), op.address).call() == op.signer
    assert stack.key_registrar.functions.getOperatorFromSigningKey(
        stack.op_set(s.ECDSA_SET), bytes.fromhex(op.signer[2:])
    ).call() == [op.address, True]
