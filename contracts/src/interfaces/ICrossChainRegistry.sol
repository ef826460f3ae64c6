// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @notice The per-operator-set settings pushed along with every operator table.
interface ICrossChainRegistryTypes {
    /// @param owner who may configure the operator set on the destination chain (e.g. TaskMailbox)
    /// @param maxStalenessPeriod seconds a table stays usable after its reference timestamp; 0 = forever
    struct OperatorSetConfig {
        address owner;
        uint32 maxStalenessPeriod;
    }
}
