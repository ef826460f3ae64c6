// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {UserOperation} from "./UserOperation.sol";

/// @notice An ERC-4337 v0.6 paymaster: pays for operations it agrees to, from its EntryPoint deposit.
interface IPaymaster {
    enum PostOpMode {
        opSucceeded,
        opReverted,
        postOpReverted
    }

    /// @notice Agree to pay up to `maxCost` for `userOp`; a non-empty `context` asks for a `postOp` call.
    function validatePaymasterUserOp(UserOperation calldata userOp, bytes32 userOpHash, uint256 maxCost)
        external
        returns (bytes memory context, uint256 validationData);

    /// @notice Called after the operation ran (or after a first postOp reverted: `postOpReverted`).
    function postOp(PostOpMode mode, bytes calldata context, uint256 actualGasCost) external;
}
