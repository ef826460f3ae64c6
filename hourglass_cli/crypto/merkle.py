"""The operator-info Merkle tree of BN254 operator tables, byte-for-byte as EigenLayer builds and checks it.

Facts from Layr-Labs/eigenlayer-contracts:
- ``src/contracts/mixins/LeafCalculatorMixin.sol``: leaf = ``keccak256(abi.encodePacked(uint8(0x75),
  abi.encode(operatorInfo)))`` (``OPERATOR_INFO_LEAF_SALT``); operator-table leaves use salt 0x8e.
  ``abi.encode`` of the struct ``(G1Point pubkey, uint256[] weights)`` is dynamic, so it starts with a
  0x20 offset word.
- ``src/contracts/libraries/Merkle.sol``: ``merkleizeKeccak`` pads the leaves with ``bytes32(0)`` up to
  the next power of two (a single leaf is its own root; no leaves reverts), and inner nodes are
  ``keccak256(left‖right)`` by position — not sorted pairs. ``getProofKeccak`` returns the siblings
  bottom-up, concatenated. ``processInclusionProofKeccak`` walks up with ``index`` (even → we are
  the left child), rejects a proof whose length is not a multiple of 32, returns the leaf unchanged
  for an empty proof, and requires the index to be fully consumed (``InvalidIndex``);
  ``verifyInclusionKeccak`` rejects a zero root (``EmptyRoot``).
- EigenLayer has no Merkle tree of ECDSA operator infos: the ECDSA verifier stores the list itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi import encode
from eth_utils import keccak

from hourglass_cli.errors import CryptoError

OPERATOR_INFO_LEAF_SALT = 0x75
OPERATOR_TABLE_LEAF_SALT = 0x8E
ZERO_LEAF = b"\x00" * 32
_UINT256_MAX = 2**256 - 1

G1Like = tuple[int, int] | bytes


def _g1_words(pubkey: G1Like) -> tuple[int, int]:
    """Accept ``(x, y)`` or the 64-byte ``X‖Y`` form; no curve check (the contract does none here)."""
    if isinstance(pubkey, (bytes, bytearray)):
        if len(pubkey) != 64:
            raise CryptoError(f"a G1 public key is 64 bytes X‖Y, got {len(pubkey)}")
        return int.from_bytes(pubkey[:32], "big"), int.from_bytes(pubkey[32:], "big")
    x, y = pubkey
    for word in (x, y):
        if not isinstance(word, int) or not 0 <= word <= _UINT256_MAX:
            raise CryptoError("G1 coordinates must be uint256 values")
    return x, y


def _weights(weights: Sequence[int]) -> list[int]:
    out = list(weights)
    for w in out:
        if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= _UINT256_MAX:
            raise CryptoError("operator weights must be uint256 values")
    return out


def encode_bn254_operator_info(pubkey: G1Like, weights: Sequence[int]) -> bytes:
    """``abi.encode(BN254OperatorInfo{pubkey, weights})`` (with the leading 0x20 offset word)."""
    return encode(["((uint256,uint256),uint256[])"], [(_g1_words(pubkey), _weights(weights))])


def operator_info_leaf(pubkey: G1Like, weights: Sequence[int]) -> bytes:
    """``LeafCalculatorMixin.calculateOperatorInfoLeaf``: keccak256(0x75 ‖ abi.encode(operatorInfo))."""
    return keccak(bytes([OPERATOR_INFO_LEAF_SALT]) + encode_bn254_operator_info(pubkey, weights))


def operator_table_leaf(operator_table_bytes: bytes) -> bytes:
    """``LeafCalculatorMixin.calculateOperatorTableLeaf``: keccak256(0x8e ‖ operatorTableBytes)."""
    return keccak(bytes([OPERATOR_TABLE_LEAF_SALT]) + bytes(operator_table_bytes))


def _check_leaves(leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 0:
        raise CryptoError("a Merkle tree needs at least one leaf")
    out = []
    for leaf in leaves:
        if not isinstance(leaf, (bytes, bytearray)) or len(leaf) != 32:
            raise CryptoError("Merkle leaves must be 32 bytes each")
        out.append(bytes(leaf))
    return out


def _padded(leaves: Sequence[bytes]) -> list[bytes]:
    layer = _check_leaves(leaves)
    width = 1
    while width < len(layer):
        width *= 2
    return layer + [ZERO_LEAF] * (width - len(layer))


def _parent_layer(layer: list[bytes]) -> list[bytes]:
    return [keccak(layer[i] + layer[i + 1]) for i in range(0, len(layer), 2)]


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """``Merkle.merkleizeKeccak``: zero-padded to a power of two, positional pairs."""
    layer = _padded(leaves)
    while len(layer) > 1:
        layer = _parent_layer(layer)
    return layer[0]


def merkle_proof(leaves: Sequence[bytes], index: int) -> bytes:
    """``Merkle.getProofKeccak``: the siblings from the leaf up, concatenated (``operatorInfoProof``)."""
    layer = _padded(leaves)
    # EigenLayer allows indexes into the zero padding; we only prove real leaves.
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(leaves):
        raise CryptoError(f"leaf index {index} is outside 0..{len(leaves) - 1}")
    siblings = []
    while len(layer) > 1:
        siblings.append(layer[index ^ 1])
        index //= 2
        layer = _parent_layer(layer)
    return b"".join(siblings)


def process_proof(proof: bytes, leaf: bytes, index: int) -> bytes:
    """``Merkle.processInclusionProofKeccak``: the root ``leaf`` at ``index`` implies; raises if malformed."""
    if not isinstance(leaf, (bytes, bytearray)) or len(leaf) != 32:
        raise CryptoError("a Merkle leaf is 32 bytes")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise CryptoError("a Merkle leaf index is a non-negative integer")
    proof = bytes(proof)
    if len(proof) == 0:
        return bytes(leaf)  # as EigenLayer: a one-leaf tree, the index is not checked
    if len(proof) % 32:
        raise CryptoError("a Merkle proof is a multiple of 32 bytes (InvalidProofLength)")
    node = bytes(leaf)
    for offset in range(0, len(proof), 32):
        sibling = proof[offset : offset + 32]
        node = keccak(node + sibling) if index % 2 == 0 else keccak(sibling + node)
        index //= 2
    if index != 0:
        raise CryptoError("the leaf index does not fit a tree of this proof's depth (InvalidIndex)")
    return node


def verify_proof(root: bytes, leaf: bytes, index: int, proof: bytes) -> bool:
    """``Merkle.verifyInclusionKeccak`` as a bool: False where the contract returns false or reverts."""
    if not isinstance(root, (bytes, bytearray)) or len(root) != 32:
        raise CryptoError("a Merkle root is 32 bytes")
    if bytes(root) == ZERO_LEAF:
        return False  # EmptyRoot revert upstream
    try:
        return process_proof(proof, leaf, index) == bytes(root)
    except CryptoError:
        return False
