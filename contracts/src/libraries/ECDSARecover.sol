// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @notice secp256k1 signature recovery with the malleability rules OpenZeppelin's ECDSA applies:
///         s in the lower half of the group order and v of 27 or 28.
library ECDSARecover {
    uint256 internal constant HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice The signer of `digest` for a 65-byte r‖s‖v signature, or address(0) if it is malformed.
    function tryRecover(bytes32 digest, bytes memory signature) internal pure returns (address) {
        if (signature.length != 65) return address(0);
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := mload(add(signature, 0x20))
            s := mload(add(signature, 0x40))
            v := byte(0, mload(add(signature, 0x60)))
        }
        return tryRecover(digest, v, r, s);
    }

    /// @notice The signer of `digest`, or address(0) for a high s, a bad v or no solution.
    function tryRecover(bytes32 digest, uint8 v, bytes32 r, bytes32 s) internal pure returns (address) {
        if (uint256(s) > HALF_ORDER) return address(0);
        if (v != 27 && v != 28) return address(0);
        return ecrecover(digest, v, r, s);
    }
}
