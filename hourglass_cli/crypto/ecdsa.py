"""secp256k1 signing over raw 32-byte hashes, as Hourglass signs and EigenLayer's verifiers recover.

Signatures are 65 bytes ``r‖s‖v`` with ``v ∈ {27, 28}`` and low ``s`` (OpenZeppelin's
``ECDSA.tryRecover`` rejects high ``s``). There is no EIP-191 prefix anywhere: ``sign_message``
hashes with keccak256 and signs that hash directly, like the Go stack's ``SignMessage``.
"""

from __future__ import annotations

from eth_keys import keys
from eth_keys.exceptions import BadSignature, ValidationError
from eth_utils import is_address, keccak, to_checksum_address

from hourglass_cli.errors import CryptoError, InvalidSignatureError

SECP256K1_N: int = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N: int = SECP256K1_N // 2
SIGNATURE_LENGTH = 65


def _private_key(private_key: bytes | str) -> keys.PrivateKey:
    """Parse a 32-byte key (or its 0x-hex form) without ever echoing it in an error."""
    raw: bytes
    if isinstance(private_key, str):
        text = private_key[2:] if private_key[:2] in ("0x", "0X") else private_key
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise CryptoError("an ECDSA private key must be 32 bytes of hex") from None
    elif isinstance(private_key, (bytes, bytearray, memoryview)):
        raw = bytes(private_key)
    else:
        raise CryptoError("an ECDSA private key must be bytes or a hex string")
    if len(raw) != 32:
        raise CryptoError(f"an ECDSA private key is 32 bytes, got {len(raw)}")
    if not 1 <= int.from_bytes(raw, "big") < SECP256K1_N:
        raise CryptoError("an ECDSA private key must be in [1, n) of secp256k1")
    return keys.PrivateKey(raw)


def _digest(digest: bytes) -> bytes:
    if not isinstance(digest, (bytes, bytearray)) or len(digest) != 32:
        raise CryptoError("a digest to sign or recover is exactly 32 bytes")
    return bytes(digest)


def address_of(private_key: bytes | str) -> str:
    """Checksummed Ethereum address of a secp256k1 private key."""
    return _private_key(private_key).public_key.to_checksum_address()


def sign_hash(private_key: bytes | str, digest: bytes) -> bytes:
    """Sign a 32-byte hash as is: 65 bytes r‖s‖v, v ∈ {27, 28}, low s."""
    sig = _private_key(private_key).sign_msg_hash(_digest(digest))
    r, s, v = sig.r, sig.s, sig.v
    if s > SECP256K1_HALF_N:
        # eth-keys already emits low s; normalise anyway so a backend change can't break on-chain recovery.
        s, v = SECP256K1_N - s, v ^ 1
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v + 27])


def sign_message(private_key: bytes | str, message: bytes) -> bytes:
    """keccak256(message), then :func:`sign_hash` (no EIP-191 prefix)."""
    return sign_hash(private_key, keccak(bytes(message)))


def split_signature(signature: bytes) -> tuple[int, int, int]:
    """Parse and check a 65-byte signature; returns (r, s, v) with v ∈ {0, 1}."""
    if not isinstance(signature, (bytes, bytearray)) or len(signature) != SIGNATURE_LENGTH:
        length = len(signature) if isinstance(signature, (bytes, bytearray)) else "non-bytes"
        raise CryptoError(f"an ECDSA signature is 65 bytes r‖s‖v, got {length}")
    r = int.from_bytes(signature[0:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v in (27, 28):
        v -= 27
    elif v not in (0, 1):
        raise CryptoError(f"ECDSA signature v must be 0, 1, 27 or 28, got {v}")
    if not 1 <= r < SECP256K1_N or not 1 <= s < SECP256K1_N:
        raise CryptoError("ECDSA signature r and s must be in [1, n)")
    if s > SECP256K1_HALF_N:
        # Malleable twin of a valid signature; the verifier contracts reject it, so do we.
        raise CryptoError("ECDSA signature has a high s value (not canonical)")
    return r, s, v


def recover_hash(digest: bytes, signature: bytes) -> str:
    """Checksummed address that signed ``digest``; CryptoError if malformed or unrecoverable."""
    r, s, v = split_signature(signature)
    try:
        pub = keys.Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(_digest(digest))
    except (BadSignature, ValidationError) as exc:
        raise InvalidSignatureError(f"cannot recover a signer from this signature: {exc}") from None
    return pub.to_checksum_address()


def verify_hash(digest: bytes, signature: bytes, address: str) -> bool:
    """True if ``signature`` over ``digest`` recovers to ``address``; malformed signatures are False."""
    if not is_address(address):
        raise CryptoError("verify_hash needs a 20-byte hex address")
    digest = _digest(digest)  # a bad digest is the caller's bug: raise, don't answer False
    try:
        recovered = recover_hash(digest, signature)
    except CryptoError:
        return False
    return recovered == to_checksum_address(address)
