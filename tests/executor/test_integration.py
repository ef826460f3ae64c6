"""The executor end to end, both curves: a test client plays the aggregator, the executor answers, the answer's
signatures check against the on-chain digest views, and a certificate built from it verifies on chain."""

from __future__ import annotations

from eth_abi import decode, encode

from hourglass_cli.chain import certificates
from hourglass_cli.chain.structs import TaskStatus
from hourglass_cli.crypto import bn254, digests, ecdsa
from hourglass_cli.wire import messages
from hourglass_cli.wire.signing import verifier_for
from tests.executor.conftest import Net, RunningExecutor


def _submit_result(net: Net, task_id: str, cert_bytes: bytes, output: bytes) -> None:
    net.chain.advance(1)  # submitResult needs block.timestamp > creationTime
    sender = net.accounts.aggregator.sender(net.chain.w3)
    fn = net.contracts.task_mailbox.functions.submitResult(bytes.fromhex(task_id[2:]), cert_bytes, output)
    sender.transact(fn, gas=3_000_000)


def test_task_result_verifies_against_chain_and_on_chain(net: Net, square: RunningExecutor) -> None:
    task = net.create_task(12345)
    result = square.submit(net.submission(task))

    # The reply (TaskResult version 1).
    assert result.version == 1
    assert result.task_id == task.task_id
    assert result.operator_address == net.executor_address
    assert result.avs_address == net.core.avs
    assert result.operator_set_id == net.core.executor_operator_set_id
    assert decode(["uint256"], result.output) == (12345**2,)

    # result_signature: over the digest the contracts compute (views), by the key registered on chain.
    mailbox, task_hash = net.contracts.task_mailbox, bytes.fromhex(task.task_id[2:])
    message_hash = bytes(mailbox.functions.getMessageHash(task_hash, result.output).call())
    assert message_hash == messages.result_message_hash(task.task_id, result.output)
    verifier_contract = net.contracts.certificate_verifier(net.curve)
    view_digest = bytes(verifier_contract.functions.calculateCertificateDigest(task.reference_timestamp,
                                                                              message_hash).call())
    opset = net.core.operator_set(net.core.executor_operator_set_id)
    if net.curve == "bn254":
        assert view_digest == digests.bn254_certificate_digest(task.reference_timestamp, message_hash)
        _g1, g2 = net.contracts.key_registrar.functions.getBN254Key(opset, net.executor_address).call()
        registered = b"".join(int(w).to_bytes(32, "big") for pair in g2 for w in pair)
        assert verifier_for("bn254").verify_result(task.task_id, result.output, task.reference_timestamp,
                                                   result.result_signature, registered)
    else:
        assert view_digest == messages.ecdsa_result_digest(task.task_id, result.output, task.reference_timestamp,
                                                           verifier_contract.address)
        registered_address = net.contracts.key_registrar.functions.getECDSAAddress(opset, net.executor_address).call()
        assert ecdsa.recover_hash(view_digest, result.result_signature) == registered_address
        registered = bytes.fromhex(registered_address[2:])

    # auth_signature: the off-chain signature of the 160-byte auth message, by the same key.
    auth = messages.auth_message(task.task_id, net.core.avs, net.executor_address, result.operator_set_id,
                                 result.result_signature)
    assert len(auth) == 160
    assert verifier_for(net.curve).verify_offchain(auth, result.auth_signature, registered)
    assert not verifier_for(net.curve).verify_offchain(auth[:-1] + bytes([auth[-1] ^ 1]), result.auth_signature,
                                                       registered)

    # A certificate from this one executor (100 % of the weight) passes TaskMailbox.submitResult on chain.
    if net.curve == "bn254":
        apk = bn254.g2_from_bytes(registered)
        cert = certificates.bn254_certificate(task.reference_timestamp, message_hash,
                                              bn254.g1_from_bytes(result.result_signature), bn254.g2_to_solidity(apk))
        cert_bytes = certificates.encode_bn254_certificate(cert)
    else:
        cert = certificates.ecdsa_certificate(task.reference_timestamp, message_hash, [result.result_signature])
        cert_bytes = certificates.encode_ecdsa_certificate(cert)
    _submit_result(net, task.task_id, cert_bytes, result.output)
    assert TaskStatus(mailbox.functions.getTaskStatus(task_hash).call()) == TaskStatus.VERIFIED
    assert bytes(mailbox.functions.getTaskResult(task_hash).call()) == encode(["uint256"], [12345**2])


def test_processed_task_is_recorded(net: Net, square: RunningExecutor) -> None:
    task = net.create_task(7)
    square.submit(net.submission(task))
    record = square.executor.store.get(task.task_id)
    assert record is not None and record.status == "done" and record.result_bytes == 32
    assert record.aggregator == net.aggregator_address and record.task_block == task.block
