// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {BN254} from "../libraries/BN254.sol";
import {OperatorSet} from "../libraries/OperatorSetLib.sol";
import {IOperatorTableCalculatorTypes} from "./IOperatorTableCalculator.sol";
import {IBaseCertificateVerifier} from "./IBaseCertificateVerifier.sol";

interface IBN254CertificateVerifierTypes is IOperatorTableCalculatorTypes {
    /// @notice Proof that a non-signer is operator `operatorIndex` of the table.
    struct BN254OperatorInfoWitness {
        uint32 operatorIndex;
        bytes operatorInfoProof;
        BN254OperatorInfo operatorInfo;
    }

    /// @notice An aggregate BLS signature over calculateCertificateDigest(referenceTimestamp, messageHash).
    struct BN254Certificate {
        uint32 referenceTimestamp;
        bytes32 messageHash;
        BN254.G1Point signature;
        BN254.G2Point apk;
        BN254OperatorInfoWitness[] nonSignerWitnesses;
    }
}

interface IBN254CertificateVerifierEvents is IBN254CertificateVerifierTypes {
    event TableUpdated(OperatorSet operatorSet, uint32 referenceTimestamp, BN254OperatorSetInfo operatorSetInfo);
}

interface IBN254CertificateVerifierErrors {
    /// @dev Raised by BN254 pairing helpers; listed so the ABI has every error EigenLayer's has.
    error ECPairingFailed();
    error InvalidOperatorIndex();
    error NonSignerIndicesNotSorted();
}

/// @notice Verifies BN254 (BLS) certificates against pushed operator tables.
interface IBN254CertificateVerifier is
    IBN254CertificateVerifierEvents,
    IBaseCertificateVerifier,
    IBN254CertificateVerifierErrors
{
    function updateOperatorTable(
        OperatorSet calldata operatorSet,
        uint32 referenceTimestamp,
        BN254OperatorSetInfo memory operatorSetInfo,
        OperatorSetConfig calldata operatorSetConfig
    ) external;

    function verifyCertificate(OperatorSet memory operatorSet, BN254Certificate memory cert)
        external
        returns (uint256[] memory totalSignedStakeWeights);

    function verifyCertificateProportion(
        OperatorSet memory operatorSet,
        BN254Certificate memory cert,
        uint16[] memory totalStakeProportionThresholds
    ) external returns (bool);

    function verifyCertificateNominal(
        OperatorSet memory operatorSet,
        BN254Certificate memory cert,
        uint256[] memory totalStakeNominalThresholds
    ) external returns (bool);

    function trySignatureVerification(
        bytes32 msgHash,
        BN254.G1Point memory aggPubkey,
        BN254.G2Point memory apkG2,
        BN254.G1Point memory signature
    ) external view returns (bool pairingSuccessful, bool signatureValid);

    function getNonsignerOperatorInfo(OperatorSet memory operatorSet, uint32 referenceTimestamp, uint256 operatorIndex)
        external
        view
        returns (BN254OperatorInfo memory);

    function isNonsignerCached(OperatorSet memory operatorSet, uint32 referenceTimestamp, uint256 operatorIndex)
        external
        view
        returns (bool);

    function getOperatorSetInfo(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (BN254OperatorSetInfo memory);

    function calculateCertificateDigest(uint32 referenceTimestamp, bytes32 messageHash)
        external
        pure
        returns (bytes32);

    function calculateOperatorInfoLeaf(BN254OperatorInfo memory operatorInfo) external pure returns (bytes32);
}
