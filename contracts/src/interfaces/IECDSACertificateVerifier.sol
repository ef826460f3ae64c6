// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {OperatorSet} from "../libraries/OperatorSetLib.sol";
import {IOperatorTableCalculatorTypes} from "./IOperatorTableCalculator.sol";
import {IBaseCertificateVerifier} from "./IBaseCertificateVerifier.sol";

interface IECDSACertificateVerifierTypes is IOperatorTableCalculatorTypes {
    error InvalidSignatureLength();
    error SignersNotOrdered();

    /// @notice 65-byte r‖s‖v signatures concatenated, ordered by recovered signer address.
    struct ECDSACertificate {
        uint32 referenceTimestamp;
        bytes32 messageHash;
        bytes sig;
    }
}

interface IECDSACertificateVerifierEvents is IECDSACertificateVerifierTypes {
    event TableUpdated(OperatorSet operatorSet, uint32 referenceTimestamp, ECDSAOperatorInfo[] operatorInfos);
}

/// @notice Verifies ECDSA certificates against pushed operator tables.
interface IECDSACertificateVerifier is IECDSACertificateVerifierEvents, IBaseCertificateVerifier {
    function updateOperatorTable(
        OperatorSet calldata operatorSet,
        uint32 referenceTimestamp,
        ECDSAOperatorInfo[] calldata operatorInfos,
        OperatorSetConfig calldata operatorSetConfig
    ) external;

    function verifyCertificate(OperatorSet calldata operatorSet, ECDSACertificate memory cert)
        external
        view
        returns (uint256[] memory, address[] memory);

    function verifyCertificateProportion(
        OperatorSet calldata operatorSet,
        ECDSACertificate memory cert,
        uint16[] memory totalStakeProportionThresholds
    ) external view returns (bool, address[] memory);

    function verifyCertificateNominal(
        OperatorSet calldata operatorSet,
        ECDSACertificate memory cert,
        uint256[] memory totalStakeNominalThresholds
    ) external view returns (bool, address[] memory);

    function getOperatorInfos(OperatorSet calldata operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (ECDSAOperatorInfo[] memory);

    function getOperatorInfo(OperatorSet calldata operatorSet, uint32 referenceTimestamp, uint256 operatorIndex)
        external
        view
        returns (ECDSAOperatorInfo memory);

    function domainSeparator() external view returns (bytes32);

    function calculateCertificateDigestBytes(uint32 referenceTimestamp, bytes32 messageHash)
        external
        view
        returns (bytes memory);

    function calculateCertificateDigest(uint32 referenceTimestamp, bytes32 messageHash)
        external
        view
        returns (bytes32);
}
