// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @notice An ERC-4337 v0.6 user operation, field for field (its ABI tuple is what bundlers and SDKs encode).
struct UserOperation {
    address sender;
    uint256 nonce;
    bytes initCode;
    bytes callData;
    uint256 callGasLimit;
    uint256 verificationGasLimit;
    uint256 preVerificationGas;
    uint256 maxFeePerGas;
    uint256 maxPriorityFeePerGas;
    bytes paymasterAndData;
    bytes signature;
}

/// @notice The v0.6 digest of a user operation without its signature: the three dynamic fields are hashed and
///         every field is one ABI word, so the signed bytes do not depend on how the operation was encoded.
library UserOperationLib {
    function packedHash(UserOperation calldata op) internal pure returns (bytes32) {
        // two abi.encode calls of static words concatenate to the one encoding (and stay below the stack limit)
        bytes memory head = abi.encode(op.sender, op.nonce, keccak256(op.initCode), keccak256(op.callData),
            op.callGasLimit);
        bytes memory tail = abi.encode(op.verificationGasLimit, op.preVerificationGas, op.maxFeePerGas,
            op.maxPriorityFeePerGas, keccak256(op.paymasterAndData));
        return keccak256(bytes.concat(head, tail));
    }

    /// @notice The paymaster named by the first 20 bytes of paymasterAndData (address(0) when it is empty).
    function paymaster(UserOperation calldata op) internal pure returns (address) {
        return op.paymasterAndData.length < 20 ? address(0) : address(bytes20(op.paymasterAndData[:20]));
    }
}
