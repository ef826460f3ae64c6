// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @notice Runs an operation's initCode for the EntryPoint, so a factory is called by this contract (which holds
///         nothing and can do nothing) and never with the EntryPoint as msg.sender.
contract SenderCreator {
    /// @notice Call the factory named by initCode's first 20 bytes with the rest; the address it returned, or
    ///         address(0) when the call failed or returned less than a word.
    function createSender(bytes calldata initCode) external returns (address sender) {
        if (initCode.length < 20) return address(0);
        address factory = address(bytes20(initCode[:20]));
        bytes memory data = initCode[20:];
        bool ok;
        assembly ("memory-safe") {
            ok := call(gas(), factory, 0, add(data, 0x20), mload(data), 0, 0x20)
            if and(ok, gt(returndatasize(), 0x1f)) { sender := and(mload(0), 0xffffffffffffffffffffffffffffffffffffffff) }
        }
    }
}
