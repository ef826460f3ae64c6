// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {ECDSARecover} from "../libraries/ECDSARecover.sol";
import {IAccount} from "./IAccount.sol";
import {IEntryPoint} from "./IEntryPoint.sol";
import {UserOperation} from "./UserOperation.sol";

/// @notice An ERC-4337 v0.6 smart wallet with eth-infinitism's SimpleAccount ABI. A user operation is valid when
///         its signature is the owner's or the service controller's EIP-191 signature ("\x19Ethereum Signed
///         Message:\n32" ‖ userOpHash); the EntryPoint, the owner and the controller may call execute*.
/// @dev Deployed once as the implementation by SimpleAccountFactory (which also locks it); every wallet is an
///      EIP-1167 clone of it, initialized with its owner in the transaction that creates it. The EntryPoint and
///      the controller are immutables of the implementation, so the same for every wallet of one factory.
contract SimpleAccount is IAccount {
    uint256 internal constant SIG_VALIDATION_FAILED = 1;

    IEntryPoint private immutable _entryPoint;
    /// @notice The service key that may sign operations for every wallet of this factory.
    address public immutable controller;
    /// @notice The wallet's owner (its user's EOA).
    address public owner;
    bool private _initialized;

    event SimpleAccountInitialized(IEntryPoint indexed entryPoint, address indexed owner);

    error NotAuthorized(address caller);
    error AlreadyInitialized();
    error WrongArrayLengths();

    modifier onlyExecutor() {
        if (msg.sender != address(_entryPoint) && msg.sender != owner && msg.sender != controller) {
            revert NotAuthorized(msg.sender);
        }
        _;
    }

    modifier onlyOwnerOrSelf() {
        if (msg.sender != owner && msg.sender != address(this)) revert NotAuthorized(msg.sender);
        _;
    }

    constructor(IEntryPoint anEntryPoint, address aController) {
        _entryPoint = anEntryPoint;
        controller = aController;
        _initialized = true; // the implementation itself is never a wallet
    }

    /// @notice Set the owner, once (the factory does it in the transaction that creates the clone).
    function initialize(address anOwner) external {
        if (_initialized) revert AlreadyInitialized();
        _initialized = true;
        owner = anOwner;
        emit SimpleAccountInitialized(_entryPoint, anOwner);
    }

    receive() external payable {}

    // ------------------------------------------------------------------ ERC-4337

    /// @inheritdoc IAccount
    function validateUserOp(UserOperation calldata userOp, bytes32 userOpHash, uint256 missingAccountFunds)
        external
        returns (uint256 validationData)
    {
        if (msg.sender != address(_entryPoint)) revert NotAuthorized(msg.sender);
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", userOpHash));
        address signer = ECDSARecover.tryRecover(digest, userOp.signature); // address(0) when malformed
        validationData = signer != address(0) && (signer == owner || signer == controller) ? 0 : SIG_VALIDATION_FAILED;
        if (missingAccountFunds > 0) {
            // the EntryPoint checks the deposit afterwards; a failed payment shows there as "AA21 didn't pay prefund"
            (bool paid,) = payable(msg.sender).call{value: missingAccountFunds}("");
            paid;
        }
    }

    /// @notice The EntryPoint this wallet trusts.
    function entryPoint() external view returns (IEntryPoint) {
        return _entryPoint;
    }

    /// @notice The next nonce of key 0 (the EntryPoint keeps it).
    function getNonce() external view returns (uint256) {
        return _entryPoint.getNonce(address(this), 0);
    }

    /// @notice The wallet's deposit in the EntryPoint (what gas is paid from).
    function getDeposit() external view returns (uint256) {
        return _entryPoint.balanceOf(address(this));
    }

    /// @notice Add the sent value to the wallet's EntryPoint deposit.
    function addDeposit() external payable {
        _entryPoint.depositTo{value: msg.value}(address(this));
    }

    /// @notice Take `amount` of the deposit back to `withdrawAddress` (the owner, or the wallet through execute).
    function withdrawDepositTo(address payable withdrawAddress, uint256 amount) external onlyOwnerOrSelf {
        _entryPoint.withdrawTo(withdrawAddress, amount);
    }

    // ------------------------------------------------------------------ execution

    /// @notice Call `dest` with `value` and `func`; a revert is passed on as it is.
    function execute(address dest, uint256 value, bytes calldata func) external onlyExecutor {
        _call(dest, value, func);
    }

    /// @notice Call each `dest[i]` with `func[i]` and no value, in order; the first revert undoes all.
    function executeBatch(address[] calldata dest, bytes[] calldata func) external onlyExecutor {
        if (dest.length != func.length) revert WrongArrayLengths();
        for (uint256 i = 0; i < dest.length; ++i) {
            _call(dest[i], 0, func[i]);
        }
    }

    /// @notice executeBatch with a value per call.
    function executeBatchWithValues(address[] calldata dest, uint256[] calldata value, bytes[] calldata func)
        external
        onlyExecutor
    {
        if (dest.length != func.length || dest.length != value.length) revert WrongArrayLengths();
        for (uint256 i = 0; i < dest.length; ++i) {
            _call(dest[i], value[i], func[i]);
        }
    }

    function _call(address target, uint256 value, bytes calldata data) private {
        (bool ok, bytes memory result) = target.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 0x20), mload(result))
            }
        }
    }

    // ------------------------------------------------------------------ token callbacks

    function onERC721Received(address, address, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC721Received.selector;
    }

    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external pure returns (bytes4) {
        return this.onERC1155Received.selector;
    }

    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external
        pure
        returns (bytes4)
    {
        return this.onERC1155BatchReceived.selector;
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == 0x01ffc9a7 // ERC-165
            || interfaceId == 0x150b7a02 // ERC721TokenReceiver
            || interfaceId == 0x4e2312e0; // ERC1155TokenReceiver
    }
}
