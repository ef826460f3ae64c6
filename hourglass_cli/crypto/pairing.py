"""BN254 optimal-ate pairing checks with EIP-197 (ecPairing precompile) semantics, on plain ints.

One shared Miller loop for all pairs (one Fp12 squaring per step), one final exponentiation per
check, and line coefficients precomputed per G2 point and cached (the -G2 generator and operator
keys recur in every verification). Points: G1 ``(x, y)``, G2 ``((x_re, x_im), (y_re, y_im))``;
all-zero coordinates are infinity, as in the precompile.
"""

from __future__ import annotations

from functools import lru_cache

from hourglass_cli.crypto._curve import (
    G1_INFINITY,
    G2_INFINITY,
    TWIST_B,
    G1Point,
    G2Point,
    R,
    g1_is_on_curve,
    g2_in_subgroup,
    g2_is_on_curve,
    g2_neg,
    g2_psi,
)
from hourglass_cli.crypto._fields import (
    BN_X,
    F12_ONE,
    P,
    Fp2,
    Fp12,
    _naf,
    f2_add,
    f2_inv,
    f2_mul,
    f2_mul_fp,
    f2_neg,
    f2_sqr,
    f2_sub,
    f12_mul_line1,
    f12_sqr,
    final_exponentiation,
)
from hourglass_cli.errors import CryptoError

__all__ = [
    "P",
    "R",
    "G1Point",
    "G2Point",
    "G2_GENERATOR",
    "NEG_G2",
    "g2_is_valid",
    "prepare_g2",
    "miller_loop",
    "pairing",
    "pairing_check",
    "ecpairing_precompile",
]

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
NEG_G2: G2Point = g2_neg(G2_GENERATOR)
_TWO_INV = pow(2, -1, P)


def _as_g2(pt: G2Point) -> G2Point:
    """Canonical hashable form of a G2 point; CryptoError if it is not two pairs of ints."""
    try:
        (a, b), (c, d) = pt
        if not all(isinstance(v, int) for v in (a, b, c, d)):
            raise TypeError
    except (TypeError, ValueError):
        raise CryptoError("a G2 point is ((x_real, x_imag), (y_real, y_imag)) of ints") from None
    return ((a, b), (c, d))


def _as_g1(pt: G1Point) -> G1Point:
    """Canonical form of a G1 point; CryptoError if it is not a pair of ints."""
    try:
        x, y = pt
        if not (isinstance(x, int) and isinstance(y, int)):
            raise TypeError
    except (TypeError, ValueError):
        raise CryptoError("a G1 point is (x, y) of ints") from None
    return (x, y)


def g2_is_valid(pt: G2Point) -> bool:
    """On the twist and in the order-r subgroup (or infinity): what EIP-197 accepts."""
    return _g2_is_valid(_as_g2(pt))


@lru_cache(maxsize=1024)
def _g2_is_valid(pt: G2Point) -> bool:
    # Cached: an aggregator checks the same operator keys over and over.
    return g2_is_on_curve(pt) and (pt == G2_INFINITY or g2_in_subgroup(pt))


# --- line precomputation -----------------------------------------------------------------------

# 6x + 2 in NAF, most significant first; the top digit is the starting point T = Q.
_ATE_NAF = _naf(6 * BN_X + 2)
# One entry per line: whether f is squared before it (doubling lines, except the very first).
_SCHEDULE: list[bool] = []
for _i, _d in enumerate(_ATE_NAF[1:]):
    _SCHEDULE.append(_i > 0)
    if _d:
        _SCHEDULE.append(False)
_SCHEDULE += [False, False]  # the two Frobenius lines closing the optimal-ate loop

# A raw line (c0, c1, c2) evaluated at P = (xP, yP) is c0 yP + c1 xP w + c2 w^3 (arkworks'
# D-twist formulas, homogeneous projective T). Stored normalised as (c1/c0, c2/c0): any factor
# in Fp2 (and 1/yP in Fp) is wiped out by the final exponentiation, which is a multiple of
# p^2 - 1, and a leading 1 makes the sparse multiplication cheaper (30 instead of 39 mults).
_Line = tuple[Fp2, Fp2, Fp2]
_NormLine = tuple[int, int, int, int]


def _dbl_step(t: list[Fp2]) -> _Line:
    x, y, z = t
    a = f2_mul_fp(f2_mul(x, y), _TWO_INV)
    b = f2_sqr(y)
    c = f2_sqr(z)
    e = f2_mul(TWIST_B, f2_mul_fp(c, 3))
    f = f2_mul_fp(e, 3)
    g = f2_mul_fp(f2_add(b, f), _TWO_INV)
    h = f2_sub(f2_sqr(f2_add(y, z)), f2_add(b, c))
    t[0] = f2_mul(a, f2_sub(b, f))
    t[1] = f2_sub(f2_sqr(g), f2_mul_fp(f2_sqr(e), 3))
    t[2] = f2_mul(b, h)
    return (f2_neg(h), f2_mul_fp(f2_sqr(x), 3), f2_sub(e, b))


def _add_step(t: list[Fp2], q: G2Point) -> _Line:
    x, y, z = t
    qx, qy = q
    theta = f2_sub(y, f2_mul(qy, z))
    lam = f2_sub(x, f2_mul(qx, z))
    c = f2_sqr(theta)
    d = f2_sqr(lam)
    e = f2_mul(lam, d)
    f = f2_mul(z, c)
    g = f2_mul(x, d)
    h = f2_sub(f2_add(e, f), f2_add(g, g))
    t[0] = f2_mul(lam, h)
    t[1] = f2_sub(f2_mul(theta, f2_sub(g, h)), f2_mul(e, y))
    t[2] = f2_mul(z, e)
    j = f2_sub(f2_mul(theta, qx), f2_mul(lam, qy))
    return (lam, f2_neg(theta), j)


def _normalise(lines: list[_Line]) -> tuple[_NormLine, ...]:
    # Divide each line by its c0 with one Fp2 inversion for all of them (Montgomery's trick).
    # c0 is never 0 here: it is -2YZ of a point of odd order, or x_T - x_Q with T != +-Q.
    prefix: list[Fp2] = [(1, 0)]
    for c0, _, _ in lines:
        prefix.append(f2_mul(prefix[-1], c0))
    inv = f2_inv(prefix[-1])
    out: list[_NormLine] = [(0, 0, 0, 0)] * len(lines)
    for i in range(len(lines) - 1, -1, -1):
        c0, c1, c2 = lines[i]
        c0_inv = f2_mul(inv, prefix[i])
        inv = f2_mul(inv, c0)
        out[i] = (*f2_mul(c1, c0_inv), *f2_mul(c2, c0_inv))
    return tuple(out)


@lru_cache(maxsize=256)
def _prepare(q: G2Point) -> tuple[_NormLine, ...]:
    neg_q = g2_neg(q)
    t = [q[0], q[1], (1, 0)]
    lines: list[_Line] = []
    for d in _ATE_NAF[1:]:
        lines.append(_dbl_step(t))
        if d == 1:
            lines.append(_add_step(t, q))
        elif d == -1:
            lines.append(_add_step(t, neg_q))
    q1 = g2_psi(q)
    lines.append(_add_step(t, q1))
    lines.append(_add_step(t, g2_neg(g2_psi(q1))))
    return _normalise(lines)


def prepare_g2(q: G2Point) -> tuple[_NormLine, ...]:
    """Normalised Miller-loop lines of a valid, non-infinity G2 point (LRU-cached per point)."""
    q = _as_g2(q)
    if q == G2_INFINITY or not _g2_is_valid(q):
        raise CryptoError("cannot prepare an invalid or infinite G2 point")
    return _prepare(q)


# --- Miller loop and checks --------------------------------------------------------------------


def miller_loop(pairs: list[tuple[G1Point, tuple[_NormLine, ...]]]) -> Fp12:
    """prod_i f_{6x+2,Q_i}(P_i) with the Frobenius lines, up to factors the final exp removes."""
    # Each line is divided by yP as well, so it is 1 + c1' (xP/yP) w + c2' (1/yP) w^3.
    # yP != 0: E(Fp) has odd order r, so no point has y = 0.
    scaled = []
    for (xp, yp), lines in pairs:
        yi = pow(yp, -1, P)
        scaled.append((xp * yi % P, yi, lines))
    f = F12_ONE
    for idx, square in enumerate(_SCHEDULE):
        if square:
            f = f12_sqr(f)
        for xq, yq, lines in scaled:
            c1r, c1i, c2r, c2i = lines[idx]
            f = f12_mul_line1(f, c1r * xq % P, c1i * xq % P, c2r * yq % P, c2i * yq % P)
    return f


def _prepared_pairs(pairs: list[tuple[G1Point, G2Point]]) -> list[tuple[G1Point, tuple[_NormLine, ...]]]:
    # Validate every pair first (the precompile rejects the whole input on any bad point),
    # then drop pairs with an infinity: they contribute 1 to the product.
    checked = []
    for g1, g2 in pairs:
        g1, g2 = _as_g1(g1), _as_g2(g2)
        if not g1_is_on_curve(g1):
            raise CryptoError("G1 point is not on the BN254 curve")
        if not _g2_is_valid(g2):
            raise CryptoError("G2 point is not on the BN254 twist or not in the order-r subgroup")
        checked.append((g1, g2))
    return [(g1, _prepare(g2)) for g1, g2 in checked if g1 != G1_INFINITY and g2 != G2_INFINITY]


def pairing(g1: G1Point, g2: G2Point) -> Fp12:
    """The reduced optimal-ate pairing e(g1, g2) as a flat Fp12 tuple (layout in _fields)."""
    return final_exponentiation(miller_loop(_prepared_pairs([(g1, g2)])))


def pairing_check(pairs: list[tuple[G1Point, G2Point]]) -> bool:
    """prod e(P_i, Q_i) == 1 exactly as the ecPairing precompile decides it; raises on bad points."""
    prepared = _prepared_pairs(pairs)
    if not prepared:
        return True
    return final_exponentiation(miller_loop(prepared)) == F12_ONE


def ecpairing_precompile(data: bytes) -> bytes | None:
    """EIP-197 precompile (address 0x08): 32-byte 0/1, or None where the precompile fails."""
    if len(data) % 192:
        return None
    pairs: list[tuple[G1Point, G2Point]] = []
    for off in range(0, len(data), 192):
        w = [int.from_bytes(data[off + i : off + i + 32], "big") for i in range(0, 192, 32)]
        if any(v >= P for v in w):
            return None
        # G2 words come imaginary part first: (x_im, x_re, y_im, y_re)
        pairs.append(((w[0], w[1]), ((w[3], w[2]), (w[5], w[4]))))
    try:
        ok = pairing_check(pairs)
    except CryptoError:
        return None
    return (1 if ok else 0).to_bytes(32, "big")

