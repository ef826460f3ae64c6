"""Certificate digests checked against hand-written ABI layouts and eth-account's EIP-712 encoder."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_utils import keccak, to_canonical_address

from hourglass_cli.crypto import digests, ecdsa
from hourglass_cli.errors import CryptoError

TASK_HASH = bytes.fromhex("5f" * 32)
VERIFIER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
MSG_HASH = keccak(b"message")


def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _abi_bytes32_and_bytes(b32: bytes, data: bytes) -> bytes:
    """abi.encode(bytes32, bytes) written out by hand: head, offset, length, right-padded data."""
    padded = data + b"\x00" * (-len(data) % 32)
    return b32 + _word(0x40) + _word(len(data)) + padded


def test_typehash_constants_are_the_well_known_values() -> None:
    # keccak256("EIP712Domain(string name,string version,address verifyingContract)")
    assert digests.EIP712_DOMAIN_TYPEHASH_NO_CHAINID.hex() == (
        "91ab3d17e3a50a9d89e63fd30b92be7f5336b03b287bb946787a83a9d62a2766"
    )
    assert digests.BN254_CERTIFICATE_TYPEHASH == keccak(
        text="BN254Certificate(uint32 referenceTimestamp,bytes32 messageHash)"
    )
    assert digests.ECDSA_CERTIFICATE_TYPEHASH == keccak(
        text="ECDSACertificate(uint32 referenceTimestamp,bytes32 messageHash)"
    )
    assert digests.EIP712_DOMAIN_NAME == "EigenLayer"
    assert digests.EIP712_DOMAIN_VERSION == "1"


@pytest.mark.parametrize("output", [b"", b"\x01", b"x" * 32, b"y" * 33, bytes(range(100))])
def test_message_hash_matches_hand_encoded_abi(output: bytes) -> None:
    assert digests.message_hash(TASK_HASH, output) == keccak(_abi_bytes32_and_bytes(TASK_HASH, output))


def test_message_hash_fixed_value() -> None:
    # keccak256(abi.encode(bytes32(0x5f..5f), bytes("ok"))), pinned so a silent change is caught.
    expected = keccak(TASK_HASH + _word(64) + _word(2) + b"ok" + b"\x00" * 30)
    assert digests.message_hash(TASK_HASH, b"ok") == expected


@pytest.mark.parametrize("ts", [0, 1, 1_700_000_000, 2**32 - 1])
def test_bn254_digest_matches_hand_encoded_abi(ts: int) -> None:
    typehash = keccak(b"BN254Certificate(uint32 referenceTimestamp,bytes32 messageHash)")
    assert digests.bn254_certificate_digest(ts, MSG_HASH) == keccak(typehash + _word(ts) + MSG_HASH)


def _typed(ts: int, message_hash: bytes, contract: str, version: str = "1") -> dict:
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "ECDSACertificate": [
                {"name": "referenceTimestamp", "type": "uint32"},
                {"name": "messageHash", "type": "bytes32"},
            ],
        },
        "primaryType": "ECDSACertificate",
        "domain": {"name": "EigenLayer", "version": version, "verifyingContract": contract},
        "message": {"referenceTimestamp": ts, "messageHash": message_hash},
    }


@pytest.mark.parametrize("ts", [0, 7, 1_700_000_000, 2**32 - 1])
def test_ecdsa_digest_matches_eth_account_eip712(ts: int) -> None:
    signable = encode_typed_data(full_message=_typed(ts, MSG_HASH, VERIFIER))
    assert digests.ecdsa_domain_separator(VERIFIER) == signable.header
    assert digests.ecdsa_certificate_struct_hash(ts, MSG_HASH) == signable.body
    raw = digests.ecdsa_certificate_digest_bytes(ts, MSG_HASH, VERIFIER)
    assert raw == b"\x19\x01" + signable.header + signable.body and len(raw) == 66
    assert digests.ecdsa_certificate_digest(ts, MSG_HASH, VERIFIER) == _hash_eip191_message(signable)


def test_ecdsa_domain_separator_hand_encoded() -> None:
    expected = keccak(
        digests.EIP712_DOMAIN_TYPEHASH_NO_CHAINID
        + keccak(b"EigenLayer")
        + keccak(b"1")
        + b"\x00" * 12
        + to_canonical_address(VERIFIER)
    )
    assert digests.ecdsa_domain_separator(VERIFIER) == expected
    assert digests.ecdsa_domain_separator(to_canonical_address(VERIFIER)) == expected
    assert digests.ecdsa_domain_separator(VERIFIER.lower()) == expected


def test_eth_account_typed_signature_recovers_with_our_digest() -> None:
    key = keccak(b"operator-1")
    signed = Account.sign_typed_data(key, full_message=_typed(42, MSG_HASH, VERIFIER))
    digest = digests.ecdsa_certificate_digest(42, MSG_HASH, VERIFIER)
    assert ecdsa.recover_hash(digest, bytes(signed.signature)) == ecdsa.address_of(key)
    # and what our executor signs (keccak of the digest bytes) is the same hash
    ours = ecdsa.sign_message(key, digests.ecdsa_certificate_digest_bytes(42, MSG_HASH, VERIFIER))
    assert ours == bytes(signed.signature)


def test_digest_depends_on_contract_version_and_inputs() -> None:
    base = digests.ecdsa_certificate_digest(1, MSG_HASH, VERIFIER)
    assert base != digests.ecdsa_certificate_digest(2, MSG_HASH, VERIFIER)
    assert base != digests.ecdsa_certificate_digest(1, keccak(b"other"), VERIFIER)
    assert base != digests.ecdsa_certificate_digest(1, MSG_HASH, "0x" + "11" * 20)
    assert base != digests.ecdsa_certificate_digest(1, MSG_HASH, VERIFIER, version="2")
    signable = encode_typed_data(full_message=_typed(1, MSG_HASH, VERIFIER, version="2"))
    v2 = digests.ecdsa_certificate_digest(1, MSG_HASH, VERIFIER, version="2")
    assert v2 == _hash_eip191_message(signable)


@pytest.mark.parametrize(
    ("semver", "major"), [("1.0.0", "1"), ("v1.2.3", "1"), ("V2.0.0", "2"), ("10.2.3", "10"), ("3", "3")]
)
def test_major_version_follows_semver_mixin(semver: str, major: str) -> None:
    assert digests.major_version(semver) == major


def test_invalid_inputs_raise_crypto_error() -> None:
    with pytest.raises(CryptoError, match="uint32"):
        digests.bn254_certificate_digest(2**32, MSG_HASH)
    with pytest.raises(CryptoError, match="uint32"):
        digests.ecdsa_certificate_digest(-1, MSG_HASH, VERIFIER)
    with pytest.raises(CryptoError, match="32 bytes"):
        digests.message_hash(TASK_HASH[:31], b"")
    with pytest.raises(CryptoError, match="32 bytes"):
        digests.bn254_certificate_digest(1, MSG_HASH + b"\x00")
    with pytest.raises(CryptoError, match="address"):
        digests.ecdsa_certificate_digest(1, MSG_HASH, "0x1234")
