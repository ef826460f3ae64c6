"""Tests of BN254 BLS keys, signatures and the Solidity-exact verification."""

from __future__ import annotations

import hashlib
import random

import pytest
from eth_abi import encode
from eth_abi.packed import encode_packed
from eth_utils import keccak
from py_ecc import optimized_bn128 as ob
from py_ecc.fields import bn128_FQ as FQ

from hourglass_cli.crypto import bn254
from hourglass_cli.crypto.bn254 import (
    G1_GENERATOR,
    G2_GENERATOR,
    P,
    R,
    PrivateKey,
    aggregate_g1,
    aggregate_g2,
    g1_add,
    g1_from_bytes,
    g1_mul,
    g1_neg,
    g1_to_bytes,
    g2_add,
    g2_from_bytes,
    g2_from_solidity,
    g2_mul,
    g2_to_bytes,
    g2_to_solidity,
    hash_to_g1,
    key_registration_data,
    verify,
)
from hourglass_cli.errors import CryptoError
from tests.crypto.test_pairing import random_twist_point

DIGEST = keccak(b"hourglass task 1")
KEYS = [PrivateKey.from_seed(b"operator-%d" % i) for i in range(4)]


def pyecc_g2(pt: tuple) -> tuple:
    (xr, xi), (yr, yi) = pt
    return (ob.FQ2([xr, xi]), ob.FQ2([yr, yi]), ob.FQ2.one())


def affine_g2(pt: tuple) -> tuple:
    x, y = ob.normalize(pt)
    return ((int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1])))


def reference_gamma(digest: bytes, sigma: tuple, apk_g1: tuple, apk_g2: tuple) -> int:
    """keccak256(abi.encodePacked(msgHash, apkG1, apkG2.X[0..1], apkG2.Y[0..1], sigma)) mod r."""
    x0, x1, y0, y1 = apk_g2[0][1], apk_g2[0][0], apk_g2[1][1], apk_g2[1][0]  # X[0] = imag
    packed = encode_packed(
        ["bytes32"] + ["uint256"] * 8, [digest, *apk_g1, x0, x1, y0, y1, *sigma]
    )
    return int.from_bytes(keccak(packed), "big") % R


def reference_verify(digest: bytes, sigma: tuple, apk_g1: tuple, apk_g2: tuple) -> bool:
    """BN254.sol's trySignatureAndApkVerification, written independently on py_ecc."""
    gamma = reference_gamma(digest, sigma, apk_g1, apk_g2)

    def g1(pt: tuple) -> tuple:
        return (ob.FQ(pt[0]), ob.FQ(pt[1]), ob.FQ.one())

    lhs = ob.add(g1(sigma), ob.multiply(g1(apk_g1), gamma))
    rhs = ob.add(g1(hash_to_g1(digest)), ob.multiply(ob.G1, gamma))
    f = ob.pairing(ob.neg(ob.G2), lhs, final_exponentiate=False) * ob.pairing(
        pyecc_g2(apk_g2), rhs, final_exponentiate=False
    )
    return ob.final_exponentiate(f) == ob.FQ12.one()


# --- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, R, R + 1, -1, True, 1.0, "1"])
def test_private_key_rejects_out_of_range(bad: object) -> None:
    with pytest.raises(CryptoError):
        PrivateKey(bad)  # type: ignore[arg-type]


def test_private_key_bytes_round_trip() -> None:
    for scalar in (1, 2, R - 1, KEYS[0].scalar):
        sk = PrivateKey(scalar)
        assert len(sk.to_bytes()) == 32
        assert PrivateKey.from_bytes(sk.to_bytes()) == sk
    with pytest.raises(CryptoError):
        PrivateKey.from_bytes(b"\x01" * 31)
    with pytest.raises(CryptoError):
        PrivateKey.from_bytes(b"\x00" * 32)
    with pytest.raises(CryptoError):
        PrivateKey.from_bytes(R.to_bytes(32, "big"))


def test_from_seed_is_deterministic_and_pinned() -> None:
    a, b = PrivateKey.from_seed(b"operator-0"), PrivateKey.from_seed(b"operator-0")
    assert a == b and a.scalar == b.scalar
    assert PrivateKey.from_seed(b"operator-1") != a
    wide = hashlib.sha512(b"hourglass/bn254/from_seed/v1" + b"operator-0").digest()
    assert a.scalar == int.from_bytes(wide, "big") % (R - 1) + 1
    # devnet keys must not change between releases
    assert a.to_bytes().hex() == (
        "1eaa05f08c8c2b52636dd12dddb58e1d0a24de29021749334dc0ff30056ea1c1"
    )


def test_generate_gives_distinct_valid_keys() -> None:
    a, b = PrivateKey.generate(), PrivateKey.generate()
    assert 1 <= a.scalar < R and a != b


def test_public_keys_match_py_ecc_and_solidity_layout() -> None:
    sk = KEYS[1]
    g1 = ob.normalize(ob.multiply(ob.G1, sk.scalar))
    assert sk.public_g1() == (int(g1[0]), int(g1[1]))
    g2 = affine_g2(ob.multiply(ob.G2, sk.scalar))
    assert sk.public_g2() == g2
    (xr, xi), (yr, yi) = g2
    assert sk.public_g2_bytes() == b"".join(v.to_bytes(32, "big") for v in (xi, xr, yi, yr))
    assert sk.public_g1_bytes() == g1_to_bytes(sk.public_g1())
    assert g2_to_solidity(g2) == (xi, xr, yi, yr)
    assert g2_from_solidity(xi, xr, yi, yr) == g2


def test_key_registration_data_is_abi_encoded() -> None:
    sk = KEYS[2]
    (xr, xi), (yr, yi) = sk.public_g2()
    expected = encode(["uint256"] * 6, [*sk.public_g1(), xi, xr, yi, yr])
    assert key_registration_data(sk) == expected
    assert len(expected) == 192


def test_repr_hides_the_scalar() -> None:
    sk = PrivateKey(0x1234567890ABCDEF1234567890ABCDEF)
    for text in (repr(sk), str(sk), f"{sk!r} {sk}"):
        assert str(sk.scalar) not in text
        assert format(sk.scalar, "x") not in text.lower()
        assert sk.to_bytes().hex() not in text
    with pytest.raises(CryptoError) as info:
        PrivateKey(R + 12345)
    assert str(R + 12345) not in str(info.value)


# --- hashing -----------------------------------------------------------------------------------


def test_hash_to_g1_known_value() -> None:
    digest = keccak(b"hello")
    # Independent derivation with py_ecc field arithmetic: x = uint(h) mod p, increment until
    # x^3 + 3 is a square. For keccak("hello") the first x fails, so this covers the increment.
    x = FQ(int.from_bytes(digest, "big"))
    while True:
        beta = x**3 + FQ(3)
        y = beta ** ((P + 1) // 4)
        if y * y == beta:
            break
        x += FQ(1)
    assert hash_to_g1(digest) == (int(x), int(y))
    assert hash_to_g1(digest) == (
        0x1C8AFF950685C2ED4BC3174F3472287B56D9517B9C948127319A09A7A36DEAC9,
        0x00A4852E8F1BE4C9DF00FD9BD67CBC17830F7149D0B6A0B41C9F9A1E40718D37,
    )


def test_hash_to_g1_reduces_mod_p_and_checks_length() -> None:
    x, y = hash_to_g1(b"\xff" * 32)
    assert x >= (2**256 - 1) % P and (y * y - x**3 - 3) % P == 0
    with pytest.raises(CryptoError):
        hash_to_g1(b"\x00" * 31)


# --- signatures --------------------------------------------------------------------------------


def test_sign_verify_round_trip_matches_reference() -> None:
    sk = KEYS[0]
    sig = sk.sign(DIGEST)
    assert sig == g1_mul(hash_to_g1(DIGEST), sk.scalar)
    assert verify(DIGEST, sig, sk.public_g1(), sk.public_g2())
    assert reference_verify(DIGEST, sig, sk.public_g1(), sk.public_g2())


def test_gamma_matches_solidity_encoding() -> None:
    # A valid signature verifies whatever gamma is, so pin the Fiat-Shamir encoding directly.
    sk = KEYS[2]
    sig = sk.sign(DIGEST)
    expected = reference_gamma(DIGEST, sig, sk.public_g1(), sk.public_g2())
    assert bn254._gamma(DIGEST, sk.public_g1(), sk.public_g2(), sig) == expected


def test_mismatched_g1_and_g2_keys_fail_like_solidity() -> None:
    # sigma is valid for apkG2 alone, but the gamma term ties apkG1 to apkG2 as well.
    sk, other = KEYS[0], KEYS[1]
    sig = sk.sign(DIGEST)
    assert not verify(DIGEST, sig, other.public_g1(), sk.public_g2())
    assert not reference_verify(DIGEST, sig, other.public_g1(), sk.public_g2())


def test_aggregate_signature_verifies() -> None:
    sigs = [sk.sign(DIGEST) for sk in KEYS]
    apk_g1 = aggregate_g1([sk.public_g1() for sk in KEYS])
    apk_g2 = aggregate_g2([sk.public_g2() for sk in KEYS])
    sigma = aggregate_g1(sigs)
    assert verify(DIGEST, sigma, apk_g1, apk_g2)
    assert apk_g2 == g2_mul(G2_GENERATOR, sum(sk.scalar for sk in KEYS))
    # a missing signer, a wrong message, a wrong key or a tampered signature all fail
    assert not verify(DIGEST, aggregate_g1(sigs[:3]), apk_g1, apk_g2)
    assert not verify(keccak(b"another task"), sigma, apk_g1, apk_g2)
    extra = PrivateKey.from_seed(b"intruder")
    assert not verify(DIGEST, sigma, g1_add(apk_g1, extra.public_g1()), g2_add(apk_g2, extra.public_g2()))
    assert not verify(DIGEST, g1_add(sigma, G1_GENERATOR), apk_g1, apk_g2)
    assert not verify(DIGEST, g1_neg(sigma), apk_g1, apk_g2)


def test_tampered_single_signature_fails() -> None:
    sk = KEYS[3]
    sig = sk.sign(DIGEST)
    tampered_msg = bytes([DIGEST[0] ^ 1]) + DIGEST[1:]
    assert not verify(tampered_msg, sig, sk.public_g1(), sk.public_g2())
    assert not verify(DIGEST, sk.sign(tampered_msg), sk.public_g1(), sk.public_g2())
    assert not verify(DIGEST, sig, KEYS[0].public_g1(), KEYS[0].public_g2())


def test_all_infinity_verifies_exactly_as_solidity_does() -> None:
    # With sigma = apkG1 = O and apkG2 = O both pairings are 1: BN254.sol accepts this too;
    # callers (the certificate verifiers) must enforce stake thresholds on top.
    assert verify(DIGEST, (0, 0), (0, 0), ((0, 0), (0, 0)))


def test_verify_rejects_malformed_inputs() -> None:
    sk = KEYS[0]
    sig = sk.sign(DIGEST)
    g1, g2 = sk.public_g1(), sk.public_g2()
    with pytest.raises(CryptoError):
        verify(DIGEST[:31], sig, g1, g2)
    with pytest.raises(CryptoError):
        verify(DIGEST, (sig[0], sig[1] + 1), g1, g2)
    with pytest.raises(CryptoError):
        verify(DIGEST, sig, (g1[0], g1[1] + P), g2)
    with pytest.raises(CryptoError):
        verify(DIGEST, sig, g1, (g2[0][::-1], g2[1][::-1]))  # real/imag swapped
    with pytest.raises(CryptoError):
        verify(DIGEST, sig, g1, "key")  # type: ignore[arg-type]


# --- serialisation -----------------------------------------------------------------------------


def test_g1_bytes_round_trip_and_rejections() -> None:
    sig = KEYS[0].sign(DIGEST)
    assert g1_from_bytes(g1_to_bytes(sig)) == sig
    assert g1_from_bytes(b"\x00" * 64) == (0, 0)
    with pytest.raises(CryptoError):
        g1_from_bytes(g1_to_bytes(sig)[:63])
    with pytest.raises(CryptoError):
        g1_from_bytes((1).to_bytes(32, "big") + (3).to_bytes(32, "big"))
    with pytest.raises(CryptoError):  # y + p: same point mod p, but not canonical
        g1_from_bytes(sig[0].to_bytes(32, "big") + (sig[1] + P).to_bytes(32, "big"))


def test_g2_bytes_round_trip_and_rejections() -> None:
    pk = KEYS[0].public_g2()
    data = g2_to_bytes(pk)
    assert len(data) == 128 and g2_from_bytes(data) == pk
    assert g2_from_bytes(b"\x00" * 128) == ((0, 0), (0, 0))
    with pytest.raises(CryptoError):
        g2_from_bytes(data[:127])
    real_first = data[32:64] + data[:32] + data[96:] + data[64:96]
    with pytest.raises(CryptoError):
        g2_from_bytes(real_first)
    with pytest.raises(CryptoError):
        g2_from_bytes(b"\x00" * 96 + (1).to_bytes(32, "big"))
    # on the twist but outside the order-r subgroup
    (xr, xi), (yr, yi) = random_twist_point(random.Random(11))
    outside = b"".join(v.to_bytes(32, "big") for v in (xi, xr, yi, yr))
    with pytest.raises(CryptoError, match="subgroup"):
        g2_from_bytes(outside)


def test_group_helpers_match_py_ecc() -> None:
    a, b = KEYS[0].public_g1(), KEYS[1].public_g1()
    s = ob.normalize(ob.add(ob.multiply(ob.G1, KEYS[0].scalar), ob.multiply(ob.G1, KEYS[1].scalar)))
    assert g1_add(a, b) == (int(s[0]), int(s[1]))
    assert g1_add(a, g1_neg(a)) == (0, 0)
    assert g1_add(a, a) == g1_mul(a, 2)
    assert aggregate_g1([]) == (0, 0)
    assert aggregate_g2([]) == ((0, 0), (0, 0))
    q = g2_add(KEYS[0].public_g2(), KEYS[1].public_g2())
    assert q == affine_g2(ob.multiply(ob.G2, KEYS[0].scalar + KEYS[1].scalar))
    assert bn254.g2_neg(q) == affine_g2(ob.neg(pyecc_g2(q)))
    with pytest.raises(CryptoError):
        g1_add(a, (1, 3))
