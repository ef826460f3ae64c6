"""Certificate structs as web3 tuples and their ABI encoding (the `executorCert` bytes of submitResult).

Only the encoding lives here; building a certificate from signatures (aggregation, non-signer
witnesses) belongs to the aggregator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi import decode, encode

G1_TYPE = "(uint256,uint256)"
G2_TYPE = "(uint256[2],uint256[2])"
BN254_OPERATOR_INFO_TYPE = f"({G1_TYPE},uint256[])"
BN254_WITNESS_TYPE = f"(uint32,bytes,{BN254_OPERATOR_INFO_TYPE})"
BN254_CERT_TYPE = f"(uint32,bytes32,{G1_TYPE},{G2_TYPE},{BN254_WITNESS_TYPE}[])"
ECDSA_CERT_TYPE = "(uint32,bytes32,bytes)"

G1 = tuple[int, int]


def g2_tuple(words: Sequence[int]) -> tuple[list[int], list[int]]:
    """Solidity `G2Point` from the four words `(X[0], X[1], Y[0], Y[1])` (`bn254.g2_to_solidity`)."""
    x0, x1, y0, y1 = (int(w) for w in words)
    return ([x0, x1], [y0, y1])


def bn254_witness(operator_index: int, proof: bytes, pubkey: G1, weights: Sequence[int]) -> tuple[Any, ...]:
    """`BN254OperatorInfoWitness{operatorIndex, operatorInfoProof, operatorInfo{pubkey, weights}}`."""
    return (int(operator_index), bytes(proof), ((int(pubkey[0]), int(pubkey[1])), [int(w) for w in weights]))


def bn254_certificate(
    reference_timestamp: int,
    message_hash: bytes,
    signature: G1,
    apk_g2_words: Sequence[int],
    witnesses: Sequence[tuple[Any, ...]] = (),
) -> tuple[Any, ...]:
    """`BN254Certificate` as a web3 tuple; `apk_g2_words` as `bn254.g2_to_solidity` returns them."""
    return (
        int(reference_timestamp),
        bytes(message_hash),
        (int(signature[0]), int(signature[1])),
        g2_tuple(apk_g2_words),
        list(witnesses),
    )


def ecdsa_certificate(reference_timestamp: int, message_hash: bytes, signatures: Sequence[bytes]) -> tuple[Any, ...]:
    """`ECDSACertificate`; `signatures` must already be ordered by recovered signer address."""
    return (int(reference_timestamp), bytes(message_hash), b"".join(bytes(s) for s in signatures))


def encode_bn254_certificate(cert: tuple[Any, ...]) -> bytes:
    """`abi.encode(cert)` (= `TaskMailbox.getBN254CertificateBytes`)."""
    return encode([BN254_CERT_TYPE], [cert])


def encode_ecdsa_certificate(cert: tuple[Any, ...]) -> bytes:
    """`abi.encode(cert)` (= `TaskMailbox.getECDSACertificateBytes`)."""
    return encode([ECDSA_CERT_TYPE], [cert])


def decode_bn254_certificate(data: bytes) -> tuple[Any, ...]:
    """The tuple `encode_bn254_certificate` encodes."""
    return decode([BN254_CERT_TYPE], bytes(data))[0]


def decode_ecdsa_certificate(data: bytes) -> tuple[Any, ...]:
    """The tuple `encode_ecdsa_certificate` encodes."""
    return decode([ECDSA_CERT_TYPE], bytes(data))[0]
