// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @notice Rejects re-entry into functions marked nonReentrant.
abstract contract ReentrancyGuard {
    uint256 private _entered = 1;

    modifier nonReentrant() {
        require(_entered == 1, "ReentrancyGuard: reentrant call");
        _entered = 2;
        _;
        _entered = 1;
    }
}
