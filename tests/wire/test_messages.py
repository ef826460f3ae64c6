"""Signed-message layouts (WIRE.md §2a-c) against independent constructions with eth_abi."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_abi.packed import encode_packed
from eth_utils import keccak, to_checksum_address

from hourglass_cli.crypto import digests
from hourglass_cli.wire import messages
from hourglass_cli.wire.messages import WireFormatError

TASK = "0x1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"
AVS = "0x742d35cc6634c0532925a3b844bc9e7595f0beb2"
EXECUTOR = to_checksum_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")
VERIFIER = "0x" + "c0" * 20

CASES = [
    # task id, operator set, reference timestamp, block number, payload
    (TASK, 42, 1234567890, 12345678, b"test payload"),
    ("0x" + "00" * 31 + "01", 0, 0, 1, b""),
    ("0x" + "ff" * 32, 2**32 - 1, 2**32 - 1, 2**64 - 1, b"another test"),
]


@pytest.mark.parametrize(("task_id", "op_set", "ref_ts", "block", "payload"), CASES)
def test_aggregator_task_message_is_abi_encode_of_seven_words(task_id, op_set, ref_ts, block, payload) -> None:
    expected = encode(
        ["bytes32", "address", "address", "uint32", "uint32", "uint64", "bytes32"],
        [bytes.fromhex(task_id[2:]), AVS, EXECUTOR, op_set, ref_ts, block, keccak(payload)],
    )
    packed = encode_packed(
        ["bytes32", "uint256", "uint256", "uint256", "uint256", "uint256", "bytes32"],
        [bytes.fromhex(task_id[2:]), int(AVS, 16), int(EXECUTOR, 16), op_set, ref_ts, block, keccak(payload)],
    )
    message = messages.aggregator_task_message(task_id, AVS, EXECUTOR, op_set, ref_ts, block, payload)
    assert message == expected == packed
    assert len(message) == messages.AGGREGATOR_TASK_MESSAGE_LENGTH == 224


def test_aggregator_task_message_field_offsets() -> None:
    # The offsets ponos' own tests check: opSetId ends at 128, timestamp at 160, block at 192, digest last.
    m = messages.aggregator_task_message(TASK, AVS, EXECUTOR, 42, 1234567890, 12345678, b"test payload")
    assert m[:32].hex() == TASK[2:]
    assert m[32:64] == bytes(12) + bytes.fromhex(AVS[2:])
    assert m[64:96] == bytes(12) + bytes.fromhex(EXECUTOR[2:])
    assert int.from_bytes(m[96:128], "big") == 42
    assert int.from_bytes(m[128:160], "big") == 1234567890
    assert int.from_bytes(m[160:192], "big") == 12345678
    assert m[192:] == keccak(b"test payload")
    # Binding to the executor: only bytes 64..96 change for another executor.
    other = messages.aggregator_task_message(TASK, AVS, "0x" + "11" * 20, 42, 1234567890, 12345678, b"test payload")
    assert other[:64] == m[:64] and other[96:] == m[96:] and other[64:96] != m[64:96]


def test_auth_message_is_abi_encode_of_five_words() -> None:
    result_signature = bytes(range(64))
    expected = encode(["bytes32", "address", "address", "uint32", "bytes32"],
                      [bytes.fromhex(TASK[2:]), AVS, EXECUTOR, 7, keccak(result_signature)])
    message = messages.auth_message(TASK, AVS, EXECUTOR, 7, result_signature)
    assert message == expected
    assert len(message) == messages.AUTH_MESSAGE_LENGTH == 160


def test_task_ids_in_every_accepted_form() -> None:
    raw = bytes.fromhex(TASK[2:])
    for form in (TASK, TASK.upper().replace("0X", "0x"), TASK.encode(), raw, bytearray(raw)):
        assert messages.task_id_bytes(form) == raw
    assert messages.normalize_task_id(raw) == TASK
    assert messages.task_id_wire_bytes(raw) == TASK.encode("ascii")
    assert len(messages.task_id_wire_bytes(raw)) == 66
    same = messages.aggregator_task_message(raw, AVS, EXECUTOR, 1, 2, 3, b"p")
    assert same == messages.aggregator_task_message(TASK, AVS, EXECUTOR, 1, 2, 3, b"p")


@pytest.mark.parametrize("bad", ["0xdeadbeef", TASK[2:], TASK + "00", "0x" + "g" * 64, b"\x00" * 31, 5, " " + TASK])
def test_bad_task_ids_are_refused_clearly(bad) -> None:
    with pytest.raises(WireFormatError, match="task id"):
        messages.task_id_bytes(bad)


def test_addresses() -> None:
    raw = bytes.fromhex(AVS[2:])
    assert messages.address_bytes(AVS) == raw
    assert messages.address_bytes(to_checksum_address(AVS)) == raw
    assert messages.address_bytes("0x" + AVS[2:].upper()) == raw
    assert messages.address_bytes(raw) == raw
    with pytest.raises(WireFormatError, match="invalid EIP-55 checksum"):
        messages.address_bytes("0x742d35Cc6634C0532925a3b844Bc9e7595f0bEb2")  # mixed case, wrong checksum
    for bad in ("0x1234", AVS[2:], AVS + "00", b"\x01" * 19, None):
        with pytest.raises(WireFormatError):
            messages.address_bytes(bad)  # type: ignore[arg-type]


def test_integers_are_range_checked() -> None:
    with pytest.raises(WireFormatError, match="operator set id must be a uint32"):
        messages.aggregator_task_message(TASK, AVS, EXECUTOR, 2**32, 0, 0, b"")
    with pytest.raises(WireFormatError, match="reference timestamp"):
        messages.aggregator_task_message(TASK, AVS, EXECUTOR, 0, -1, 0, b"")
    with pytest.raises(WireFormatError, match="task block number must be a uint64"):
        messages.aggregator_task_message(TASK, AVS, EXECUTOR, 0, 0, 2**64, b"")
    with pytest.raises(WireFormatError):
        messages.auth_message(TASK, AVS, EXECUTOR, True, b"")  # bool is not a uint32


def test_version() -> None:
    assert messages.check_version(1) == 1
    for bad in (0, 2):
        with pytest.raises(WireFormatError, match="only 1 exists"):
            messages.check_version(bad)


def test_result_digests_delegate_to_the_certificate_digests() -> None:
    output = b"\x00" * 31 + b"\x19"
    message_hash = keccak(encode(["bytes32", "bytes"], [bytes.fromhex(TASK[2:]), output]))
    assert messages.result_message_hash(TASK, output) == message_hash
    assert messages.bn254_result_digest(TASK, output, 77) == digests.bn254_certificate_digest(77, message_hash)
    # Independent: keccak(abi.encode(BN254_CERTIFICATE_TYPEHASH, uint32, bytes32)).
    typehash = keccak(b"BN254Certificate(uint32 referenceTimestamp,bytes32 messageHash)")
    assert messages.bn254_result_digest(TASK, output, 77) == keccak(
        encode(["bytes32", "uint32", "bytes32"], [typehash, 77, message_hash]))
    assert messages.ecdsa_result_digest(TASK, output, 77, VERIFIER) == digests.ecdsa_certificate_digest(
        77, message_hash, VERIFIER)
    assert messages.ecdsa_result_digest(TASK, output, 77, VERIFIER) != messages.ecdsa_result_digest(
        TASK, output, 77, "0x" + "c1" * 20)
