"""secp256k1 signing over raw hashes: fixed vectors, round trips, canonical form, rejection of bad input."""

from __future__ import annotations

import os

import pytest
from eth_account import Account
from eth_utils import keccak

from hourglass_cli.crypto import ecdsa
from hourglass_cli.errors import CryptoError

# The web3.js / eth-account documentation key and its EIP-191 "Some data" signature.
DOC_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
DOC_ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
DOC_HASH = bytes.fromhex("1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655")
DOC_SIG = bytes.fromhex(
    "b91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd"
    "6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c"
)
N = ecdsa.SECP256K1_N


def test_known_vector_sign_hash_and_recover() -> None:
    assert ecdsa.address_of(DOC_KEY) == DOC_ADDRESS
    assert ecdsa.address_of("0x" + DOC_KEY.hex()) == DOC_ADDRESS
    assert ecdsa.sign_hash(DOC_KEY, DOC_HASH) == DOC_SIG
    assert ecdsa.recover_hash(DOC_HASH, DOC_SIG) == DOC_ADDRESS


def test_sign_message_is_keccak_then_sign_without_eip191_prefix() -> None:
    message = b"hourglass task payload"
    sig = ecdsa.sign_message(DOC_KEY, message)
    assert sig == ecdsa.sign_hash(DOC_KEY, keccak(message))
    # eth-account, an independent caller of the same curve, agrees on the raw-hash signature.
    assert sig == bytes(Account.unsafe_sign_hash(keccak(message), DOC_KEY).signature)
    assert ecdsa.recover_hash(keccak(message), sig) == DOC_ADDRESS
    prefixed = keccak(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode() + message)
    assert ecdsa.recover_hash(prefixed, sig) != DOC_ADDRESS


def test_round_trip_low_s_and_both_v_values() -> None:
    seen_v = set()
    for _ in range(24):
        key = os.urandom(32)
        digest = os.urandom(32)
        sig = ecdsa.sign_hash(key, digest)
        assert len(sig) == 65
        r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
        assert 0 < r < N and 0 < s <= N // 2
        assert v in (27, 28)
        seen_v.add(v)
        address = ecdsa.address_of(key)
        assert ecdsa.recover_hash(digest, sig) == address
        assert ecdsa.verify_hash(digest, sig, address)
        assert ecdsa.verify_hash(digest, sig, address.lower())
        assert not ecdsa.verify_hash(os.urandom(32), sig, address)
    assert seen_v == {27, 28}


def test_recover_accepts_v_0_and_1() -> None:
    raw_v = DOC_SIG[:64] + bytes([DOC_SIG[64] - 27])
    assert ecdsa.recover_hash(DOC_HASH, raw_v) == DOC_ADDRESS


def test_high_s_is_rejected() -> None:
    r, s = DOC_SIG[:32], int.from_bytes(DOC_SIG[32:64], "big")
    twin = r + (N - s).to_bytes(32, "big") + bytes([55 - DOC_SIG[64]])  # 27 <-> 28
    with pytest.raises(CryptoError, match="high s"):
        ecdsa.recover_hash(DOC_HASH, twin)
    assert not ecdsa.verify_hash(DOC_HASH, twin, DOC_ADDRESS)


@pytest.mark.parametrize(
    "sig",
    [
        DOC_SIG[:64],
        DOC_SIG + b"\x00",
        b"",
        DOC_SIG[:64] + bytes([29]),
        b"\x00" * 32 + DOC_SIG[32:],  # r = 0
        DOC_SIG[:32] + b"\x00" * 32 + DOC_SIG[64:],  # s = 0
        N.to_bytes(32, "big") + DOC_SIG[32:],  # r = n
    ],
)
def test_malformed_signatures_are_crypto_errors(sig: bytes) -> None:
    with pytest.raises(CryptoError):
        ecdsa.recover_hash(DOC_HASH, sig)
    assert ecdsa.verify_hash(DOC_HASH, sig, DOC_ADDRESS) is False


@pytest.mark.parametrize("digest", [b"", b"\x01" * 31, b"\x01" * 33])
def test_digest_must_be_32_bytes(digest: bytes) -> None:
    with pytest.raises(CryptoError, match="32 bytes"):
        ecdsa.sign_hash(DOC_KEY, digest)
    with pytest.raises(CryptoError):
        ecdsa.recover_hash(digest, DOC_SIG)
    with pytest.raises(CryptoError):
        ecdsa.verify_hash(digest, DOC_SIG, DOC_ADDRESS)


@pytest.mark.parametrize(
    "key",
    [DOC_KEY[:31], DOC_KEY + b"\x00", b"\x00" * 32, N.to_bytes(32, "big"), "0xzz" + DOC_KEY.hex()[4:]],
)
def test_bad_private_keys_never_echo_the_key(key: bytes | str) -> None:
    with pytest.raises(CryptoError) as info:
        ecdsa.sign_hash(key, DOC_HASH)
    text = str(info.value) + repr(info.value)
    assert DOC_KEY.hex()[8:40] not in text


def test_verify_needs_an_address() -> None:
    with pytest.raises(CryptoError):
        ecdsa.verify_hash(DOC_HASH, DOC_SIG, "not-an-address")
