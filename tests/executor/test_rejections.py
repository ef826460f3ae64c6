"""Every refusal of SubmitTask with its status code, and the executor still serving afterwards."""

from __future__ import annotations

import grpc
import pytest
from eth_abi import decode

from hourglass_cli.crypto import bn254
from hourglass_cli.executor.runtimes.base import MAX_RESULT_BYTES
from hourglass_cli.wire.services import SUBMIT_TASK
from hourglass_cli.wire.signing import Bn254Signer, EcdsaSigner, Signer
from tests.executor.conftest import Net, RunningExecutor, start_executor, write_config

Code = grpc.StatusCode


def refused(executor: RunningExecutor, submission: object, code: grpc.StatusCode, *, match: str = "") -> str:
    """Submit, expect ``code`` (and ``match`` in the message), then check a good task still succeeds."""
    with pytest.raises(grpc.RpcError) as info:
        executor.submit(submission)
    assert info.value.code() == code, info.value.details()
    assert match in (info.value.details() or ""), info.value.details()
    return info.value.details() or ""


def still_serving(net: Net, executor: RunningExecutor) -> None:
    task = net.create_task(3)
    assert decode(["uint256"], executor.submit(net.submission(task)).output) == (9,)


def _stranger(curve: str) -> Signer:
    if curve == "bn254":
        return Bn254Signer(bn254.PrivateKey.from_seed(b"not the aggregator"))
    return EcdsaSigner(bytes.fromhex("11" * 32))


# ------------------------------------------------------------------ addressing and authentication


def test_wrong_executor_address(net: Net, square: RunningExecutor) -> None:
    other = net.accounts.app.address
    task = net.create_task()
    refused(square, net.submission(task, executor_address=other), Code.PERMISSION_DENIED, match=other)
    still_serving(net, square)


def test_signature_made_for_another_executor(net: Net, square: RunningExecutor) -> None:
    task = net.create_task()
    # Correctly addressed to us, but signed over the message of another executor's address.
    refused(square, net.submission(task, sign_for=net.accounts.app.address), Code.UNAUTHENTICATED,
            match="does not verify")
    still_serving(net, square)


def test_bad_or_missing_aggregator_signature(net: Net, square: RunningExecutor) -> None:
    task = net.create_task()
    refused(square, net.submission(task, signature=b""), Code.UNAUTHENTICATED, match="missing")
    refused(square, net.submission(task, signer=_stranger(net.curve)), Code.UNAUTHENTICATED, match="does not verify")
    refused(square, net.submission(task, signature=b"\x01" * 7), Code.UNAUTHENTICATED)
    good = net.submission(task)
    tampered = net.submission(task, signature=good.signature[:-1] + bytes([good.signature[-1] ^ 1]))
    refused(square, tampered, Code.UNAUTHENTICATED)
    # The signature covers the payload: the same signature with another payload is refused.
    forged = net.submission(task, signature=good.signature, payload=b"\x00" * 31 + b"\x06")
    refused(square, forged, Code.UNAUTHENTICATED)
    # None of those claimed the task id: the real submission still runs.
    assert decode(["uint256"], square.submit(good).output) == (25,)


def test_aggregator_not_in_the_aggregator_set(net: Net, square: RunningExecutor) -> None:
    task = net.create_task()
    # An executor operator is registered, but not in the aggregator set: it cannot hand out tasks.
    refused(square, net.submission(task, aggregator_address=net.executor_address, signer=net.executor_signer),
            Code.UNAUTHENTICATED, match="aggregator operator set")
    still_serving(net, square)


def test_unknown_avs(net: Net, square: RunningExecutor) -> None:
    task = net.create_task()
    refused(square, net.submission(task, avs_address=net.accounts.app.address), Code.NOT_FOUND, match="serves AVS")
    still_serving(net, square)


# ------------------------------------------------------------------ membership


def test_operator_not_in_the_set_at_the_task_block(bn254_net: Net, bn254_square: RunningExecutor) -> None:
    net = bn254_net
    task = net.create_task()
    # Before the operator registered (the contracts' deployment block) it was not a member.
    refused(bn254_square, net.submission(task, task_block_number=net.core.deployed_at_block),
            Code.PERMISSION_DENIED, match="not in operator set")
    # The aggregator set is not an executor set of the AVS.
    refused(bn254_square, net.submission(task, operator_set_id=net.core.aggregator_operator_set_id),
            Code.PERMISSION_DENIED)
    still_serving(net, bn254_square)


def test_operator_not_in_the_set(bn254_net: Net, bn254_misbehaving: RunningExecutor, tmp_path) -> None:
    """An executor run by an operator that never joined the executor set (its own keystore, same performer)."""
    from hourglass_cli.crypto.keystore import LIGHT_SCRYPT, save_bn254_keystore
    from hourglass_cli.devnet.operators import DEVNET_KEYSTORE_PASSWORD

    net = bn254_net
    outsider = net.accounts.app.address
    keystore = tmp_path / "outsider.json"
    save_bn254_keystore(keystore, bn254.PrivateKey.from_seed(b"outsider"), DEVNET_KEYSTORE_PASSWORD, kdf=LIGHT_SCRYPT)
    address = bn254_misbehaving.executor.runtime.endpoint()
    path = write_config(net, tmp_path / "outsider", {"runtime": "remote", "address": address},
                        operator=outsider, keystore=str(keystore))
    running = start_executor(net, path)
    try:
        task = net.create_task()
        refused(running, net.submission(task, executor_address=outsider), Code.PERMISSION_DENIED,
                match="not in operator set")
        assert running.executor.store.get(task.task_id) is None  # refused before it was claimed
    finally:
        running.close()


def test_task_block_the_chain_does_not_have(bn254_net: Net, bn254_misbehaving: RunningExecutor) -> None:
    net = bn254_net
    task = net.create_task()
    ahead = net.chain.w3.eth.block_number + 1000
    refused(bn254_misbehaving, net.submission(task, task_block_number=ahead), Code.UNAVAILABLE,
            match=f"block {ahead} is not on our chain yet")
    assert bn254_misbehaving.executor.store.get(task.task_id) is None  # can be sent again later
    still_serving(net, bn254_misbehaving)


def test_aggregator_ahead_of_our_chain_is_waited_for(bn254_net: Net, bn254_square: RunningExecutor,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The task names a block our node has not seen yet: the executor waits for it, then runs the task."""
    import threading

    net = bn254_net
    chain_view = bn254_square.executor.service.chain
    task = net.create_task(8)
    ahead = net.chain.w3.eth.block_number + 1
    waiting = threading.Event()
    latest_block = chain_view.latest_block

    def observed() -> int:
        latest = latest_block()
        if latest < ahead:
            waiting.set()
        return latest

    monkeypatch.setattr(chain_view, "latest_block", observed)
    future = bn254_square.stub.SubmitTask.future(net.submission(task, task_block_number=ahead), timeout=20)
    assert waiting.wait(10), "the executor did not look for the block"
    net.create_task(1)  # mines block `ahead`
    assert decode(["uint256"], future.result().output) == (64,)


# ------------------------------------------------------------------ replays and malformed input


def test_a_different_submission_of_a_served_task_id_is_refused(bn254_net: Net, bn254_square: RunningExecutor) -> None:
    """Re-sent identical submissions are answered (test_idempotence.py); other signed fields are not."""
    net, square = bn254_net, bn254_square
    task = net.create_task(4)
    square.submit(net.submission(task))
    other_payload = net.submission(task, payload=task.payload[:-1] + b"\x05")
    refused(square, other_payload, Code.ALREADY_EXISTS, match="other signed fields")
    refused(square, net.submission(task, reference_timestamp=task.reference_timestamp - 1), Code.ALREADY_EXISTS)
    still_serving(net, square)


@pytest.mark.parametrize("field,value,match", [
    ("task_id", "", "missing"),
    ("task_id", "0x1234", "64 hex"),
    ("task_id", "0x" + "zz" * 32, "64 hex"),
    ("task_id", "00" + "ab" * 32, "64 hex"),
    ("task_id", "0x" + "ab" * 32 + "\n", "64 hex"),
    ("aggregator_address", "0x1234", "aggregator_address"),
    ("aggregator_address", "", "missing"),
    ("avs_address", "not an address", "avs_address"),
    ("executor_address", "0x" + "g" * 40, "executor_address"),
    ("executor_address", "0xAbCdEf0000000000000000000000000000000000", "checksum"),
    ("payload", b"", "payload"),
    ("task_block_number", 0, "task_block_number"),
])
def test_malformed_fields(bn254_net: Net, bn254_square: RunningExecutor, field: str, value: object,
                          match: str) -> None:
    task = bn254_net.create_task()
    refused(bn254_square, bn254_net.submission(task, **{field: value}, signature=b"\x01" * 64),
            Code.INVALID_ARGUMENT, match=match)


@pytest.mark.parametrize("version", [0, 2, 2**32 - 1])
def test_unsupported_version(bn254_net: Net, bn254_square: RunningExecutor, version: int) -> None:
    task = bn254_net.create_task()
    refused(bn254_square, bn254_net.submission(task, version=version), Code.INVALID_ARGUMENT, match="version")
    still_serving(bn254_net, bn254_square)


def test_malformed_protobuf_bytes(bn254_net: Net, bn254_square: RunningExecutor) -> None:
    raw = bn254_square.channel.unary_unary(SUBMIT_TASK, request_serializer=None, response_deserializer=None)
    for junk in (b"\xff\xff\xff\xff", b"\x0a\xff\x01", b"\x12" + b"\x80" * 11):
        with pytest.raises(grpc.RpcError) as info:
            raw(junk, timeout=10)
        assert info.value.code() in (Code.INTERNAL, Code.INVALID_ARGUMENT), info.value
    still_serving(bn254_net, bn254_square)


# ------------------------------------------------------------------ the performer's failures


def test_performer_error(bn254_net: Net, bn254_square: RunningExecutor) -> None:
    task = bn254_net.create_task(b"\x01\x02")  # square wants exactly one ABI word
    refused(bn254_square, bn254_net.submission(task), Code.INTERNAL, match="task is invalid: payload must be")
    assert bn254_square.executor.store.get(task.task_id).status == "failed"
    still_serving(bn254_net, bn254_square)


def test_performer_exception(bn254_net: Net, bn254_misbehaving: RunningExecutor) -> None:
    task = bn254_net.create_task(b"fail")
    refused(bn254_misbehaving, bn254_net.submission(task), Code.INTERNAL, match="the performer refuses this task")
    still_serving(bn254_net, bn254_misbehaving)


def test_performer_timeout(bn254_net: Net, bn254_misbehaving: RunningExecutor) -> None:
    performer, _server = bn254_misbehaving.performer
    performer.blocked.clear()
    performer.release.clear()
    task = bn254_net.create_task(b"block")
    try:
        refused(bn254_misbehaving, bn254_net.submission(task), Code.DEADLINE_EXCEEDED, match="did not answer")
        assert performer.blocked.is_set()
        assert bn254_misbehaving.executor.store.get(task.task_id).status == "failed"
    finally:
        performer.release.set()
    still_serving(bn254_net, bn254_misbehaving)


def test_abandoned_task_cancels_the_performer_call(bn254_net: Net, bn254_misbehaving: RunningExecutor) -> None:
    """The aggregator cancels its call (threshold met): the executor cancels the performer call and records it."""
    import time

    performer, _server = bn254_misbehaving.performer
    performer.blocked.clear()
    performer.release.clear()
    task = bn254_net.create_task(b"block")
    try:
        future = bn254_misbehaving.stub.SubmitTask.future(bn254_net.submission(task), timeout=20)
        assert performer.blocked.wait(10)
        future.cancel()
        end = time.monotonic() + 10
        while (record := bn254_misbehaving.executor.store.get(task.task_id)).status == "running":
            assert time.monotonic() < end, "the task was never finished"
            time.sleep(0.01)  # polling the store for a condition, with a deadline
        assert record.status == "failed" and record.error.startswith("CANCELLED"), record
    finally:
        performer.release.set()
    still_serving(bn254_net, bn254_misbehaving)


@pytest.mark.parametrize("size", [MAX_RESULT_BYTES, MAX_RESULT_BYTES + 1, 3 * MAX_RESULT_BYTES])
def test_oversize_result(bn254_net: Net, bn254_misbehaving: RunningExecutor, size: int) -> None:
    task = bn254_net.create_task(b"big:%d" % size)
    refused(bn254_misbehaving, bn254_net.submission(task), Code.RESOURCE_EXHAUSTED)
    still_serving(bn254_net, bn254_misbehaving)


def _largest_fitting(limit: int) -> int:
    """The most 0x07 bytes whose submitResult floor (chain/gas) fits in `limit`."""
    from hourglass_cli.chain.gas import result_gas_floor

    lo, hi = 0, MAX_RESULT_BYTES - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if result_gas_floor(b"\x07" * mid) <= limit else (lo, mid - 1)
    return lo


def test_a_result_no_block_can_hold_is_refused_unsigned(bn254_net: Net, bn254_misbehaving: RunningExecutor) -> None:
    """Issue #12: a result under 1.5 MiB but too large for any block was signed, then submitResult was retried
    five times; the executor now knows the chain's block gas limit and signs nothing for it."""
    limit = int(bn254_net.chain.w3.eth.get_block("latest")["gasLimit"])
    size = _largest_fitting(limit) + 32
    task = bn254_net.create_task(b"big:%d" % size)
    details = refused(bn254_misbehaving, bn254_net.submission(task), Code.RESOURCE_EXHAUSTED)
    assert details.startswith(f"the result ({size:,} bytes) is too large to submit on chain: storing it takes at "
                              f"least "), details
    assert details.endswith(f"gas and a block of this chain holds {limit:,}"), details
    record = bn254_misbehaving.executor.store.get(task.task_id)
    assert record.status == "failed" and bn254_misbehaving.executor.store.problems() == []
    still_serving(bn254_net, bn254_misbehaving)


def test_largest_result_passes(bn254_net: Net, bn254_misbehaving: RunningExecutor) -> None:
    """The largest result the chain could take (eth-tester: 30M gas a block) is signed."""
    size = _largest_fitting(int(bn254_net.chain.w3.eth.get_block("latest")["gasLimit"]))
    task = bn254_net.create_task(b"big:%d" % size)
    result = bn254_misbehaving.submit(bn254_net.submission(task))
    assert len(result.output) == size
