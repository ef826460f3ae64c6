// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {UserOperation} from "./UserOperation.sol";

/// @notice The part of the ERC-4337 v0.6 EntryPoint's external interface hourglass implements.
interface IEntryPoint {
    /// @notice A deposit as v0.6's StakeManager reports it (hourglass's EntryPoint has no stakes: always unstaked).
    struct DepositInfo {
        uint112 deposit;
        bool staked;
        uint112 stake;
        uint32 unstakeDelaySec;
        uint48 withdrawTime;
    }

    event UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster,
        uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed);
    event AccountDeployed(bytes32 indexed userOpHash, address indexed sender, address factory, address paymaster);
    event UserOperationRevertReason(bytes32 indexed userOpHash, address indexed sender, uint256 nonce,
        bytes revertReason);
    event BeforeExecution();
    event Deposited(address indexed account, uint256 totalDeposit);
    event Withdrawn(address indexed account, address withdrawAddress, uint256 amount);

    /// @notice A bundle is refused whole: operation `opIndex` failed validation ("AAxx …" as in v0.6).
    error FailedOp(uint256 opIndex, string reason);
    /// @notice getSenderAddress's answer (always a revert).
    error SenderAddressResult(address sender);

    function handleOps(UserOperation[] calldata ops, address payable beneficiary) external;
    function getUserOpHash(UserOperation calldata userOp) external view returns (bytes32);
    function getSenderAddress(bytes calldata initCode) external;
    function getNonce(address sender, uint192 key) external view returns (uint256 nonce);
    function incrementNonce(uint192 key) external;
    function depositTo(address account) external payable;
    function balanceOf(address account) external view returns (uint256);
    function getDepositInfo(address account) external view returns (DepositInfo memory info);
    function withdrawTo(address payable withdrawAddress, uint256 withdrawAmount) external;
}
