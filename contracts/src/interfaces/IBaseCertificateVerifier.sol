// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {OperatorSet} from "../libraries/OperatorSetLib.sol";
import {ICrossChainRegistryTypes} from "./ICrossChainRegistry.sol";

interface IBaseCertificateVerifierEvents {
    event OperatorSetOwnerUpdated(OperatorSet operatorSet, address owner);
    event MaxStalenessPeriodUpdated(OperatorSet operatorSet, uint32 maxStalenessPeriod);
}

interface IBaseCertificateVerifierErrors {
    error OnlyTableUpdater();
    error TableUpdateStale();
    error ArrayLengthMismatch();
    error CertificateStale();
    error ReferenceTimestampDoesNotExist();
    error VerificationFailed();
    error RootDisabled();
}

/// @notice What every curve's certificate verifier answers about its operator tables.
interface IBaseCertificateVerifier is
    IBaseCertificateVerifierEvents,
    IBaseCertificateVerifierErrors,
    ICrossChainRegistryTypes
{
    function getOperatorSetOwner(OperatorSet memory operatorSet) external view returns (address);

    function maxOperatorTableStaleness(OperatorSet memory operatorSet) external view returns (uint32);

    function latestReferenceTimestamp(OperatorSet memory operatorSet) external view returns (uint32);

    function isReferenceTimestampSet(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (bool);

    function getTotalStakeWeights(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (uint256[] memory);

    function getOperatorCount(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (uint256);
}
