"""BN254 BLS keys, signatures and verification, byte-for-byte as EigenLayer's BN254.sol does them.

Point conventions:
- ``G1Point`` is affine ``(x, y)``; ``(0, 0)`` is the point at infinity (as in Solidity/EIP-196).
- ``G2Point`` is ``((x_real, x_imag), (y_real, y_imag))`` -- real part FIRST, like py_ecc's
  ``FQ2.coeffs``. Solidity's ``G2Point.X`` is ``[imag, real]``; use :func:`g2_to_solidity` and the
  byte helpers (which write imag first) at that boundary. ``((0, 0), (0, 0))`` is infinity.
"""

from __future__ import annotations

import hashlib
import secrets

from eth_utils import keccak

from hourglass_cli.crypto import pairing
from hourglass_cli.errors import CryptoError

P: int = pairing.P
R: int = pairing.R

G1Point = tuple[int, int]
G2Point = tuple[tuple[int, int], tuple[int, int]]

G1_GENERATOR: G1Point = (1, 2)
G2_GENERATOR: G2Point = (
    (
        10857046999023057135944570762232829481370756359578518086990519993285655852781,
        11559732032986387107991004021392285783925812861821192530917403151452391805634,
    ),
    (
        8495653923123431417604973247489272438418190587263600148770280649306958101930,
        4082367875863433681332203403145435568316851327593401208105741076214120093531,
    ),
)
G1_INFINITY: G1Point = (0, 0)
G2_INFINITY: G2Point = ((0, 0), (0, 0))

_SQRT_EXP = (P + 1) // 4
_SEED_TAG = b"hourglass/bn254/from_seed/v1"


# --- validation -------------------------------------------------------------------------------


def is_on_curve_g1(pt: G1Point) -> bool:
    """True for (0, 0) or an affine point with coordinates < p on y^2 = x^3 + 3."""
    x, y = pt
    if pt == G1_INFINITY:
        return True
    return 0 <= x < P and 0 <= y < P and (y * y - x * x * x - 3) % P == 0


def _check_g1(pt: G1Point, what: str = "G1 point") -> None:
    if not is_on_curve_g1(pt):
        raise CryptoError(f"{what} is not on the BN254 curve")


def _check_g2(pt: G2Point, what: str = "G2 point") -> None:
    if not pairing.g2_is_valid(pt):
        raise CryptoError(f"{what} is not on the BN254 twist or not in the order-r subgroup")


# --- G1 in Jacobian coordinates (X, Y, Z) ~ (X/Z^2, Y/Z^3); Z == 0 is infinity -----------------
# Inversion-free doubling/addition: one modular inverse per public result instead of one per step.

_Jac = tuple[int, int, int]
_JAC_INF: _Jac = (1, 1, 0)


def _to_jac(pt: G1Point) -> _Jac:
    return _JAC_INF if pt == G1_INFINITY else (pt[0], pt[1], 1)


def _from_jac(pt: _Jac) -> G1Point:
    x, y, z = pt
    if z == 0:
        return G1_INFINITY
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return (x * zi2 % P, y * zi2 * zi % P)


def _jac_double(pt: _Jac) -> _Jac:
    # dbl-2009-l (a = 0)
    x, y, z = pt
    if z == 0 or y == 0:
        return _JAC_INF
    a = x * x % P
    b = y * y % P
    c = b * b % P
    d = 2 * ((x + b) ** 2 - a - c) % P
    e = 3 * a
    f = e * e % P
    x3 = (f - 2 * d) % P
    return (x3, (e * (d - x3) - 8 * c) % P, 2 * y * z % P)


def _jac_add(p1: _Jac, p2: _Jac) -> _Jac:
    # add-2007-bl, falling back to doubling for equal inputs
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    z1z1 = z1 * z1 % P
    z2z2 = z2 * z2 % P
    u1 = x1 * z2z2 % P
    u2 = x2 * z1z1 % P
    s1 = y1 * z2 * z2z2 % P
    s2 = y2 * z1 * z1z1 % P
    h = (u2 - u1) % P
    rr = (s2 - s1) % P
    if h == 0:
        return _jac_double(p1) if rr == 0 else _JAC_INF
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (rr * rr - hhh - 2 * v) % P
    y3 = (rr * (v - x3) - s1 * hhh) % P
    return (x3, y3, z1 * z2 * h % P)


def _jac_mul(pt: _Jac, k: int) -> _Jac:
    acc = _JAC_INF
    for bit in bin(k)[2:] if k else "":
        acc = _jac_double(acc)
        if bit == "1":
            acc = _jac_add(acc, pt)
    return acc


# --- group arithmetic -------------------------------------------------------------------------


def g1_add(a: G1Point, b: G1Point) -> G1Point:
    """a + b in G1 (affine, (0, 0) = infinity)."""
    return _from_jac(_jac_add(_to_jac(a), _to_jac(b)))


def g1_neg(a: G1Point) -> G1Point:
    """-a in G1."""
    return G1_INFINITY if a == G1_INFINITY else (a[0], (P - a[1]) % P)


def g1_mul(a: G1Point, k: int) -> G1Point:
    """k * a in G1 (k reduced mod r, as the ecMul precompile effectively does for G1 points)."""
    return _from_jac(_jac_mul(_to_jac(a), k % R))


def g2_add(a: G2Point, b: G2Point) -> G2Point:
    """a + b in G2."""
    return pairing.g2_add(a, b)


def g2_mul(a: G2Point, k: int) -> G2Point:
    """k * a in G2."""
    return pairing.g2_mul(a, k)


def aggregate_g1(points: list[G1Point]) -> G1Point:
    """Sum of G1 points (signatures or G1 public keys)."""
    acc = _JAC_INF
    for pt in points:
        acc = _jac_add(acc, _to_jac(pt))
    return _from_jac(acc)


def aggregate_g2(points: list[G2Point]) -> G2Point:
    """Sum of G2 points (G2 public keys)."""
    return pairing.g2_sum(list(points))


# --- serialisation ----------------------------------------------------------------------------


def g1_to_bytes(pt: G1Point) -> bytes:
    """64 bytes X‖Y big-endian."""
    return pt[0].to_bytes(32, "big") + pt[1].to_bytes(32, "big")


def g1_from_bytes(data: bytes) -> G1Point:
    """Parse 64 bytes X‖Y; raises CryptoError unless the point is on the curve."""
    if len(data) != 64:
        raise CryptoError(f"a G1 point is 64 bytes, got {len(data)}")
    pt = (int.from_bytes(data[:32], "big"), int.from_bytes(data[32:], "big"))
    _check_g1(pt)
    return pt


def g2_to_solidity(pt: G2Point) -> tuple[int, int, int, int]:
    """(X[0]=imag, X[1]=real, Y[0]=imag, Y[1]=real) -- the order Solidity's G2Point uses."""
    (xr, xi), (yr, yi) = pt
    return (xi, xr, yi, yr)


def g2_from_solidity(x0: int, x1: int, y0: int, y1: int) -> G2Point:
    """Inverse of :func:`g2_to_solidity` (no validation)."""
    return ((x1, x0), (y1, y0))


def g2_to_bytes(pt: G2Point) -> bytes:
    """128 bytes X.imag‖X.real‖Y.imag‖Y.real big-endian (Solidity / EIP-197 order)."""
    return b"".join(v.to_bytes(32, "big") for v in g2_to_solidity(pt))


def g2_from_bytes(data: bytes) -> G2Point:
    """Parse 128 bytes (imag first); raises CryptoError unless on the twist and in the r-subgroup."""
    if len(data) != 128:
        raise CryptoError(f"a G2 point is 128 bytes, got {len(data)}")
    vals = [int.from_bytes(data[i : i + 32], "big") for i in range(0, 128, 32)]
    pt = g2_from_solidity(*vals)
    _check_g2(pt)
    return pt


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
    """A BN254 BLS secret scalar in [1, r)."""

    __slots__ = ("scalar", "_g1", "_g2")

    def __init__(self, scalar: int) -> None:
        if not isinstance(scalar, int) or not 1 <= scalar < R:
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
        """Deterministic key for devnets: SHA-512(tag‖seed) reduced into [1, r) (bias < 2^-250)."""
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
            self._g1 = g1_mul(G1_GENERATOR, self.scalar)
        return self._g1

    def public_g2(self) -> G2Point:
        """sk * G2."""
        if self._g2 is None:
            self._g2 = g2_mul(G2_GENERATOR, self.scalar)
        return self._g2

    def public_g1_bytes(self) -> bytes:
        """64-byte G1 public key X‖Y."""
        return g1_to_bytes(self.public_g1())

    def public_g2_bytes(self) -> bytes:
        """128-byte G2 public key X.imag‖X.real‖Y.imag‖Y.real."""
        return g2_to_bytes(self.public_g2())

    def sign(self, digest: bytes) -> G1Point:
        """sk * hash_to_g1(digest)."""
        return g1_mul(hash_to_g1(digest), self.scalar)

    def __repr__(self) -> str:
        # Never the scalar: reprs end up in logs and tracebacks.
        return f"PrivateKey(g1={self.public_g1_bytes()[:8].hex()}…)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PrivateKey):
            return NotImplemented
        return secrets.compare_digest(self.to_bytes(), other.to_bytes())

    def __hash__(self) -> int:
        return hash(self.public_g1())

    def __reduce__(self) -> object:
        raise TypeError("PrivateKey is not picklable; store it in a keystore")


def key_registration_data(sk: PrivateKey) -> bytes:
    """``abi.encode(g1.X, g1.Y, g2.X[0], g2.X[1], g2.Y[0], g2.Y[1])`` as KeyRegistrar expects."""
    words = (*sk.public_g1(), *g2_to_solidity(sk.public_g2()))
    return b"".join(w.to_bytes(32, "big") for w in words)


# --- verification -----------------------------------------------------------------------------


def verify(digest: bytes, signature: G1Point, apk_g1: G1Point, apk_g2: G2Point) -> bool:
    """BN254.sol's check: e(σ + γ·apkG1, −G2) · e(H(m) + γ·G1, apkG2) == 1.

    Raises CryptoError for malformed inputs (where the Solidity precompiles would revert);
    returns False for a well-formed signature that does not verify.
    """
    if len(digest) != 32:
        raise CryptoError(f"the message hash must be 32 bytes, got {len(digest)}")
    _check_g1(signature, "signature")
    _check_g1(apk_g1, "aggregate G1 public key")
    _check_g2(apk_g2, "aggregate G2 public key")
    gamma = _gamma(digest, apk_g1, apk_g2, signature)
    lhs = g1_add(signature, g1_mul(apk_g1, gamma))
    rhs = g1_add(hash_to_g1(digest), g1_mul(G1_GENERATOR, gamma))
    return pairing.pairing_check([(lhs, pairing.NEG_G2), (rhs, apk_g2)])
