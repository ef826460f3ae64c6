// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IKeyRegistrar} from "../interfaces/IKeyRegistrar.sol";
import {ITaskAVSRegistrarBase} from "../interfaces/ITaskAVSRegistrar.sol";
import {OperatorSet, OperatorSetLib} from "../libraries/OperatorSetLib.sol";
import {Ownable} from "../mixins/Ownable.sol";

/// @notice The registrar of a task-based AVS, with the ABI of EigenLayer's TaskAVSRegistrarBase:
///         AVS config (aggregator + executor operator sets), one socket per operator, an allowlist
///         for the aggregator operator set, and operator (de)registration.
/// @dev Devnet simplification: there is no AllocationManager, so an operator may also register
///      itself; the registrar keeps the member list of each operator set (`getRegisteredOperators`).
contract TaskAVSRegistrar is ITaskAVSRegistrarBase, Ownable {
    using OperatorSetLib for OperatorSet;

    error InvalidAVS();
    error InvalidPermissions();
    error OperatorAlreadyRegistered(uint32 operatorSetId);
    error OperatorNotRegistered(uint32 operatorSetId);

    /// @notice The AVS this registrar serves.
    address public immutable avs;
    /// @notice Where operator keys live.
    IKeyRegistrar public immutable keyRegistrar;
    /// @notice Who may call (de)registration for any operator; address(0) on a devnet without one.
    address public immutable allocationManager;

    AvsConfig internal _avsConfig;
    mapping(address operator => string) internal _operatorSockets;
    mapping(bytes32 operatorSetKey => address[]) internal _allowed;
    mapping(bytes32 operatorSetKey => mapping(address => uint256)) internal _allowedPositionPlusOne;
    mapping(uint32 operatorSetId => address[]) internal _members;
    mapping(uint32 operatorSetId => mapping(address => uint256)) internal _memberPositionPlusOne;

    constructor(
        address _avs,
        address _owner,
        IKeyRegistrar _keyRegistrar,
        address _allocationManager,
        AvsConfig memory _initialConfig
    ) {
        avs = _avs;
        keyRegistrar = _keyRegistrar;
        allocationManager = _allocationManager;
        _transferOwnership(_owner);
        _setAvsConfig(_initialConfig);
    }

    // ---------------------------------------------------------------- AVS config

    /// @inheritdoc ITaskAVSRegistrarBase
    function setAvsConfig(AvsConfig memory config) external onlyOwner {
        _setAvsConfig(config);
    }

    /// @inheritdoc ITaskAVSRegistrarBase
    function getAvsConfig() external view returns (AvsConfig memory) {
        return _avsConfig;
    }

    function _setAvsConfig(AvsConfig memory config) internal {
        uint32[] memory ids = config.executorOperatorSetIds;
        if (ids.length == 0) revert ExecutorOperatorSetIdsEmpty();
        for (uint256 i = 0; i < ids.length; ++i) {
            if (ids[i] == config.aggregatorOperatorSetId) revert InvalidAggregatorOperatorSetId();
            if (i > 0 && ids[i] <= ids[i - 1]) revert DuplicateExecutorOperatorSetId();
        }
        _avsConfig = config;
        emit AvsConfigSet(config.aggregatorOperatorSetId, ids);
    }

    // ---------------------------------------------------------------- registration

    /// @notice Registers `operator` for `operatorSetIds`; `data` is abi.encode(string socket).
    function registerOperator(address operator, address _avs, uint32[] calldata operatorSetIds, bytes calldata data)
        external
    {
        _checkCaller(operator, _avs);
        for (uint256 i = 0; i < operatorSetIds.length; ++i) {
            uint32 id = operatorSetIds[i];
            OperatorSet memory operatorSet = OperatorSet(avs, id);
            if (!keyRegistrar.isRegistered(operatorSet, operator)) revert KeyNotRegistered();
            if (id == _avsConfig.aggregatorOperatorSetId && _allowedPositionPlusOne[operatorSet.key()][operator] == 0) {
                revert OperatorNotInAllowlist();
            }
            if (_memberPositionPlusOne[id][operator] != 0) revert OperatorAlreadyRegistered(id);
            _members[id].push(operator);
            _memberPositionPlusOne[id][operator] = _members[id].length;
        }
        _setOperatorSocket(operator, abi.decode(data, (string)));
        emit OperatorRegistered(operator, operatorSetIds);
    }

    /// @notice Removes `operator` from `operatorSetIds`.
    function deregisterOperator(address operator, address _avs, uint32[] calldata operatorSetIds) external {
        _checkCaller(operator, _avs);
        for (uint256 i = 0; i < operatorSetIds.length; ++i) {
            uint32 id = operatorSetIds[i];
            uint256 position = _memberPositionPlusOne[id][operator];
            if (position == 0) revert OperatorNotRegistered(id);
            address[] storage members = _members[id];
            address last = members[members.length - 1];
            members[position - 1] = last;
            _memberPositionPlusOne[id][last] = position;
            members.pop();
            delete _memberPositionPlusOne[id][operator];
        }
        emit OperatorDeregistered(operator, operatorSetIds);
    }

    /// @notice True only for this registrar's AVS.
    function supportsAVS(address _avs) public view returns (bool) {
        return _avs == avs;
    }

    /// @notice The operators registered for an operator set, in registration order (swap-removed).
    function getRegisteredOperators(uint32 operatorSetId) external view returns (address[] memory) {
        return _members[operatorSetId];
    }

    /// @notice Whether `operator` is registered for the operator set.
    function isOperatorRegistered(uint32 operatorSetId, address operator) external view returns (bool) {
        return _memberPositionPlusOne[operatorSetId][operator] != 0;
    }

    function _checkCaller(address operator, address _avs) internal view {
        if (!supportsAVS(_avs)) revert InvalidAVS();
        if (msg.sender != operator && (allocationManager == address(0) || msg.sender != allocationManager)) {
            revert NotAllocationManager();
        }
    }

    // ---------------------------------------------------------------- sockets

    /// @notice The socket an operator registered or last set.
    function getOperatorSocket(address operator) external view returns (string memory) {
        return _operatorSockets[operator];
    }

    /// @notice Sets the caller's socket; only the operator itself may.
    function updateSocket(address operator, string memory socket) external {
        if (msg.sender != operator) revert InvalidPermissions();
        _setOperatorSocket(operator, socket);
    }

    function _setOperatorSocket(address operator, string memory socket) internal {
        _operatorSockets[operator] = socket;
        emit OperatorSocketSet(operator, socket);
    }

    // ---------------------------------------------------------------- allowlist

    /// @notice Lets `operator` register for `operatorSet` (checked for the aggregator operator set).
    function addOperatorToAllowlist(OperatorSet memory operatorSet, address operator) external onlyOwner {
        bytes32 setKey = operatorSet.key();
        if (_allowedPositionPlusOne[setKey][operator] != 0) revert OperatorAlreadyInAllowlist();
        _allowed[setKey].push(operator);
        _allowedPositionPlusOne[setKey][operator] = _allowed[setKey].length;
        emit OperatorAddedToAllowlist(operatorSet, operator);
    }

    /// @notice Takes `operator` off the allowlist; an already registered operator stays registered.
    function removeOperatorFromAllowlist(OperatorSet memory operatorSet, address operator) external onlyOwner {
        bytes32 setKey = operatorSet.key();
        uint256 position = _allowedPositionPlusOne[setKey][operator];
        if (position == 0) revert OperatorNotInAllowlist();
        address[] storage allowed = _allowed[setKey];
        address last = allowed[allowed.length - 1];
        allowed[position - 1] = last;
        _allowedPositionPlusOne[setKey][last] = position;
        allowed.pop();
        delete _allowedPositionPlusOne[setKey][operator];
        emit OperatorRemovedFromAllowlist(operatorSet, operator);
    }

    function isOperatorAllowed(OperatorSet memory operatorSet, address operator) external view returns (bool) {
        return _allowedPositionPlusOne[operatorSet.key()][operator] != 0;
    }

    function getAllowedOperators(OperatorSet memory operatorSet) external view returns (address[] memory) {
        return _allowed[operatorSet.key()];
    }
}
