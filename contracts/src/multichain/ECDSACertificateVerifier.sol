// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IECDSACertificateVerifier} from "../interfaces/IECDSACertificateVerifier.sol";
import {IBaseCertificateVerifier} from "../interfaces/IBaseCertificateVerifier.sol";
import {IOperatorTableUpdater} from "../interfaces/IOperatorTableUpdater.sol";
import {ECDSARecover} from "../libraries/ECDSARecover.sol";
import {OperatorSet, OperatorSetLib} from "../libraries/OperatorSetLib.sol";
import {BaseCertificateVerifier} from "./BaseCertificateVerifier.sol";

/// @notice Verifies ECDSA certificates (concatenated 65-byte signatures over a chain-agnostic
///         EIP-712 digest, ordered by signer) against operator tables pushed by the table updater.
contract ECDSACertificateVerifier is IECDSACertificateVerifier, BaseCertificateVerifier {
    using OperatorSetLib for OperatorSet;

    error InvalidSignature();
    error OperatorCountZero();
    error IndexOutOfBounds();

    bytes32 internal constant ECDSA_CERTIFICATE_TYPEHASH =
        keccak256("ECDSACertificate(uint32 referenceTimestamp,bytes32 messageHash)");
    /// @dev No chainId: a certificate verifies on every chain the table was pushed to.
    bytes32 internal constant EIP712_DOMAIN_TYPEHASH_NO_CHAINID =
        keccak256("EIP712Domain(string name,string version,address verifyingContract)");

    // Slots 5 to 7, after BaseCertificateVerifier's.
    mapping(bytes32 => mapping(uint32 => uint256)) internal _numOperators;
    mapping(bytes32 => mapping(uint32 => mapping(uint256 => ECDSAOperatorInfo))) internal _operatorInfos;
    /// @dev Table position + 1 of a signing key, so a signer is found without a scan.
    mapping(bytes32 => mapping(uint32 => mapping(address => uint256))) internal _positionPlusOne;

    constructor(IOperatorTableUpdater _operatorTableUpdater, string memory _version)
        BaseCertificateVerifier(_operatorTableUpdater, _version)
    {}

    /// @inheritdoc IECDSACertificateVerifier
    function updateOperatorTable(
        OperatorSet calldata operatorSet,
        uint32 referenceTimestamp,
        ECDSAOperatorInfo[] calldata operatorInfos,
        OperatorSetConfig calldata operatorSetConfig
    ) external onlyTableUpdater {
        bytes32 setKey = _updateTableHeader(operatorSet, referenceTimestamp, operatorSetConfig);
        _numOperators[setKey][referenceTimestamp] = operatorInfos.length;
        for (uint256 i = 0; i < operatorInfos.length; ++i) {
            _operatorInfos[setKey][referenceTimestamp][i] = operatorInfos[i];
            _positionPlusOne[setKey][referenceTimestamp][operatorInfos[i].pubkey] = i + 1;
        }
        emit TableUpdated(operatorSet, referenceTimestamp, operatorInfos);
    }

    /// @inheritdoc IECDSACertificateVerifier
    function verifyCertificate(OperatorSet calldata operatorSet, ECDSACertificate memory cert)
        external
        view
        returns (uint256[] memory, address[] memory)
    {
        return _verifyCertificate(operatorSet, cert);
    }

    /// @inheritdoc IECDSACertificateVerifier
    function verifyCertificateProportion(
        OperatorSet calldata operatorSet,
        ECDSACertificate memory cert,
        uint16[] memory totalStakeProportionThresholds
    ) external view returns (bool, address[] memory) {
        (uint256[] memory signed, address[] memory signers) = _verifyCertificate(operatorSet, cert);
        uint256[] memory total = _totalStakeWeights(OperatorSetLib.key(operatorSet), cert.referenceTimestamp);
        if (signed.length != totalStakeProportionThresholds.length) revert ArrayLengthMismatch();
        for (uint256 i = 0; i < signed.length; ++i) {
            if (signed[i] < (total[i] * totalStakeProportionThresholds[i]) / BPS_DENOMINATOR) {
                return (false, signers);
            }
        }
        return (true, signers);
    }

    /// @inheritdoc IECDSACertificateVerifier
    function verifyCertificateNominal(
        OperatorSet calldata operatorSet,
        ECDSACertificate memory cert,
        uint256[] memory totalStakeNominalThresholds
    ) external view returns (bool, address[] memory) {
        (uint256[] memory signed, address[] memory signers) = _verifyCertificate(operatorSet, cert);
        if (signed.length != totalStakeNominalThresholds.length) revert ArrayLengthMismatch();
        for (uint256 i = 0; i < signed.length; ++i) {
            if (signed[i] < totalStakeNominalThresholds[i]) return (false, signers);
        }
        return (true, signers);
    }

    function _verifyCertificate(OperatorSet calldata operatorSet, ECDSACertificate memory cert)
        internal
        view
        returns (uint256[] memory signed, address[] memory signers)
    {
        bytes32 setKey = OperatorSetLib.key(operatorSet);
        uint256 maxStaleness = _maxStalenessPeriods[setKey];
        if (maxStaleness != 0 && block.timestamp > uint256(cert.referenceTimestamp) + maxStaleness) {
            revert CertificateStale();
        }
        if (!_referenceTimestampsSet[setKey][cert.referenceTimestamp]) revert ReferenceTimestampDoesNotExist();

        signers = _recoverSigners(calculateCertificateDigest(cert.referenceTimestamp, cert.messageHash), cert.sig);
        signed = new uint256[](_totalStakeWeights(setKey, cert.referenceTimestamp).length);
        for (uint256 i = 0; i < signers.length; ++i) {
            uint256 position = _positionPlusOne[setKey][cert.referenceTimestamp][signers[i]];
            if (position == 0) revert VerificationFailed();
            uint256[] storage weights = _operatorInfos[setKey][cert.referenceTimestamp][position - 1].weights;
            for (uint256 j = 0; j < weights.length && j < signed.length; ++j) {
                signed[j] += weights[j];
            }
        }
    }

    /// @dev Recovers each 65-byte signature; signers must be strictly ascending.
    function _recoverSigners(bytes32 digest, bytes memory sigs) internal pure returns (address[] memory signers) {
        if (sigs.length == 0 || sigs.length % 65 != 0) revert InvalidSignatureLength();
        signers = new address[](sigs.length / 65);
        for (uint256 i = 0; i < signers.length; ++i) {
            bytes32 r;
            bytes32 s;
            uint8 v;
            assembly ("memory-safe") {
                let at := add(add(sigs, 0x20), mul(i, 65))
                r := mload(at)
                s := mload(add(at, 0x20))
                v := byte(0, mload(add(at, 0x40)))
            }
            address signer = ECDSARecover.tryRecover(digest, v, r, s);
            if (signer == address(0)) revert InvalidSignature();
            if (i > 0 && signer <= signers[i - 1]) revert SignersNotOrdered();
            signers[i] = signer;
        }
    }

    function _totalStakeWeights(bytes32 setKey, uint32 referenceTimestamp)
        internal
        view
        returns (uint256[] memory totals)
    {
        if (!_referenceTimestampsSet[setKey][referenceTimestamp]) revert ReferenceTimestampDoesNotExist();
        uint256 count = _numOperators[setKey][referenceTimestamp];
        if (count == 0) revert OperatorCountZero();
        totals = new uint256[](_operatorInfos[setKey][referenceTimestamp][0].weights.length);
        for (uint256 i = 0; i < count; ++i) {
            uint256[] storage weights = _operatorInfos[setKey][referenceTimestamp][i].weights;
            for (uint256 j = 0; j < weights.length && j < totals.length; ++j) {
                totals[j] += weights[j];
            }
        }
    }

    /// @notice EIP-712 domain without chainId: name "EigenLayer", the major version, this address.
    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(
                EIP712_DOMAIN_TYPEHASH_NO_CHAINID,
                keccak256(bytes("EigenLayer")),
                keccak256(bytes(_majorVersion())),
                address(this)
            )
        );
    }

    /// @inheritdoc IECDSACertificateVerifier
    function calculateCertificateDigestBytes(uint32 referenceTimestamp, bytes32 messageHash)
        public
        view
        returns (bytes memory)
    {
        bytes32 structHash = keccak256(abi.encode(ECDSA_CERTIFICATE_TYPEHASH, referenceTimestamp, messageHash));
        return abi.encodePacked("\x19\x01", domainSeparator(), structHash);
    }

    /// @inheritdoc IECDSACertificateVerifier
    function calculateCertificateDigest(uint32 referenceTimestamp, bytes32 messageHash) public view returns (bytes32) {
        return keccak256(calculateCertificateDigestBytes(referenceTimestamp, messageHash));
    }

    /// @inheritdoc IECDSACertificateVerifier
    function getOperatorInfos(OperatorSet calldata operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (ECDSAOperatorInfo[] memory infos)
    {
        bytes32 setKey = OperatorSetLib.key(operatorSet);
        infos = new ECDSAOperatorInfo[](_numOperators[setKey][referenceTimestamp]);
        for (uint256 i = 0; i < infos.length; ++i) {
            infos[i] = _operatorInfos[setKey][referenceTimestamp][i];
        }
    }

    /// @inheritdoc IECDSACertificateVerifier
    function getOperatorInfo(OperatorSet calldata operatorSet, uint32 referenceTimestamp, uint256 operatorIndex)
        external
        view
        returns (ECDSAOperatorInfo memory)
    {
        bytes32 setKey = OperatorSetLib.key(operatorSet);
        if (operatorIndex >= _numOperators[setKey][referenceTimestamp]) revert IndexOutOfBounds();
        return _operatorInfos[setKey][referenceTimestamp][operatorIndex];
    }

    /// @inheritdoc IBaseCertificateVerifier
    /// @dev Reverts when the table is unknown or empty (as EigenLayer's ECDSA verifier does).
    function getTotalStakeWeights(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (uint256[] memory)
    {
        return _totalStakeWeights(operatorSet.key(), referenceTimestamp);
    }

    /// @inheritdoc IBaseCertificateVerifier
    function getOperatorCount(OperatorSet memory operatorSet, uint32 referenceTimestamp)
        external
        view
        returns (uint256)
    {
        return _numOperators[operatorSet.key()][referenceTimestamp];
    }
}
