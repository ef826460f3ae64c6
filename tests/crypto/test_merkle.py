"""The operator-info tree: leaves, roots and proofs as EigenLayer's Merkle.sol and LeafCalculatorMixin."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from hourglass_cli.crypto import merkle
from hourglass_cli.errors import CryptoError

Z = b"\x00" * 32


def _h(a: bytes, b: bytes) -> bytes:
    return keccak(a + b)


def _leaves(n: int) -> list[bytes]:
    return [keccak(b"leaf-%d" % i) for i in range(n)]


def _reference_root(leaves: list[bytes]) -> bytes:
    """Independent recursive definition: pad with zero leaves to 2^k, root of halves."""
    width = 1
    while width < len(leaves):
        width *= 2
    nodes = leaves + [Z] * (width - len(leaves))

    def root(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return nodes[lo]
        mid = (lo + hi) // 2
        return _h(root(lo, mid), root(mid, hi))

    return root(0, width)


def test_roots_written_out_for_one_to_five_leaves() -> None:
    a, b, c, d, e = _leaves(5)
    assert merkle.merkle_root([a]) == a
    assert merkle.merkle_root([a, b]) == _h(a, b)
    assert merkle.merkle_root([a, b, c]) == _h(_h(a, b), _h(c, Z))
    assert merkle.merkle_root([a, b, c, d]) == _h(_h(a, b), _h(c, d))
    assert merkle.merkle_root([a, b, c, d, e]) == _h(_h(_h(a, b), _h(c, d)), _h(_h(e, Z), _h(Z, Z)))
    # positional, not sorted pairs: swapping two leaves changes the root
    assert merkle.merkle_root([b, a]) != merkle.merkle_root([a, b])


@pytest.mark.parametrize("n", range(1, 18))
def test_root_matches_reference(n: int) -> None:
    assert merkle.merkle_root(_leaves(n)) == _reference_root(_leaves(n))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 9])
def test_every_proof_verifies_and_tampering_fails(n: int) -> None:
    leaves = _leaves(n)
    root = merkle.merkle_root(leaves)
    depth = (n - 1).bit_length()
    for i, leaf in enumerate(leaves):
        proof = merkle.merkle_proof(leaves, i)
        assert len(proof) == 32 * depth
        assert merkle.process_proof(proof, leaf, i) == root
        assert merkle.verify_proof(root, leaf, i, proof)
        assert not merkle.verify_proof(root, keccak(leaf), i, proof)
        if n > 1:
            assert not merkle.verify_proof(root, leaf, i ^ 1, proof)
            tampered = bytearray(proof)
            tampered[5] ^= 0x01
            assert not merkle.verify_proof(root, leaf, i, bytes(tampered))
            assert not merkle.verify_proof(root, leaf, i, proof[:-1])  # not a multiple of 32
            assert not merkle.verify_proof(root, leaf, i, proof[:-32])  # one level short
            assert not merkle.verify_proof(keccak(root), leaf, i, proof)


def test_proof_siblings_are_bottom_up() -> None:
    a, b, c = _leaves(3)
    assert merkle.merkle_proof([a, b, c], 0) == b + _h(c, Z)
    assert merkle.merkle_proof([a, b, c], 2) == Z + _h(a, b)


def test_single_leaf_tree_and_eigenlayer_edge_rules() -> None:
    (a,) = _leaves(1)
    assert merkle.merkle_proof([a], 0) == b""
    assert merkle.verify_proof(a, a, 0, b"")
    # Merkle.sol returns the leaf for an empty proof without looking at the index; the verifier
    # bounds the index by numOperators separately.
    assert merkle.verify_proof(a, a, 3, b"")
    # an index that does not fit the proof's depth is InvalidIndex upstream
    leaves = _leaves(2)
    proof = merkle.merkle_proof(leaves, 1)
    with pytest.raises(CryptoError, match="InvalidIndex"):
        merkle.process_proof(proof, leaves[1], 3)
    with pytest.raises(CryptoError, match="InvalidProofLength"):
        merkle.process_proof(proof + b"\x00", leaves[1], 1)
    # a zero root never verifies (EmptyRoot)
    assert not merkle.verify_proof(Z, Z, 0, b"")


def test_bad_inputs() -> None:
    with pytest.raises(CryptoError):
        merkle.merkle_root([])
    with pytest.raises(CryptoError):
        merkle.merkle_root([b"\x01" * 31])
    with pytest.raises(CryptoError):
        merkle.merkle_proof(_leaves(3), 3)  # padding is not provable
    with pytest.raises(CryptoError):
        merkle.merkle_proof(_leaves(3), -1)
    with pytest.raises(CryptoError):
        merkle.verify_proof(b"\x01" * 31, Z, 0, b"")


def test_operator_info_leaf_layout() -> None:
    x, y, weights = 11, 22, [3, 4]
    encoded = (
        (0x20).to_bytes(32, "big")  # abi.encode of a dynamic struct starts with its offset
        + x.to_bytes(32, "big")
        + y.to_bytes(32, "big")
        + (0x60).to_bytes(32, "big")  # weights offset inside the struct
        + (2).to_bytes(32, "big")
        + (3).to_bytes(32, "big")
        + (4).to_bytes(32, "big")
    )
    assert merkle.encode_bn254_operator_info((x, y), weights) == encoded
    assert merkle.operator_info_leaf((x, y), weights) == keccak(b"\x75" + encoded)
    g1_bytes = x.to_bytes(32, "big") + y.to_bytes(32, "big")
    assert merkle.operator_info_leaf(g1_bytes, weights) == merkle.operator_info_leaf((x, y), weights)
    assert merkle.operator_table_leaf(b"table") == keccak(b"\x8e" + b"table")


# From Layr-Labs/hourglass-monorepo ponos/pkg/util/encoding_test.go ("derived from on-chain operator infos").
PONOS_LEAVES = [
    (
        "15f7759e621bc159908dccc954021de9175ea6a91e8bf67a9378885673255956",
        "285bda92599a033740dac5513ed043dd44e4cf9c0ab6d475e2ada1c2614a9c10",
        2_000_000_000_000_000_000,
        "3ab86ea6e282c10ca4b3f85708eddb074ff7489f4aa0f708aec7bbffb390a382",
    ),
    (
        "11d5b4201a997aa6a7631f74e5d28b22e08a8dab9fa0a4c7780bce84d0e50268",
        "116ce04bf2f2b7f5b37b641249239f0faf1e23346d71a520c867a1913c2e5296",
        1_500_000_000_000_000_000,
        "54d143ad7c8da9f28a0117c4fb9440d07b2fa3c2cd6d89c37ea7c995cbb1874d",
    ),
    (
        "0f37d4f8bd86566e7a81dba4d4699d65ef59a0c82216a9c07f6915abdb9f7cf3",
        "036e966d70745f3a6028562f540a40061d18901e9396977ac27f0a2261ce7fc8",
        1_000_000_000_000_000_000,
        "5878e34077b79dd3ca1fa0bfefce44b1b3a18b6833d2a2c3b343aec90ab4ca5f",
    ),
    (
        "051c3200eed61f2f7325e9d2a4e09eead02464d5cdc9e2015520138259274add",
        "1d3f070789b568ee4ade8d37c4fe409228c25cc950e0e6f803ae859f927ba3d3",
        500_000_000_000_000_000,
        "39fb590fab85a69944515fd60112195879fded2bebf8bdabb6ee310305d1dc14",
    ),
]

# Same file: four leaves whose merkleizeKeccak root both Go and Solidity computed.
PONOS_ROOTS = [
    (
        [
            "dcc6bafb183f1504e02bf7c961ad855b00336f95bb5bb3fdb0c6c5954bb44f5f",
            "5fd33c4dc9dfd290a0a98692dffe809f7ae311e54aab0d66888ee8ca749df91f",
            "f1db8634f0e22c1014e9fce3785fee305da07238097e2117e5969e7d6cfb9be6",
            "bbd0169efd708d298dbffe7b5bdfb684f8c3dc7c7407a47660347e706030b72d",
        ],
        "7a5084cfbab1b25d9ae5088d185f4505b60a0702776f900fd03c2fb089b216dd",
    ),
    (
        [
            "e07830144a60e085b9ce581e40f3576ebfb514122d9f8b81008a52bce585cb05",
            "742be7c3a9e3729f44dcf82f1d5200271c242dad0937190af43b90499676c49d",
            "dbcbd43eb4e84be64a5cf7f16fb3b019a8553ebbc18784c60a443c879f0b48fa",
            "d6ff844f7b37b57868c7ff770671a25de5d09d632e8e153dc6eb078d1649d283",
        ],
        "9bc624e125faf0534ecf73940cb30ef92ab0eeb34ead84d438504a36fb0628da",
    ),
]


@pytest.mark.parametrize(("x", "y", "weight", "expected"), PONOS_LEAVES)
def test_leaf_vectors_from_the_go_stack(x: str, y: str, weight: int, expected: str) -> None:
    assert merkle.operator_info_leaf((int(x, 16), int(y, 16)), [weight]).hex() == expected


@pytest.mark.parametrize(("leaves", "root"), PONOS_ROOTS)
def test_root_vectors_from_the_go_stack(leaves: list[str], root: str) -> None:
    raw = [bytes.fromhex(h) for h in leaves]
    assert merkle.merkle_root(raw).hex() == root
    for i, leaf in enumerate(raw):
        assert merkle.verify_proof(bytes.fromhex(root), leaf, i, merkle.merkle_proof(raw, i))
