"""RFC 9380 hash-to-curve for BN254 G1 and the Go Hourglass stack's off-chain BN254 signatures.

What the Go stack does (facts read in the public sources, not code copied):

* Hash to G1 -- gnark-crypto ``ecc/bn254/hash_to_g1.go``: ``HashToG1(msg, dst)`` is RFC 9380
  ``hash_to_curve`` (random oracle): ``fp.Hash(msg, dst, 2)`` = hash_to_field with
  expand_message_xmd(SHA-256) and L = 48, then ``MapToCurve1`` (the straight-line
  Shallue-van de Woestijne map, Z = 1, ``sgn0`` = parity of the canonical integer) on each
  element, then Q0 + Q1; no cofactor clearing (G1 cofactor is 1). ``EncodeToG1`` is the NU
  variant (one element, one map). gnark's ``ExpandMsgXmd`` (``field/hash``) refuses a DST over
  255 bytes; RFC 9380 hashes such a DST instead, which is what :func:`expand_message_xmd` does
  (the two never disagree on an output both produce).
* Signing -- Layr-Labs/crypto-libs ``pkg/bn254/bn254.go`` (imported by hourglass-monorepo's
  ponos): ``PrivateKey.Sign(m)`` = ``sk * HashToG1(m, "BLS_SIG_BN254G1_XMD:SHA-256_SSWU_RO_NUL_")``
  (the "SSWU" in the tag is only a label: the map is SvdW). ``Signature.Verify(pk, m)`` checks
  ``e(sig, G2) == e(H(m), pk.G2)`` with two ``bn254.Pair`` calls -- no gamma randomisation; the
  signature is in G1, the key in G2. ``SignSolidityCompatible``/``VerifySolidityCompatible`` use
  BN254.sol's try-and-increment hash instead (:func:`hourglass_cli.crypto.bn254.hash_to_g1`).
* Which bytes get hashed -- ponos ``pkg/signer/inMemorySigner``: ``SignMessage(data)`` signs
  ``keccak256(data)`` (``PrivateKey.Sign(keccak256(data))``); ``SignMessageForSolidity(data)``
  signs ``data`` if it is 32 bytes, else ``keccak256(data)``, with the Solidity hash.
  - the aggregator's per-executor task signature (``TaskSubmission.signature``) is
    ``SignMessage(EncodeTaskSubmissionMessageVersioned(...))`` (ponos ``taskSession``
    ``generateSignatureForExecutor``), so it is :func:`sign_offchain` of the 224-byte message;
  - the executor's auth signature (``TaskResult.auth_signature``) is ``SignMessage(authBytes)``
    (160 bytes, ``types.AuthSignatureData.ToSigningBytes``); the aggregator
    (``pkg/signing/aggregation/bn254.go`` ``VerifyResponseSignature``) checks it with
    ``authSig.Verify(pk, keccak256(authBytes))``, i.e. :func:`verify_offchain`;
  - the result signature (``TaskResult.result_signature``) is the Solidity-compatible one.
  Older snapshots disagree: one executor ``validateTaskSignature`` verifies the BN254 task
  signature over the raw 192-byte message, and one ``signResult`` signs the auth bytes with
  ``SignMessageForSolidity``; every aggregator version and the newer executor tests use
  keccak256 + RFC 9380 as above, which is what this module implements.
* Keys -- the executor verifies the aggregator against the G2 key registered for the
  aggregator operator set in the KeyRegistrar (``NewPublicKeyFromSolidity``, subgroup-checked);
  the aggregator verifies executors against their registered G2 keys.
* Wire bytes -- ``Signature.Bytes()`` is gnark ``G1Affine.Marshal()`` = ``RawBytes()``: 64 bytes
  X||Y big-endian with the top two bits of byte 0 as flags (00 = uncompressed); since p < 2^254
  that is exactly the Solidity 64-byte layout, and infinity is 64 zero bytes. ``Unmarshal``
  (``SetBytes``) also takes the 32-byte compressed form: flags 10 = smaller y, 11 = larger y
  (y > (p-1)/2), 01 = infinity. G2 ``Marshal()`` is 128 bytes X.A1||X.A0||Y.A1||Y.A0, A1 being
  the imaginary part -- the Solidity/EIP-197 order; compressed G2 is 64 bytes X.A1||X.A0 with
  the flags in byte 0, "larger" judged on A1 (on A0 when A1 = 0). Coordinates must be < p and
  points on the curve/in the subgroup. gnark ignores bytes past the encoding; we reject them.
* ECDSA operator sets use 65-byte r||s||v (v = 27/28, low s) over ``keccak256(message)`` with no
  EIP-191 prefix (crypto-libs ``pkg/ecdsa``), verified by ecrecover against the registered
  signing-key address; that lives in :mod:`hourglass_cli.crypto.ecdsa`, not here.

Points are affine int tuples: G1 ``(x, y)``, G2 ``((x_real, x_imag), (y_real, y_imag))``;
``(0, 0)`` / ``((0, 0), (0, 0))`` is infinity.
"""

from __future__ import annotations

import hashlib

from eth_hash.auto import keccak
from py_ecc import optimized_bn128 as _ob

from hourglass_cli.crypto import _curve, pairing
from hourglass_cli.errors import CryptoError

P = _curve.P
R = _curve.R
B = 3  # y^2 = x^3 + 3

G1Point = tuple[int, int]
G2Point = tuple[tuple[int, int], tuple[int, int]]
G1_INFINITY: G1Point = _curve.G1_INFINITY
G2_INFINITY: G2Point = _curve.G2_INFINITY

DST = b"BLS_SIG_BN254G1_XMD:SHA-256_SSWU_RO_NUL_"
"""The domain tag crypto-libs' ``hashToG1`` passes to gnark (SvdW map despite the name)."""

L = 48  # ceil((ceil(log2(p)) + 128) / 8): 32 bytes of p plus 16 for a 2^-128 bias
_HALF_P = (P - 1) // 2
_SQRT_EXP = (P + 1) // 4  # p = 3 mod 4

# SvdW constants for A = 0, B = 3, Z = 1 (RFC 9380 section 6.6.1; gnark's MapToCurve1 has the
# same values in Montgomery form). g(Z) = Z^3 + 3 = 4.
Z = 1
C1 = (Z**3 + B) % P  # g(Z) = 4
C2 = (-Z * pow(2, -1, P)) % P  # -Z / 2
C3 = 8815841940592487685674414971303048083897117035520822607866
"""sqrt(-g(Z) * 3 Z^2) = sqrt(-12), the root with sgn0 = 0 as RFC 9380 requires."""
C4 = (-4 * C1 * pow(3 * Z * Z, -1, P)) % P  # -4 g(Z) / (3 Z^2)


# --- RFC 9380 section 5: hash_to_field --------------------------------------------------------


def expand_message_xmd(msg: bytes, dst: bytes, len_in_bytes: int) -> bytes:
    """RFC 9380 expand_message_xmd with SHA-256 (DSTs over 255 bytes are hashed, per 5.3.3)."""
    if not 1 <= len_in_bytes <= 65535:
        raise CryptoError(f"expand_message_xmd: len_in_bytes must be 1..65535, got {len_in_bytes}")
    ell = -(-len_in_bytes // 32)
    if ell > 255:
        raise CryptoError(f"expand_message_xmd: len_in_bytes {len_in_bytes} needs over 255 blocks")
    dst = bytes(dst)
    if len(dst) > 255:
        dst = hashlib.sha256(b"H2C-OVERSIZE-DST-" + dst).digest()
    dst_prime = dst + bytes([len(dst)])
    b0 = hashlib.sha256(
        bytes(64) + bytes(msg) + len_in_bytes.to_bytes(2, "big") + b"\x00" + dst_prime
    ).digest()
    blocks = [hashlib.sha256(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, ell + 1):
        mixed = bytes(a ^ b for a, b in zip(b0, blocks[-1]))
        blocks.append(hashlib.sha256(mixed + bytes([i]) + dst_prime).digest())
    return b"".join(blocks)[:len_in_bytes]


def hash_to_field_fp(msg: bytes, dst: bytes, count: int) -> list[int]:
    """RFC 9380 hash_to_field into F_p (m = 1, L = 48), as gnark's ``fp.Hash``."""
    if count < 1:
        raise CryptoError(f"hash_to_field: count must be positive, got {count}")
    uniform = expand_message_xmd(msg, dst, count * L)
    return [int.from_bytes(uniform[i * L : (i + 1) * L], "big") % P for i in range(count)]


# --- RFC 9380 section 6.6.1: the Shallue-van de Woestijne map ---------------------------------


def _sgn0(x: int) -> int:
    """RFC 9380 sgn0 for m = 1: parity of the canonical representative."""
    return x % P % 2


def _is_square(x: int) -> bool:
    # Euler's criterion; 0 counts as a square, as in RFC 9380 and gnark's Legendre() >> 1.
    return pow(x, _HALF_P, P) != P - 1


def _g(x: int) -> int:
    return (x * x % P * x + B) % P


def map_to_curve_svdw(u: int) -> G1Point:
    """RFC 9380 map_to_curve_svdw for BN254 G1 (Z = 1), matching gnark's ``MapToCurve1``."""
    u %= P
    tv1 = u * u % P * C1 % P
    tv2 = (1 + tv1) % P
    tv1 = (1 - tv1) % P
    tv3 = tv1 * tv2 % P
    tv3 = pow(tv3, P - 2, P)  # inv0: 0 maps to 0
    tv4 = u * tv1 % P * tv3 % P * C3 % P
    x1 = (C2 - tv4) % P
    x2 = (C2 + tv4) % P
    x3 = tv2 * tv2 % P * tv3 % P
    x3 = (x3 * x3 % P * C4 + Z) % P
    if _is_square(_g(x1)):
        x = x1
    elif _is_square(_g(x2)):
        x = x2
    else:
        x = x3
    y = pow(_g(x), _SQRT_EXP, P)
    if _sgn0(u) != _sgn0(y):
        y = (P - y) % P
    return (x, y)


# --- G1 helpers ------------------------------------------------------------------------------


def _on_curve_g1(pt: G1Point) -> bool:
    return _curve.g1_is_on_curve(pt)


def hash_to_g1(msg: bytes, dst: bytes = DST) -> G1Point:
    """RFC 9380 hash_to_curve (RO) to BN254 G1: gnark ``bn254.HashToG1(msg, dst)``."""
    u0, u1 = hash_to_field_fp(msg, dst, 2)
    return _curve.g1_add(map_to_curve_svdw(u0), map_to_curve_svdw(u1))  # cofactor 1: no clearing


def encode_to_g1(msg: bytes, dst: bytes = DST) -> G1Point:
    """RFC 9380 encode_to_curve (NU) to BN254 G1: gnark ``bn254.EncodeToG1(msg, dst)``."""
    (u,) = hash_to_field_fp(msg, dst, 1)
    return map_to_curve_svdw(u)


# --- the Go stack's off-chain signatures ------------------------------------------------------


def _check_scalar(sk_scalar: int) -> int:
    if not isinstance(sk_scalar, int) or not 1 <= sk_scalar < R:
        raise CryptoError("a BN254 private key must be an integer in [1, r)")
    return sk_scalar


def sign_bytes(sk_scalar: int, msg: bytes) -> G1Point:
    """``sk * hash_to_g1(msg)`` on the exact bytes: crypto-libs ``PrivateKey.Sign(msg)``."""
    return _curve.g1_mul(hash_to_g1(msg), _check_scalar(sk_scalar))


def sign_offchain(sk_scalar: int, message: bytes) -> G1Point:
    """Sign like ponos ``InMemorySigner.SignMessage``: :func:`sign_bytes` of keccak256(message)."""
    return sign_bytes(sk_scalar, keccak(bytes(message)))


def verify_bytes(msg: bytes, sig: G1Point, pk_g2: G2Point) -> bool:
    """crypto-libs ``Signature.Verify(pk, msg)``: ``e(sig, G2) == e(hash_to_g1(msg), pk)``.

    Raises CryptoError for a malformed signature or key (off the curve, outside the subgroup,
    or a key at infinity); returns False when a well-formed signature does not verify.
    """
    if not _on_curve_g1(sig):
        raise CryptoError("signature is not a point on the BN254 curve")
    _check_g2(pk_g2, "public key")
    if pk_g2 == G2_INFINITY:
        raise CryptoError("public key is the point at infinity")
    # e(sig, G2) == e(H, pk)  <=>  e(sig, -G2) * e(H, pk) == 1: one shared final exponentiation.
    return pairing.pairing_check([(sig, pairing.NEG_G2), (hash_to_g1(msg), pk_g2)])


def verify_offchain(message: bytes, sig: G1Point, pk_g2: G2Point) -> bool:
    """Verify like ponos does (``sig.Verify(pk, keccak256(message))``): see :func:`verify_bytes`."""
    return verify_bytes(keccak(bytes(message)), sig, pk_g2)


# --- G2 helpers -------------------------------------------------------------------------------


def _check_g2(pt: G2Point, what: str) -> None:
    # The shared pairing module's check (on the twist, coordinates < p, order r; cached).
    if not pairing.g2_is_valid(pt):
        raise CryptoError(f"{what}: not on the BN254 twist or not in the order-r subgroup")


# --- gnark-crypto point encodings (what travels on the wire) ----------------------------------

_M_MASK = 0b11 << 6
_M_UNCOMPRESSED = 0b00 << 6
_M_COMPRESSED_SMALLEST = 0b10 << 6
_M_COMPRESSED_LARGEST = 0b11 << 6
_M_COMPRESSED_INFINITY = 0b01 << 6


def _fp_bytes(v: int) -> bytes:
    return v.to_bytes(32, "big")


def _read_fp(data: bytes, what: str) -> int:
    v = int.from_bytes(data, "big")
    if v >= P:  # gnark's SetBytesCanonical rejects non-reduced coordinates
        raise CryptoError(f"{what}: coordinate not below the field modulus")
    return v


def _fp2_largest(re: int, im: int) -> bool:
    """gnark ``E2.LexicographicallyLargest``: decided by the imaginary part unless it is 0."""
    return (im > _HALF_P) if im else (re > _HALF_P)


def g1_marshal(pt: G1Point) -> bytes:
    """gnark ``G1Affine.Marshal()``: 64 bytes X||Y, flags 00 (= the Solidity layout)."""
    if not _on_curve_g1(pt):
        raise CryptoError("cannot encode: not a point on the BN254 curve")
    return _fp_bytes(pt[0]) + _fp_bytes(pt[1])


def g1_marshal_compressed(pt: G1Point) -> bytes:
    """gnark ``G1Affine.Bytes()``: 32 bytes X with the y-choice (or infinity) in the top bits."""
    if not _on_curve_g1(pt):
        raise CryptoError("cannot encode: not a point on the BN254 curve")
    if pt == G1_INFINITY:
        return bytes([_M_COMPRESSED_INFINITY]) + bytes(31)
    flag = _M_COMPRESSED_LARGEST if pt[1] > _HALF_P else _M_COMPRESSED_SMALLEST
    raw = bytearray(_fp_bytes(pt[0]))
    raw[0] |= flag
    return bytes(raw)


def g1_unmarshal(data: bytes) -> G1Point:
    """gnark ``G1Affine.Unmarshal``: 64-byte uncompressed or 32-byte compressed, checked."""
    data = bytes(data)
    if len(data) not in (32, 64):
        raise CryptoError(f"a G1 point is 64 (or 32 compressed) bytes, got {len(data)}")
    flag = data[0] & _M_MASK
    if flag == _M_UNCOMPRESSED:
        if len(data) != 64:
            raise CryptoError("G1 point: uncompressed flag on a 32-byte encoding")
        pt = (_read_fp(data[:32], "G1 point"), _read_fp(data[32:], "G1 point"))
        if not _on_curve_g1(pt):
            raise CryptoError("G1 point is not on the BN254 curve")
        return pt
    if len(data) != 32:
        raise CryptoError("G1 point: compressed flag on a 64-byte encoding")
    body = bytes([data[0] & ~_M_MASK & 0xFF]) + data[1:]
    if flag == _M_COMPRESSED_INFINITY:
        if any(body):
            raise CryptoError("G1 point: invalid infinity encoding")
        return G1_INFINITY
    x = _read_fp(body, "G1 point")
    y = pow(_g(x), _SQRT_EXP, P)
    if y * y % P != _g(x):
        raise CryptoError("G1 point: x is not on the curve (no square root)")
    if (y > _HALF_P) != (flag == _M_COMPRESSED_LARGEST):
        y = (P - y) % P
    return (x, y)


def _encode_fp2(v: tuple[int, int]) -> bytes:
    re, im = v
    return _fp_bytes(im) + _fp_bytes(re)  # A1 (imaginary) first, as gnark and Solidity


def g2_marshal(pt: G2Point) -> bytes:
    """gnark ``G2Affine.Marshal()``: 128 bytes X.im||X.re||Y.im||Y.re (the Solidity order)."""
    _check_g2(pt, "cannot encode")
    return _encode_fp2(pt[0]) + _encode_fp2(pt[1])


def g2_marshal_compressed(pt: G2Point) -> bytes:
    """gnark ``G2Affine.Bytes()``: 64 bytes X.im||X.re with the y-choice in the top bits."""
    _check_g2(pt, "cannot encode")
    if pt == G2_INFINITY:
        return bytes([_M_COMPRESSED_INFINITY]) + bytes(63)
    flag = _M_COMPRESSED_LARGEST if _fp2_largest(*pt[1]) else _M_COMPRESSED_SMALLEST
    raw = bytearray(_encode_fp2(pt[0]))
    raw[0] |= flag
    return bytes(raw)


def _fp2_sqrt(a: tuple[int, int]) -> tuple[int, int] | None:
    """A square root in F_p^2 = F_p[i]/(i^2 + 1), or None (Adj & Rodriguez-Henriquez, alg. 9)."""
    fa = _ob.FQ2(list(a))
    if fa == _ob.FQ2.zero():
        return (0, 0)
    a1 = fa ** ((P - 3) // 4)
    alpha = a1 * a1 * fa
    x0 = a1 * fa
    minus_one = _ob.FQ2([P - 1, 0])
    if alpha == minus_one:
        x = _ob.FQ2([0, 1]) * x0
    else:
        x = ((_ob.FQ2.one() + alpha) ** ((P - 1) // 2)) * x0
    if x * x != fa:
        return None
    return (int(x.coeffs[0]), int(x.coeffs[1]))


def g2_unmarshal(data: bytes) -> G2Point:
    """gnark ``G2Affine.Unmarshal``: 128 bytes uncompressed or 64 compressed; subgroup-checked."""
    data = bytes(data)
    if len(data) not in (64, 128):
        raise CryptoError(f"a G2 point is 128 (or 64 compressed) bytes, got {len(data)}")
    flag = data[0] & _M_MASK
    if flag == _M_UNCOMPRESSED:
        if len(data) != 128:
            raise CryptoError("G2 point: uncompressed flag on a 64-byte encoding")
        xi, xr, yi, yr = (_read_fp(data[i : i + 32], "G2 point") for i in range(0, 128, 32))
        pt = ((xr, xi), (yr, yi))
        _check_g2(pt, "G2 point")
        return pt
    if len(data) != 64:
        raise CryptoError("G2 point: compressed flag on a 128-byte encoding")
    body = bytes([data[0] & ~_M_MASK & 0xFF]) + data[1:]
    if flag == _M_COMPRESSED_INFINITY:
        if any(body):
            raise CryptoError("G2 point: invalid infinity encoding")
        return G2_INFINITY
    x = (_read_fp(body[32:], "G2 point"), _read_fp(body[:32], "G2 point"))
    fx = _ob.FQ2(list(x))
    rhs = fx * fx * fx + _ob.b2
    y = _fp2_sqrt((int(rhs.coeffs[0]), int(rhs.coeffs[1])))
    if y is None:
        raise CryptoError("G2 point: x is not on the twist (no square root)")
    if _fp2_largest(*y) != (flag == _M_COMPRESSED_LARGEST):
        y = ((P - y[0]) % P, (P - y[1]) % P)
    pt = (x, y)
    _check_g2(pt, "G2 point")
    return pt


def signature_to_bytes(sig: G1Point) -> bytes:
    """The bytes ponos puts in ``TaskSubmission.signature`` / ``TaskResult.auth_signature``."""
    return g1_marshal(sig)


def signature_from_bytes(data: bytes) -> G1Point:
    """Parse a BN254 signature as ponos does (``bn254.NewSignatureFromBytes``)."""
    return g1_unmarshal(data)
