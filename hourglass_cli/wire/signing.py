"""Signers and verifiers for the two operator-set curves, as the Go Hourglass stack signs.

Two kinds of signature travel between aggregator and executor:

- **off-chain** (the aggregator's task signature, the executor's auth signature): ``SignMessage(x)`` =
  sign ``keccak256(x)``. BN254: RFC 9380 hash-to-G1 (:func:`hourglass_cli.crypto.hash_to_curve.sign_offchain`),
  64-byte gnark G1 encoding (= the Solidity X‖Y layout). ECDSA: 65-byte r‖s‖v over keccak256(x), no
  EIP-191 prefix.
- **result** (``TaskResult.result_signature``, goes on chain in the certificate): over the certificate
  digest of WIRE.md §2b. BN254: ``sk·hashToG1(digest)`` with the Solidity try-and-increment hash.
  ECDSA: the EIP-712 digest for the ECDSACertificateVerifier's address, 65 bytes, low s.

Public keys: BN254 = the 128-byte G2 key (X.imag‖X.real‖Y.imag‖Y.real) registered in the
KeyRegistrar; ECDSA = the signing-key address. A malformed *signature* (network input) verifies as
False; a malformed *public key* (our own registry data) raises CryptoError.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from enum import Enum

from eth_hash.auto import keccak

from hourglass_cli.crypto import bn254, ecdsa, hash_to_curve, pairing
from hourglass_cli.crypto.digests import EIP712_DOMAIN_VERSION
from hourglass_cli.errors import CryptoError
from hourglass_cli.wire import messages
from hourglass_cli.wire.messages import address_bytes


class Curve(str, Enum):
    """The curve of an operator set (``CurveType`` ECDSA = 1, BN254 = 2 on chain)."""

    ECDSA = "ecdsa"
    BN254 = "bn254"


class Signer(ABC):
    """One operator's key, able to make both kinds of signature."""

    curve: Curve

    @property
    @abstractmethod
    def public_key(self) -> bytes:
        """BN254: the 128-byte G2 key; ECDSA: the 20-byte signing-key address."""

    @abstractmethod
    def sign_offchain(self, message: bytes) -> bytes:
        """Sign keccak256(message) as ponos ``SignMessage`` does."""

    @abstractmethod
    def sign_result(self, task_id: str | bytes, output: bytes, reference_timestamp: int) -> bytes:
        """Sign the certificate digest of (task, output, referenceTimestamp) for on-chain verification."""


class Verifier(ABC):
    """Checks signatures made by a :class:`Signer` of the same curve."""

    curve: Curve

    @abstractmethod
    def verify_offchain(self, message: bytes, signature: bytes, public_key: bytes) -> bool:
        """True if ``signature`` is ``public_key``'s off-chain signature of ``message``."""

    @abstractmethod
    def verify_result(
        self, task_id: str | bytes, output: bytes, reference_timestamp: int, signature: bytes, public_key: bytes
    ) -> bool:
        """True if ``signature`` is ``public_key``'s certificate-digest signature of the result."""


# --- BN254 ------------------------------------------------------------------------------------


class Bn254Signer(Signer):
    """A BN254 operator key; its repr never shows the scalar."""

    curve = Curve.BN254

    def __init__(self, private_key: bn254.PrivateKey) -> None:
        if not isinstance(private_key, bn254.PrivateKey):
            raise CryptoError("Bn254Signer needs a hourglass_cli.crypto.bn254.PrivateKey")
        self._key = private_key

    @property
    def public_key(self) -> bytes:
        return self._key.public_g2_bytes()

    def sign_offchain(self, message: bytes) -> bytes:
        return hash_to_curve.signature_to_bytes(hash_to_curve.sign_offchain(self._key.scalar, bytes(message)))

    def sign_result(self, task_id: str | bytes, output: bytes, reference_timestamp: int) -> bytes:
        digest = messages.bn254_result_digest(task_id, output, reference_timestamp)
        return bn254.g1_to_bytes(self._key.sign(digest))

    def __repr__(self) -> str:
        return f"Bn254Signer({self._key!r})"


def _bn254_public_key(public_key: bytes) -> bn254.G2Point:
    return hash_to_curve.g2_unmarshal(bytes(public_key))  # raises CryptoError: our registry data is wrong


class Bn254Verifier(Verifier):
    """Verifies BN254 signatures against a 128-byte G2 public key (also accepts gnark's 64-byte compressed form)."""

    curve = Curve.BN254

    def verify_offchain(self, message: bytes, signature: bytes, public_key: bytes) -> bool:
        pk = _bn254_public_key(public_key)
        try:
            sig = hash_to_curve.signature_from_bytes(bytes(signature))
        except CryptoError:
            return False
        return hash_to_curve.verify_offchain(bytes(message), sig, pk)

    def verify_result(
        self, task_id: str | bytes, output: bytes, reference_timestamp: int, signature: bytes, public_key: bytes
    ) -> bool:
        pk = _bn254_public_key(public_key)
        digest = messages.bn254_result_digest(task_id, output, reference_timestamp)
        try:
            sig = bn254.g1_from_bytes(bytes(signature))
        except CryptoError:
            return False
        if sig == bn254.G1_INFINITY:
            return False
        # Single signer: e(sig, G2) == e(H(digest), pk) — the certificate's γ-randomised check
        # reduces to this for one key, and it needs only the registered G2 key.
        return pairing.pairing_check([(sig, pairing.NEG_G2), (bn254.hash_to_g1(digest), pk)])


# --- ECDSA ------------------------------------------------------------------------------------


class EcdsaSigner(Signer):
    """A secp256k1 operator key; result signatures are bound to one ECDSACertificateVerifier."""

    curve = Curve.ECDSA

    def __init__(
        self,
        private_key: bytes | str,
        *,
        verifier_address: str | bytes | None = None,
        domain_version: str = EIP712_DOMAIN_VERSION,
    ) -> None:
        self.address = ecdsa.address_of(private_key)  # validates the key without ever echoing it
        self._key = private_key
        self._verifier = None if verifier_address is None else address_bytes(verifier_address, "verifier address")
        self._domain_version = domain_version

    @property
    def public_key(self) -> bytes:
        return bytes.fromhex(self.address[2:])

    def sign_offchain(self, message: bytes) -> bytes:
        return ecdsa.sign_message(self._key, bytes(message))

    def sign_result(self, task_id: str | bytes, output: bytes, reference_timestamp: int) -> bytes:
        if self._verifier is None:
            raise CryptoError("an ECDSA result signature needs the ECDSACertificateVerifier address",
                              hint="construct EcdsaSigner(key, verifier_address=...)")
        digest = messages.ecdsa_result_digest(task_id, output, reference_timestamp, self._verifier,
                                              domain_version=self._domain_version)
        return ecdsa.sign_hash(self._key, digest)

    def __repr__(self) -> str:
        return f"EcdsaSigner(address={self.address})"


class EcdsaVerifier(Verifier):
    """Verifies ECDSA signatures by recovering the signer; ``public_key`` is its address (20 bytes or hex)."""

    curve = Curve.ECDSA

    def __init__(self, *, verifier_address: str | bytes | None = None,
                 domain_version: str = EIP712_DOMAIN_VERSION) -> None:
        self._verifier = None if verifier_address is None else address_bytes(verifier_address, "verifier address")
        self._domain_version = domain_version

    @staticmethod
    def _address(public_key: bytes | str) -> str:
        return "0x" + address_bytes(public_key, "ECDSA signer address").hex()

    def verify_offchain(self, message: bytes, signature: bytes, public_key: bytes | str) -> bool:
        return ecdsa.verify_hash(keccak(bytes(message)), bytes(signature), self._address(public_key))

    def verify_result(
        self, task_id: str | bytes, output: bytes, reference_timestamp: int, signature: bytes, public_key: bytes | str
    ) -> bool:
        if self._verifier is None:
            raise CryptoError("checking an ECDSA result signature needs the ECDSACertificateVerifier address",
                              hint="construct EcdsaVerifier(verifier_address=...)")
        digest = messages.ecdsa_result_digest(task_id, output, reference_timestamp, self._verifier,
                                              domain_version=self._domain_version)
        return ecdsa.verify_hash(digest, bytes(signature), self._address(public_key))


def verifier_for(curve: Curve | str, *, verifier_address: str | bytes | None = None) -> Verifier:
    """The verifier of an operator set's curve (ECDSA result checks need the verifier contract address)."""
    curve = Curve(curve)
    if curve is Curve.BN254:
        return Bn254Verifier()
    return EcdsaVerifier(verifier_address=verifier_address)
