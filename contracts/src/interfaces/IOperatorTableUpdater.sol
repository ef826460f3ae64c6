// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @notice The part of EigenLayer's OperatorTableUpdater the verifiers know about.
interface IOperatorTableUpdater {
    /// @notice Whether the table root that produced `referenceTimestamp` is still valid.
    function isRootValidByTimestamp(uint32 referenceTimestamp) external view returns (bool);
}
