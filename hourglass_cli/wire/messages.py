"""The bytes that get signed between aggregator and executor (WIRE.md §2a-c), in one place.

- :func:`aggregator_task_message` — 224 bytes the aggregator signs per executor (``TaskSubmission.signature``);
- :func:`auth_message` — 160 bytes the executor signs to bind its result signature to itself
  (``TaskResult.auth_signature``);
- :func:`result_message_hash` and the certificate digests the result signature covers, delegated to
  :mod:`hourglass_cli.crypto.digests` (the same digests the contracts compute).

Layouts as ponos' ``util.TaskSubmissionSignatureData`` / ``AuthSignatureData.ToSigningBytes`` build them:
every field is a 32-byte word (ids as is, addresses and integers left-padded), digests are keccak256.
Inputs are validated strictly (Go's ``HexToHash`` would silently pad a short id; we refuse it).
"""

from __future__ import annotations

import re
from functools import lru_cache

from eth_hash.auto import keccak
from eth_utils import is_checksum_address

from hourglass_cli.crypto import digests
from hourglass_cli.errors import HourglassError

AGGREGATOR_TASK_MESSAGE_LENGTH = 224
AUTH_MESSAGE_LENGTH = 160
TASK_MESSAGE_VERSION = 1
"""The only ``TaskSubmission.version`` / ``TaskResult.version`` there is."""
MAX_RESULT_BYTES = 3 * 512 * 1024
"""Results of 1.5 MiB or more are dropped by the aggregator (WIRE.md §1)."""

_UINT32_MAX = 2**32 - 1
_UINT64_MAX = 2**64 - 1
_TASK_ID = re.compile(r"0x[0-9a-fA-F]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class WireFormatError(HourglassError, ValueError):
    """A task id, address or integer does not have the form the wire protocol requires."""


# --- validation -------------------------------------------------------------------------------


def task_id_bytes(task_id: str | bytes) -> bytes:
    """The 32 raw bytes of a task hash given as ``"0x"+64 hex``, its ASCII bytes (66) or 32 raw bytes."""
    if isinstance(task_id, (bytes, bytearray, memoryview)):
        raw = bytes(task_id)
        if len(raw) == 32:
            return raw
        if len(raw) == 66 and raw.isascii():
            return task_id_bytes(raw.decode("ascii"))
        raise WireFormatError(f"a task id is 32 raw bytes or the 66 ASCII bytes of 0x+64 hex, got {len(raw)} bytes",
                              hint="pass the task hash from TaskCreated, e.g. 0x3f…(64 hex digits)")
    if isinstance(task_id, str) and _TASK_ID.fullmatch(task_id):
        return bytes.fromhex(task_id[2:])
    shown = task_id[:80] if isinstance(task_id, str) else type(task_id).__name__
    raise WireFormatError(f"a task id must be 0x followed by 64 hex digits, got {shown!r}",
                          hint="pass the task hash from TaskCreated, e.g. 0x3f…(64 hex digits)")


def normalize_task_id(task_id: str | bytes) -> str:
    """The canonical wire form of a task id: ``"0x"`` + 64 lowercase hex digits."""
    return "0x" + task_id_bytes(task_id).hex()


def task_id_wire_bytes(task_id: str | bytes) -> bytes:
    """What ``TaskRequest.task_id`` carries to a performer: the ASCII bytes of the 66-char hex form."""
    return normalize_task_id(task_id).encode("ascii")


def address_bytes(address: str | bytes, what: str = "address") -> bytes:
    """20 address bytes from ``0x``+40 hex (all lower/upper case, or a valid EIP-55 checksum) or 20 raw bytes."""
    if isinstance(address, (bytes, bytearray, memoryview)):
        raw = bytes(address)
        if len(raw) == 20:
            return raw
        raise WireFormatError(f"{what} must be 20 bytes, got {len(raw)}")
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        shown = address[:80] if isinstance(address, str) else type(address).__name__
        raise WireFormatError(f"{what} must be 0x followed by 40 hex digits, got {shown!r}")
    digits = address[2:]
    if digits != digits.lower() and digits != digits.upper() and not _checksum_valid(address):
        raise WireFormatError(f"{what} {address} has mixed case but an invalid EIP-55 checksum",
                              hint="copy the address again, or write it all in lower case")
    return bytes.fromhex(digits)


@lru_cache(maxsize=4096)
def _checksum_valid(address: str) -> bool:
    """EIP-55 check, cached: the same few addresses (AVS, aggregator, operators) arrive with every task."""
    return bool(is_checksum_address(address))


def _uint(value: int, bits_max: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= bits_max:
        kind = "uint32" if bits_max == _UINT32_MAX else "uint64"
        raise WireFormatError(f"{what} must be a {kind}, got {value!r}")
    return value


def check_version(version: int) -> int:
    """Accept only the message layout version that exists (1); 0 (unset) is refused too."""
    if version != TASK_MESSAGE_VERSION:
        raise WireFormatError(f"unsupported task message version {version!r}; only {TASK_MESSAGE_VERSION} exists")
    return version


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _pad_address(address: str | bytes, what: str) -> bytes:
    return bytes(12) + address_bytes(address, what)


# --- §2a / §2c: the off-chain messages ---------------------------------------------------------


def aggregator_task_message(
    task_id: str | bytes,
    avs: str | bytes,
    executor_address: str | bytes,
    operator_set_id: int,
    reference_timestamp: int,
    task_block_number: int,
    payload: bytes,
) -> bytes:
    """224 bytes: taskId ‖ pad32(avs) ‖ pad32(executor) ‖ u256(opSetId) ‖ u256(refTs) ‖ u256(block)
    ‖ keccak(payload).

    The executor rebuilds it with its *own* address, so a signature made for one executor does not
    verify at another.
    """
    message = b"".join((
        task_id_bytes(task_id),
        _pad_address(avs, "AVS address"),
        _pad_address(executor_address, "executor address"),
        _word(_uint(operator_set_id, _UINT32_MAX, "operator set id")),
        _word(_uint(reference_timestamp, _UINT32_MAX, "reference timestamp")),
        _word(_uint(task_block_number, _UINT64_MAX, "task block number")),
        keccak(bytes(payload)),
    ))
    assert len(message) == AGGREGATOR_TASK_MESSAGE_LENGTH
    return message


def auth_message(
    task_id: str | bytes,
    avs: str | bytes,
    operator_address: str | bytes,
    operator_set_id: int,
    result_signature: bytes,
) -> bytes:
    """160 bytes: taskId ‖ pad32(avs) ‖ pad32(operator) ‖ u256(opSetId) ‖ keccak(resultSignature)."""
    message = b"".join((
        task_id_bytes(task_id),
        _pad_address(avs, "AVS address"),
        _pad_address(operator_address, "operator address"),
        _word(_uint(operator_set_id, _UINT32_MAX, "operator set id")),
        keccak(bytes(result_signature)),
    ))
    assert len(message) == AUTH_MESSAGE_LENGTH
    return message


# --- §2b: what the result signature covers (delegated to crypto.digests) -----------------------


def result_message_hash(task_id: str | bytes, output: bytes) -> bytes:
    """``TaskMailbox.getMessageHash(taskHash, output)``: keccak256(abi.encode(bytes32, bytes))."""
    return digests.message_hash(task_id_bytes(task_id), bytes(output))


def bn254_result_digest(task_id: str | bytes, output: bytes, reference_timestamp: int) -> bytes:
    """The 32 bytes a BN254 executor signs with the Solidity hash: ``calculateCertificateDigest``."""
    return digests.bn254_certificate_digest(
        _uint(reference_timestamp, _UINT32_MAX, "reference timestamp"), result_message_hash(task_id, output)
    )


def ecdsa_result_digest(
    task_id: str | bytes,
    output: bytes,
    reference_timestamp: int,
    verifier_address: str | bytes,
    *,
    domain_version: str = digests.EIP712_DOMAIN_VERSION,
) -> bytes:
    """The EIP-712 digest an ECDSA executor signs, for the ECDSACertificateVerifier at ``verifier_address``."""
    return digests.ecdsa_certificate_digest(
        _uint(reference_timestamp, _UINT32_MAX, "reference timestamp"),
        result_message_hash(task_id, output),
        address_bytes(verifier_address, "certificate verifier address"),
        version=domain_version,
    )
