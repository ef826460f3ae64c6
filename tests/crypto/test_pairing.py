"""Tests of the plain-int BN254 pairing against py_ecc, geth's EIP-197 vectors and algebra."""

from __future__ import annotations

import random

import pytest
from py_ecc import optimized_bn128 as ob

from hourglass_cli.crypto import _curve, _fields
from hourglass_cli.crypto._fields import P
from hourglass_cli.crypto.pairing import (
    G2_GENERATOR,
    NEG_G2,
    R,
    ecpairing_precompile,
    g2_is_valid,
    pairing,
    pairing_check,
    prepare_g2,
)
from hourglass_cli.errors import CryptoError

G1 = _curve.G1_GENERATOR
G2_INF = ((0, 0), (0, 0))
RNG = random.Random(0xB254)


def rand_scalar() -> int:
    return RNG.randrange(1, R)


# --- conversions to py_ecc's Fp12 = Fp[w]/(w^12 - 18 w^6 + 82), where u = w^6 - 9 ----------


def to_pyecc(x: tuple[int, ...]) -> ob.FQ12:
    coeffs = [0] * 12
    for slot, k in enumerate(_fields._W_POWER):
        re, im = x[2 * slot], x[2 * slot + 1]
        coeffs[k] += re - 9 * im  # re w^k + im (w^(k+6) - 9 w^k)
        coeffs[k + 6] += im
    return ob.FQ12([c % P for c in coeffs])


def pyecc_g1(pt: tuple[int, int]) -> tuple:
    return (ob.FQ(pt[0]), ob.FQ(pt[1]), ob.FQ.one())


def pyecc_g2(pt: tuple) -> tuple:
    (xr, xi), (yr, yi) = pt
    return (ob.FQ2([xr, xi]), ob.FQ2([yr, yi]), ob.FQ2.one())


def rand_f12() -> tuple[int, ...]:
    return tuple(RNG.randrange(P) for _ in range(12))


def cyclotomic(x: tuple[int, ...]) -> tuple[int, ...]:
    f = _fields.f12_mul(_fields.f12_conj(x), _fields.f12_inv(x))
    return _fields.f12_mul(_fields.f12_frob(f, 2), f)


# --- the tower ---------------------------------------------------------------------------------


def test_fp12_arithmetic_matches_py_ecc() -> None:
    a, b = rand_f12(), rand_f12()
    pa, pb = to_pyecc(a), to_pyecc(b)
    assert to_pyecc(_fields.f12_mul(a, b)) == pa * pb
    assert to_pyecc(_fields.f12_sqr(a)) == pa * pa
    assert to_pyecc(_fields.f12_inv(a)) == pa.inv()
    assert to_pyecc(_fields.f12_conj(a)) == pa ** (P**6)
    for n in (1, 2, 3):
        assert to_pyecc(_fields.f12_frob(a, n)) == pa ** (P**n)


def test_sparse_line_product_matches_dense_product() -> None:
    a = rand_f12()
    m0, m1, m2, m3 = (RNG.randrange(P) for _ in range(4))
    line = (1, 0, 0, 0, 0, 0, m0, m1, m2, m3, 0, 0)  # 1 + M1 w + M2 w^3
    assert _fields.f12_mul_line1(a, m0, m1, m2, m3) == _fields.f12_mul(a, line)


def test_cyclotomic_squaring_and_exp_by_x() -> None:
    c = cyclotomic(rand_f12())
    assert _fields.f12_cyc_sqr(c) == _fields.f12_sqr(c)
    assert to_pyecc(_fields.f12_cyc_exp_x(c)) == to_pyecc(c) ** _fields.BN_X


def test_final_exponentiation_matches_py_ecc() -> None:
    a = rand_f12()
    assert to_pyecc(_fields.final_exponentiation(a)) == ob.final_exponentiate(to_pyecc(a))


def test_hard_part_exponent_identity() -> None:
    # The Scott et al. chain computes l0 + l1 p + l2 p^2 + l3 p^3 = (p^4 - p^2 + 1) / r.
    x = _fields.BN_X
    lam = [-36 * x**3 - 30 * x**2 - 18 * x - 2, -36 * x**3 - 18 * x**2 - 12 * x + 1, 6 * x**2 + 1, 1]
    assert (P**4 - P**2 + 1) % R == 0
    assert sum(c * P**i for i, c in enumerate(lam)) == (P**4 - P**2 + 1) // R


def test_miller_loop_additions_never_hit_an_exceptional_case() -> None:
    # Lines are normalised by their c0 = x_T - x_Q (times Z). The closing Frobenius additions
    # add [p]Q and [-p^2]Q to T = [6x+2]Q; the optimal-ate relation holds and neither sum
    # degenerates, so c0 != 0 for every Q of order r.
    s, x = 6 * _fields.BN_X + 2, _fields.BN_X
    assert (s + P - P**2 + P**3) % R == 0
    for k in (s - P, s + P, s + P - P**2, s + P + P**2):
        assert k % R != 0
    assert s < R and x % 13 != 4 and x % 97 != 92  # also the subgroup-check preconditions


# --- the pairing -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_pairing_matches_py_ecc(seed: int) -> None:
    rng = random.Random(seed)
    a, b = rng.randrange(1, R), rng.randrange(1, R)
    p1 = _curve.g1_mul(G1, a)
    q = _curve.g2_mul(G2_GENERATOR, b)
    expected = ob.pairing(pyecc_g2(q), pyecc_g1(p1))
    assert to_pyecc(pairing(p1, q)) == expected


def test_bilinearity() -> None:
    a, b = rand_scalar(), rand_scalar()
    pa = _curve.g1_mul(G1, a)
    qb = _curve.g2_mul(G2_GENERATOR, b)
    assert pairing_check([(pa, qb), (_curve.g1_mul(G1, -a * b), G2_GENERATOR)])
    assert pairing_check([(pa, qb), (_curve.g1_mul(G1, a * b), NEG_G2)])
    assert not pairing_check([(pa, qb), (_curve.g1_mul(G1, -a * b - 1), G2_GENERATOR)])
    # e(aP, Q) == e(P, aQ) on the full Fp12 value, not just the product check
    assert pairing(pa, G2_GENERATOR) == pairing(G1, _curve.g2_mul(G2_GENERATOR, a))


def test_three_pair_product() -> None:
    a, b = rand_scalar(), rand_scalar()
    q = _curve.g2_mul(G2_GENERATOR, rand_scalar())
    pairs = [(_curve.g1_mul(G1, a), q), (_curve.g1_mul(G1, b), q), (_curve.g1_mul(G1, -(a + b)), q)]
    assert pairing_check(pairs)
    assert not pairing_check(pairs[:2])


def test_pairing_is_non_degenerate() -> None:
    assert not pairing_check([(G1, G2_GENERATOR)])
    assert pairing(G1, G2_GENERATOR) != _fields.F12_ONE


def test_infinity_contributes_one() -> None:
    inf1 = (0, 0)
    assert pairing_check([])
    assert pairing_check([(inf1, G2_GENERATOR)])
    assert pairing_check([(G1, G2_INF)])
    assert pairing_check([(G1, G2_GENERATOR), (inf1, G2_GENERATOR), (G1, NEG_G2), (G1, G2_INF)])
    assert not pairing_check([(G1, G2_GENERATOR), (inf1, NEG_G2)])
    assert pairing(inf1, G2_GENERATOR) == _fields.F12_ONE


def test_cached_lines_give_the_same_answer() -> None:
    q = _curve.g2_mul(G2_GENERATOR, 7)
    assert prepare_g2(q) is prepare_g2(q)
    p7 = _curve.g1_mul(G1, 7)
    assert pairing_check([(G1, q), (p7, NEG_G2)])
    assert pairing_check([(G1, q), (p7, NEG_G2)])
    with pytest.raises(CryptoError):
        prepare_g2(G2_INF)


def test_invalid_points_raise() -> None:
    with pytest.raises(CryptoError):
        pairing_check([((1, 3), G2_GENERATOR)])  # off the curve
    with pytest.raises(CryptoError):
        pairing_check([(G1, ((1, 2), (3, 4)))])  # off the twist
    with pytest.raises(CryptoError):
        # imaginary/real swapped, and rejected even though the G1 side is infinity
        pairing_check([((0, 0), (G2_GENERATOR[0][::-1], G2_GENERATOR[1][::-1]))])
    with pytest.raises(CryptoError):
        pairing_check([(G1, "not a point")])  # type: ignore[list-item]


# --- G2 subgroup membership --------------------------------------------------------------------


def f2_sqrt(a: tuple[int, int]) -> tuple[int, int] | None:
    """A square root in Fp2 via the norm (test helper; p = 3 mod 4)."""
    a0, a1 = a
    norm = (a0 * a0 + a1 * a1) % P
    n = pow(norm, (P + 1) // 4, P)
    if n * n % P != norm:
        return None
    for cand in (n, -n):
        t = (a0 + cand) * pow(2, -1, P) % P
        x0 = pow(t, (P + 1) // 4, P)
        if x0 and x0 * x0 % P == t:
            x1 = a1 * pow(2 * x0, -1, P) % P
            if _fields.f2_sqr((x0, x1)) == (a0 % P, a1 % P):
                return (x0, x1)
    return None


def random_twist_point(rng: random.Random) -> tuple:
    while True:
        x = (rng.randrange(P), rng.randrange(P))
        rhs = _fields.f2_add(_fields.f2_mul(_fields.f2_sqr(x), x), _curve.TWIST_B)
        y = f2_sqrt(rhs)
        if y is not None:
            return (x, y)


def test_fast_subgroup_check_agrees_with_multiplying_by_r() -> None:
    rng = random.Random(7)
    cofactor = 2 * P - R  # #E'(Fp2) = r (2p - r)
    for _ in range(3):
        q = random_twist_point(rng)
        assert _curve.g2_is_on_curve(q)
        assert _curve.g2_mul_unreduced(q, R) != G2_INF
        assert _curve.g2_in_subgroup(q) is False
        assert not g2_is_valid(q)
        cleared = _curve.g2_mul_unreduced(q, cofactor)
        assert _curve.g2_mul_unreduced(cleared, R) == G2_INF
        assert _curve.g2_in_subgroup(cleared) is True
        assert g2_is_valid(cleared)


def test_g2_coordinates_must_be_below_p() -> None:
    (xr, xi), (yr, yi) = G2_GENERATOR
    assert g2_is_valid(G2_GENERATOR)
    assert not g2_is_valid(((xr + P, xi), (yr, yi)))


# --- G1 helpers --------------------------------------------------------------------------------


def test_glv_split_and_g1_multiplication() -> None:
    assert (_curve._A1 + _curve._B1 * _curve._LAMBDA) % R == 0
    assert (_curve._A2 + _curve._B2 * _curve._LAMBDA) % R == 0
    phi = (_curve._BETA * G1[0] % P, G1[1])
    assert _curve.g1_mul(G1, _curve._LAMBDA) == phi
    for _ in range(20):
        k = rand_scalar()
        k1, k2 = _curve._glv_split(k)
        assert (k1 + k2 * _curve._LAMBDA - k) % R == 0
        assert max(abs(k1), abs(k2)).bit_length() <= 128
    k = rand_scalar()
    base = _curve.g1_mul(G1, 12345)  # not the generator: exercises the GLV path
    expected = ob.normalize(ob.multiply(pyecc_g1(base), k))
    assert _curve.g1_mul(base, k) == (int(expected[0]), int(expected[1]))
    fixed = ob.normalize(ob.multiply(ob.G1, k))
    assert _curve.g1_mul(G1, k) == (int(fixed[0]), int(fixed[1]))  # fixed-base table path
    assert _curve.g1_mul(G1, 0) == (0, 0)
    assert _curve.g1_mul(G1, R) == (0, 0)
    assert _curve.g1_mul(G1, R - 1) == (1, P - 2)
    assert _curve.g1_mul(base, -1) == (base[0], P - base[1])


# --- EIP-197 precompile semantics --------------------------------------------------------------

G2GEN_HEX = "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c21800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa"

# From go-ethereum core/vm/testdata/precompiles/bn256Pairing.json (name: (input, expected)).
GETH_VECTORS = {
    "jeff1": (
        "1c76476f4def4bb94541d57ebba1193381ffa7aa76ada664dd31c16024c43f593034dd2920f673e204fee2811c678745fc819b55d3e9d294e45c9b03a76aef41209dd15ebff5d46c4bd888e51a93cf99a7329636c63514396b4a452003a35bf704bf11ca01483bfa8b34b43561848d28905960114c8ac04049af4b6315a416782bb8324af6cfc93537a2ad1a445cfd0ca2a71acd7ac41fadbf933c2a51be344d120a2a4cf30c1bf9845f20c6fe39e07ea2cce61f0c9bb048165fe5e4de877550111e129f1cf1097710d41c4ac70fcdfa5ba2023c6ff1cbeac322de49d1b6df7c2032c61a830e3c17286de9462bf242fca2883585b93870a73853face6a6bf411198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c21800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa",
        1,
    ),
    "jeff6": (
        "1c76476f4def4bb94541d57ebba1193381ffa7aa76ada664dd31c16024c43f593034dd2920f673e204fee2811c678745fc819b55d3e9d294e45c9b03a76aef41209dd15ebff5d46c4bd888e51a93cf99a7329636c63514396b4a452003a35bf704bf11ca01483bfa8b34b43561848d28905960114c8ac04049af4b6315a416782bb8324af6cfc93537a2ad1a445cfd0ca2a71acd7ac41fadbf933c2a51be344d120a2a4cf30c1bf9845f20c6fe39e07ea2cce61f0c9bb048165fe5e4de877550111e129f1cf1097710d41c4ac70fcdfa5ba2023c6ff1cbeac322de49d1b6df7c103188585e2364128fe25c70558f1560f4f9350baf3959e603cc91486e110936198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c21800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa",
        0,
    ),
    "two_point_match_3": (
        "00000000000000000000000000000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000000000002203e205db4f19b37b60121b83a7333706db86431c6d835849957ed8c3928ad7927dc7234fd11d3e8c36c59277c3e6f149d5cd3cfa9a62aee49f8130962b4b3b9195e8aa5b7827463722b8c153931579d3505566b4edf48d498e185f0509de15204bb53b8977e5f92a0bc372742c4830944a59b4fe6b1c0466e2a6dad122b5d2e030644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd31a76dae6d3272396d0cbe61fced2bc532edac647851e3ac53ce1cc9c7e645a83198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c21800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa",
        1,
    ),
    "two_point_match_4": (
        "105456a333e6d636854f987ea7bb713dfd0ae8371a72aea313ae0c32c0bf10160cf031d41b41557f3e7e3ba0c51bebe5da8e6ecd855ec50fc87efcdeac168bcc0476be093a6d2b4bbf907172049874af11e1b6267606e00804d3ff0037ec57fd3010c68cb50161b7d1d96bb71edfec9880171954e56871abf3d93cc94d745fa114c059d74e5b6c4ec14ae5864ebe23a71781d86c29fb8fb6cce94f70d3de7a2101b33461f39d9e887dbb100f170a2345dde3c07e256d1dfa2b657ba5cd030427000000000000000000000000000000000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000000000021a2c3013d2ea92e13c800cde68ef56a294b883f6ac35d25f587c09b1b3c635f7290158a80cd3d66530f74dc94c94adb88f5cdb481acca997b6e60071f08a115f2f997f3dbd66a7afe07fe7862ce239edba9e05c5afff7f8a1259c9733b2dfbb929d1691530ca701b4a106054688728c9972c8512e9789e9567aae23e302ccd75",
        1,
    ),
}


def word(v: int) -> str:
    return v.to_bytes(32, "big").hex()


@pytest.mark.parametrize("name", sorted(GETH_VECTORS))
def test_geth_vectors(name: str) -> None:
    data, expected = GETH_VECTORS[name]
    assert ecpairing_precompile(bytes.fromhex(data)) == expected.to_bytes(32, "big")


def test_precompile_edge_cases() -> None:
    one = (1).to_bytes(32, "big")
    zero = (0).to_bytes(32, "big")
    g1 = word(1) + word(2)
    neg_g1 = word(1) + word(P - 2)
    assert ecpairing_precompile(b"") == one
    assert ecpairing_precompile(bytes.fromhex(g1 + G2GEN_HEX)) == zero
    assert ecpairing_precompile(bytes.fromhex(g1 + G2GEN_HEX + neg_g1 + G2GEN_HEX)) == one
    # infinity on either side contributes 1
    assert ecpairing_precompile(bytes.fromhex(word(0) * 2 + G2GEN_HEX)) == one
    assert ecpairing_precompile(bytes.fromhex(g1 + word(0) * 4)) == one
    # failures: bad length, coordinate >= p, off-curve G1, G2 in the wrong order / subgroup
    assert ecpairing_precompile(bytes.fromhex(g1 + G2GEN_HEX)[:-1]) is None
    assert ecpairing_precompile(bytes.fromhex(word(1) + word(2 + P) + G2GEN_HEX)) is None
    assert ecpairing_precompile(bytes.fromhex(word(1) + word(3) + G2GEN_HEX)) is None
    swapped = G2GEN_HEX[64:128] + G2GEN_HEX[:64] + G2GEN_HEX[192:] + G2GEN_HEX[128:192]
    assert ecpairing_precompile(bytes.fromhex(g1 + swapped)) is None
    (xr, xi), (yr, yi) = random_twist_point(random.Random(3))
    outside = word(xi) + word(xr) + word(yi) + word(yr)
    assert ecpairing_precompile(bytes.fromhex(word(0) * 2 + outside)) is None
