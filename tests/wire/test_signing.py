"""Signer/Verifier for both curves: round trips, tampering, and the exact schemes underneath."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from hourglass_cli.crypto import bn254, ecdsa, hash_to_curve
from hourglass_cli.errors import CryptoError
from hourglass_cli.wire import messages, signing
from hourglass_cli.wire.signing import Bn254Signer, Bn254Verifier, Curve, EcdsaSigner, EcdsaVerifier

TASK = "0x" + "5a" * 32
AVS = "0x" + "a1" * 20
OPERATOR = "0x" + "b2" * 20
VERIFIER = "0x" + "c3" * 20
ECDSA_KEY = "0x" + "4c" * 32


@pytest.fixture(scope="module")
def bn() -> tuple[Bn254Signer, Bn254Verifier]:
    return Bn254Signer(bn254.PrivateKey.from_seed(b"wire-signing-test")), Bn254Verifier()


@pytest.fixture(scope="module")
def ec() -> tuple[EcdsaSigner, EcdsaVerifier]:
    return EcdsaSigner(ECDSA_KEY, verifier_address=VERIFIER), EcdsaVerifier(verifier_address=VERIFIER)


def _task_message(executor: str = OPERATOR) -> bytes:
    return messages.aggregator_task_message(TASK, AVS, executor, 1, 1700000000, 99, b"payload")


def test_bn254_offchain_round_trip_and_tamper(bn) -> None:
    signer, verifier = bn
    message = _task_message()
    signature = signer.sign_offchain(message)
    assert len(signature) == 64 and len(signer.public_key) == 128
    assert verifier.verify_offchain(message, signature, signer.public_key)
    # The RFC 9380 scheme over keccak256(message), gnark's uncompressed G1 bytes.
    expected = hash_to_curve.sign_bytes(bn254.PrivateKey.from_seed(b"wire-signing-test").scalar, keccak(message))
    assert signature == hash_to_curve.g1_marshal(expected)
    assert not verifier.verify_offchain(_task_message("0x" + "dd" * 20), signature, signer.public_key)
    flipped = bytearray(signature)
    flipped[63] ^= 1
    assert not verifier.verify_offchain(message, bytes(flipped), signer.public_key)  # off-curve: False, no raise
    assert not verifier.verify_offchain(message, signature[:32], signer.public_key)
    other = Bn254Signer(bn254.PrivateKey.from_seed(b"someone else"))
    assert not verifier.verify_offchain(message, signature, other.public_key)
    # gnark's compressed G2 key works too; a malformed key is our data's fault and raises.
    compressed = hash_to_curve.g2_marshal_compressed(hash_to_curve.g2_unmarshal(signer.public_key))
    assert verifier.verify_offchain(message, signature, compressed)
    with pytest.raises(CryptoError):
        verifier.verify_offchain(message, signature, b"\x01" * 128)


def test_bn254_result_signature_is_the_solidity_certificate_signature(bn) -> None:
    signer, verifier = bn
    signature = signer.sign_result(TASK, b"output", 1700000000)
    key = bn254.PrivateKey.from_seed(b"wire-signing-test")
    digest = messages.bn254_result_digest(TASK, b"output", 1700000000)
    assert signature == bn254.g1_to_bytes(key.sign(digest))
    # What the certificate verifier will check (γ-randomised, needs both keys).
    assert bn254.verify(digest, bn254.g1_from_bytes(signature), key.public_g1(), key.public_g2())
    assert verifier.verify_result(TASK, b"output", 1700000000, signature, signer.public_key)
    assert not verifier.verify_result(TASK, b"output!", 1700000000, signature, signer.public_key)
    assert not verifier.verify_result(TASK, b"output", 1700000001, signature, signer.public_key)
    assert not verifier.verify_result(TASK, b"output", 1700000000, bytes(64), signer.public_key)  # infinity
    # The off-chain scheme and the result scheme are different: one's signature is not the other's.
    assert not verifier.verify_offchain(digest, signature, signer.public_key)


def test_ecdsa_offchain_round_trip_and_tamper(ec) -> None:
    signer, verifier = ec
    message = _task_message()
    signature = signer.sign_offchain(message)
    assert len(signature) == 65 and signature[64] in (27, 28)
    assert ecdsa.recover_hash(keccak(message), signature) == signer.address  # no EIP-191 prefix
    assert verifier.verify_offchain(message, signature, signer.address)
    assert verifier.verify_offchain(message, signature, signer.public_key)  # 20 raw bytes work too
    assert not verifier.verify_offchain(message + b"x", signature, signer.address)
    assert not verifier.verify_offchain(message, signature[:64] + bytes([signature[64] ^ 1]), signer.address)
    assert not verifier.verify_offchain(message, b"\x00" * 65, signer.address)
    assert "4c4c" not in repr(signer)


def test_ecdsa_result_signature_is_over_the_eip712_digest(ec) -> None:
    signer, verifier = ec
    signature = signer.sign_result(TASK, b"output", 1700000000)
    digest = messages.ecdsa_result_digest(TASK, b"output", 1700000000, VERIFIER)
    assert ecdsa.recover_hash(digest, signature) == signer.address
    assert verifier.verify_result(TASK, b"output", 1700000000, signature, signer.address)
    assert not verifier.verify_result(TASK, b"other", 1700000000, signature, signer.address)
    other_contract = EcdsaVerifier(verifier_address="0x" + "c4" * 20)
    assert not other_contract.verify_result(TASK, b"output", 1700000000, signature, signer.address)
    with pytest.raises(CryptoError, match="ECDSACertificateVerifier address"):
        EcdsaSigner(ECDSA_KEY).sign_result(TASK, b"output", 1)


def test_auth_signature_flow(bn, ec) -> None:
    # Executor: result signature, then the auth signature over the 160-byte message that hashes it.
    for signer, verifier in (bn, ec):
        result_signature = signer.sign_result(TASK, b"out", 5)
        auth = signer.sign_offchain(messages.auth_message(TASK, AVS, OPERATOR, 1, result_signature))
        public = signer.public_key
        assert verifier.verify_offchain(messages.auth_message(TASK, AVS, OPERATOR, 1, result_signature), auth, public)
        tampered = result_signature[:-1] + bytes([result_signature[-1] ^ 1])
        swapped = messages.auth_message(TASK, AVS, OPERATOR, 1, tampered)
        assert not verifier.verify_offchain(swapped, auth, public)


def test_verifier_for() -> None:
    assert isinstance(signing.verifier_for("bn254"), Bn254Verifier)
    assert isinstance(signing.verifier_for(Curve.ECDSA, verifier_address=VERIFIER), EcdsaVerifier)
    with pytest.raises(ValueError):
        signing.verifier_for("ed25519")
