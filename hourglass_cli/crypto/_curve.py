"""BN254 group law on plain ints: G1 over Fp and G2 over Fp2, in Jacobian coordinates.

Public points are affine tuples with an all-zero infinity (see bn254.py); internally Jacobian
(X, Y, Z) ~ (X/Z^2, Y/Z^3) with Z == 0 for infinity, so a scalar multiplication costs one
inversion. G1 multiplications use the GLV endomorphism; the generator has a fixed-base table.
"""

from __future__ import annotations

from hourglass_cli.crypto._fields import (
    BN_X,
    P,
    Fp2,
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
)

R = 21888242871839275222246405745257275088548364400416034343698204186575808495617

G1Point = tuple[int, int]
G2Point = tuple[tuple[int, int], tuple[int, int]]
G1_INFINITY: G1Point = (0, 0)
G2_INFINITY: G2Point = ((0, 0), (0, 0))
G1_GENERATOR: G1Point = (1, 2)

# --- G1 ----------------------------------------------------------------------------------------

_J1 = tuple[int, int, int]
_J1_INF: _J1 = (1, 1, 0)


def g1_is_on_curve(pt: G1Point) -> bool:
    """(0, 0), or coordinates < p on y^2 = x^3 + 3."""
    x, y = pt
    if x == 0 and y == 0:
        return True
    return 0 <= x < P and 0 <= y < P and (y * y - x * x * x - 3) % P == 0


def _j1(pt: G1Point) -> _J1:
    return _J1_INF if pt == G1_INFINITY else (pt[0], pt[1], 1)


def _j1_affine(pt: _J1) -> G1Point:
    x, y, z = pt
    if z == 0:
        return G1_INFINITY
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return (x * zi2 % P, y * zi2 * zi % P)


def _j1_double(pt: _J1) -> _J1:
    # dbl-2009-l (a = 0)
    x, y, z = pt
    if z == 0 or y == 0:
        return _J1_INF
    a = x * x % P
    b = y * y % P
    c = b * b % P
    d = 2 * ((x + b) ** 2 - a - c) % P
    e = 3 * a
    f = e * e % P
    x3 = (f - 2 * d) % P
    return (x3, (e * (d - x3) - 8 * c) % P, 2 * y * z % P)


def _j1_add(p1: _J1, p2: _J1) -> _J1:
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
    r = (s2 - s1) % P
    if h == 0:
        return _j1_double(p1) if r == 0 else _J1_INF
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    return (x3, (r * (v - x3) - s1 * hhh) % P, z1 * z2 * h % P)


def _j1_add_affine(p1: _J1, x2: int, y2: int) -> _J1:
    # madd-2007-bl: the second point has Z = 1 (table entries), saving four multiplications
    x1, y1, z1 = p1
    if z1 == 0:
        return (x2, y2, 1)
    z1z1 = z1 * z1 % P
    u2 = x2 * z1z1 % P
    s2 = y2 * z1 * z1z1 % P
    h = (u2 - x1) % P
    r = (s2 - y1) % P
    if h == 0:
        return _j1_double(p1) if r == 0 else _J1_INF
    hh = h * h % P
    hhh = h * hh % P
    v = x1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    return (x3, (r * (v - x3) - y1 * hhh) % P, z1 * h % P)


# GLV: phi(x, y) = (BETA x, y) equals [LAMBDA] on G1, so k P = k1 P + k2 phi(P) with
# |k1|, |k2| ~ 2^127 from the short lattice basis of {(a, b): a + b LAMBDA = 0 mod r}.
_BETA = 2203960485148121921418603742825762020974279258880205651966
_LAMBDA = 4407920970296243842393367215006156084916469457145843978461
_A1, _B1 = 2 * BN_X + 1, -(6 * BN_X * BN_X + 2 * BN_X)
_A2, _B2 = 6 * BN_X * BN_X + 4 * BN_X + 1, 2 * BN_X + 1


def _glv_split(k: int) -> tuple[int, int]:
    """k = k1 + k2 LAMBDA (mod r) with both halves about 127 bits (Babai rounding)."""
    c1 = (_B2 * k + R // 2) // R
    c2 = (-_B1 * k + R // 2) // R
    return k - c1 * _A1 - c2 * _A2, -c1 * _B1 - c2 * _B2


def _wnaf(k: int, w: int) -> list[int]:
    """Width-w NAF of k >= 0, least significant digit first (odd digits below 2^(w-1))."""
    digits = []
    full = 1 << w
    half = full >> 1
    while k:
        if k & 1:
            d = k & (full - 1)
            if d >= half:
                d -= full
            k -= d
        else:
            d = 0
        digits.append(d)
        k >>= 1
    return digits


_W = 4  # measured: w = 4 beats 3 and 5 for 127-bit halves


def g1_mul(pt: G1Point, k: int) -> G1Point:
    """k * pt for pt on the curve (k reduced mod r, the group order of E(Fp))."""
    k %= R
    if k == 0 or pt == G1_INFINITY:
        return G1_INFINITY
    if pt == G1_GENERATOR:
        return _j1_affine(_fixed_base_mul(k))
    k1, k2 = _glv_split(k)
    base1 = _j1(pt)
    base2 = ((_BETA * pt[0]) % P, pt[1], 1)
    if k1 < 0:
        k1, base1 = -k1, (base1[0], P - base1[1], 1)
    if k2 < 0:
        k2, base2 = -k2, (base2[0], P - base2[1], 1)
    acc = _J1_INF
    naf1, naf2 = _wnaf(k1, _W), _wnaf(k2, _W)
    n = max(len(naf1), len(naf2))
    naf1 += [0] * (n - len(naf1))
    naf2 += [0] * (n - len(naf2))
    tab1, tab2 = _odd_multiples(base1), _odd_multiples(base2)
    for i in range(n - 1, -1, -1):
        acc = _j1_double(acc)
        for d, tab in ((naf1[i], tab1), (naf2[i], tab2)):
            if d > 0:
                acc = _j1_add(acc, tab[d >> 1])
            elif d < 0:
                x, y, z = tab[(-d) >> 1]
                acc = _j1_add(acc, (x, P - y if y else 0, z))
    return _j1_affine(acc)


def _odd_multiples(base: _J1) -> list[_J1]:
    """[base, 3 base, 5 base, ...] up to (2^(w-1) - 1) base."""
    two = _j1_double(base)
    out = [base]
    for _ in range((1 << (_W - 2)) - 1):
        out.append(_j1_add(out[-1], two))
    return out


# Fixed-base table for the generator: row i holds (j + 1) 16^i G for j < 15 in affine coordinates,
# so k G is at most 64 mixed additions and no doublings. Built on first use (~10 ms); assigned
# in one step so a concurrent first use sees either nothing or the whole table.
_GEN_TABLE: list[list[G1Point]] | None = None


def _build_gen_table() -> list[list[G1Point]]:
    rows: list[list[_J1]] = []
    base = _j1(G1_GENERATOR)
    for _ in range(64):
        row = [base]
        for _ in range(14):
            row.append(_j1_add(row[-1], base))
        rows.append(row)
        base = _j1_add(row[-1], base)  # 16 * previous base
    affine = _batch_affine([pt for row in rows for pt in row])
    return [affine[i : i + 15] for i in range(0, len(affine), 15)]


def _batch_affine(points: list[_J1]) -> list[G1Point]:
    """Affine forms of non-infinity Jacobian points with one inversion (Montgomery's trick)."""
    prefix = [1]
    for _, _, z in points:
        prefix.append(prefix[-1] * z % P)
    inv = pow(prefix[-1], -1, P)
    out: list[G1Point] = [G1_INFINITY] * len(points)
    for i in range(len(points) - 1, -1, -1):
        x, y, z = points[i]
        zi = inv * prefix[i] % P
        inv = inv * z % P
        zi2 = zi * zi % P
        out[i] = (x * zi2 % P, y * zi2 * zi % P)
    return out


def _fixed_base_mul(k: int) -> _J1:
    global _GEN_TABLE
    table = _GEN_TABLE
    if table is None:
        table = _GEN_TABLE = _build_gen_table()
    acc = _J1_INF
    i = 0
    while k:
        nib = k & 15
        if nib:
            x, y = table[i][nib - 1]
            acc = _j1_add_affine(acc, x, y)
        k >>= 4
        i += 1
    return acc


def g1_add(a: G1Point, b: G1Point) -> G1Point:
    """a + b."""
    return _j1_affine(_j1_add(_j1(a), _j1(b)))


def g1_sum(points: list[G1Point]) -> G1Point:
    """Sum of points with one inversion."""
    acc = _J1_INF
    for pt in points:
        if pt != G1_INFINITY:
            acc = _j1_add_affine(acc, pt[0], pt[1])
    return _j1_affine(acc)


# --- G2 ----------------------------------------------------------------------------------------

_XI: Fp2 = (9, 1)
TWIST_B: Fp2 = f2_mul((3, 0), f2_inv(_XI))  # E': y^2 = x^3 + 3/xi (a D-type sextic twist)
# psi = untwist-Frobenius-twist: (x, y) -> (conj(x) xi^((p-1)/3), conj(y) xi^((p-1)/2))
PSI_X = f2_pow(_XI, (P - 1) // 3)
PSI_Y = f2_pow(_XI, (P - 1) // 2)

_J2 = tuple[Fp2, Fp2, Fp2]
_J2_INF: _J2 = ((1, 0), (1, 0), (0, 0))
_ZERO2: Fp2 = (0, 0)


def _j2(pt: G2Point) -> _J2:
    return _J2_INF if pt == G2_INFINITY else (pt[0], pt[1], (1, 0))


def _j2_affine(pt: _J2) -> G2Point:
    x, y, z = pt
    if z == _ZERO2:
        return G2_INFINITY
    zi = f2_inv(z)
    zi2 = f2_sqr(zi)
    return (f2_mul(x, zi2), f2_mul(y, f2_mul(zi2, zi)))


def _j2_double(pt: _J2) -> _J2:
    # dbl-2009-l (a = 0)
    x, y, z = pt
    if z == _ZERO2 or y == _ZERO2:
        return _J2_INF
    a = f2_sqr(x)
    b = f2_sqr(y)
    c = f2_sqr(b)
    d = f2_sub(f2_sqr(f2_add(x, b)), f2_add(a, c))
    d = f2_add(d, d)
    e = f2_add(f2_add(a, a), a)
    x3 = f2_sub(f2_sqr(e), f2_add(d, d))
    y3 = f2_sub(f2_mul(e, f2_sub(d, x3)), f2_mul_fp(c, 8))
    return (x3, y3, f2_mul_fp(f2_mul(y, z), 2))


def _j2_add(p1: _J2, p2: _J2) -> _J2:
    # add-2007-bl, with the doubling and inverse cases handled explicitly
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == _ZERO2:
        return p2
    if z2 == _ZERO2:
        return p1
    z1z1 = f2_sqr(z1)
    z2z2 = f2_sqr(z2)
    u1 = f2_mul(x1, z2z2)
    u2 = f2_mul(x2, z1z1)
    s1 = f2_mul(y1, f2_mul(z2, z2z2))
    s2 = f2_mul(y2, f2_mul(z1, z1z1))
    h = f2_sub(u2, u1)
    r = f2_sub(s2, s1)
    if h == _ZERO2:
        return _j2_double(p1) if r == _ZERO2 else _J2_INF
    hh = f2_sqr(h)
    hhh = f2_mul(h, hh)
    v = f2_mul(u1, hh)
    x3 = f2_sub(f2_sub(f2_sqr(r), hhh), f2_add(v, v))
    y3 = f2_sub(f2_mul(r, f2_sub(v, x3)), f2_mul(s1, hhh))
    return (x3, y3, f2_mul(f2_mul(z1, z2), h))


def _j2_mul(pt: _J2, k: int) -> _J2:
    if k == 0:
        return _J2_INF
    neg = (pt[0], f2_neg(pt[1]), pt[2])
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
    if z1 == _ZERO2 or z2 == _ZERO2:
        return z1 == z2
    z1z1 = f2_sqr(z1)
    z2z2 = f2_sqr(z2)
    if f2_mul(x1, z2z2) != f2_mul(x2, z1z1):
        return False
    return f2_mul(y1, f2_mul(z2, z2z2)) == f2_mul(y2, f2_mul(z1, z1z1))


def _j2_psi(pt: _J2) -> _J2:
    # Frobenius is a field automorphism, so it commutes with the Jacobian scaling.
    x, y, z = pt
    return (f2_mul(f2_conj(x), PSI_X), f2_mul(f2_conj(y), PSI_Y), f2_conj(z))


def g2_psi(pt: G2Point) -> G2Point:
    """The untwist-Frobenius-twist endomorphism on an affine G2 point."""
    if pt == G2_INFINITY:
        return pt
    return (f2_mul(f2_conj(pt[0]), PSI_X), f2_mul(f2_conj(pt[1]), PSI_Y))


def g2_is_on_curve(pt: G2Point) -> bool:
    """On E' with all coordinates < p (or the all-zero infinity)."""
    if pt == G2_INFINITY:
        return True
    x, y = pt
    if not all(0 <= c < P for c in (*x, *y)):
        return False
    return f2_sqr(y) == f2_add(f2_mul(f2_sqr(x), x), TWIST_B)


def g2_in_subgroup(pt: G2Point) -> bool:
    """Order-r check for a point already on E' (Dai-Lin-Zhao-Zhou, eprint 2022/348)."""
    # For BN254 (x != 4 mod 13, x != 92 mod 97), Q in E'(Fp2) has order r iff
    # [x+1]Q + psi([x]Q) + psi^2([x]Q) == psi^3([2x]Q): a 63-bit multiplication instead of
    # a 254-bit [r]Q. The tests cross-check it against [r]Q on points outside the subgroup.
    q = _j2(pt)
    xq = _j2_mul(q, BN_X)
    psi_xq = _j2_psi(xq)
    lhs = _j2_add(_j2_add(_j2_add(xq, q), psi_xq), _j2_psi(psi_xq))
    rhs = _j2_psi(_j2_psi(_j2_psi(_j2_double(xq))))
    return _j2_eq(lhs, rhs)


def g2_add(a: G2Point, b: G2Point) -> G2Point:
    """a + b."""
    return _j2_affine(_j2_add(_j2(a), _j2(b)))


def g2_neg(a: G2Point) -> G2Point:
    """-a."""
    return a if a == G2_INFINITY else (a[0], f2_neg(a[1]))


def g2_mul(a: G2Point, k: int) -> G2Point:
    """k * a (k reduced mod r; a must be in G2 for that reduction to be sound)."""
    return _j2_affine(_j2_mul(_j2(a), k % R))


def g2_mul_unreduced(a: G2Point, k: int) -> G2Point:
    """k * a without reducing k (for points of unknown order, e.g. the subgroup tests)."""
    return _j2_affine(_j2_mul(_j2(a), k))


def g2_sum(points: list[G2Point]) -> G2Point:
    """Sum of points with one inversion."""
    acc = _J2_INF
    for pt in points:
        acc = _j2_add(acc, _j2(pt))
    return _j2_affine(acc)
