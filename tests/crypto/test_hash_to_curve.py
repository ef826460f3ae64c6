"""RFC 9380 BN254 G1 hashing and the Go stack's off-chain BN254 signatures.

Vectors (tests/crypto/vectors/hash_to_curve_bn254.json) come from gnark-crypto's
ecc/bn254/hash_vectors_test.go, RFC 9380 appendix K.1 (cfrg/draft-irtf-cfrg-hash-to-curve
poc/vectors) and a gnark-marshalled public key from Layr-Labs/crypto-libs' keystore tests.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from eth_utils import keccak
from py_ecc import optimized_bn128 as ob

from hourglass_cli.crypto import hash_to_curve as h2c
from hourglass_cli.errors import CryptoError

P = h2c.P
R = h2c.R
VECTORS = json.loads((Path(__file__).parent / "vectors" / "hash_to_curve_bn254.json").read_text())

SK = 0x1F2E3D4C5B6A79880123456789ABCDEF0FEDCBA9876543210A1B2C3D4E5F6071 % R
SK_OTHER = 424242


def _pt(coords: list[str]) -> tuple[int, int]:
    return (int(coords[0], 16), int(coords[1], 16))


def _g2_of(k: int) -> h2c.G2Point:
    x, y = ob.normalize(ob.multiply(ob.G2, k))
    return ((int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1])))


def _g1_of(k: int) -> h2c.G1Point:
    x, y = ob.normalize(ob.multiply(ob.G1, k))
    return (int(x), int(y))


PK = _g2_of(SK)
PK_OTHER = _g2_of(SK_OTHER)


# --- expand_message_xmd (RFC 9380 K.1) --------------------------------------------------------


XMD_SUITES = ["expand_message_xmd_sha256", "expand_message_xmd_sha256_long_dst"]


@pytest.mark.parametrize("suite", XMD_SUITES)
def test_expand_message_xmd_rfc9380_vectors(suite: str) -> None:
    s = VECTORS[suite]
    assert len(s["tests"]) == 10
    for t in s["tests"]:
        out = h2c.expand_message_xmd(t["msg"].encode(), s["DST"].encode(), t["len_in_bytes"])
        assert out.hex() == t["uniform_bytes"], (t["msg"][:10], t["len_in_bytes"])


def test_vector_dst_prime_matches_the_published_one() -> None:
    # Guards the transcription of the long DST (its DST_prime is the RFC's oversize-DST hash).
    for suite in XMD_SUITES:
        dst = VECTORS[suite]["DST"].encode()
        if len(dst) > 255:
            dst = hashlib.sha256(b"H2C-OVERSIZE-DST-" + dst).digest()
        assert (dst + bytes([len(dst)])).hex() == VECTORS[suite]["DST_prime"]


@pytest.mark.parametrize("n", [0, -1, 255 * 32 + 1, 70000])
def test_expand_message_xmd_rejects_bad_lengths(n: int) -> None:
    with pytest.raises(CryptoError):
        h2c.expand_message_xmd(b"abc", b"dst", n)


def test_expand_message_xmd_longest_allowed_output() -> None:
    assert len(h2c.expand_message_xmd(b"", b"dst", 255 * 32)) == 255 * 32


def test_hash_to_field_count_must_be_positive() -> None:
    with pytest.raises(CryptoError):
        h2c.hash_to_field_fp(b"", b"dst", 0)


# --- gnark-crypto BN254 G1 vectors ------------------------------------------------------------


def test_hash_to_g1_ro_vectors() -> None:
    suite = VECTORS["hash_to_g1_ro"]
    dst = suite["DST"].encode()
    assert len(suite["tests"]) == 5
    for t in suite["tests"]:
        msg = t["msg"].encode()
        u0, u1 = h2c.hash_to_field_fp(msg, dst, 2)
        assert (u0, u1) == (int(t["u0"], 16), int(t["u1"], 16))
        assert h2c.map_to_curve_svdw(u0) == _pt(t["Q0"])
        assert h2c.map_to_curve_svdw(u1) == _pt(t["Q1"])
        assert h2c.hash_to_g1(msg, dst) == _pt(t["P"])


def test_encode_to_g1_nu_vectors() -> None:
    suite = VECTORS["encode_to_g1_nu"]
    dst = suite["DST"].encode()
    assert len(suite["tests"]) == 5
    for t in suite["tests"]:
        msg = t["msg"].encode()
        (u,) = h2c.hash_to_field_fp(msg, dst, 1)
        assert u == int(t["u"], 16)
        assert h2c.map_to_curve_svdw(u) == _pt(t["Q"])
        assert h2c.encode_to_g1(msg, dst) == _pt(t["P"])


def test_svdw_constants_for_z_equal_one() -> None:
    assert h2c.Z == 1
    assert h2c.C1 == 4
    assert 2 * h2c.C2 % P == P - 1
    assert h2c.C3 * h2c.C3 % P == P - 12 and h2c.C3 % 2 == 0  # sgn0(c3) = 0
    assert 3 * h2c.C4 % P == (-16) % P


def _on_curve(pt: h2c.G1Point) -> bool:
    x, y = pt
    return (y * y - x * x * x - 3) % P == 0


@pytest.mark.parametrize("u", [0, 1, P - 1, pow(2, -1, P), P - pow(2, -1, P), 12345678901234567890])
def test_map_handles_exceptional_inputs(u: int) -> None:
    # u = +-1/2 makes 1 - c1 u^2 zero, the inv0 case; the map must still land on the curve.
    x, y = h2c.map_to_curve_svdw(u)
    assert _on_curve((x, y))
    assert y % 2 == u % 2  # sgn0(y) == sgn0(u)
    assert h2c.map_to_curve_svdw(u + P) == (x, y)  # inputs are reduced mod p


def test_default_dst_is_the_go_stacks() -> None:
    assert h2c.DST == b"BLS_SIG_BN254G1_XMD:SHA-256_SSWU_RO_NUL_"
    assert h2c.hash_to_g1(b"m") == h2c.hash_to_g1(b"m", h2c.DST) != h2c.hash_to_g1(b"m", b"other")


# --- off-chain sign / verify ------------------------------------------------------------------

MESSAGE = bytes(range(224))  # the task-submission message is 224 bytes


def test_sign_offchain_is_sign_bytes_of_keccak() -> None:
    sig = h2c.sign_offchain(SK, MESSAGE)
    assert sig == h2c.sign_bytes(SK, keccak(MESSAGE))
    hx, hy = h2c.hash_to_g1(keccak(MESSAGE))
    assert sig == _mul((hx, hy), SK)


def _mul(pt: h2c.G1Point, k: int) -> h2c.G1Point:
    x, y = ob.normalize(ob.multiply((ob.FQ(pt[0]), ob.FQ(pt[1]), ob.FQ.one()), k))
    return (int(x), int(y))


def test_sign_verify_round_trip_and_tampering() -> None:
    sig = h2c.sign_offchain(SK, MESSAGE)
    assert h2c.verify_offchain(MESSAGE, sig, PK)
    tampered = bytearray(MESSAGE)
    tampered[100] ^= 1
    assert not h2c.verify_offchain(bytes(tampered), sig, PK)
    assert not h2c.verify_offchain(MESSAGE, sig, PK_OTHER)
    assert not h2c.verify_offchain(MESSAGE, h2c.sign_offchain(SK_OTHER, MESSAGE), PK)
    # A valid curve point that is not the signature, and the point at infinity.
    assert not h2c.verify_offchain(MESSAGE, _g1_of(7), PK)
    assert not h2c.verify_offchain(MESSAGE, h2c.G1_INFINITY, PK)
    # The keccak step matters: the raw message is a different hash input.
    assert not h2c.verify_bytes(MESSAGE, sig, PK)


def test_signatures_aggregate_like_the_go_batch_verify() -> None:
    msg = b"same message for everyone"
    agg = ob.add(_to_ob(h2c.sign_offchain(SK, msg)), _to_ob(h2c.sign_offchain(SK_OTHER, msg)))
    x, y = ob.normalize(agg)
    assert h2c.verify_offchain(msg, (int(x), int(y)), _g2_of(SK + SK_OTHER))


def _to_ob(pt: h2c.G1Point):
    return (ob.FQ(pt[0]), ob.FQ(pt[1]), ob.FQ.one())


def test_verify_rejects_malformed_inputs() -> None:
    sig = h2c.sign_offchain(SK, MESSAGE)
    with pytest.raises(CryptoError):
        h2c.verify_offchain(MESSAGE, (1, 3), PK)  # off the curve
    with pytest.raises(CryptoError):
        h2c.verify_offchain(MESSAGE, (sig[0] + P, sig[1]), PK)  # non-canonical coordinate
    with pytest.raises(CryptoError):
        h2c.verify_offchain(MESSAGE, sig, h2c.G2_INFINITY)
    (xr, xi), y = PK
    with pytest.raises(CryptoError):
        h2c.verify_offchain(MESSAGE, sig, ((xi, xr), y))  # swapped Fp2 halves: off the twist


@pytest.mark.parametrize("bad", [0, R, -1, R + 5])
def test_sign_rejects_bad_scalars(bad: int) -> None:
    with pytest.raises(CryptoError):
        h2c.sign_offchain(bad, b"x")


# --- gnark encodings --------------------------------------------------------------------------


def test_g1_marshal_is_the_solidity_layout_and_round_trips() -> None:
    sig = h2c.sign_offchain(SK, MESSAGE)
    raw = h2c.signature_to_bytes(sig)
    assert raw == sig[0].to_bytes(32, "big") + sig[1].to_bytes(32, "big")
    assert raw[0] & 0xC0 == 0  # the uncompressed flag bits
    assert h2c.signature_from_bytes(raw) == sig
    assert h2c.g1_marshal(h2c.G1_INFINITY) == bytes(64)
    assert h2c.g1_unmarshal(bytes(64)) == h2c.G1_INFINITY


def test_g1_compressed_flags_and_round_trip() -> None:
    seen = set()
    for k in (1, 2, 3, 5, 8, 13, SK):
        pt = _g1_of(k)
        for q in (pt, (pt[0], P - pt[1])):
            enc = h2c.g1_marshal_compressed(q)
            flag = enc[0] >> 6
            assert flag == (0b11 if q[1] > (P - 1) // 2 else 0b10)
            seen.add(flag)
            assert int.from_bytes(bytes([enc[0] & 0x3F]) + enc[1:], "big") == q[0]
            assert h2c.g1_unmarshal(enc) == q
    assert seen == {0b10, 0b11}
    inf = h2c.g1_marshal_compressed(h2c.G1_INFINITY)
    assert inf == bytes([0x40]) + bytes(31)
    assert h2c.g1_unmarshal(inf) == h2c.G1_INFINITY


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(63),
        bytes(65),
        bytes(32),  # uncompressed flag on 32 bytes
        bytes([0x80]) + bytes(63),  # compressed flag on 64 bytes
        P.to_bytes(32, "big") + (2).to_bytes(32, "big"),  # x not below p
        (1).to_bytes(32, "big") + (3).to_bytes(32, "big"),  # off the curve
        bytes([0x40]) + bytes(30) + b"\x01",  # infinity with garbage
        bytes([0x80]) + bytes(30) + b"\x04",  # x = 4: 4^3 + 3 = 67 is no square mod p
    ],
)
def test_g1_unmarshal_rejects(data: bytes) -> None:
    with pytest.raises(CryptoError):
        h2c.g1_unmarshal(data)


def test_g1_marshal_rejects_points_off_the_curve() -> None:
    with pytest.raises(CryptoError):
        h2c.g1_marshal((1, 3))
    with pytest.raises(CryptoError):
        h2c.g1_marshal_compressed((1, 3))


def test_g2_key_marshalled_by_gnark_decodes_and_re_encodes() -> None:
    blob = bytes.fromhex(VECTORS["gnark_g2_marshal"]["publicKey"])
    pk = h2c.g2_unmarshal(blob)  # imag-first order; subgroup-checked
    assert h2c.g2_marshal(pk) == blob
    swapped = blob[32:64] + blob[:32] + blob[96:] + blob[64:96]  # real-first: wrong order
    with pytest.raises(CryptoError):
        h2c.g2_unmarshal(swapped)


def test_g2_marshal_layout_and_compressed_round_trip() -> None:
    seen = set()
    for pt in (PK, PK_OTHER, _g2_of(1), _g2_of(R - 1), _g2_of(R - SK)):
        (xr, xi), (yr, yi) = pt
        raw = h2c.g2_marshal(pt)
        assert raw == b"".join(v.to_bytes(32, "big") for v in (xi, xr, yi, yr))
        assert h2c.g2_unmarshal(raw) == pt
        enc = h2c.g2_marshal_compressed(pt)
        assert len(enc) == 64
        seen.add(enc[0] >> 6)
        assert h2c.g2_unmarshal(enc) == pt
    assert seen == {0b10, 0b11}
    assert h2c.g2_marshal(h2c.G2_INFINITY) == bytes(128)
    assert h2c.g2_unmarshal(bytes(128)) == h2c.G2_INFINITY
    assert h2c.g2_unmarshal(bytes([0x40]) + bytes(63)) == h2c.G2_INFINITY


def test_g2_unmarshal_rejects_twist_points_outside_the_subgroup() -> None:
    # Most x on the twist give points outside the order-r subgroup (the cofactor is huge).
    reasons = set()
    for x0 in range(1, 40):
        enc = bytes([0x80]) + bytes(31) + x0.to_bytes(32, "big")  # X = x0 + 0 i, smaller y
        with pytest.raises(CryptoError) as err:
            h2c.g2_unmarshal(enc)
        reasons.add("subgroup" in str(err.value))
    assert reasons == {True, False}  # both "no square root" and "not in the subgroup" occur


@pytest.mark.parametrize("data", [bytes(127), bytes(129), bytes(64), bytes([0x80]) + bytes(127)])
def test_g2_unmarshal_rejects_bad_lengths_and_flags(data: bytes) -> None:
    with pytest.raises(CryptoError):
        h2c.g2_unmarshal(data)
