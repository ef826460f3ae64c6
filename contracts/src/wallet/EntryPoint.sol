// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ReentrancyGuard} from "../mixins/ReentrancyGuard.sol";
import {IAccount} from "./IAccount.sol";
import {IEntryPoint} from "./IEntryPoint.sol";
import {IPaymaster} from "./IPaymaster.sol";
import {SenderCreator} from "./SenderCreator.sol";
import {UserOperation, UserOperationLib} from "./UserOperation.sol";

/// @notice An ERC-4337 v0.6 EntryPoint with v0.6's external ABI, events and "AAxx" failure reasons: handleOps
///         validates every operation of a bundle (deploying the sender from initCode, the account's signature
///         check, 2D nonces, prefund from the account's or the paymaster's deposit), then runs each one's callData
///         with its callGasLimit and charges what it used (measured gas + preVerificationGas, at
///         min(maxFeePerGas, basefee + maxPriorityFeePerGas)), refunding the rest of the prefund to the deposit and
///         paying the sum to the beneficiary. No stakes, no signature aggregators, no simulation entry points.
contract EntryPoint is IEntryPoint, ReentrancyGuard {
    using UserOperationLib for UserOperation;

    uint256 private constant SIG_VALIDATION_FAILED = 1;
    uint256 private constant MAX_REVERT_REASON = 2048; // bytes of an inner revert kept in UserOperationRevertReason
    bytes32 private constant INNER_OUT_OF_GAS = hex"deaddead";

    /// @notice What one operation's validation established, carried into its execution.
    struct OpInfo {
        address sender;
        uint256 nonce;
        uint256 callGasLimit;
        uint256 verificationGasLimit;
        uint256 preVerificationGas;
        uint256 maxFeePerGas;
        uint256 maxPriorityFeePerGas;
        address paymaster;
        bytes32 userOpHash;
        uint256 prefund;
        uint256 preOpGas; // validation gas + preVerificationGas
        bytes context; // the paymaster's, for postOp
    }

    SenderCreator private immutable _senderCreator;
    mapping(address => uint256) private _deposits;
    /// @notice The next sequence number of each (sender, key) nonce lane.
    mapping(address => mapping(uint192 => uint256)) public nonceSequenceNumber;

    constructor() {
        _senderCreator = new SenderCreator();
    }

    // ------------------------------------------------------------------ bundles

    /// @inheritdoc IEntryPoint
    function handleOps(UserOperation[] calldata ops, address payable beneficiary) external nonReentrant {
        uint256 count = ops.length;
        OpInfo[] memory infos = new OpInfo[](count);
        for (uint256 i = 0; i < count; ++i) {
            _validate(i, ops[i], infos[i]);
        }
        emit BeforeExecution();
        uint256 collected = 0;
        for (uint256 i = 0; i < count; ++i) {
            collected += _execute(i, ops[i], infos[i]);
        }
        _pay(beneficiary, collected);
    }

    /// @notice One operation's execution and settlement; only the EntryPoint itself may call it (its revert undoes
    ///         the account's call, then the operation is settled with postOpReverted).
    function innerHandleOp(bytes calldata callData, OpInfo memory info) external returns (uint256 actualGasCost) {
        uint256 preGas = gasleft();
        require(msg.sender == address(this), "AA92 internal call only");
        // the bundler must leave enough gas for the call it promised (callGasLimit) and for postOp
        if (gasleft() < info.callGasLimit + info.verificationGasLimit + 5000) {
            assembly ("memory-safe") {
                mstore(0, INNER_OUT_OF_GAS)
                revert(0, 32)
            }
        }
        IPaymaster.PostOpMode mode = IPaymaster.PostOpMode.opSucceeded;
        if (callData.length > 0 && !_callAccount(info.sender, callData, info.callGasLimit)) {
            bytes memory reason = _returnData(MAX_REVERT_REASON);
            if (reason.length > 0) {
                emit UserOperationRevertReason(info.userOpHash, info.sender, info.nonce, reason);
            }
            mode = IPaymaster.PostOpMode.opReverted;
        }
        return _settle(0, mode, info, preGas - gasleft() + info.preOpGas);
    }

    function _validate(uint256 index, UserOperation calldata op, OpInfo memory info) private {
        uint256 preGas = gasleft();
        info.sender = op.sender;
        info.nonce = op.nonce;
        info.callGasLimit = op.callGasLimit;
        info.verificationGasLimit = op.verificationGasLimit;
        info.preVerificationGas = op.preVerificationGas;
        info.maxFeePerGas = op.maxFeePerGas;
        info.maxPriorityFeePerGas = op.maxPriorityFeePerGas;
        if (op.paymasterAndData.length > 0 && op.paymasterAndData.length < 20) {
            revert FailedOp(index, "AA93 invalid paymasterAndData");
        }
        info.paymaster = op.paymaster();
        // below 2^120 each, the prefund arithmetic cannot overflow
        if ((op.callGasLimit | op.verificationGasLimit | op.preVerificationGas | op.maxFeePerGas
                | op.maxPriorityFeePerGas) > type(uint120).max) {
            revert FailedOp(index, "AA94 gas values overflow");
        }
        uint256 requiredPrefund = _requiredPrefund(info);
        info.userOpHash = getUserOpHash(op);

        uint256 accountData = _validateAccount(index, op, info, requiredPrefund);
        if (!_useNonce(info.sender, info.nonce)) revert FailedOp(index, "AA25 invalid account nonce");
        uint256 paymasterData = 0;
        if (info.paymaster != address(0)) {
            paymasterData = _validatePaymaster(index, op, info, requiredPrefund);
        }
        if (info.verificationGasLimit < preGas - gasleft()) {
            revert FailedOp(index, "AA40 over verificationGasLimit");
        }
        _checkValidationData(index, accountData, "AA24 signature error", "AA22 expired or not due");
        if (info.paymaster != address(0)) {
            _checkValidationData(index, paymasterData, "AA34 signature error", "AA32 paymaster expired or not due");
        }
        info.prefund = requiredPrefund;
        info.preOpGas = preGas - gasleft() + info.preVerificationGas;
    }

    function _validateAccount(uint256 index, UserOperation calldata op, OpInfo memory info, uint256 requiredPrefund)
        private
        returns (uint256 validationData)
    {
        if (op.initCode.length > 0) _createSender(index, op, info);
        address sender = info.sender;
        if (sender.code.length == 0) revert FailedOp(index, "AA20 account not deployed");
        uint256 missing = 0;
        if (info.paymaster == address(0)) {
            uint256 deposit = _deposits[sender];
            missing = deposit >= requiredPrefund ? 0 : requiredPrefund - deposit;
        }
        try IAccount(sender).validateUserOp{gas: info.verificationGasLimit}(op, info.userOpHash, missing) returns (
            uint256 data
        ) {
            validationData = data;
        } catch Error(string memory reason) {
            revert FailedOp(index, string.concat("AA23 reverted: ", reason));
        } catch {
            revert FailedOp(index, "AA23 reverted (or OOG)");
        }
        if (info.paymaster == address(0)) {
            uint256 deposit = _deposits[sender]; // validateUserOp paid the missing part into it
            if (deposit < requiredPrefund) revert FailedOp(index, "AA21 didn't pay prefund");
            _deposits[sender] = deposit - requiredPrefund;
        }
    }

    function _createSender(uint256 index, UserOperation calldata op, OpInfo memory info) private {
        if (info.sender.code.length > 0) revert FailedOp(index, "AA10 sender already constructed");
        address created = _senderCreator.createSender{gas: info.verificationGasLimit}(op.initCode);
        if (created == address(0)) revert FailedOp(index, "AA13 initCode failed or OOG");
        if (created != info.sender) revert FailedOp(index, "AA14 initCode must return sender");
        if (created.code.length == 0) revert FailedOp(index, "AA15 initCode must create sender");
        emit AccountDeployed(info.userOpHash, created, address(bytes20(op.initCode[:20])), info.paymaster);
    }

    function _validatePaymaster(uint256 index, UserOperation calldata op, OpInfo memory info, uint256 requiredPrefund)
        private
        returns (uint256 validationData)
    {
        address paymaster = info.paymaster;
        if (paymaster.code.length == 0) revert FailedOp(index, "AA30 paymaster not deployed");
        uint256 deposit = _deposits[paymaster];
        if (deposit < requiredPrefund) revert FailedOp(index, "AA31 paymaster deposit too low");
        _deposits[paymaster] = deposit - requiredPrefund;
        try IPaymaster(paymaster).validatePaymasterUserOp{gas: info.verificationGasLimit}(
            op, info.userOpHash, requiredPrefund
        ) returns (bytes memory context, uint256 data) {
            info.context = context;
            validationData = data;
        } catch Error(string memory reason) {
            revert FailedOp(index, string.concat("AA33 reverted: ", reason));
        } catch {
            revert FailedOp(index, "AA33 reverted (or OOG)");
        }
    }

    /// @dev validationData = authorizer (0 valid, 1 signature failure, else an aggregator, which handleOps does
    ///      not take) | validUntil << 160 (0 = forever) | validAfter << 208.
    function _checkValidationData(uint256 index, uint256 data, string memory badSignature, string memory outOfTime)
        private
        view
    {
        if (address(uint160(data)) != address(0)) revert FailedOp(index, badSignature);
        uint256 validUntil = uint48(data >> 160);
        uint256 validAfter = uint48(data >> 208);
        if (validUntil == 0) validUntil = type(uint48).max;
        if (block.timestamp > validUntil || block.timestamp < validAfter) revert FailedOp(index, outOfTime);
    }

    function _execute(uint256 index, UserOperation calldata op, OpInfo memory info) private returns (uint256) {
        uint256 preGas = gasleft();
        try this.innerHandleOp(op.callData, info) returns (uint256 actualGasCost) {
            return actualGasCost;
        } catch {
            bytes32 code;
            assembly ("memory-safe") {
                if gt(returndatasize(), 31) {
                    returndatacopy(0, 0, 32)
                    code := mload(0)
                }
            }
            if (code == INNER_OUT_OF_GAS) revert FailedOp(index, "AA95 out of gas");
            // postOp reverted (which undid the account's call too): settle with postOpReverted
            return _settle(index, IPaymaster.PostOpMode.postOpReverted, info, preGas - gasleft() + info.preOpGas);
        }
    }

    /// @dev Run postOp if the paymaster asked for it, charge the gas used so far plus this function's, refund the
    ///      rest of the prefund to whoever paid it and emit UserOperationEvent.
    function _settle(uint256 index, IPaymaster.PostOpMode mode, OpInfo memory info, uint256 actualGas)
        private
        returns (uint256 actualGasCost)
    {
        uint256 preGas = gasleft();
        uint256 gasPrice = _gasPrice(info);
        address refundTo = info.sender;
        if (info.paymaster != address(0)) {
            refundTo = info.paymaster;
            if (info.context.length > 0) {
                uint256 costSoFar = actualGas * gasPrice;
                IPaymaster paymaster = IPaymaster(info.paymaster);
                if (mode != IPaymaster.PostOpMode.postOpReverted) {
                    paymaster.postOp{gas: info.verificationGasLimit}(mode, info.context, costSoFar);
                } else {
                    try paymaster.postOp{gas: info.verificationGasLimit}(mode, info.context, costSoFar) {}
                    catch Error(string memory reason) {
                        revert FailedOp(index, string.concat("AA50 postOp reverted: ", reason));
                    } catch {
                        revert FailedOp(index, "AA50 postOp revert");
                    }
                }
            }
        }
        actualGas += preGas - gasleft();
        actualGasCost = actualGas * gasPrice;
        if (info.prefund < actualGasCost) revert FailedOp(index, "AA51 prefund below actualGasCost");
        _deposits[refundTo] += info.prefund - actualGasCost;
        emit UserOperationEvent(info.userOpHash, info.sender, info.paymaster, info.nonce,
            mode == IPaymaster.PostOpMode.opSucceeded, actualGasCost, actualGas);
    }

    function _requiredPrefund(OpInfo memory info) private pure returns (uint256) {
        // validation, and with a paymaster also its validation and postOp, may each use verificationGasLimit
        uint256 verification = info.paymaster == address(0) ? info.verificationGasLimit : 3 * info.verificationGasLimit;
        return (info.callGasLimit + verification + info.preVerificationGas) * info.maxFeePerGas;
    }

    function _gasPrice(OpInfo memory info) private view returns (uint256) {
        if (info.maxFeePerGas == info.maxPriorityFeePerGas) return info.maxFeePerGas; // also on chains without basefee
        uint256 price = block.basefee + info.maxPriorityFeePerGas;
        return price < info.maxFeePerGas ? price : info.maxFeePerGas;
    }

    function _callAccount(address sender, bytes calldata data, uint256 gasLimit) private returns (bool ok) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, data.offset, data.length)
            ok := call(gasLimit, sender, 0, ptr, data.length, 0, 0)
        }
    }

    /// @dev The last call's return data, at most `maxLength` bytes (a huge revert cannot eat the bundle's gas).
    function _returnData(uint256 maxLength) private pure returns (bytes memory data) {
        assembly ("memory-safe") {
            let length := returndatasize()
            if gt(length, maxLength) { length := maxLength }
            data := mload(0x40)
            mstore(data, length)
            returndatacopy(add(data, 0x20), 0, length)
            mstore(0x40, add(data, and(add(length, 0x3f), not(0x1f))))
        }
    }

    function _pay(address payable beneficiary, uint256 amount) private {
        require(beneficiary != address(0), "AA90 invalid beneficiary");
        (bool ok,) = beneficiary.call{value: amount}("");
        require(ok, "AA91 failed send to beneficiary");
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IEntryPoint
    function getUserOpHash(UserOperation calldata userOp) public view returns (bytes32) {
        return keccak256(abi.encode(userOp.packedHash(), address(this), block.chainid));
    }

    /// @inheritdoc IEntryPoint
    function getSenderAddress(bytes calldata initCode) external {
        revert SenderAddressResult(_senderCreator.createSender(initCode));
    }

    // ------------------------------------------------------------------ nonces (key << 64 | sequence)

    /// @inheritdoc IEntryPoint
    function getNonce(address sender, uint192 key) external view returns (uint256) {
        return nonceSequenceNumber[sender][key] | (uint256(key) << 64);
    }

    /// @inheritdoc IEntryPoint
    function incrementNonce(uint192 key) external {
        nonceSequenceNumber[msg.sender][key]++;
    }

    function _useNonce(address sender, uint256 nonce) private returns (bool) {
        uint192 key = uint192(nonce >> 64);
        return nonceSequenceNumber[sender][key]++ == uint64(nonce);
    }

    // ------------------------------------------------------------------ deposits

    /// @inheritdoc IEntryPoint
    function depositTo(address account) public payable {
        uint256 total = _deposits[account] + msg.value;
        _deposits[account] = total;
        emit Deposited(account, total);
    }

    /// @notice A plain transfer is a deposit of the sender (what an account's prefund payment is).
    receive() external payable {
        depositTo(msg.sender);
    }

    /// @inheritdoc IEntryPoint
    function balanceOf(address account) external view returns (uint256) {
        return _deposits[account];
    }

    /// @inheritdoc IEntryPoint
    function getDepositInfo(address account) external view returns (DepositInfo memory info) {
        uint256 deposit = _deposits[account];
        info.deposit = deposit > type(uint112).max ? type(uint112).max : uint112(deposit);
    }

    /// @inheritdoc IEntryPoint
    function withdrawTo(address payable withdrawAddress, uint256 withdrawAmount) external {
        uint256 deposit = _deposits[msg.sender];
        require(withdrawAmount <= deposit, "Withdraw amount too large");
        _deposits[msg.sender] = deposit - withdrawAmount;
        emit Withdrawn(msg.sender, withdrawAddress, withdrawAmount);
        (bool ok,) = withdrawAddress.call{value: withdrawAmount}("");
        require(ok, "failed to withdraw");
    }
}
