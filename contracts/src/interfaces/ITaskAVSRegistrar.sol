// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {OperatorSet} from "../libraries/OperatorSetLib.sol";

/// @notice EigenLayer's AVS registrar hook, called when operators (de)register for operator sets.
interface IAVSRegistrar {
    function registerOperator(address operator, address avs, uint32[] calldata operatorSetIds, bytes calldata data)
        external;

    function deregisterOperator(address operator, address avs, uint32[] calldata operatorSetIds) external;

    function supportsAVS(address avs) external view returns (bool);
}

interface IAVSRegistrarErrors {
    error KeyNotRegistered();
    error NotAllocationManager();
}

interface IAVSRegistrarEvents {
    event OperatorRegistered(address indexed operator, uint32[] operatorSetIds);
    event OperatorDeregistered(address indexed operator, uint32[] operatorSetIds);
}

interface ISocketRegistryEvents {
    event OperatorSocketSet(address indexed operator, string socket);
}

/// @notice One socket (an address string such as "host:port") per operator.
interface ISocketRegistryV2 is ISocketRegistryEvents {
    function getOperatorSocket(address operator) external view returns (string memory);

    function updateSocket(address operator, string memory socket) external;
}

interface IAllowlistErrors {
    error OperatorAlreadyInAllowlist();
    error OperatorNotInAllowlist();
}

interface IAllowlistEvents {
    event OperatorAddedToAllowlist(OperatorSet indexed operatorSet, address indexed operator);
    event OperatorRemovedFromAllowlist(OperatorSet indexed operatorSet, address indexed operator);
}

/// @notice Operator allowlist per operator set (enforced for the aggregator operator set).
interface IAllowlist is IAllowlistErrors, IAllowlistEvents {
    function addOperatorToAllowlist(OperatorSet memory operatorSet, address operator) external;

    function removeOperatorFromAllowlist(OperatorSet memory operatorSet, address operator) external;

    function isOperatorAllowed(OperatorSet memory operatorSet, address operator) external view returns (bool);

    function getAllowedOperators(OperatorSet memory operatorSet) external view returns (address[] memory);
}

interface ITaskAVSRegistrarBaseTypes {
    /// @notice The aggregator's operator set and the executor operator sets (non-empty, strictly
    ///         increasing, without the aggregator's id).
    struct AvsConfig {
        uint32 aggregatorOperatorSetId;
        uint32[] executorOperatorSetIds;
    }
}

interface ITaskAVSRegistrarBaseErrors {
    error InvalidAggregatorOperatorSetId();
    error DuplicateExecutorOperatorSetId();
    error ExecutorOperatorSetIdsEmpty();
}

interface ITaskAVSRegistrarBaseEvents is ITaskAVSRegistrarBaseTypes {
    event AvsConfigSet(uint32 aggregatorOperatorSetId, uint32[] executorOperatorSetIds);
}

/// @notice The per-AVS registrar of a task-based (Hourglass) AVS.
interface ITaskAVSRegistrarBase is
    ITaskAVSRegistrarBaseErrors,
    ITaskAVSRegistrarBaseEvents,
    IAVSRegistrar,
    IAVSRegistrarErrors,
    IAVSRegistrarEvents,
    ISocketRegistryV2,
    IAllowlist
{
    function setAvsConfig(AvsConfig memory config) external;

    function getAvsConfig() external view returns (AvsConfig memory);
}
