// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

// Test-only: compiled at test time by tests/contracts/sol/__init__.py.

import {ITaskMailbox, ITaskMailboxTypes} from "../../../contracts/src/interfaces/ITaskMailbox.sol";

/// @notice Creates a task and submits its result in one transaction, hence in the creation block:
///         the only way to reach TimestampAtCreation on a chain that gives every block its own second.
contract SameBlockSubmitter {
    function createAndSubmit(
        ITaskMailbox mailbox,
        ITaskMailboxTypes.TaskParams calldata params,
        bytes calldata cert,
        bytes calldata result
    ) external returns (bytes32 taskHash) {
        taskHash = mailbox.createTask(params);
        mailbox.submitResult(taskHash, cert, result);
    }
}
