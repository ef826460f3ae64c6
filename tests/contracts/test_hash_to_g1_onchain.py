"""`bn254.hash_to_g1` and BLS verification agree with contracts/src/libraries/BN254.sol, checked on chain.

A test-only harness (tests/contracts/sol/BN254Harness.sol) exposes the library's internal
`hashToG1` and `verifyBLS`; both run on py-evm (eth-tester) and on anvil.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils import keccak

from hourglass_cli.crypto import bn254
from hourglass_cli.errors import CryptoError
from tests.contracts.chains import Chain, anvil_binary, anvil_chain, eth_tester_chain
from tests.contracts.reverts import assert_reverts
from tests.contracts.sol import deploy_test_contract

pytestmark = pytest.mark.slow

P = bn254.P
CALL = {"gas": 30_000_000}


def _is_square(v: int) -> bool:
    return v == 0 or pow(v, (P - 1) // 2, P) == 1


def _first_candidate_on_curve(digest: int) -> bool:
    x = digest % P
    return _is_square((x * x * x + 3) % P)


def _increments(digest: int) -> int:
    """How many times hashToG1 adds 1 to x before it finds a point."""
    x0 = digest % P
    return (bn254.hash_to_g1(digest.to_bytes(32, "big"))[0] - x0) % P


def _edge_digests() -> dict[str, int]:
    first_miss = next(d for d in range(1, 1000) if not _first_candidate_on_curve(d))
    longest = max(range(1, 2000), key=_increments)
    return {
        "zero": 0,
        "one": 1,
        "p-2": P - 2,
        "p-1": P - 1,
        "p": P,
        "p+1": P + 1,
        "r": bn254.R,
        "2^256-1": 2**256 - 1,
        "2^256-p": 2**256 - P,
        "first candidate off the curve": first_miss,
        "same, above p (reduced first)": P + first_miss,
        f"longest search below 2000 ({_increments(longest)} steps)": longest,
    }


@pytest.fixture(scope="module", params=["eth-tester", "anvil"])
def harness(request: pytest.FixtureRequest, sol_artifacts: dict) -> Iterator[tuple[Chain, Any]]:
    if request.param == "eth-tester":
        chain = eth_tester_chain()
    else:
        binary = anvil_binary()
        if binary is None:
            pytest.fail("anvil is not installed: `make test` installs it (npm @foundry-rs/anvil)")
        chain = anvil_chain(binary)
    try:
        yield chain, deploy_test_contract(chain, sol_artifacts, "BN254Harness")
    finally:
        chain.close()


def test_edge_digests_exercise_the_search() -> None:
    """The edge set really contains digests that need reduction mod p and one or more increments."""
    edges = _edge_digests()
    assert not _first_candidate_on_curve(edges["first candidate off the curve"])
    assert max(_increments(d) for d in edges.values()) >= 3
    assert edges["2^256-1"] >= P and edges["p"] % P == 0


def test_hash_to_g1_edge_cases_match_the_library(harness: tuple[Chain, Any]) -> None:
    _, contract = harness
    for label, digest in _edge_digests().items():
        raw = digest.to_bytes(32, "big")
        onchain = tuple(contract.functions.hashToG1(raw).call(CALL))
        assert onchain == bn254.hash_to_g1(raw), label
        assert contract.functions.isOnCurve(onchain).call(), label


def test_hash_to_g1_random_digests_match_the_library(harness: tuple[Chain, Any]) -> None:
    rng = random.Random(20250101)
    digests = [rng.getrandbits(256).to_bytes(32, "big") for _ in range(40)]
    digests += [keccak(f"hourglass hash_to_g1 {i}".encode()) for i in range(20)]
    _, contract = harness
    onchain = contract.functions.hashToG1Many(digests).call(CALL)
    assert [tuple(p) for p in onchain] == [bn254.hash_to_g1(d) for d in digests]
    # The sample does exercise the retry loop, not only first candidates.
    assert sum(_increments(int.from_bytes(d, "big")) > 0 for d in digests) >= 10


def _verify(contract: Any, digest: bytes, sig: bn254.G1Point, apk_g1: bn254.G1Point,
            apk_g2: bn254.G2Point) -> tuple[bool, bool]:
    x0, x1, y0, y1 = bn254.g2_to_solidity(apk_g2)
    return tuple(contract.functions.verifyBLS(digest, sig, apk_g1, ([x0, x1], [y0, y1])).call(CALL))


def test_python_signatures_verify_through_the_library(harness: tuple[Chain, Any]) -> None:
    _, contract = harness
    keys = [bn254.PrivateKey.from_seed(f"onchain-{i}".encode()) for i in range(3)]
    digest = keccak(b"a task result")
    sk = keys[0]
    sig = sk.sign(digest)
    assert bn254.verify(digest, sig, sk.public_g1(), sk.public_g2())
    assert _verify(contract, digest, sig, sk.public_g1(), sk.public_g2()) == (True, True)

    agg_sig = bn254.aggregate_g1([k.sign(digest) for k in keys])
    agg_g1 = bn254.aggregate_g1([k.public_g1() for k in keys])
    agg_g2 = bn254.aggregate_g2([k.public_g2() for k in keys])
    assert _verify(contract, digest, agg_sig, agg_g1, agg_g2) == (True, True)


def test_tampered_signatures_fail_through_the_library(harness: tuple[Chain, Any]) -> None:
    chain, contract = harness
    sk, other = bn254.PrivateKey.from_seed(b"onchain-a"), bn254.PrivateKey.from_seed(b"onchain-b")
    digest = keccak(b"a task result")
    sig = sk.sign(digest)
    g1, g2 = sk.public_g1(), sk.public_g2()
    cases = {
        "signature + G1": (digest, bn254.g1_add(sig, bn254.G1_GENERATOR), g1, g2),
        "negated signature": (digest, bn254.g1_neg(sig), g1, g2),
        "other message": (keccak(b"another result"), sig, g1, g2),
        "one bit of the digest": (bytes([digest[0] ^ 1]) + digest[1:], sig, g1, g2),
        "other key's signature": (digest, other.sign(digest), g1, g2),
        "G1 and G2 keys of different owners": (digest, sig, g1, other.public_g2()),
    }
    for label, (d, s, a1, a2) in cases.items():
        assert not bn254.verify(d, s, a1, a2), label
        assert _verify(contract, d, s, a1, a2) == (True, False), label

    # A point off the curve makes the 0x06 precompile fail: the library reverts, Python refuses too.
    off_curve = (sig[0], (sig[1] + 1) % P)
    x0, x1, y0, y1 = bn254.g2_to_solidity(g2)
    fn = contract.functions.verifyBLS(digest, off_curve, g1, ([x0, x1], [y0, y1]))
    assert_reverts(fn, chain.accounts[0], "ECAddFailed()")
    with pytest.raises(CryptoError):
        bn254.verify(digest, off_curve, g1, g2)
