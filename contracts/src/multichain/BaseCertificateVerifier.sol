// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IBaseCertificateVerifier} from "../interfaces/IBaseCertificateVerifier.sol";
import {IOperatorTableUpdater} from "../interfaces/IOperatorTableUpdater.sol";
import {OperatorSet, OperatorSetLib} from "../libraries/OperatorSetLib.sol";
import {SemVer} from "../mixins/SemVer.sol";

/// @notice What the BN254 and ECDSA certificate verifiers share: the table updater they trust, each
///         operator set's table header (owner, staleness period, reference timestamps) and its views.
/// @dev Storage: SemVer's string (slot 0), then the four mappings below (slots 1-4), then the curve's
///      own. These are the slots the verifiers had before this base existed: keep the mappings first
///      and in this order.
abstract contract BaseCertificateVerifier is IBaseCertificateVerifier, SemVer {
    using OperatorSetLib for OperatorSet;

    uint256 internal constant BPS_DENOMINATOR = 10_000;

    /// @notice The only address that may push operator tables.
    IOperatorTableUpdater public immutable operatorTableUpdater;

    mapping(bytes32 => address) internal _operatorSetOwners;
    mapping(bytes32 => uint32) internal _maxStalenessPeriods;
    mapping(bytes32 => uint32) internal _latestReferenceTimestamps;
    mapping(bytes32 => mapping(uint32 => bool)) internal _referenceTimestampsSet;

    modifier onlyTableUpdater() {
        if (msg.sender != address(operatorTableUpdater)) revert OnlyTableUpdater();
        _;
    }

    constructor(IOperatorTableUpdater _operatorTableUpdater, string memory _version) SemVer(_version) {
        operatorTableUpdater = _operatorTableUpdater;
    }

    /// @dev The curve-independent part of updateOperatorTable: reverts unless `referenceTimestamp` is
    ///      newer than the set's latest, records it, and applies the config (each of
    ///      OperatorSetOwnerUpdated / MaxStalenessPeriodUpdated emitted only when its value changes).
    ///      The caller then stores its table under the returned key and emits TableUpdated.
    function _updateTableHeader(
        OperatorSet calldata operatorSet,
        uint32 referenceTimestamp,
        OperatorSetConfig calldata operatorSetConfig
    ) internal returns (bytes32 setKey) {
        setKey = OperatorSetLib.key(operatorSet);
        if (referenceTimestamp <= _latestReferenceTimestamps[setKey]) revert TableUpdateStale();

        _referenceTimestampsSet[setKey][referenceTimestamp] = true;
        _latestReferenceTimestamps[setKey] = referenceTimestamp;
        if (_operatorSetOwners[setKey] != operatorSetConfig.owner) {
            _operatorSetOwners[setKey] = operatorSetConfig.owner;
            emit OperatorSetOwnerUpdated(operatorSet, operatorSetConfig.owner);
        }
        if (_maxStalenessPeriods[setKey] != operatorSetConfig.maxStalenessPeriod) {
            _maxStalenessPeriods[setKey] = operatorSetConfig.maxStalenessPeriod;
            emit MaxStalenessPeriodUpdated(operatorSet, operatorSetConfig.maxStalenessPeriod);
        }
    }

    /// @inheritdoc IBaseCertificateVerifier
    function getOperatorSetOwner(OperatorSet memory operatorSet) external view returns (address) {
        return _operatorSetOwners[operatorSet.key()];
    }

    /// @inheritdoc IBaseCertificateVerifier
    function maxOperatorTableStaleness(OperatorSet memory operatorSet) external view returns (uint32) {
        return _maxStalenessPeriods[operatorSet.key()];
    }

    /// @inheritdoc IBaseCertificateVerifier
    function latestReferenceTimestamp(OperatorSet memory operatorSet) external view returns (uint32) {
        return _latestReferenceTimestamps[operatorSet.key()];
    }

    /// @inheritdoc IBaseCertificateVerifier
    function isReferenceTimestampSet(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (bool)
    {
        return _referenceTimestampsSet[operatorSet.key()][referenceTimestamp];
    }
}
