// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IBN254CertificateVerifier} from "../interfaces/IBN254CertificateVerifier.sol";
import {IBaseCertificateVerifier} from "../interfaces/IBaseCertificateVerifier.sol";
import {IOperatorTableUpdater} from "../interfaces/IOperatorTableUpdater.sol";
import {BN254} from "../libraries/BN254.sol";
import {Merkle} from "../libraries/Merkle.sol";
import {OperatorSet, OperatorSetLib} from "../libraries/OperatorSetLib.sol";
import {BaseCertificateVerifier} from "./BaseCertificateVerifier.sol";

/// @notice Verifies BLS certificates over BN254 against operator tables pushed by the table updater.
/// @dev A certificate signs calculateCertificateDigest(referenceTimestamp, messageHash). Non-signers
///      are proven against the table's Merkle root (and cached); the signers' key is the table's
///      aggregate key minus the non-signers' keys.
contract BN254CertificateVerifier is IBN254CertificateVerifier, BaseCertificateVerifier {
    using OperatorSetLib for OperatorSet;
    using BN254 for BN254.G1Point;

    /// @notice Domain byte prepended to abi.encode(operatorInfo) before hashing a tree leaf.
    uint8 public constant OPERATOR_INFO_LEAF_SALT = 0x75;
    /// @notice Domain byte of operator table leaves in EigenLayer's global table root.
    uint8 public constant OPERATOR_TABLE_LEAF_SALT = 0x8e;

    bytes32 internal constant BN254_CERTIFICATE_TYPEHASH =
        keccak256("BN254Certificate(uint32 referenceTimestamp,bytes32 messageHash)");
    uint256 internal constant PAIRING_EQUALITY_CHECK_GAS = 400_000;

    // Slots 5 and 6, after BaseCertificateVerifier's.
    mapping(bytes32 => mapping(uint32 => BN254OperatorSetInfo)) internal _operatorSetInfos;
    mapping(bytes32 => mapping(uint32 => mapping(uint256 => BN254OperatorInfo))) internal _operatorInfos;

    constructor(IOperatorTableUpdater _operatorTableUpdater, string memory _version)
        BaseCertificateVerifier(_operatorTableUpdater, _version)
    {}

    /// @inheritdoc IBN254CertificateVerifier
    function updateOperatorTable(
        OperatorSet calldata operatorSet,
        uint32 referenceTimestamp,
        BN254OperatorSetInfo memory operatorSetInfo,
        OperatorSetConfig calldata operatorSetConfig
    ) external onlyTableUpdater {
        bytes32 setKey = _updateTableHeader(operatorSet, referenceTimestamp, operatorSetConfig);
        _operatorSetInfos[setKey][referenceTimestamp] = operatorSetInfo;
        emit TableUpdated(operatorSet, referenceTimestamp, operatorSetInfo);
    }

    /// @inheritdoc IBN254CertificateVerifier
    function verifyCertificate(OperatorSet memory operatorSet, BN254Certificate memory cert)
        external
        returns (uint256[] memory totalSignedStakeWeights)
    {
        return _verifyCertificate(operatorSet, cert);
    }

    /// @inheritdoc IBN254CertificateVerifier
    function verifyCertificateProportion(
        OperatorSet memory operatorSet,
        BN254Certificate memory cert,
        uint16[] memory totalStakeProportionThresholds
    ) external returns (bool) {
        uint256[] memory signed = _verifyCertificate(operatorSet, cert);
        uint256[] memory total = _operatorSetInfos[operatorSet.key()][cert.referenceTimestamp].totalWeights;
        if (signed.length != totalStakeProportionThresholds.length) revert ArrayLengthMismatch();
        for (uint256 i = 0; i < signed.length; ++i) {
            if (signed[i] < (total[i] * totalStakeProportionThresholds[i]) / BPS_DENOMINATOR) return false;
        }
        return true;
    }

    /// @inheritdoc IBN254CertificateVerifier
    function verifyCertificateNominal(
        OperatorSet memory operatorSet,
        BN254Certificate memory cert,
        uint256[] memory totalStakeNominalThresholds
    ) external returns (bool) {
        uint256[] memory signed = _verifyCertificate(operatorSet, cert);
        if (signed.length != totalStakeNominalThresholds.length) revert ArrayLengthMismatch();
        for (uint256 i = 0; i < signed.length; ++i) {
            if (signed[i] < totalStakeNominalThresholds[i]) return false;
        }
        return true;
    }

    /// @inheritdoc IBN254CertificateVerifier
    function trySignatureVerification(
        bytes32 msgHash,
        BN254.G1Point memory aggPubkey,
        BN254.G2Point memory apkG2,
        BN254.G1Point memory signature
    ) public view returns (bool pairingSuccessful, bool signatureValid) {
        return BN254.verifyBLS(msgHash, signature, aggPubkey, apkG2, PAIRING_EQUALITY_CHECK_GAS);
    }

    /// @inheritdoc IBN254CertificateVerifier
    function calculateCertificateDigest(uint32 referenceTimestamp, bytes32 messageHash) public pure returns (bytes32) {
        return keccak256(abi.encode(BN254_CERTIFICATE_TYPEHASH, referenceTimestamp, messageHash));
    }

    /// @inheritdoc IBN254CertificateVerifier
    function calculateOperatorInfoLeaf(BN254OperatorInfo memory operatorInfo) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(OPERATOR_INFO_LEAF_SALT, abi.encode(operatorInfo)));
    }

    /// @notice keccak256(0x8e ‖ operatorTableBytes), the leaf of a table in a global table root.
    function calculateOperatorTableLeaf(bytes calldata operatorTableBytes) external pure returns (bytes32) {
        return keccak256(abi.encodePacked(OPERATOR_TABLE_LEAF_SALT, operatorTableBytes));
    }

    function _verifyCertificate(OperatorSet memory operatorSet, BN254Certificate memory cert)
        internal
        returns (uint256[] memory signed)
    {
        bytes32 setKey = operatorSet.key();
        _validateCertificateTimestamp(setKey, cert.referenceTimestamp);
        BN254OperatorSetInfo memory info = _operatorSetInfos[setKey][cert.referenceTimestamp];

        signed = new uint256[](info.totalWeights.length);
        for (uint256 i = 0; i < signed.length; ++i) {
            signed[i] = info.totalWeights[i];
        }

        BN254.G1Point memory nonSignerApk = _processNonSigners(setKey, cert, info, signed);
        BN254.G1Point memory signerApk = info.aggregatePubkey.plus(nonSignerApk.negate());
        (bool pairingOk, bool valid) = trySignatureVerification(
            calculateCertificateDigest(cert.referenceTimestamp, cert.messageHash), signerApk, cert.apk, cert.signature
        );
        if (!pairingOk || !valid) revert VerificationFailed();
    }

    function _validateCertificateTimestamp(bytes32 setKey, uint32 referenceTimestamp) internal view {
        uint256 maxStaleness = _maxStalenessPeriods[setKey];
        if (maxStaleness != 0 && block.timestamp > uint256(referenceTimestamp) + maxStaleness) {
            revert CertificateStale();
        }
        if (!_referenceTimestampsSet[setKey][referenceTimestamp]) revert ReferenceTimestampDoesNotExist();
    }

    /// @dev Checks every witness, subtracts its weights from `signed` and returns the sum of their keys.
    function _processNonSigners(
        bytes32 setKey,
        BN254Certificate memory cert,
        BN254OperatorSetInfo memory info,
        uint256[] memory signed
    ) internal returns (BN254.G1Point memory nonSignerApk) {
        for (uint256 i = 0; i < cert.nonSignerWitnesses.length; ++i) {
            BN254OperatorInfoWitness memory witness = cert.nonSignerWitnesses[i];
            if (i > 0 && witness.operatorIndex <= cert.nonSignerWitnesses[i - 1].operatorIndex) {
                revert NonSignerIndicesNotSorted();
            }
            if (witness.operatorIndex >= info.numOperators) revert InvalidOperatorIndex();

            BN254OperatorInfo memory operatorInfo =
                _provenOperatorInfo(setKey, cert.referenceTimestamp, info.operatorInfoTreeRoot, witness);
            nonSignerApk = nonSignerApk.plus(operatorInfo.pubkey);
            for (uint256 j = 0; j < operatorInfo.weights.length && j < signed.length; ++j) {
                signed[j] -= operatorInfo.weights[j];
            }
        }
    }

    /// @dev The cached info of a non-signer, or the witness's info once its Merkle proof checks out.
    function _provenOperatorInfo(
        bytes32 setKey,
        uint32 referenceTimestamp,
        bytes32 root,
        BN254OperatorInfoWitness memory witness
    ) internal returns (BN254OperatorInfo memory) {
        BN254OperatorInfo storage cached = _operatorInfos[setKey][referenceTimestamp][witness.operatorIndex];
        if (cached.pubkey.X != 0 || cached.pubkey.Y != 0) return cached;

        bytes32 leaf = calculateOperatorInfoLeaf(witness.operatorInfo);
        if (!Merkle.verifyInclusionKeccak(witness.operatorInfoProof, root, leaf, witness.operatorIndex)) {
            revert VerificationFailed();
        }
        _operatorInfos[setKey][referenceTimestamp][witness.operatorIndex] = witness.operatorInfo;
        return witness.operatorInfo;
    }

    /// @inheritdoc IBN254CertificateVerifier
    function getNonsignerOperatorInfo(OperatorSet memory operatorSet, uint32 referenceTimestamp, uint256 operatorIndex)
        external
        view
        returns (BN254OperatorInfo memory)
    {
        return _operatorInfos[operatorSet.key()][referenceTimestamp][operatorIndex];
    }

    /// @inheritdoc IBN254CertificateVerifier
    function isNonsignerCached(OperatorSet memory operatorSet, uint32 referenceTimestamp, uint256 operatorIndex)
        external
        view
        returns (bool)
    {
        BN254OperatorInfo storage cached = _operatorInfos[operatorSet.key()][referenceTimestamp][operatorIndex];
        return cached.pubkey.X != 0 || cached.pubkey.Y != 0;
    }

    /// @inheritdoc IBN254CertificateVerifier
    function getOperatorSetInfo(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (BN254OperatorSetInfo memory)
    {
        return _operatorSetInfos[operatorSet.key()][referenceTimestamp];
    }

    /// @inheritdoc IBaseCertificateVerifier
    function getTotalStakeWeights(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (uint256[] memory)
    {
        return _operatorSetInfos[operatorSet.key()][referenceTimestamp].totalWeights;
    }

    /// @inheritdoc IBaseCertificateVerifier
    function getOperatorCount(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (uint256)
    {
        return _operatorSetInfos[operatorSet.key()][referenceTimestamp].numOperators;
    }
}
