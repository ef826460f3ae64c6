// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IAVSTaskHook} from "../interfaces/IAVSTaskHook.sol";
import {ITaskMailboxTypes} from "../interfaces/ITaskMailbox.sol";

/// @notice The default task hook: accepts every task and result and charges no fee.
contract AVSTaskHook is IAVSTaskHook {
    function validatePreTaskCreation(address, ITaskMailboxTypes.TaskParams memory) external view virtual {}

    function handlePostTaskCreation(bytes32) external virtual {}

    function validatePreTaskResultSubmission(address, bytes32, bytes memory, bytes memory) external view virtual {}

    function handlePostTaskResultSubmission(address, bytes32) external virtual {}

    function calculateTaskFee(ITaskMailboxTypes.TaskParams memory) external view virtual returns (uint96) {
        return 0;
    }
}
