"""Building certificates from verified answers, and checking them locally before any transaction is sent.

- BN254: the aggregate of the signers' σ, the signers' aggregate G2 key, and one witness per non-signer in
  index order: a Merkle proof of its operator-info leaf, or — when the verifier already cached that
  non-signer for this reference timestamp (``isNonsignerCached``) — the index alone (empty proof, zero info),
  which saves ~170k gas per non-signer.
- ECDSA: the 65-byte signatures concatenated in ascending order of their recovered signer address.

`check_*` repeat what the verifier contracts will check (ordering, index bounds, Merkle proofs, the signers'
G1 key against the table's aggregate, the stake threshold) so a certificate that would revert is never sent;
the BN254 signature equation itself was checked in `verify.check_bn254_group` (no second pairing).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from hourglass_cli.chain import certificates as encoding
from hourglass_cli.crypto import bn254, ecdsa, merkle
from hourglass_cli.errors import HourglassError

BPS_DENOMINATOR = 10_000


class CertificateError(HourglassError):
    """A certificate would not verify on chain."""


@dataclass(frozen=True)
class Member:
    """One operator-table entry as a certificate needs it."""

    g1: bn254.G1Point
    weights: tuple[int, ...]


def bn254_witnesses(members: Sequence[Member], non_signers: Iterable[int],
                    cached: Collection[int] = ()) -> list[tuple[Any, ...]]:
    """Witnesses for `non_signers` in index order: index-only for `cached` ones, Merkle proofs otherwise."""
    indices = sorted(set(non_signers))
    leaves = _leaves(tuple(members)) if members and indices else ()
    out = []
    for index in indices:
        if index in cached:
            out.append(encoding.bn254_witness(index, b"", (0, 0), []))
        else:
            m = members[index]
            out.append(encoding.bn254_witness(index, merkle.merkle_proof(leaves, index), m.g1, list(m.weights)))
    return out


@lru_cache(maxsize=64)
def _leaves(members: tuple[Member, ...]) -> tuple[bytes, ...]:
    """The operator table's Merkle leaves (one keccak each), kept per table: every certificate reuses them."""
    return tuple(merkle.operator_info_leaf(m.g1, list(m.weights)) for m in members)


def build_bn254_certificate(reference_timestamp: int, message_hash: bytes, signatures: Sequence[bn254.G1Point],
                            signer_g2: Sequence[bn254.G2Point], members: Sequence[Member],
                            signer_indices: Iterable[int], cached: Collection[int] = ()) -> tuple[Any, ...]:
    """`BN254Certificate` (web3 tuple) from the signers' σ and G2 keys and the whole table in index order."""
    signers = set(signer_indices)
    signature = bn254.aggregate_g1(list(signatures))
    apk = bn254.aggregate_g2(list(signer_g2))
    non_signers = [i for i in range(len(members)) if i not in signers]
    witnesses = bn254_witnesses(members, non_signers, cached)
    return encoding.bn254_certificate(reference_timestamp, message_hash, signature, bn254.g2_to_solidity(apk),
                                      witnesses)


def sort_ecdsa_signatures(digest: bytes, signatures: Sequence[bytes]) -> list[bytes]:
    """Signatures in strictly ascending order of recovered signer (CertificateError on a duplicate signer)."""
    keyed = sorted(((int(ecdsa.recover_hash(digest, s), 16), bytes(s)) for s in signatures), key=lambda t: t[0])
    if any(a[0] == b[0] for a, b in zip(keyed, keyed[1:])):
        raise CertificateError("two ECDSA signatures recover to the same signer")
    return [s for _, s in keyed]


def build_ecdsa_certificate(reference_timestamp: int, message_hash: bytes, digest: bytes,
                            signatures: Sequence[bytes]) -> tuple[Any, ...]:
    """`ECDSACertificate` with the signatures ordered by their recovered signer over `digest`."""
    return encoding.ecdsa_certificate(reference_timestamp, message_hash, sort_ecdsa_signatures(digest, signatures))


def threshold_met(signed: Sequence[int], totals: Sequence[int], bips: int | None) -> bool:
    """The verifier's rule per weight index: signed ≥ total·bips/10000 (bips None = consensus NONE)."""
    if bips is None:
        return True
    if len(signed) != len(totals):
        return False
    return all(s >= (t * bips) // BPS_DENOMINATOR for s, t in zip(signed, totals))


def check_bn254_certificate(cert: tuple[Any, ...], *, members: Sequence[Member], root: bytes,
                            aggregate_g1: bn254.G1Point, totals: Sequence[int], bips: int | None,
                            signer_g1: Sequence[bn254.G1Point], cached: Collection[int] = ()) -> list[int]:
    """What the BN254 verifier checks besides the pairing; returns the signed weights. CertificateError if not."""
    _ts, _msg, signature, _apk, witnesses = cert
    if tuple(signature) == (0, 0):
        raise CertificateError("the aggregate signature is empty (EmptyCertificateSignature)")
    signed = list(totals)
    non_signer_apk = bn254.G1_INFINITY
    previous = -1
    for index, proof, (pubkey, weights) in witnesses:
        if index <= previous:
            raise CertificateError("non-signer witnesses are not in strictly increasing index order")
        if index >= len(members):
            raise CertificateError(f"non-signer index {index} is outside the table of {len(members)}")
        previous = index
        if index in cached:
            member = members[index]
        else:
            leaf = merkle.operator_info_leaf(tuple(pubkey), list(weights))
            if not merkle.verify_proof(root, leaf, index, proof):
                raise CertificateError(f"the Merkle proof of non-signer {index} does not match the table root")
            member = Member(tuple(pubkey), tuple(weights))
        non_signer_apk = bn254.g1_add(non_signer_apk, member.g1)
        for j, w in enumerate(member.weights[: len(signed)]):
            signed[j] -= w
    signer_apk = bn254.g1_add(aggregate_g1, bn254.g1_neg(non_signer_apk))
    if signer_apk != bn254.aggregate_g1(list(signer_g1)):
        raise CertificateError("the table's aggregate key minus the non-signers is not the signers' key")
    if not threshold_met(signed, totals, bips):
        raise CertificateError(f"signed weight {signed} is below the threshold of {bips} bips of {list(totals)}")
    return signed


def check_ecdsa_certificate(cert: tuple[Any, ...], *, digest: bytes, weights: dict[str, Sequence[int]],
                            totals: Sequence[int], bips: int | None) -> list[int]:
    """What the ECDSA verifier checks: ordered, known signers, threshold; returns the signed weights."""
    _ts, _msg, sig = cert
    if not sig or len(sig) % 65:
        raise CertificateError("the signatures are not a non-empty multiple of 65 bytes")
    signed = [0] * len(totals)
    previous = -1
    for offset in range(0, len(sig), 65):
        signer = ecdsa.recover_hash(digest, sig[offset: offset + 65])
        if int(signer, 16) <= previous:
            raise CertificateError("signers are not in strictly ascending order")
        previous = int(signer, 16)
        if signer not in weights:
            raise CertificateError(f"signer {signer} is not in the operator table")
        for j, w in enumerate(list(weights[signer])[: len(signed)]):
            signed[j] += w
    if not threshold_met(signed, totals, bips):
        raise CertificateError(f"signed weight {signed} is below the threshold of {bips} bips of {list(totals)}")
    return signed
