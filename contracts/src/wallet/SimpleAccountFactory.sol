// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IEntryPoint} from "./IEntryPoint.sol";
import {SimpleAccount} from "./SimpleAccount.sol";

/// @notice Deploys SimpleAccount wallets at CREATE2 addresses with eth-infinitism's v0.6 factory ABI
///         (`createAccount`, `getAddress`, `accountImplementation`). Every wallet is an EIP-1167 clone of one
///         implementation this constructor deploys (CREATE, the factory's nonce 1), with the EntryPoint and the
///         controller given here, so a wallet's address depends on (factory, owner, salt) only:
///         create2(factory, keccak256(abi.encode(owner, salt)), keccak256(clone init code)).
contract SimpleAccountFactory {
    /// @notice The implementation every wallet delegates to.
    SimpleAccount public immutable accountImplementation;
    /// @notice The EntryPoint the wallets trust.
    IEntryPoint public immutable entryPoint;
    /// @notice The service key the wallets accept signatures from besides their owner's.
    address public immutable controller;
    bytes32 private immutable _cloneCodeHash;

    event AccountCreated(address indexed account, address indexed owner, uint256 salt);

    error CreateFailed(address owner, uint256 salt);

    constructor(IEntryPoint anEntryPoint, address aController) {
        accountImplementation = new SimpleAccount(anEntryPoint, aController);
        entryPoint = anEntryPoint;
        controller = aController;
        _cloneCodeHash = keccak256(_cloneCode(address(accountImplementation)));
    }

    /// @notice The wallet of (`owner`, `salt`), created and initialized if it does not exist yet (so an initCode
    ///         calling this still returns the sender once it is deployed, as getSenderAddress expects).
    function createAccount(address owner, uint256 salt) external returns (SimpleAccount account) {
        address predicted = getAddress(owner, salt);
        if (predicted.code.length > 0) return SimpleAccount(payable(predicted));
        bytes memory code = _cloneCode(address(accountImplementation));
        bytes32 create2Salt = _salt(owner, salt);
        address created;
        assembly ("memory-safe") {
            created := create2(0, add(code, 0x20), mload(code), create2Salt)
        }
        if (created == address(0)) revert CreateFailed(owner, salt);
        account = SimpleAccount(payable(created));
        account.initialize(owner);
        emit AccountCreated(created, owner, salt);
    }

    /// @notice The address createAccount(owner, salt) deploys to (whether or not it is deployed yet).
    function getAddress(address owner, uint256 salt) public view returns (address) {
        bytes32 digest = keccak256(abi.encodePacked(bytes1(0xff), address(this), _salt(owner, salt), _cloneCodeHash));
        return address(uint160(uint256(digest)));
    }

    function _salt(address owner, uint256 salt) private pure returns (bytes32) {
        return keccak256(abi.encode(owner, salt));
    }

    /// @dev EIP-1167 minimal proxy init code: a 10-byte constructor that returns the 45-byte runtime, which
    ///      delegatecalls `implementation` with the calldata and returns or reverts with its result.
    function _cloneCode(address implementation) private pure returns (bytes memory) {
        return abi.encodePacked(hex"3d602d80600a3d3981f3363d3d373d3d3d363d73", implementation,
            hex"5af43d82803e903d91602b57fd5bf3");
    }
}
