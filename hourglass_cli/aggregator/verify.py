"""Checking executors' answers with as few pairings as is sound.

BN254: each answer carries a result signature σᵢ = skᵢ·H(digest) (Solidity hash) and an auth signature
aᵢ = skᵢ·H'(authᵢ) (RFC 9380 over keccak of the 160-byte auth message). Checked one by one that is two
pairing checks per answer. Instead, the answers of one result are checked together in ONE multi-pairing:

    e(Σσᵢ + Σ rᵢ·aᵢ, −G2) · Πᵢ e(H + rᵢ·H'ᵢ, pkᵢ) == 1

with fresh random 128-bit rᵢ (a random linear combination: a forged σ or a forged aᵢ passes only with
probability ≈ 2⁻¹²⁸). The σ part is exactly the certificate's equation e(σ_agg, G2) = e(H, apk) with
apk = Σ pkᵢ (the on-chain γ-check then holds because every registered key passed the KeyRegistrar's
G1/G2 proof of possession), so it is also the local certificate check before submitting. All G2 points
are operators' registered keys or −G2, whose Miller-loop lines are cached. Only when the batch fails is
each answer checked alone (one 2-pair check each) to find and drop the bad ones.

ECDSA answers are checked one by one with ecrecover (no pairings).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from eth_hash.auto import keccak

from hourglass_cli.aggregator.operators import Operator
from hourglass_cli.crypto import _curve, bn254, ecdsa, hash_to_curve, pairing
from hourglass_cli.errors import CryptoError
from hourglass_cli.wire import messages


class PairingCounter:
    """How many pairing checks (final exponentiations) and pairs (Miller-loop inputs) were computed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.checks = 0
        self.pairs = 0

    def add(self, pairs: int) -> None:
        with self._lock:
            self.checks += 1
            self.pairs += pairs

    def snapshot(self) -> tuple[int, int]:
        with self._lock:
            return self.checks, self.pairs


PAIRINGS = PairingCounter()


def _check(pairs: list[tuple[bn254.G1Point, bn254.G2Point]]) -> bool:
    PAIRINGS.add(len(pairs))
    try:
        return pairing.pairing_check(pairs)
    except CryptoError:
        return False


@dataclass(frozen=True)
class Answer:
    """One executor's well-formed answer, signatures parsed but not yet trusted."""

    operator: Operator
    output: bytes
    message_hash: bytes
    result_signature: bytes
    auth_signature: bytes
    sigma: bn254.G1Point | None = None  # BN254 parsed points
    auth_point: bn254.G1Point | None = None


def parse_bn254(operator: Operator, output: bytes, result_signature: bytes, auth_signature: bytes,
                task_id: str) -> Answer:
    """An Answer with both signatures decoded as G1 points (CryptoError if either is malformed)."""
    sigma = bn254.g1_from_bytes(bytes(result_signature))
    auth = hash_to_curve.signature_from_bytes(bytes(auth_signature))
    return Answer(operator, output, messages.result_message_hash(task_id, output), bytes(result_signature),
                  bytes(auth_signature), sigma, auth)


def _auth_point(task_id: str, avs: str, set_id: int, answer: Answer) -> bn254.G1Point:
    message = messages.auth_message(task_id, avs, answer.operator.address, set_id, answer.result_signature)
    return hash_to_curve.hash_to_g1(keccak(message))


def _scalar() -> int:
    return secrets.randbits(128) | 1  # never 0


def _single(h: bn254.G1Point, h_auth: bn254.G1Point, answer: Answer) -> bool:
    r = _scalar()
    left = _curve.g1_add(answer.sigma, _curve.g1_mul(answer.auth_point, r))
    right = _curve.g1_add(h, _curve.g1_mul(h_auth, r))
    return _check([(left, pairing.NEG_G2), (right, answer.operator.g2)])


def check_bn254_group(task_id: str, avs: str, set_id: int, reference_timestamp: int,
                      answers: Sequence[Answer]) -> tuple[list[Answer], list[Answer]]:
    """(good, bad) answers of one result: one batched pairing check, one check per answer only if it fails."""
    if not answers:
        return [], []
    digest = messages.bn254_result_digest(task_id, answers[0].output, reference_timestamp)
    h = bn254.hash_to_g1(digest)
    h_auths = [_auth_point(task_id, avs, set_id, a) for a in answers]
    left_terms, pairs = [], []
    for answer, h_auth in zip(answers, h_auths):
        r = _scalar()
        left_terms += [answer.sigma, _curve.g1_mul(answer.auth_point, r)]
        pairs.append((_curve.g1_add(h, _curve.g1_mul(h_auth, r)), answer.operator.g2))
    if _check([(_curve.g1_sum(left_terms), pairing.NEG_G2), *pairs]):
        return list(answers), []
    good, bad = [], []
    for answer, h_auth in zip(answers, h_auths):
        (good if _single(h, h_auth, answer) else bad).append(answer)
    return good, bad


def check_ecdsa(task_id: str, avs: str, set_id: int, reference_timestamp: int, verifier: str, domain_version: str,
                answer: Answer) -> str | None:
    """None if both ECDSA signatures are the operator's signing key's; else what is wrong."""
    signer = str(answer.operator.signer)
    digest = messages.ecdsa_result_digest(task_id, answer.output, reference_timestamp, verifier,
                                          domain_version=domain_version)
    if not ecdsa.verify_hash(digest, answer.result_signature, signer):
        return "the result signature is not by the operator's registered signing key"
    auth = messages.auth_message(task_id, avs, answer.operator.address, set_id, answer.result_signature)
    if not ecdsa.verify_hash(keccak(auth), answer.auth_signature, signer):
        return "the auth signature is not by the operator's registered signing key"
    return None
