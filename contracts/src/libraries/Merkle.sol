// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @notice Binary keccak256 Merkle trees as EigenLayer's operator tables use them: leaves padded
///         with zero hashes to the next power of two, parent = keccak256(left ‖ right), and a proof
///         is the concatenation of the siblings from the leaf up, chosen by the index bits (LSB first).
library Merkle {
    error InvalidProofLength();
    error InvalidIndex();
    error EmptyRoot();
    error NoLeaves();

    /// @notice True when `leaf` sits at `index` of the tree with `root`.
    function verifyInclusionKeccak(bytes memory proof, bytes32 root, bytes32 leaf, uint256 index)
        internal
        pure
        returns (bool)
    {
        if (root == bytes32(0)) revert EmptyRoot();
        return processInclusionProofKeccak(proof, leaf, index) == root;
    }

    /// @notice The root implied by `proof` for `leaf` at `index`; the index must be used up by the proof.
    function processInclusionProofKeccak(bytes memory proof, bytes32 leaf, uint256 index)
        internal
        pure
        returns (bytes32 node)
    {
        if (proof.length % 32 != 0) revert InvalidProofLength();
        node = leaf;
        uint256 depth = proof.length / 32;
        for (uint256 level = 0; level < depth; ++level) {
            bytes32 sibling;
            assembly ("memory-safe") {
                sibling := mload(add(proof, mul(add(level, 1), 32)))
            }
            node = (index & 1 == 0) ? _parent(node, sibling) : _parent(sibling, node);
            index >>= 1;
        }
        if (index != 0) revert InvalidIndex();
    }

    /// @notice The root over `leaves` (zero-padded to a power of two). One leaf is its own root.
    function merkleizeKeccak(bytes32[] memory leaves) internal pure returns (bytes32) {
        if (leaves.length == 0) revert NoLeaves();
        uint256 width = 1;
        while (width < leaves.length) width <<= 1;
        bytes32[] memory layer = new bytes32[](width);
        for (uint256 i = 0; i < leaves.length; ++i) {
            layer[i] = leaves[i];
        }
        while (width > 1) {
            width >>= 1;
            for (uint256 i = 0; i < width; ++i) {
                layer[i] = _parent(layer[2 * i], layer[2 * i + 1]);
            }
        }
        return layer[0];
    }

    function _parent(bytes32 left, bytes32 right) private pure returns (bytes32 out) {
        assembly ("memory-safe") {
            mstore(0x00, left)
            mstore(0x20, right)
            out := keccak256(0x00, 0x40)
        }
    }
}
