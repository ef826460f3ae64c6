"""BN254 BLS keys, signatures and verification, byte-for-byte as EigenLayer's BN254.sol does them.

Point conventions:
- ``G1Point`` is affine ``(x, y)``; ``(0, 0)`` is the point at infinity (as in Solidity/EIP-196).
- ``G2Point`` is ``((x_real, x_imag), (y_real, y_imag))`` -- real part FIRST, like py_ecc's
  ``FQ2.coeffs``. Solidity's ``G2Point.X`` is ``[imag, real]``: convert at that boundary with
  :func:`g2_to_solidity` / :func:`g2_from_solidity` and the byte helpers, which write imag first.
  ``((0, 0), (0, 0))`` is infinity.
"""

from __future__ import annotations

import hashlib
import secrets

from eth_hash.auto import keccak  # not eth_utils: that import alone costs ~140 ms

from hourglass_cli.crypto import _curve, pairing
from hourglass_cli.crypto._curve import G1_GENERATOR, G1_INFINITY, G2_INFINITY
from hourglass_cli.crypto.pairing import G2_GENERATOR, NEG_G2, G1Point, G2Point
from hourglass_cli.errors import CryptoError

__all__ = [
    "P",
    "R",
    "G1Point",
    "G2Point",
    "G1_GENERATOR",
    "G2_GENERATOR",
    "G1_INFINITY",
    "G2_INFINITY",
    "PrivateKey",
    "hash_to_g1",
    "g1_to_bytes",
    "g1_from_bytes",
    "g2_to_bytes",
    "g2_from_bytes",
    "g2_to_solidity",
    "g2_from_solidity",
    "g1_add",
    "g1_neg",
    "g1_mul",
    "g2_add",
    "g2_neg",
    "g2_mul",
    "aggregate_g1",
    "aggregate_g2",
    "verify",
    "key_registration_data",
]

P: int = pairing.P  # base field modulus
R: int = pairing.R  # group order of G1, G2 and GT

_SQRT_EXP = (P + 1) // 4  # p = 3 mod 4, so beta^((p+1)/4) is a square root when one exists
_SEED_TAG = b"hourglass/bn254/from_seed/v1"

# --- validation -------------------------------------------------------------------------------


def _g1(pt: G1Point, what: str = "G1 point") -> G1Point:
    """pt as a canonical tuple, or CryptoError if it is not a point of the curve."""
    try:
        pt = pairing._as_g1(pt)
    except CryptoError as exc:
        raise CryptoError(f"{what}: {exc}") from None
    if not _curve.g1_is_on_curve(pt):
        raise CryptoError(f"{what} is not on the BN254 curve (or a coordinate is >= p)")
    return pt


def _g2(pt: G2Point, what: str = "G2 point", subgroup: bool = True) -> G2Point:
    """pt as a canonical tuple, or CryptoError if it is off the twist (or outside G2)."""
    try:
        pt = pairing._as_g2(pt)
    except CryptoError as exc:
        raise CryptoError(f"{what}: {exc}") from None
    ok = pairing.g2_is_valid(pt) if subgroup else _curve.g2_is_on_curve(pt)
    if not ok:
        raise CryptoError(
            f"{what} is not on the BN254 twist or not in the order-r subgroup"
            " (check the coordinate order: Solidity puts the imaginary part first)"
        )
    return pt


# --- group arithmetic -------------------------------------------------------------------------


def g1_add(a: G1Point, b: G1Point) -> G1Point:
    """a + b in G1 (the ecAdd precompile)."""
    return _curve.g1_add(_g1(a), _g1(b))


def g1_neg(a: G1Point) -> G1Point:
    """-a in G1."""
    a = _g1(a)
    return G1_INFINITY if a == G1_INFINITY else (a[0], P - a[1])


def g1_mul(a: G1Point, k: int) -> G1Point:
    """k * a in G1 (the ecMul precompile; E(Fp) has prime order r, so k is taken mod r)."""
    return _curve.g1_mul(_g1(a), k)


def g2_add(a: G2Point, b: G2Point) -> G2Point:
    """a + b on the twist."""
    return _curve.g2_add(_g2(a, subgroup=False), _g2(b, subgroup=False))


def g2_neg(a: G2Point) -> G2Point:
    """-a on the twist."""
    return _curve.g2_neg(_g2(a, subgroup=False))


def g2_mul(a: G2Point, k: int) -> G2Point:
    """k * a in G2 (a is checked to be in the subgroup, so k is taken mod r)."""
    return _curve.g2_mul(_g2(a), k)


def aggregate_g1(points: list[G1Point]) -> G1Point:
    """Sum of G1 points (signatures or G1 public keys)."""
    return _curve.g1_sum([_g1(pt) for pt in points])


def aggregate_g2(points: list[G2Point]) -> G2Point:
    """Sum of G2 points (G2 public keys)."""
    return _curve.g2_sum([_g2(pt, subgroup=False) for pt in points])


# --- serialisation ----------------------------------------------------------------------------


def g1_to_bytes(pt: G1Point) -> bytes:
    """64 bytes X‖Y big-endian (a signature or G1 public key)."""
    x, y = _g1(pt)
    return x.to_bytes(32, "big") + y.to_bytes(32, "big")


def g1_from_bytes(data: bytes) -> G1Point:
    """Parse 64 bytes X‖Y; CryptoError unless on the curve ((0, 0) = infinity is accepted)."""
    if len(data) != 64:
        raise CryptoError(f"a G1 point is 64 bytes, got {len(data)}")
    return _g1((int.from_bytes(data[:32], "big"), int.from_bytes(data[32:], "big")))


def g2_to_solidity(pt: G2Point) -> tuple[int, int, int, int]:
    """(X[0]=imag, X[1]=real, Y[0]=imag, Y[1]=real) -- the order Solidity's G2Point uses."""
    (xr, xi), (yr, yi) = pt
    return (xi, xr, yi, yr)


def g2_from_solidity(x0: int, x1: int, y0: int, y1: int) -> G2Point:
    """Inverse of :func:`g2_to_solidity` (X[0] = imag first); does not validate."""
    return ((x1, x0), (y1, y0))


def g2_to_bytes(pt: G2Point) -> bytes:
    """128 bytes X.imag‖X.real‖Y.imag‖Y.real big-endian (Solidity / EIP-197 order)."""
    pt = _g2(pt, subgroup=False)
    return b"".join(v.to_bytes(32, "big") for v in g2_to_solidity(pt))


def g2_from_bytes(data: bytes) -> G2Point:
    """Parse 128 bytes (imag first); CryptoError unless on the twist and in the r-subgroup."""
    if len(data) != 128:
        raise CryptoError(f"a G2 point is 128 bytes, got {len(data)}")
    words = [int.from_bytes(data[i : i + 32], "big") for i in range(0, 128, 32)]
    return _g2(g2_from_solidity(*words))


# --- hashing ----------------------------------------------------------------------------------


def hash_to_g1(digest: bytes) -> G1Point:
    """BN254.sol ``hashToG1``: try-and-increment from x = uint(digest) mod p, no domain tag."""
    if len(digest) != 32:
        raise CryptoError(f"hash_to_g1 takes a 32-byte digest, got {len(digest)}")
    x = int.from_bytes(digest, "big") % P
    while True:
        beta = (x * x % P * x + 3) % P
        y = pow(beta, _SQRT_EXP, P)
        if y * y % P == beta:
            return (x, y)
        x = (x + 1) % P


def _gamma(digest: bytes, apk_g1: G1Point, apk_g2: G2Point, sigma: G1Point) -> int:
    """The Fiat-Shamir scalar of BN254.sol's ``trySignatureAndApkVerification``."""
    words = (*apk_g1, *g2_to_solidity(apk_g2), *sigma)
    packed = digest + b"".join(w.to_bytes(32, "big") for w in words)
    return int.from_bytes(keccak(packed), "big") % R


# --- keys -------------------------------------------------------------------------------------


class PrivateKey:
    """A BN254 BLS secret scalar in [1, r); its repr never shows the scalar."""

    __slots__ = ("scalar", "_g1", "_g2")

    def __init__(self, scalar: int) -> None:
        if isinstance(scalar, bool) or not isinstance(scalar, int) or not 1 <= scalar < R:
            raise CryptoError("a BN254 private key must be an integer in [1, r)")
        self.scalar = scalar
        self._g1: G1Point | None = None
        self._g2: G2Point | None = None

    @classmethod
    def generate(cls) -> PrivateKey:
        """A fresh key from the OS CSPRNG."""
        return cls(secrets.randbelow(R - 1) + 1)

    @classmethod
    def from_seed(cls, seed: bytes) -> PrivateKey:
        """Deterministic key for devnets: SHA-512(tag‖seed) mod (r-1) + 1 (never 0, bias < 2^-250)."""
        if not isinstance(seed, (bytes, bytearray, memoryview)):
            raise CryptoError("from_seed takes bytes")
        wide = int.from_bytes(hashlib.sha512(_SEED_TAG + bytes(seed)).digest(), "big")
        return cls(wide % (R - 1) + 1)

    @classmethod
    def from_bytes(cls, b: bytes) -> PrivateKey:
        """32-byte big-endian scalar."""
        if len(b) != 32:
            raise CryptoError(f"a BN254 private key is 32 bytes, got {len(b)}")
        return cls(int.from_bytes(b, "big"))

    def to_bytes(self) -> bytes:
        """32-byte big-endian scalar."""
        return self.scalar.to_bytes(32, "big")

    def public_g1(self) -> G1Point:
        """sk * G1."""
        if self._g1 is None:
            self._g1 = _curve.g1_mul(G1_GENERATOR, self.scalar)
        return self._g1

    def public_g2(self) -> G2Point:
        """sk * G2."""
        if self._g2 is None:
            self._g2 = _curve.g2_mul(G2_GENERATOR, self.scalar)
        return self._g2

    def public_g1_bytes(self) -> bytes:
        """64-byte G1 public key X‖Y."""
        return g1_to_bytes(self.public_g1())

    def public_g2_bytes(self) -> bytes:
        """128-byte G2 public key X.imag‖X.real‖Y.imag‖Y.real."""
        return g2_to_bytes(self.public_g2())

    def sign(self, digest: bytes) -> G1Point:
        """sk * hash_to_g1(digest), as the Solidity verifier expects."""
        return _curve.g1_mul(hash_to_g1(digest), self.scalar)

    def __repr__(self) -> str:
        # Only a public-key prefix: reprs end up in logs and tracebacks.
        return f"PrivateKey(public_g1={self.public_g1_bytes()[:8].hex()}…)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PrivateKey):
            return NotImplemented
        return secrets.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash(self.public_g1())


def key_registration_data(sk: PrivateKey) -> bytes:
    """``abi.encode(g1.X, g1.Y, g2.X[0], g2.X[1], g2.Y[0], g2.Y[1])`` as KeyRegistrar expects."""
    words = (*sk.public_g1(), *g2_to_solidity(sk.public_g2()))
    return b"".join(w.to_bytes(32, "big") for w in words)


# --- verification -----------------------------------------------------------------------------


def verify(digest: bytes, signature: G1Point, apk_g1: G1Point, apk_g2: G2Point) -> bool:
    """BN254.sol's check: e(σ + γ·apkG1, −G2) · e(H(m) + γ·G1, apkG2) == 1.

    CryptoError for malformed inputs (where the Solidity precompiles would revert);
    False for a well-formed signature, key or message that does not verify.
    """
    if not isinstance(digest, (bytes, bytearray)) or len(digest) != 32:
        raise CryptoError("the message hash must be 32 bytes")
    digest = bytes(digest)
    signature = _g1(signature, "signature")
    apk_g1 = _g1(apk_g1, "aggregate G1 public key")
    apk_g2 = _g2(apk_g2, "aggregate G2 public key")
    gamma = _gamma(digest, apk_g1, apk_g2, signature)
    lhs = _curve.g1_add(signature, _curve.g1_mul(apk_g1, gamma))
    rhs = _curve.g1_add(hash_to_g1(digest), _curve.g1_mul(G1_GENERATOR, gamma))
    return pairing.pairing_check([(lhs, NEG_G2), (rhs, apk_g2)])
