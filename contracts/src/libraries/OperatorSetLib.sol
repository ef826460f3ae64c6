// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @notice An operator set: an AVS address and an id the AVS chose.
struct OperatorSet {
    address avs;
    uint32 id;
}

/// @notice Packs an operator set into the 32-byte key EigenLayer uses everywhere.
library OperatorSetLib {
    /// @dev key = avs (20 bytes) followed by the id as a uint96 (12 bytes).
    function key(OperatorSet memory operatorSet) internal pure returns (bytes32) {
        return bytes32((uint256(uint160(operatorSet.avs)) << 96) | uint256(operatorSet.id));
    }

    /// @dev Inverse of `key`.
    function decode(bytes32 packed) internal pure returns (OperatorSet memory) {
        return OperatorSet({avs: address(uint160(uint256(packed) >> 96)), id: uint32(uint256(packed))});
    }
}
