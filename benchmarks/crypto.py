"""Crypto hot paths: BN254 sign / verify / aggregate-verify / hash_to_g1, against py_ecc.

Run: .venv/bin/python benchmarks/crypto.py [--runs N] [-k SUBSTRING]
Add a row by appending a Case to CASES (e.g. from an ECDSA or keystore section below).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_utils import keccak  # noqa: E402

from hourglass_cli.crypto import _curve, bn254, ecdsa, hash_to_curve, pairing  # noqa: E402


@dataclass
class Case:
    """One benchmark row: `fn` is timed, `setup` (if any) runs untimed before each call."""

    name: str
    fn: Callable[[], object]
    setup: Callable[[], object] | None = None
    runs: int | None = None  # None: the --runs default; fewer for very slow rows
    note: str = ""


def time_cases(cases: list[Case], runs: int) -> dict[str, list[float]]:
    """Seconds per call for each case, interleaved round-robin so load spikes hit every row."""
    for case in cases:  # warm-up: one-off tables and caches are not counted
        if case.setup:
            case.setup()
        case.fn()
    times: dict[str, list[float]] = {case.name: [] for case in cases}
    for round_no in range(runs):
        for case in cases:
            if round_no >= (case.runs or runs):
                continue
            if case.setup:
                case.setup()
            t0 = time.perf_counter()
            case.fn()
            times[case.name].append(time.perf_counter() - t0)
    return times


# --- BN254 -------------------------------------------------------------------------------------

DIGEST = keccak(b"benchmark task")
KEYS = [bn254.PrivateKey.from_seed(b"bench-%d" % i) for i in range(32)]
SIGS = [sk.sign(DIGEST) for sk in KEYS]
for _sk in KEYS:  # derive public keys once: the aggregator has them in its operator table
    _sk.public_g2()


def cold_g2_caches() -> None:
    """Forget cached G2 checks and lines, then re-prepare -G2 (always warm in a real process)."""
    pairing._g2_is_valid.cache_clear()
    pairing._prepare.cache_clear()
    pairing.prepare_g2(pairing.NEG_G2)


def warm(*g2_points: tuple) -> Callable[[], None]:
    """Setup that makes sure these G2 keys are cached (rows run interleaved with cold ones)."""

    def setup() -> None:
        for pt in g2_points:
            pairing.prepare_g2(pt)

    return setup


def apk_g2(n: int) -> tuple:
    return bn254.aggregate_g2([sk.public_g2() for sk in KEYS[:n]])


def aggregate_verify(n: int) -> Callable[[], bool]:
    """Aggregate n signatures and keys, then verify once, as an aggregator does per task."""
    sigs, keys = SIGS[:n], KEYS[:n]

    def run() -> bool:
        sigma = bn254.aggregate_g1(sigs)
        apk_g1 = bn254.aggregate_g1([sk.public_g1() for sk in keys])
        apk_g2 = bn254.aggregate_g2([sk.public_g2() for sk in keys])
        ok = bn254.verify(DIGEST, sigma, apk_g1, apk_g2)
        assert ok
        return ok

    return run


def pyecc_verify(digest: bytes, sigma: tuple, apk_g1: tuple, apk_g2: tuple) -> bool:
    """The same Solidity check on py_ecc.optimized_bn128 (the baseline)."""
    from py_ecc import optimized_bn128 as ob

    gamma = bn254._gamma(digest, apk_g1, apk_g2, sigma)

    def g1(pt: tuple) -> tuple:
        return (ob.FQ(pt[0]), ob.FQ(pt[1]), ob.FQ.one())

    (xr, xi), (yr, yi) = apk_g2
    q = (ob.FQ2([xr, xi]), ob.FQ2([yr, yi]), ob.FQ2.one())
    lhs = ob.add(g1(sigma), ob.multiply(g1(apk_g1), gamma))
    rhs = ob.add(g1(bn254.hash_to_g1(digest)), ob.multiply(ob.G1, gamma))
    f = ob.pairing(ob.neg(ob.G2), lhs, final_exponentiate=False)
    f = f * ob.pairing(q, rhs, final_exponentiate=False)
    return ob.final_exponentiate(f) == ob.FQ12.one()


SK, SIG = KEYS[0], SIGS[0]
PK1, PK2 = SK.public_g1(), SK.public_g2()
OFFCHAIN_MSG = bytes(range(224))  # the size of the aggregator's per-executor message
OFFCHAIN_SIG = hash_to_curve.sign_offchain(SK.scalar, OFFCHAIN_MSG)
ECDSA_KEY = keccak(b"bench ecdsa key")
ECDSA_SIG = ecdsa.sign_hash(ECDSA_KEY, DIGEST)
RHS = bn254.g1_add(bn254.hash_to_g1(DIGEST), bn254.g1_mul(bn254.G1_GENERATOR, 5))

CASES: list[Case] = [
    Case("bn254 hash_to_g1", lambda: bn254.hash_to_g1(DIGEST)),
    Case("bn254 sign", lambda: SK.sign(DIGEST)),
    Case("bn254 public_g2 (key derivation)", lambda: _curve.g2_mul(pairing.G2_GENERATOR, SK.scalar)),
    Case(
        "bn254 pairing_check, 2 pairs",
        lambda: pairing.pairing_check([(RHS, pairing.NEG_G2), (RHS, PK2)]),
        setup=warm(pairing.NEG_G2, PK2),
    ),
    Case(
        "bn254 verify, 1 signer",
        lambda: bn254.verify(DIGEST, SIG, PK1, PK2),
        setup=warm(pairing.NEG_G2, PK2),
        note="key cached",
    ),
    Case(
        "bn254 verify, 1 signer (cold key)",
        lambda: bn254.verify(DIGEST, SIG, PK1, PK2),
        setup=cold_g2_caches,
        note="+subgroup check, lines",
    ),
    Case(
        "bn254 aggregate+verify, 4 signers",
        aggregate_verify(4),
        setup=warm(pairing.NEG_G2, apk_g2(4)),
        note="apk cached",
    ),
    Case(
        "bn254 aggregate+verify, 4 signers (cold)",
        aggregate_verify(4),
        setup=cold_g2_caches,
        note="+subgroup check, lines",
    ),
    Case(
        "bn254 aggregate+verify, 32 signers",
        aggregate_verify(32),
        setup=warm(pairing.NEG_G2, apk_g2(32)),
        note="apk cached",
    ),
    Case(
        "bn254 aggregate+verify, 32 signers (cold)",
        aggregate_verify(32),
        setup=cold_g2_caches,
        note="+subgroup check, lines",
    ),
    Case("py_ecc verify, 1 signer (baseline)", lambda: pyecc_verify(DIGEST, SIG, PK1, PK2), runs=3),
    # Off-chain messages (WIRE.md §2a, §2c): RFC 9380 hash-to-curve, as the Go stack signs them.
    Case("bn254 RFC 9380 hash_to_g1", lambda: hash_to_curve.hash_to_g1(OFFCHAIN_MSG)),
    Case("bn254 RFC 9380 sign (aggregator task sig)", lambda: hash_to_curve.sign_offchain(SK.scalar, OFFCHAIN_MSG)),
    Case(
        "bn254 RFC 9380 verify",
        lambda: hash_to_curve.verify_offchain(OFFCHAIN_MSG, OFFCHAIN_SIG, PK2),
        setup=warm(pairing.G2_GENERATOR, PK2),
        note="key cached",
    ),
    # ECDSA operator sets.
    Case("ecdsa sign_message", lambda: ecdsa.sign_message(ECDSA_KEY, OFFCHAIN_MSG)),
    Case("ecdsa recover_hash", lambda: ecdsa.recover_hash(DIGEST, ECDSA_SIG)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("-k", default="", help="only rows whose name contains this")
    args = parser.parse_args()
    print(f"{'case':44} {'median ms':>10} {'min ms':>8} {'runs':>5}  note")
    cases = [case for case in CASES if args.k in case.name]
    medians: dict[str, float] = {}
    for name, t in time_cases(cases, args.runs).items():
        note = next(case.note for case in cases if case.name == name)
        medians[name] = statistics.median(t)
        print(f"{name:44} {medians[name] * 1e3:10.2f} {min(t) * 1e3:8.2f} {len(t):5}  {note}")
    fast, slow = medians.get("bn254 verify, 1 signer"), medians.get("py_ecc verify, 1 signer (baseline)")
    if fast and slow:
        print(f"\nverify speed-up over py_ecc: {slow / fast:.0f}x")


if __name__ == "__main__":
    main()
