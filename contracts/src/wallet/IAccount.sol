// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {UserOperation} from "./UserOperation.sol";

/// @notice What an ERC-4337 v0.6 EntryPoint calls on an account before executing its operation.
interface IAccount {
    /// @notice Check `userOp`'s signature over `userOpHash` and pay the EntryPoint `missingAccountFunds`.
    /// @return validationData 0 = valid, 1 = signature failure; or authorizer | validUntil << 160 | validAfter << 208.
    function validateUserOp(UserOperation calldata userOp, bytes32 userOpHash, uint256 missingAccountFunds)
        external
        returns (uint256 validationData);
}
