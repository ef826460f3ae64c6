"""Certificate digests the executors sign, byte-identical to the contracts' views (WIRE.md §2b).

Sources (Layr-Labs/eigenlayer-contracts):
- ``TaskMailbox.getMessageHash``: ``keccak256(abi.encode(taskHash, result))``.
- ``BN254CertificateVerifier.calculateCertificateDigest``:
  ``keccak256(abi.encode(BN254_CERTIFICATE_TYPEHASH, referenceTimestamp, messageHash))``.
- ``src/contracts/multichain/ECDSACertificateVerifierStorage.sol``: ``ECDSA_CERTIFICATE_TYPEHASH`` and
  ``EIP712_DOMAIN_TYPEHASH_NO_CHAINID``; ``ECDSACertificateVerifier.domainSeparator`` hashes the name
  ``"EigenLayer"`` (hard-coded, as in ``SignatureUtilsMixin``) and ``_majorVersion()`` of the deployed
  semver string (``src/contracts/mixins/SemVerMixin.sol``: an optional leading ``v`` dropped, then
  everything before the first ``.``; deployments and tests pass ``"1.0.0"``, so the version is ``"1"``).
"""

from __future__ import annotations

from eth_abi import encode
from eth_utils import is_address, keccak, to_canonical_address

from hourglass_cli.errors import CryptoError

BN254_CERTIFICATE_TYPEHASH: bytes = keccak(b"BN254Certificate(uint32 referenceTimestamp,bytes32 messageHash)")
ECDSA_CERTIFICATE_TYPEHASH: bytes = keccak(b"ECDSACertificate(uint32 referenceTimestamp,bytes32 messageHash)")
EIP712_DOMAIN_TYPEHASH_NO_CHAINID: bytes = keccak(
    b"EIP712Domain(string name,string version,address verifyingContract)"
)
EIP712_DOMAIN_NAME = "EigenLayer"
EIP712_DOMAIN_VERSION = "1"  # _majorVersion() of "1.x.y"; our Solidity verifier uses the same string

_UINT32_MAX = 2**32 - 1


def _bytes32(value: bytes, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        raise CryptoError(f"{what} must be 32 bytes")
    return bytes(value)


def _uint32(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _UINT32_MAX:
        raise CryptoError(f"{what} must be a uint32")
    return value


def _address(value: str | bytes, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray)) and len(value) == 20:
        return bytes(value)
    if isinstance(value, str) and is_address(value):
        return to_canonical_address(value)
    raise CryptoError(f"{what} must be a 20-byte address")


def major_version(semver: str) -> str:
    """The EIP-712 ``version`` a contract built with ``semver`` uses: "v1.2.3" and "1.2.3" → "1"."""
    text = semver[1:] if semver[:1] in ("v", "V") else semver
    return text.split(".", 1)[0]


def message_hash(task_hash: bytes, output: bytes) -> bytes:
    """``TaskMailbox.getMessageHash``: keccak256(abi.encode(bytes32 taskHash, bytes output))."""
    return keccak(encode(["bytes32", "bytes"], [_bytes32(task_hash, "task hash"), bytes(output)]))


def bn254_certificate_digest(reference_timestamp: int, message_hash: bytes) -> bytes:
    """The 32 bytes a BN254 executor signs (then hashed to G1 by the BLS scheme)."""
    return keccak(
        encode(
            ["bytes32", "uint32", "bytes32"],
            [
                BN254_CERTIFICATE_TYPEHASH,
                _uint32(reference_timestamp, "reference timestamp"),
                _bytes32(message_hash, "message hash"),
            ],
        )
    )


def ecdsa_domain_separator(verifying_contract: str | bytes, *, version: str = EIP712_DOMAIN_VERSION) -> bytes:
    """``ECDSACertificateVerifier.domainSeparator()`` — no chainId, so certificates work across chains."""
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "address"],
            [
                EIP712_DOMAIN_TYPEHASH_NO_CHAINID,
                keccak(EIP712_DOMAIN_NAME.encode()),
                keccak(version.encode()),
                _address(verifying_contract, "verifying contract"),
            ],
        )
    )


def ecdsa_certificate_struct_hash(reference_timestamp: int, message_hash: bytes) -> bytes:
    """keccak256(abi.encode(ECDSA_CERTIFICATE_TYPEHASH, referenceTimestamp, messageHash))."""
    return keccak(
        encode(
            ["bytes32", "uint32", "bytes32"],
            [
                ECDSA_CERTIFICATE_TYPEHASH,
                _uint32(reference_timestamp, "reference timestamp"),
                _bytes32(message_hash, "message hash"),
            ],
        )
    )


def ecdsa_certificate_digest_bytes(
    reference_timestamp: int,
    message_hash: bytes,
    verifying_contract: str | bytes,
    *,
    version: str = EIP712_DOMAIN_VERSION,
) -> bytes:
    """``calculateCertificateDigestBytes``: the 66 bytes 0x1901‖domainSeparator‖structHash."""
    return (
        b"\x19\x01"
        + ecdsa_domain_separator(verifying_contract, version=version)
        + ecdsa_certificate_struct_hash(reference_timestamp, message_hash)
    )


def ecdsa_certificate_digest(
    reference_timestamp: int,
    message_hash: bytes,
    verifying_contract: str | bytes,
    *,
    version: str = EIP712_DOMAIN_VERSION,
) -> bytes:
    """``calculateCertificateDigest``: keccak256 of the digest bytes; what ECDSA executors sign."""
    return keccak(
        ecdsa_certificate_digest_bytes(reference_timestamp, message_hash, verifying_contract, version=version)
    )
