"""BN254 optimal-ate pairing checks with EIP-197 (ecPairing precompile) semantics, on plain ints.

One shared Miller loop for all pairs (one Fp12 squaring per step), one final exponentiation per
check, and line coefficients precomputed per G2 point and cached (the -G2 generator and operator
keys recur in every verification). Points: G1 ``(x, y)``, G2 ``((x_re, x_im), (y_re, y_im))``;
all-zero coordinates are infinity, as in the precompile.
"""

from __future__ import annotations

from functools import lru_cache

from hourglass_cli.crypto._fields import (
    BN_X,
    F12_ONE,
    P,
    Fp2,
    Fp12,
    _naf,
    f2_add,
    f2_conj,
    f2_inv,
    f2_mul,
    f2_mul_fp,
    f2_neg,
    f2_pow,
    f2_sqr,
    f2_sub,
    f12_mul_line,
    f12_sqr,
    final_exponentiation,
)
from hourglass_cli.errors import CryptoError

R = 21888242871839275222246405745257275088548364400416034343698204186575808495617

G1Point = tuple[int, int]
G2Point = tuple[tuple[int, int], tuple[int, int]]
G1_INFINITY: G1Point = (0, 0)
G2_INFINITY: G2Point = ((0, 0), (0, 0))
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
NEG_G2: G2Point = (G2_GENERATOR[0], f2_neg(G2_GENERATOR[1]))

_XI: Fp2 = (9, 1)
TWIST_B: Fp2 = f2_mul((3, 0), f2_inv(_XI))  # E': y^2 = x^3 + 3/xi (a D-type sextic twist)
_TWO_INV = pow(2, -1, P)
# psi = untwist-Frobenius-twist: (x, y) -> (conj(x) xi^((p-1)/3), conj(y) xi^((p-1)/2))
_PSI_X = f2_pow(_XI, (P - 1) // 3)
_PSI_Y = f2_pow(_XI, (P - 1) // 2)

# --- G2 group law in Jacobian coordinates over Fp2; Z == 0 is infinity ------------------------

_J2 = tuple[Fp2, Fp2, Fp2]
_J2_INF: _J2 = ((1, 0), (1, 0), (0, 0))


def _j2(pt: G2Point) -> _J2:
    return _J2_INF if pt == G2_INFINITY else (pt[0], pt[1], (1, 0))


def _j2_affine(pt: _J2) -> G2Point:
    x, y, z = pt
    if z == (0, 0):
        return G2_INFINITY
    zi = f2_inv(z)
    zi2 = f2_sqr(zi)
    return (f2_mul(x, zi2), f2_mul(y, f2_mul(zi2, zi)))


def _j2_double(pt: _J2) -> _J2:
    # dbl-2009-l (a = 0)
    x, y, z = pt
    if z == (0, 0) or y == (0, 0):
        return _J2_INF
    a = f2_sqr(x)
    b = f2_sqr(y)
    c = f2_sqr(b)
    d = f2_sub(f2_sqr(f2_add(x, b)), f2_add(a, c))
    d = f2_add(d, d)
    e = f2_add(f2_add(a, a), a)
    f = f2_sqr(e)
    x3 = f2_sub(f, f2_add(d, d))
    c8 = f2_mul_fp(c, 8)
    y3 = f2_sub(f2_mul(e, f2_sub(d, x3)), c8)
    z3 = f2_mul_fp(f2_mul(y, z), 2)
    return (x3, y3, z3)


def _j2_add(p1: _J2, p2: _J2) -> _J2:
    # add-2007-bl, with the doubling and inverse cases handled explicitly
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == (0, 0):
        return p2
    if z2 == (0, 0):
        return p1
    z1z1 = f2_sqr(z1)
    z2z2 = f2_sqr(z2)
    u1 = f2_mul(x1, z2z2)
    u2 = f2_mul(x2, z1z1)
    s1 = f2_mul(y1, f2_mul(z2, z2z2))
    s2 = f2_mul(y2, f2_mul(z1, z1z1))
    h = f2_sub(u2, u1)
    r = f2_sub(s2, s1)
    if h == (0, 0):
        return _j2_double(p1) if r == (0, 0) else _J2_INF
    hh = f2_sqr(h)
    hhh = f2_mul(h, hh)
    v = f2_mul(u1, hh)
    x3 = f2_sub(f2_sub(f2_sqr(r), hhh), f2_add(v, v))
    y3 = f2_sub(f2_mul(r, f2_sub(v, x3)), f2_mul(s1, hhh))
    z3 = f2_mul(f2_mul(z1, z2), h)
    return (x3, y3, z3)


def _j2_neg(pt: _J2) -> _J2:
    return (pt[0], f2_neg(pt[1]), pt[2])


def _j2_mul(pt: _J2, k: int) -> _J2:
    if k == 0:
        return _J2_INF
    neg = _j2_neg(pt)
    acc = _J2_INF
    for d in _naf(k):
        acc = _j2_double(acc)
        if d == 1:
            acc = _j2_add(acc, pt)
        elif d == -1:
            acc = _j2_add(acc, neg)
    return acc


def _j2_eq(p1: _J2, p2: _J2) -> bool:
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == (0, 0) or z2 == (0, 0):
        return z1 == z2
    z1z1 = f2_sqr(z1)
    z2z2 = f2_sqr(z2)
    if f2_mul(x1, z2z2) != f2_mul(x2, z1z1):
        return False
    return f2_mul(y1, f2_mul(z2, z2z2)) == f2_mul(y2, f2_mul(z1, z1z1))


def _j2_psi(pt: _J2) -> _J2:
    # Frobenius is a field automorphism, so it commutes with the Jacobian scaling.
    x, y, z = pt
    return (f2_mul(f2_conj(x), _PSI_X), f2_mul(f2_conj(y), _PSI_Y), f2_conj(z))


def g2_is_on_curve(pt: G2Point) -> bool:
    """On E': y^2 = x^3 + 3/xi with all coordinates < p (or the all-zero infinity)."""
    if pt == G2_INFINITY:
        return True
    x, y = pt
    if not all(0 <= c < P for c in (*x, *y)):
        return False
    return f2_sqr(y) == f2_add(f2_mul(f2_sqr(x), x), TWIST_B)


def _g2_in_subgroup(pt: G2Point) -> bool:
    # Dai-Lin-Zhao-Zhou (eprint 2022/348): for BN254 (x != 4 mod 13, x != 92 mod 97) a point Q
    # of E'(Fp2) has order r iff [x+1]Q + psi([x]Q) + psi^2([x]Q) == psi^3([2x]Q). A 63-bit
    # multiplication instead of a 254-bit [r]Q; the tests cross-check it against [r]Q.
    q = _j2(pt)
    xq = _j2_mul(q, BN_X)
    psi_xq = _j2_psi(xq)
    psi2_xq = _j2_psi(psi_xq)
    lhs = _j2_add(_j2_add(_j2_add(xq, q), psi_xq), psi2_xq)
    rhs = _j2_psi(_j2_psi(_j2_psi(_j2_double(xq))))
    return _j2_eq(lhs, rhs)


def g2_is_valid(pt: G2Point) -> bool:
    """On the twist and in the order-r subgroup (or infinity): what EIP-197 accepts."""
    return _g2_is_valid_cached(pt)


@lru_cache(maxsize=1024)
def _g2_is_valid_cached(pt: G2Point) -> bool:
    return g2_is_on_curve(pt) and (pt == G2_INFINITY or _g2_in_subgroup(pt))


def g2_add(a: G2Point, b: G2Point) -> G2Point:
    """a + b in G2."""
    return _j2_affine(_j2_add(_j2(a), _j2(b)))


def g2_mul(a: G2Point, k: int) -> G2Point:
    """k * a in G2 (k reduced mod r; a must be in G2)."""
    return _j2_affine(_j2_mul(_j2(a), k % R))


def g2_neg(a: G2Point) -> G2Point:
    """-a in G2."""
    return G2_INFINITY if a == G2_INFINITY else (a[0], f2_neg(a[1]))


def g2_sum(points: list[G2Point]) -> G2Point:
    """Sum of G2 points with one inversion."""
    acc = _J2_INF
    for pt in points:
        acc = _j2_add(acc, _j2(pt))
    return _j2_affine(acc)


# --- Miller loop -------------------------------------------------------------------------------

# 6x + 2 in NAF, most significant first; the top digit is the starting point T = Q.
_ATE_NAF = _naf(6 * BN_X + 2)
# One entry per line: whether f is squared before it (doubling lines, except the very first).
_SCHEDULE: list[bool] = []
for _i, _d in enumerate(_ATE_NAF[1:]):
    _SCHEDULE.append(_i > 0)
    if _d:
        _SCHEDULE.append(False)
_SCHEDULE += [False, False]  # the two Frobenius lines closing the optimal-ate loop

# A line is (c0, c1, c2) flattened to 6 ints; evaluated at P = (xP, yP) it is
# c0*yP + c1*xP w + c2 w^3 (arkworks' D-twist convention, homogeneous projective T).
_Line = tuple[int, int, int, int, int, int]


def _dbl_step(t: list[Fp2]) -> _Line:
    x, y, z = t
    a = f2_mul_fp(f2_mul(x, y), _TWO_INV)
    b = f2_sqr(y)
    c = f2_sqr(z)
    e = f2_mul(TWIST_B, f2_mul_fp(c, 3))
    f = f2_mul_fp(e, 3)
    g = f2_mul_fp(f2_add(b, f), _TWO_INV)
    h = f2_sub(f2_sqr(f2_add(y, z)), f2_add(b, c))
    i = f2_sub(e, b)
    j = f2_sqr(x)
    t[0] = f2_mul(a, f2_sub(b, f))
    t[1] = f2_sub(f2_sqr(g), f2_mul_fp(f2_sqr(e), 3))
    t[2] = f2_mul(b, h)
    h = f2_neg(h)
    j3 = f2_mul_fp(j, 3)
    return (h[0], h[1], j3[0], j3[1], i[0], i[1])


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
    theta = f2_neg(theta)
    return (lam[0], lam[1], theta[0], theta[1], j[0], j[1])


def _psi_affine(q: G2Point) -> G2Point:
    return (f2_mul(f2_conj(q[0]), _PSI_X), f2_mul(f2_conj(q[1]), _PSI_Y))


@lru_cache(maxsize=256)
def prepare_g2(q: G2Point) -> tuple[_Line, ...]:
    """The Miller-loop line coefficients of a valid, non-infinity G2 point (cached per point)."""
    if q == G2_INFINITY or not g2_is_valid(q):
        raise CryptoError("cannot prepare an invalid or infinite G2 point")
    neg_q = g2_neg(q)
    t = [q[0], q[1], (1, 0)]
    lines: list[_Line] = []
    for d in _ATE_NAF[1:]:
        lines.append(_dbl_step(t))
        if d == 1:
            lines.append(_add_step(t, q))
        elif d == -1:
            lines.append(_add_step(t, neg_q))
    q1 = _psi_affine(q)
    q2 = _psi_affine(q1)
    lines.append(_add_step(t, q1))
    lines.append(_add_step(t, g2_neg(q2)))
    return tuple(lines)


def miller_loop(pairs: list[tuple[G1Point, tuple[_Line, ...]]]) -> Fp12:
    """Product of the Miller functions f_{6x+2,Q}(P) (with the Frobenius lines) over all pairs."""
    f = F12_ONE
    for idx, square in enumerate(_SCHEDULE):
        if square:
            f = f12_sqr(f)
        for (xp, yp), lines in pairs:
            c0r, c0i, c1r, c1i, c2r, c2i = lines[idx]
            f = f12_mul_line(f, c0r * yp % P, c0i * yp % P, c1r * xp % P, c1i * xp % P, c2r, c2i)
    return f


# --- public checks -----------------------------------------------------------------------------


def g1_is_on_curve(pt: G1Point) -> bool:
    """(0, 0), or coordinates < p on y^2 = x^3 + 3."""
    x, y = pt
    if x == 0 and y == 0:
        return True
    return 0 <= x < P and 0 <= y < P and (y * y - x * x * x - 3) % P == 0


def _prepared_pairs(pairs: list[tuple[G1Point, G2Point]]) -> list[tuple[G1Point, tuple[_Line, ...]]]:
    # Validate every pair first (the precompile rejects the whole input on any bad point),
    # then drop pairs with an infinity: they contribute 1 to the product.
    for g1, g2 in pairs:
        if not g1_is_on_curve(g1):
            raise CryptoError("G1 point is not on the BN254 curve")
        if not g2_is_valid(g2):
            raise CryptoError("G2 point is not on the BN254 twist or not in the order-r subgroup")
    return [(g1, prepare_g2(g2)) for g1, g2 in pairs if g1 != G1_INFINITY and g2 != G2_INFINITY]


def pairing(g1: G1Point, g2: G2Point) -> Fp12:
    """The reduced optimal-ate pairing e(g1, g2) as a flat Fp12 tuple (see _fields)."""
    return final_exponentiation(miller_loop(_prepared_pairs([(g1, g2)])))


def pairing_check(pairs: list[tuple[G1Point, G2Point]]) -> bool:
    """prod e(P_i, Q_i) == 1 exactly as the ecPairing precompile decides it; raises on bad points."""
    prepared = _prepared_pairs(pairs)
    if not prepared:
        return True
    return final_exponentiation(miller_loop(prepared)) == F12_ONE


def ecpairing_precompile(data: bytes) -> bytes | None:
    """EIP-197 precompile at 0x08: 32-byte 0/1, or None where the precompile fails (bad input)."""
    if len(data) % 192:
        return None
    pairs: list[tuple[G1Point, G2Point]] = []
    for off in range(0, len(data), 192):
        w = [int.from_bytes(data[off + i : off + i + 32], "big") for i in range(0, 192, 32)]
        if any(v >= P for v in w):
            return None
        # G2 words are (x_im, x_re, y_im, y_re)
        pairs.append(((w[0], w[1]), ((w[3], w[2]), (w[5], w[4]))))
    try:
        ok = pairing_check(pairs)
    except CryptoError:
        return None
    return (1 if ok else 0).to_bytes(32, "big")
