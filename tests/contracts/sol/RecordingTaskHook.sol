// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

// Test-only: compiled at test time by tests/contracts/sol/__init__.py, never deployed for real.

import {IAVSTaskHook} from "../../../contracts/src/interfaces/IAVSTaskHook.sol";
import {ITaskMailbox, ITaskMailboxTypes} from "../../../contracts/src/interfaces/ITaskMailbox.sol";

/// @notice A task hook that records every callback it gets and can be told to refuse any of them.
/// @dev The mailbox STATICCALLs the two `validate*` hooks (they are `view`), so they cannot write
///      storage: when told to refuse, they revert with an error that carries exactly the arguments
///      they received. The two `handle*` hooks record msg.sender, their arguments and the task's
///      status as the mailbox reports it at that moment.
contract RecordingTaskHook is IAVSTaskHook {
    uint8 public constant REFUSE_PRE_CREATION = 1;
    uint8 public constant REFUSE_POST_CREATION = 2;
    uint8 public constant REFUSE_PRE_RESULT = 4;
    uint8 public constant REFUSE_POST_RESULT = 8;

    error PreTaskCreationRefused(address caller, ITaskMailboxTypes.TaskParams taskParams);
    error PostTaskCreationRefused(bytes32 taskHash);
    error PreTaskResultSubmissionRefused(address caller, bytes32 taskHash, bytes cert, bytes result);
    error PostTaskResultSubmissionRefused(address caller, bytes32 taskHash);

    struct PostCall {
        address sender; // who called the hook (must be the mailbox)
        address caller; // the `caller` argument (zero for handlePostTaskCreation, which has none)
        bytes32 taskHash;
        uint8 taskStatus; // the mailbox's getTaskStatus(taskHash) during the callback
    }

    uint8 public refuse;
    uint96 public fee;
    PostCall[] internal _postCreations;
    PostCall[] internal _postResults;

    function setRefuse(uint8 mask) external {
        refuse = mask;
    }

    function setFee(uint96 fee_) external {
        fee = fee_;
    }

    function validatePreTaskCreation(address caller, ITaskMailboxTypes.TaskParams memory taskParams)
        external
        view
    {
        if (refuse & REFUSE_PRE_CREATION != 0) revert PreTaskCreationRefused(caller, taskParams);
    }

    function handlePostTaskCreation(bytes32 taskHash) external {
        if (refuse & REFUSE_POST_CREATION != 0) revert PostTaskCreationRefused(taskHash);
        uint8 status = uint8(ITaskMailbox(msg.sender).getTaskStatus(taskHash));
        _postCreations.push(PostCall(msg.sender, address(0), taskHash, status));
    }

    function validatePreTaskResultSubmission(address caller, bytes32 taskHash, bytes memory cert, bytes memory result)
        external
        view
    {
        if (refuse & REFUSE_PRE_RESULT != 0) revert PreTaskResultSubmissionRefused(caller, taskHash, cert, result);
    }

    function handlePostTaskResultSubmission(address caller, bytes32 taskHash) external {
        if (refuse & REFUSE_POST_RESULT != 0) revert PostTaskResultSubmissionRefused(caller, taskHash);
        uint8 status = uint8(ITaskMailbox(msg.sender).getTaskStatus(taskHash));
        _postResults.push(PostCall(msg.sender, caller, taskHash, status));
    }

    function calculateTaskFee(ITaskMailboxTypes.TaskParams memory) external view returns (uint96) {
        return fee;
    }

    function postTaskCreationCalls() external view returns (PostCall[] memory) {
        return _postCreations;
    }

    function postTaskResultSubmissionCalls() external view returns (PostCall[] memory) {
        return _postResults;
    }
}
