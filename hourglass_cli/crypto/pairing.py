"""BN254 pairing checks with EIP-197 (ecPairing precompile) semantics.

Temporary py_ecc-backed implementation; the plain-int optimal-ate version replaces it.
"""

from __future__ import annotations

from py_ecc import optimized_bn128 as _ob

from hourglass_cli.errors import CryptoError

P = _ob.field_modulus
R = _ob.curve_order
G1Point = tuple[int, int]
G2Point = tuple[tuple[int, int], tuple[int, int]]
G2_INFINITY: G2Point = ((0, 0), (0, 0))
NEG_G2: G2Point = (
    (
        10857046999023057135944570762232829481370756359578518086990519993285655852781,
        11559732032986387107991004021392285783925812861821192530917403151452391805634,
    ),
    (
        13392588948715843804641432497768002650278120570034223513918757245338268106653,
        17805874995975841540914202342111839520379459829704422454583296818431106115052,
    ),
)


def _to_ob2(pt: G2Point):
    if pt == G2_INFINITY:
        return _ob.Z2
    (xr, xi), (yr, yi) = pt
    return (_ob.FQ2([xr, xi]), _ob.FQ2([yr, yi]), _ob.FQ2.one())


def _from_ob2(pt) -> G2Point:
    if _ob.is_inf(pt):
        return G2_INFINITY
    x, y = _ob.normalize(pt)
    return ((int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1])))


def g2_is_valid(pt: G2Point) -> bool:
    """On the twist with coordinates < p and in the order-r subgroup (or infinity)."""
    if pt == G2_INFINITY:
        return True
    if not all(0 <= c < P for xy in pt for c in xy):
        return False
    q = _to_ob2(pt)
    return _ob.is_on_curve(q, _ob.b2) and _ob.is_inf(_ob.multiply(q, R))


def g2_add(a: G2Point, b: G2Point) -> G2Point:
    """a + b in G2."""
    return _from_ob2(_ob.add(_to_ob2(a), _to_ob2(b)))


def g2_mul(a: G2Point, k: int) -> G2Point:
    """k * a in G2."""
    return _from_ob2(_ob.multiply(_to_ob2(a), k % R))


def g2_sum(points: list[G2Point]) -> G2Point:
    """Sum of G2 points."""
    acc = _ob.Z2
    for pt in points:
        acc = _ob.add(acc, _to_ob2(pt))
    return _from_ob2(acc)


def pairing_check(pairs: list[tuple[G1Point, G2Point]], validate: bool = True) -> bool:
    """prod e(P_i, Q_i) == 1, as the ecPairing precompile computes it."""
    acc = _ob.FQ12.one()
    for g1, g2 in pairs:
        if validate and not g2_is_valid(g2):
            raise CryptoError("G2 point is not on the twist or not in the subgroup")
        if g1 == (0, 0) or g2 == G2_INFINITY:
            continue
        p1 = (_ob.FQ(g1[0]), _ob.FQ(g1[1]), _ob.FQ.one())
        acc = acc * _ob.pairing(_to_ob2(g2), p1, final_exponentiate=False)
    return _ob.final_exponentiate(acc) == _ob.FQ12.one()
