// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IBN254CertificateVerifier} from "../interfaces/IBN254CertificateVerifier.sol";
import {IECDSACertificateVerifier} from "../interfaces/IECDSACertificateVerifier.sol";
import {IKeyRegistrar, IKeyRegistrarTypes} from "../interfaces/IKeyRegistrar.sol";
import {IOperatorTableCalculatorTypes} from "../interfaces/IOperatorTableCalculator.sol";
import {ICrossChainRegistryTypes} from "../interfaces/ICrossChainRegistry.sol";
import {IOperatorTableUpdater} from "../interfaces/IOperatorTableUpdater.sol";
import {BN254} from "../libraries/BN254.sol";
import {Merkle} from "../libraries/Merkle.sol";
import {OperatorSet, OperatorSetLib} from "../libraries/OperatorSetLib.sol";
import {Ownable} from "../mixins/Ownable.sol";

/// @notice Stands in for EigenLayer's multichain transport on a devnet: the owner names the
///         operators of an operator set (in table index order) and their stake weights; this
///         contract reads their keys from the KeyRegistrar, builds the operator table (for BN254:
///         the operator info Merkle root, aggregate key and total weights) and pushes it to the
///         certificate verifier of the operator set's curve.
contract DevnetOperatorTableUpdater is
    IOperatorTableUpdater,
    IOperatorTableCalculatorTypes,
    ICrossChainRegistryTypes,
    Ownable
{
    using OperatorSetLib for OperatorSet;
    using BN254 for BN254.G1Point;

    error ArrayLengthMismatch();
    error InvalidCurveType();
    error OperatorKeyNotRegistered(address operator);
    error VerifierNotSet();

    event CertificateVerifiersSet(address bn254CertificateVerifier, address ecdsaCertificateVerifier);
    event OperatorTablePushed(
        OperatorSet operatorSet, uint32 referenceTimestamp, IKeyRegistrarTypes.CurveType curveType, address[] operators
    );

    uint8 internal constant OPERATOR_INFO_LEAF_SALT = 0x75;

    IKeyRegistrar public immutable keyRegistrar;
    IBN254CertificateVerifier public bn254CertificateVerifier;
    IECDSACertificateVerifier public ecdsaCertificateVerifier;

    mapping(bytes32 operatorSetKey => address[]) internal _operators;
    mapping(bytes32 operatorSetKey => uint256[][]) internal _weights;

    constructor(address _owner, IKeyRegistrar _keyRegistrar) {
        keyRegistrar = _keyRegistrar;
        _transferOwnership(_owner);
    }

    /// @notice Wires the verifiers (they are deployed after this contract, which they name as updater).
    function setCertificateVerifiers(IBN254CertificateVerifier _bn254, IECDSACertificateVerifier _ecdsa)
        external
        onlyOwner
    {
        bn254CertificateVerifier = _bn254;
        ecdsaCertificateVerifier = _ecdsa;
        emit CertificateVerifiersSet(address(_bn254), address(_ecdsa));
    }

    /// @notice Builds and pushes the table of `operatorSet`; `weights[i]` belongs to `operators[i]`.
    /// @param referenceTimestamp the table's timestamp, or 0 for max(now, latest + 1)
    /// @return the reference timestamp used
    function pushOperatorTable(
        OperatorSet calldata operatorSet,
        address[] calldata operators,
        uint256[][] calldata weights,
        OperatorSetConfig calldata config,
        uint32 referenceTimestamp
    ) external onlyOwner returns (uint32) {
        if (operators.length != weights.length) revert ArrayLengthMismatch();
        IKeyRegistrarTypes.CurveType curveType = keyRegistrar.getOperatorSetCurveType(operatorSet);
        if (referenceTimestamp == 0) referenceTimestamp = _nextReferenceTimestamp(operatorSet, curveType);

        if (curveType == IKeyRegistrarTypes.CurveType.BN254) {
            if (address(bn254CertificateVerifier) == address(0)) revert VerifierNotSet();
            (BN254OperatorSetInfo memory info,) = computeBN254OperatorSetInfo(operatorSet, operators, weights);
            bn254CertificateVerifier.updateOperatorTable(operatorSet, referenceTimestamp, info, config);
        } else if (curveType == IKeyRegistrarTypes.CurveType.ECDSA) {
            if (address(ecdsaCertificateVerifier) == address(0)) revert VerifierNotSet();
            ECDSAOperatorInfo[] memory infos = computeECDSAOperatorInfos(operatorSet, operators, weights);
            ecdsaCertificateVerifier.updateOperatorTable(operatorSet, referenceTimestamp, infos, config);
        } else {
            revert InvalidCurveType();
        }

        bytes32 setKey = operatorSet.key();
        _operators[setKey] = operators;
        delete _weights[setKey];
        for (uint256 i = 0; i < weights.length; ++i) {
            _weights[setKey].push(weights[i]);
        }
        emit OperatorTablePushed(operatorSet, referenceTimestamp, curveType, operators);
        return referenceTimestamp;
    }

    /// @notice The BN254 table for these operators and weights, and each operator's leaf info.
    function computeBN254OperatorSetInfo(
        OperatorSet memory operatorSet,
        address[] memory operators,
        uint256[][] memory weights
    ) public view returns (BN254OperatorSetInfo memory info, BN254OperatorInfo[] memory operatorInfos) {
        if (operators.length != weights.length) revert ArrayLengthMismatch();
        operatorInfos = new BN254OperatorInfo[](operators.length);
        bytes32[] memory leaves = new bytes32[](operators.length);
        info.numOperators = operators.length;
        info.totalWeights = new uint256[](operators.length == 0 ? 0 : weights[0].length);

        for (uint256 i = 0; i < operators.length; ++i) {
            (BN254.G1Point memory g1,) = keyRegistrar.getBN254Key(operatorSet, operators[i]);
            if (g1.X == 0 && g1.Y == 0) revert OperatorKeyNotRegistered(operators[i]);
            if (weights[i].length != info.totalWeights.length) revert ArrayLengthMismatch();
            operatorInfos[i] = BN254OperatorInfo({pubkey: g1, weights: weights[i]});
            leaves[i] = keccak256(abi.encodePacked(OPERATOR_INFO_LEAF_SALT, abi.encode(operatorInfos[i])));
            info.aggregatePubkey = info.aggregatePubkey.plus(g1);
            for (uint256 j = 0; j < weights[i].length; ++j) {
                info.totalWeights[j] += weights[i][j];
            }
        }
        if (operators.length > 0) info.operatorInfoTreeRoot = Merkle.merkleizeKeccak(leaves);
    }

    /// @notice The ECDSA table (signing-key address and weights, in the given order).
    function computeECDSAOperatorInfos(OperatorSet memory operatorSet, address[] memory operators, uint256[][] memory weights)
        public
        view
        returns (ECDSAOperatorInfo[] memory infos)
    {
        if (operators.length != weights.length) revert ArrayLengthMismatch();
        infos = new ECDSAOperatorInfo[](operators.length);
        for (uint256 i = 0; i < operators.length; ++i) {
            address signingKey = keyRegistrar.getECDSAAddress(operatorSet, operators[i]);
            if (signingKey == address(0)) revert OperatorKeyNotRegistered(operators[i]);
            if (weights[i].length != weights[0].length) revert ArrayLengthMismatch();
            infos[i] = ECDSAOperatorInfo({pubkey: signingKey, weights: weights[i]});
        }
    }

    /// @notice The operators of the last table pushed for `operatorSet`, in table index order.
    function getOperators(OperatorSet memory operatorSet) external view returns (address[] memory) {
        return _operators[operatorSet.key()];
    }

    /// @notice The weights of the last table pushed for `operatorSet`, per operator.
    function getOperatorWeights(OperatorSet memory operatorSet) external view returns (uint256[][] memory) {
        return _weights[operatorSet.key()];
    }

    /// @notice Devnet tables are never disabled.
    function isRootValidByTimestamp(uint32) external pure returns (bool) {
        return true;
    }

    function _nextReferenceTimestamp(OperatorSet calldata operatorSet, IKeyRegistrarTypes.CurveType curveType)
        internal
        view
        returns (uint32)
    {
        uint32 latest;
        if (curveType == IKeyRegistrarTypes.CurveType.BN254 && address(bn254CertificateVerifier) != address(0)) {
            latest = bn254CertificateVerifier.latestReferenceTimestamp(operatorSet);
        } else if (curveType == IKeyRegistrarTypes.CurveType.ECDSA && address(ecdsaCertificateVerifier) != address(0)) {
            latest = ecdsaCertificateVerifier.latestReferenceTimestamp(operatorSet);
        }
        uint32 now32 = uint32(block.timestamp);
        return now32 > latest ? now32 : latest + 1;
    }
}
