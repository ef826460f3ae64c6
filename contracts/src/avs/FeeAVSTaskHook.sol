// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IAVSTaskHook} from "../interfaces/IAVSTaskHook.sol";
import {ITaskMailboxTypes} from "../interfaces/ITaskMailbox.sol";
import {Ownable} from "../mixins/Ownable.sol";

/// @notice Example hook that charges a flat fee plus a price per payload byte, and lets only the
///         mailbox drive the post-creation / post-result callbacks (counting tasks as it goes).
contract FeeAVSTaskHook is IAVSTaskHook, Ownable {
    error OnlyMailbox();

    event FeeSet(uint96 flatFee, uint96 feePerByte);

    address public immutable mailbox;
    uint96 public flatFee;
    uint96 public feePerByte;
    uint256 public tasksCreated;
    uint256 public tasksVerified;

    constructor(address _mailbox, address _owner, uint96 _flatFee, uint96 _feePerByte) {
        mailbox = _mailbox;
        _transferOwnership(_owner);
        _setFee(_flatFee, _feePerByte);
    }

    function setFee(uint96 _flatFee, uint96 _feePerByte) external onlyOwner {
        _setFee(_flatFee, _feePerByte);
    }

    function _setFee(uint96 _flatFee, uint96 _feePerByte) internal {
        flatFee = _flatFee;
        feePerByte = _feePerByte;
        emit FeeSet(_flatFee, _feePerByte);
    }

    function validatePreTaskCreation(address, ITaskMailboxTypes.TaskParams memory) external view {}

    function handlePostTaskCreation(bytes32) external {
        if (msg.sender != mailbox) revert OnlyMailbox();
        tasksCreated += 1;
    }

    function validatePreTaskResultSubmission(address, bytes32, bytes memory, bytes memory) external view {}

    function handlePostTaskResultSubmission(address, bytes32) external {
        if (msg.sender != mailbox) revert OnlyMailbox();
        tasksVerified += 1;
    }

    function calculateTaskFee(ITaskMailboxTypes.TaskParams memory taskParams) external view returns (uint96) {
        return flatFee + feePerByte * uint96(taskParams.payload.length);
    }
}
