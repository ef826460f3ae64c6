// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ITaskMailboxTypes} from "./ITaskMailbox.sol";

/// @notice An AVS's hooks into the task lifecycle of the TaskMailbox.
interface IAVSTaskHook {
    /// @notice Reverts if `caller` may not create this task.
    function validatePreTaskCreation(address caller, ITaskMailboxTypes.TaskParams memory taskParams) external view;

    /// @notice Called after the task is stored; may write AVS state.
    function handlePostTaskCreation(bytes32 taskHash) external;

    /// @notice Reverts if this result may not be submitted.
    function validatePreTaskResultSubmission(address caller, bytes32 taskHash, bytes memory cert, bytes memory result)
        external
        view;

    /// @notice Called after the result is verified and stored.
    function handlePostTaskResultSubmission(address caller, bytes32 taskHash) external;

    /// @notice The fee, in the executor operator set's fee token, for a task.
    function calculateTaskFee(ITaskMailboxTypes.TaskParams memory taskParams) external view returns (uint96);
}
