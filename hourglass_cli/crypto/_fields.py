"""The BN254 extension-field tower on plain Python ints, tuned for CPython.

Fp2 = Fp[u]/(u^2 + 1), Fp6 = Fp2[v]/(v^3 - xi) with xi = 9 + u, Fp12 = Fp6[w]/(w^2 - v).
An Fp2 element is a pair (re, im); an Fp12 element is a flat 12-tuple
(a0, a1, a2, b0, b1, b2) of Fp2 pairs for (a0 + a1 v + a2 v^2) + (b0 + b1 v + b2 v^2) w.

Speed notes (measured): a `% P` costs about twice a 256-bit multiplication and a function call
about as much, so the hot Fp12 routines are straight-line code with Karatsuba at every level
and lazy reduction: products are summed unreduced and reduced once per output coefficient.
"""

from __future__ import annotations

P = 21888242871839275222246405745257275088696311157297823662689037894645226208583
BN_X = 4965661367192848881  # the BN parameter: p = 36x^4 + 36x^3 + 24x^2 + 6x + 1

Fp2 = tuple[int, int]
Fp12 = tuple[int, ...]

# --- Fp2 (used by the G2 group law and precomputation, not the Fp12 hot path) --------------


def f2_add(a: Fp2, b: Fp2) -> Fp2:
    return ((a[0] + b[0]) % P, (a[1] + b[1]) % P)


def f2_sub(a: Fp2, b: Fp2) -> Fp2:
    return ((a[0] - b[0]) % P, (a[1] - b[1]) % P)


def f2_neg(a: Fp2) -> Fp2:
    return (-a[0] % P, -a[1] % P)


def f2_mul(a: Fp2, b: Fp2) -> Fp2:
    a0, a1 = a
    b0, b1 = b
    t0 = a0 * b0
    t1 = a1 * b1
    return ((t0 - t1) % P, ((a0 + a1) * (b0 + b1) - t0 - t1) % P)


def f2_sqr(a: Fp2) -> Fp2:
    a0, a1 = a
    return ((a0 + a1) * (a0 - a1) % P, 2 * a0 * a1 % P)


def f2_mul_fp(a: Fp2, k: int) -> Fp2:
    return (a[0] * k % P, a[1] * k % P)


def f2_mul_xi(a: Fp2) -> Fp2:
    a0, a1 = a
    return ((9 * a0 - a1) % P, (a0 + 9 * a1) % P)


def f2_conj(a: Fp2) -> Fp2:
    return (a[0], -a[1] % P)


def f2_inv(a: Fp2) -> Fp2:
    a0, a1 = a
    n = pow((a0 * a0 + a1 * a1) % P, -1, P)
    return (a0 * n % P, -a1 * n % P)


def f2_pow(a: Fp2, e: int) -> Fp2:
    acc: Fp2 = (1, 0)
    for bit in bin(e)[2:]:
        acc = f2_sqr(acc)
        if bit == "1":
            acc = f2_mul(acc, a)
    return acc


# --- Fp6 building blocks (unreduced outputs) ---------------------------------------------------


def _f6_mul(a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5):  # type: ignore[no-untyped-def]
    """Karatsuba Fp6 product of (a0+a1u, a2+a3u, a4+a5u) and (b...): 18 int mults, unreduced."""
    t0 = a0 * b0
    t1 = a1 * b1
    v0r = t0 - t1
    v0i = (a0 + a1) * (b0 + b1) - t0 - t1
    t0 = a2 * b2
    t1 = a3 * b3
    v1r = t0 - t1
    v1i = (a2 + a3) * (b2 + b3) - t0 - t1
    t0 = a4 * b4
    t1 = a5 * b5
    v2r = t0 - t1
    v2i = (a4 + a5) * (b4 + b5) - t0 - t1
    # c0 = v0 + xi * ((x1 + x2)(y1 + y2) - v1 - v2)
    x0 = a2 + a4
    x1 = a3 + a5
    y0 = b2 + b4
    y1 = b3 + b5
    t0 = x0 * y0
    t1 = x1 * y1
    sr = t0 - t1 - v1r - v2r
    si = (x0 + x1) * (y0 + y1) - t0 - t1 - v1i - v2i
    c0r = v0r + 9 * sr - si
    c0i = v0i + sr + 9 * si
    # c1 = (x0 + x1)(y0 + y1) - v0 - v1 + xi * v2
    x0 = a0 + a2
    x1 = a1 + a3
    y0 = b0 + b2
    y1 = b1 + b3
    t0 = x0 * y0
    t1 = x1 * y1
    c1r = t0 - t1 - v0r - v1r + 9 * v2r - v2i
    c1i = (x0 + x1) * (y0 + y1) - t0 - t1 - v0i - v1i + v2r + 9 * v2i
    # c2 = (x0 + x2)(y0 + y2) - v0 - v2 + v1
    x0 = a0 + a4
    x1 = a1 + a5
    y0 = b0 + b4
    y1 = b1 + b5
    t0 = x0 * y0
    t1 = x1 * y1
    c2r = t0 - t1 - v0r - v2r + v1r
    c2i = (x0 + x1) * (y0 + y1) - t0 - t1 - v0i - v2i + v1i
    return c0r, c0i, c1r, c1i, c2r, c2i


def _f6_mul_01(a0, a1, a2, a3, a4, a5, b0, b1, b2, b3):  # type: ignore[no-untyped-def]
    """Fp6 product by the sparse (b0+b1u, b2+b3u, 0): 15 int mults, unreduced."""
    t0 = a0 * b0
    t1 = a1 * b1
    v0r = t0 - t1
    v0i = (a0 + a1) * (b0 + b1) - t0 - t1
    t0 = a2 * b2
    t1 = a3 * b3
    v1r = t0 - t1
    v1i = (a2 + a3) * (b2 + b3) - t0 - t1
    # c0 = v0 + xi * x2*y1
    t0 = a4 * b2
    t1 = a5 * b3
    sr = t0 - t1
    si = (a4 + a5) * (b2 + b3) - t0 - t1
    c0r = v0r + 9 * sr - si
    c0i = v0i + sr + 9 * si
    # c1 = (x0 + x1)(y0 + y1) - v0 - v1
    x0 = a0 + a2
    x1 = a1 + a3
    y0 = b0 + b2
    y1 = b1 + b3
    t0 = x0 * y0
    t1 = x1 * y1
    c1r = t0 - t1 - v0r - v1r
    c1i = (x0 + x1) * (y0 + y1) - t0 - t1 - v0i - v1i
    # c2 = x2*y0 + v1
    t0 = a4 * b0
    t1 = a5 * b1
    c2r = t0 - t1 + v1r
    c2i = (a4 + a5) * (b0 + b1) - t0 - t1 + v1i
    return c0r, c0i, c1r, c1i, c2r, c2i


# --- Fp12 --------------------------------------------------------------------------------------

F12_ONE: Fp12 = (1,) + (0,) * 11


def f12_mul(x: Fp12, y: Fp12) -> Fp12:
    """x * y: Karatsuba over Fp6 (3 Fp6 products, 54 int mults), 12 reductions."""
    a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5 = x
    c0, c1, c2, c3, c4, c5, d0, d1, d2, d3, d4, d5 = y
    s0, s1, s2, s3, s4, s5 = _f6_mul(a0, a1, a2, a3, a4, a5, c0, c1, c2, c3, c4, c5)
    t0, t1, t2, t3, t4, t5 = _f6_mul(b0, b1, b2, b3, b4, b5, d0, d1, d2, d3, d4, d5)
    u0, u1, u2, u3, u4, u5 = _f6_mul(
        a0 + b0, a1 + b1, a2 + b2, a3 + b3, a4 + b4, a5 + b5,
        c0 + d0, c1 + d1, c2 + d2, c3 + d3, c4 + d4, c5 + d5,
    )  # fmt: skip
    # (A + Bw)(C + Dw) = (AC + v BD) + ((A+B)(C+D) - AC - BD) w;  v (e0, e1, e2) = (xi e2, e0, e1)
    return (
        (s0 + 9 * t4 - t5) % P, (s1 + t4 + 9 * t5) % P,
        (s2 + t0) % P, (s3 + t1) % P,
        (s4 + t2) % P, (s5 + t3) % P,
        (u0 - s0 - t0) % P, (u1 - s1 - t1) % P,
        (u2 - s2 - t2) % P, (u3 - s3 - t3) % P,
        (u4 - s4 - t4) % P, (u5 - s5 - t5) % P,
    )  # fmt: skip


def f12_sqr(x: Fp12) -> Fp12:
    """x^2 by the complex method: (A + Bw)^2 = ((A+B)(A+vB) - AB - vAB) + 2AB w, 36 int mults."""
    a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5 = x
    t0, t1, t2, t3, t4, t5 = _f6_mul(a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5)
    # A + vB with vB = (xi b2, b0, b1)
    u0, u1, u2, u3, u4, u5 = _f6_mul(
        a0 + b0, a1 + b1, a2 + b2, a3 + b3, a4 + b4, a5 + b5,
        a0 + 9 * b4 - b5, a1 + b4 + 9 * b5, a2 + b0, a3 + b1, a4 + b2, a5 + b3,
    )  # fmt: skip
    return (
        (u0 - t0 - 9 * t4 + t5) % P, (u1 - t1 - t4 - 9 * t5) % P,
        (u2 - t2 - t0) % P, (u3 - t3 - t1) % P,
        (u4 - t4 - t2) % P, (u5 - t5 - t3) % P,
        2 * t0 % P, 2 * t1 % P, 2 * t2 % P, 2 * t3 % P, 2 * t4 % P, 2 * t5 % P,
    )  # fmt: skip


def f12_mul_line1(x: Fp12, m0: int, m1: int, m2: int, m3: int) -> Fp12:
    """x * (1 + M1 w + M2 w^3), M1 = m0+m1u, M2 = m2+m3u (a normalised line): 30 int mults."""
    a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5 = x
    # (A + Bw)(1 + Mw) = (A + v BM) + (B + AM) w  with M = (M1, M2, 0) in Fp6
    s0, s1, s2, s3, s4, s5 = _f6_mul_01(b0, b1, b2, b3, b4, b5, m0, m1, m2, m3)
    t0, t1, t2, t3, t4, t5 = _f6_mul_01(a0, a1, a2, a3, a4, a5, m0, m1, m2, m3)
    return (
        (a0 + 9 * s4 - s5) % P, (a1 + s4 + 9 * s5) % P,
        (a2 + s0) % P, (a3 + s1) % P,
        (a4 + s2) % P, (a5 + s3) % P,
        (b0 + t0) % P, (b1 + t1) % P,
        (b2 + t2) % P, (b3 + t3) % P,
        (b4 + t4) % P, (b5 + t5) % P,
    )  # fmt: skip


def f12_conj(x: Fp12) -> Fp12:
    """x^(p^6): negate the w part; the inverse for elements of the cyclotomic subgroup."""
    return x[:6] + tuple(-c % P for c in x[6:])


def _f6_inv(c0: Fp2, c1: Fp2, c2: Fp2) -> tuple[Fp2, Fp2, Fp2]:
    t0 = f2_sub(f2_sqr(c0), f2_mul_xi(f2_mul(c1, c2)))
    t1 = f2_sub(f2_mul_xi(f2_sqr(c2)), f2_mul(c0, c1))
    t2 = f2_sub(f2_sqr(c1), f2_mul(c0, c2))
    n = f2_add(f2_mul(c0, t0), f2_mul_xi(f2_add(f2_mul(c2, t1), f2_mul(c1, t2))))
    ni = f2_inv(n)
    return f2_mul(t0, ni), f2_mul(t1, ni), f2_mul(t2, ni)


def f12_inv(x: Fp12) -> Fp12:
    """1/x via (A - Bw) / (A^2 - v B^2); one Fp inversion. x must be non-zero."""
    a = x[:6]
    b = x[6:]
    aa = _f6_mul(*a, *a)
    bb = _f6_mul(*b, *b)
    # n = A^2 - v B^2, v (e0, e1, e2) = (xi e2, e0, e1)
    n0 = ((aa[0] - 9 * bb[4] + bb[5]) % P, (aa[1] - bb[4] - 9 * bb[5]) % P)
    n1 = ((aa[2] - bb[0]) % P, (aa[3] - bb[1]) % P)
    n2 = ((aa[4] - bb[2]) % P, (aa[5] - bb[3]) % P)
    i0, i1, i2 = _f6_inv(n0, n1, n2)
    ca = _f6_mul(*a, *i0, *i1, *i2)
    cb = _f6_mul(*b, *i0, *i1, *i2)
    return tuple(c % P for c in ca) + tuple(-c % P for c in cb)


# Frobenius constants: (c w^k)^(p^n) = c^(p^n) * xi^(k (p^n - 1) / 6) * w^k.
# Tuple slot j holds the coefficient of w^k with k = _W_POWER[j] (a_i -> w^(2i), b_i -> w^(2i+1)).
_W_POWER = (0, 2, 4, 1, 3, 5)
_XI: Fp2 = (9, 1)


def _frob_consts(n: int) -> list[Fp2]:
    g = f2_pow(_XI, (P**n - 1) // 6)
    return [f2_pow(g, k) for k in _W_POWER]


_FROB1 = _frob_consts(1)
_FROB2 = [c[0] for c in _frob_consts(2)]  # these lie in Fp
_FROB3 = _frob_consts(3)


def f12_frob(x: Fp12, n: int) -> Fp12:
    """x^(p^n) for n in (1, 2, 3)."""
    out: list[int] = []
    if n == 2:
        for j in range(6):
            g = _FROB2[j]
            out += (x[2 * j] * g % P, x[2 * j + 1] * g % P)
        return tuple(out)
    consts = _FROB1 if n == 1 else _FROB3
    for j in range(6):
        out += f2_mul((x[2 * j], -x[2 * j + 1]), consts[j])
    return tuple(out)


def _fp4_sqr(z0r, z0i, z1r, z1i):  # type: ignore[no-untyped-def]
    """(z0 + z1 s)^2 with s^2 = xi, as (z0^2 + xi z1^2, 2 z0 z1), unreduced."""
    q0r = (z0r + z0i) * (z0r - z0i)
    q0i = 2 * z0r * z0i
    q1r = (z1r + z1i) * (z1r - z1i)
    q1i = 2 * z1r * z1i
    m0 = z0r * z1r
    m1 = z0i * z1i
    return (
        q0r + 9 * q1r - q1i,
        q0i + q1r + 9 * q1i,
        2 * (m0 - m1),
        2 * ((z0r + z0i) * (z1r + z1i) - m0 - m1),
    )


def f12_cyc_sqr(x: Fp12) -> Fp12:
    """Granger-Scott squaring, valid only in the cyclotomic subgroup (after the easy part)."""
    a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5 = x
    # Fp4 squarings of the pairs (A0, B1), (B0, A2), (A1, B2) (Granger-Scott's grouping)
    t0r, t0i, t1r, t1i = _fp4_sqr(a0, a1, b2, b3)
    t2r, t2i, t3r, t3i = _fp4_sqr(b0, b1, a4, a5)
    t4r, t4i, t5r, t5i = _fp4_sqr(a2, a3, b4, b5)
    return (
        (3 * t0r - 2 * a0) % P, (3 * t0i - 2 * a1) % P,
        (3 * t2r - 2 * a2) % P, (3 * t2i - 2 * a3) % P,
        (3 * t4r - 2 * a4) % P, (3 * t4i - 2 * a5) % P,
        (3 * (9 * t5r - t5i) + 2 * b0) % P, (3 * (t5r + 9 * t5i) + 2 * b1) % P,
        (3 * t1r + 2 * b2) % P, (3 * t1i + 2 * b3) % P,
        (3 * t3r + 2 * b4) % P, (3 * t3i + 2 * b5) % P,
    )  # fmt: skip


def _naf(k: int) -> list[int]:
    """Non-adjacent form of k > 0, most significant digit first."""
    digits = []
    while k:
        if k & 1:
            d = 2 - (k & 3)
            k -= d
        else:
            d = 0
        digits.append(d)
        k >>= 1
    return digits[::-1]


def _wnaf4(k: int) -> list[int]:
    """Width-4 NAF of k > 0 (odd digits in [-7, 7]), most significant digit first."""
    digits = []
    while k:
        d = 0
        if k & 1:
            d = k & 15
            if d >= 8:
                d -= 16
            k -= d
        digits.append(d)
        k >>= 1
    return digits[::-1]


# x in width-4 NAF has 14 non-zero digits against 24 in plain NAF: with x^3, x^5, x^7
# precomputed that is 16 multiplications per exponentiation instead of 23 (measured -12%).
_X_WNAF = _wnaf4(BN_X)


def f12_cyc_exp_x(x: Fp12) -> Fp12:
    """x^BN_X in the cyclotomic subgroup (conjugation is inversion there)."""
    mul, csqr, conj = f12_mul, f12_cyc_sqr, f12_conj
    x2 = csqr(x)
    odd = [x]
    for _ in range(3):
        odd.append(mul(odd[-1], x2))
    pos = {2 * i + 1: v for i, v in enumerate(odd)}
    neg: dict[int, Fp12] = {}
    digits = _X_WNAF
    acc = pos[digits[0]]
    for d in digits[1:]:
        acc = csqr(acc)
        if d > 0:
            acc = mul(acc, pos[d])
        elif d < 0:
            if -d not in neg:
                neg[-d] = conj(pos[-d])
            acc = mul(acc, neg[-d])
    return acc


def final_exponentiation(f: Fp12) -> Fp12:
    """f^((p^12 - 1) / r): easy part by Frobenius, hard part by Scott et al.'s BN addition chain."""
    # Easy part: f^((p^6 - 1)(p^2 + 1)); the result lies in the cyclotomic subgroup.
    f = f12_mul(f12_conj(f), f12_inv(f))
    f = f12_mul(f12_frob(f, 2), f)
    # Hard part: f^(l0 + l1 p + l2 p^2 + l3 p^3) = f^((p^4 - p^2 + 1) / r) exactly, with
    # l3 = 1, l2 = 6x^2 + 1, l1 = -36x^3 - 18x^2 - 12x + 1, l0 = -36x^3 - 30x^2 - 18x - 2
    # (Scott, Benger, Charlemagne, Dominguez Perez, Kachisa, "On the final exponentiation ...").
    fx = f12_cyc_exp_x(f)
    fx2 = f12_cyc_exp_x(fx)
    fx3 = f12_cyc_exp_x(fx2)
    y0 = f12_mul(f12_mul(f12_frob(f, 1), f12_frob(f, 2)), f12_frob(f, 3))
    y1 = f12_conj(f)
    y2 = f12_frob(fx2, 2)
    y3 = f12_conj(f12_frob(fx, 1))
    y4 = f12_conj(f12_mul(fx, f12_frob(fx2, 1)))
    y5 = f12_conj(fx2)
    y6 = f12_conj(f12_mul(fx3, f12_frob(fx3, 1)))
    # y0 * y1^2 * y2^6 * y3^12 * y4^18 * y5^30 * y6^36 by a vector addition chain
    t0 = f12_mul(f12_mul(f12_cyc_sqr(y6), y4), y5)
    t1 = f12_mul(f12_mul(y3, y5), t0)
    t0 = f12_mul(t0, y2)
    t1 = f12_mul(f12_cyc_sqr(t1), t0)
    t1 = f12_cyc_sqr(t1)
    t0 = f12_mul(t1, y1)
    t1 = f12_mul(t1, y0)
    t0 = f12_cyc_sqr(t0)
    return f12_mul(t0, t1)
