// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ECDSARecover} from "../libraries/ECDSARecover.sol";
import {Ownable} from "../mixins/Ownable.sol";
import {IEntryPoint} from "./IEntryPoint.sol";
import {IPaymaster} from "./IPaymaster.sol";
import {UserOperation} from "./UserOperation.sol";

/// @notice A paymaster that pays for the operations its off-chain signer approved, with the v0.6
///         VerifyingPaymaster's layout: paymasterAndData = paymaster (20 bytes) ‖ abi.encode(uint48 validUntil,
///         uint48 validAfter) ‖ the signer's EIP-191 signature of getHash(userOp, validUntil, validAfter). Each
///         approval is for one use (senderNonce). postOp records what it paid per wallet (sponsoredGasCost).
contract VerifyingPaymaster is IPaymaster, Ownable {
    uint256 private constant VALID_TIMESTAMP_OFFSET = 20;
    uint256 private constant SIGNATURE_OFFSET = 84;

    IEntryPoint public immutable entryPoint;
    /// @notice The key whose signature makes this paymaster pay.
    address public immutable verifyingSigner;
    /// @notice Approvals used per sender (part of what the signer signs).
    mapping(address => uint256) public senderNonce;
    /// @notice Wei this paymaster has paid for each sender's operations.
    mapping(address => uint256) public sponsoredGasCost;

    event Sponsored(address indexed sender, uint256 actualGasCost, bool succeeded);

    error NotFromEntryPoint(address caller);
    error InvalidPaymasterData(uint256 length);

    constructor(IEntryPoint anEntryPoint, address aVerifyingSigner, address anOwner) {
        entryPoint = anEntryPoint;
        verifyingSigner = aVerifyingSigner;
        _transferOwnership(anOwner);
    }

    /// @notice What the signer signs (EIP-191 prefixed) to approve `userOp` between validAfter and validUntil:
    ///         every field but paymasterAndData and signature, the chain, this paymaster and the sender's
    ///         approval count.
    function getHash(UserOperation calldata userOp, uint48 validUntil, uint48 validAfter)
        public
        view
        returns (bytes32)
    {
        bytes memory fields = abi.encode(userOp.sender, userOp.nonce, keccak256(userOp.initCode),
            keccak256(userOp.callData), userOp.callGasLimit, userOp.verificationGasLimit);
        bytes memory rest = abi.encode(userOp.preVerificationGas, userOp.maxFeePerGas, userOp.maxPriorityFeePerGas,
            block.chainid, address(this), senderNonce[userOp.sender], validUntil, validAfter);
        return keccak256(bytes.concat(fields, rest));
    }

    /// @notice (validUntil, validAfter, signature) of a paymasterAndData in this paymaster's layout.
    function parsePaymasterAndData(bytes calldata paymasterAndData)
        public
        pure
        returns (uint48 validUntil, uint48 validAfter, bytes calldata signature)
    {
        if (paymasterAndData.length < SIGNATURE_OFFSET) revert InvalidPaymasterData(paymasterAndData.length);
        (validUntil, validAfter) =
            abi.decode(paymasterAndData[VALID_TIMESTAMP_OFFSET:SIGNATURE_OFFSET], (uint48, uint48));
        signature = paymasterAndData[SIGNATURE_OFFSET:];
    }

    /// @inheritdoc IPaymaster
    function validatePaymasterUserOp(UserOperation calldata userOp, bytes32, uint256)
        external
        returns (bytes memory context, uint256 validationData)
    {
        if (msg.sender != address(entryPoint)) revert NotFromEntryPoint(msg.sender);
        (uint48 validUntil, uint48 validAfter, bytes calldata signature) =
            parsePaymasterAndData(userOp.paymasterAndData);
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32",
            getHash(userOp, validUntil, validAfter)));
        senderNonce[userOp.sender]++;
        address signer = ECDSARecover.tryRecover(digest, signature);
        uint256 failed = signer == verifyingSigner && signer != address(0) ? 0 : 1;
        validationData = failed | (uint256(validUntil) << 160) | (uint256(validAfter) << 208);
        context = abi.encode(userOp.sender);
    }

    /// @inheritdoc IPaymaster
    function postOp(PostOpMode mode, bytes calldata context, uint256 actualGasCost) external {
        if (msg.sender != address(entryPoint)) revert NotFromEntryPoint(msg.sender);
        address sender = abi.decode(context, (address));
        sponsoredGasCost[sender] += actualGasCost;
        emit Sponsored(sender, actualGasCost, mode == PostOpMode.opSucceeded);
    }

    // ------------------------------------------------------------------ the paymaster's EntryPoint deposit

    /// @notice Add the sent value to this paymaster's deposit.
    function deposit() external payable {
        entryPoint.depositTo{value: msg.value}(address(this));
    }

    function getDeposit() external view returns (uint256) {
        return entryPoint.balanceOf(address(this));
    }

    function withdrawTo(address payable withdrawAddress, uint256 amount) external onlyOwner {
        entryPoint.withdrawTo(withdrawAddress, amount);
    }
}
