// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {IKeyRegistrar} from "../interfaces/IKeyRegistrar.sol";
import {BN254} from "../libraries/BN254.sol";
import {ECDSARecover} from "../libraries/ECDSARecover.sol";
import {OperatorSet, OperatorSetLib} from "../libraries/OperatorSetLib.sol";
import {SemVer} from "../mixins/SemVer.sol";

/// @notice Operator signing keys per operator set, with EigenLayer's KeyRegistrar ABI.
/// @dev Devnet simplification: no PermissionController. The AVS address itself configures its
///      operator sets and an operator registers its own keys; an operator or its AVS deregisters.
contract KeyRegistrar is IKeyRegistrar, SemVer {
    using OperatorSetLib for OperatorSet;
    using BN254 for BN254.G1Point;

    bytes32 public constant ECDSA_KEY_REGISTRATION_TYPEHASH =
        keccak256("ECDSAKeyRegistration(address operator,address avs,uint32 operatorSetId,address keyAddress)");
    bytes32 public constant BN254_KEY_REGISTRATION_TYPEHASH =
        keccak256("BN254KeyRegistration(address operator,address avs,uint32 operatorSetId,bytes keyData)");
    bytes32 internal constant EIP712_DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes4 internal constant ERC1271_MAGIC_VALUE = 0x1626ba7e;

    mapping(bytes32 operatorSetKey => mapping(address operator => KeyInfo)) internal _operatorKeyInfo;
    mapping(bytes32 operatorSetKey => CurveType) internal _operatorSetCurveTypes;
    mapping(bytes32 keyHash => bool) internal _globalKeyRegistry;
    mapping(bytes32 keyHash => address) internal _keyHashToOperator;

    constructor(string memory version_) SemVer(version_) {}

    /// @inheritdoc IKeyRegistrar
    function configureOperatorSet(OperatorSet memory operatorSet, CurveType curveType) external {
        if (msg.sender != operatorSet.avs) revert InvalidPermissions();
        if (curveType != CurveType.ECDSA && curveType != CurveType.BN254) revert InvalidCurveType();
        bytes32 setKey = operatorSet.key();
        if (_operatorSetCurveTypes[setKey] != CurveType.NONE) revert ConfigurationAlreadySet();
        _operatorSetCurveTypes[setKey] = curveType;
        emit OperatorSetConfigured(operatorSet, curveType);
    }

    /// @inheritdoc IKeyRegistrar
    function registerKey(address operator, OperatorSet memory operatorSet, bytes calldata pubkey, bytes calldata signature)
        external
    {
        if (msg.sender != operator) revert InvalidPermissions();
        bytes32 setKey = operatorSet.key();
        CurveType curveType = _operatorSetCurveTypes[setKey];
        if (curveType == CurveType.NONE) revert OperatorSetNotConfigured();
        if (_operatorKeyInfo[setKey][operator].isRegistered) revert KeyAlreadyRegistered();

        bytes32 keyHash = curveType == CurveType.ECDSA
            ? _checkECDSAKey(operator, operatorSet, pubkey, signature)
            : _checkBN254Key(operator, operatorSet, pubkey, signature);

        // A key belongs to one operator; that operator may reuse it in its other operator sets.
        address holder = _keyHashToOperator[keyHash];
        if (_globalKeyRegistry[keyHash] && holder != operator) revert KeyAlreadyRegistered();

        _operatorKeyInfo[setKey][operator] = KeyInfo({isRegistered: true, keyData: pubkey});
        _globalKeyRegistry[keyHash] = true;
        _keyHashToOperator[keyHash] = operator;
        emit KeyRegistered(operatorSet, operator, curveType, pubkey);
    }

    /// @inheritdoc IKeyRegistrar
    function deregisterKey(address operator, OperatorSet memory operatorSet) external {
        if (msg.sender != operator && msg.sender != operatorSet.avs) revert InvalidPermissions();
        bytes32 setKey = operatorSet.key();
        CurveType curveType = _operatorSetCurveTypes[setKey];
        if (curveType == CurveType.NONE) revert OperatorSetNotConfigured();
        if (!_operatorKeyInfo[setKey][operator].isRegistered) revert KeyNotFound(operatorSet, operator);
        // The key stays spent in the global registry so nobody else can take it.
        delete _operatorKeyInfo[setKey][operator];
        emit KeyDeregistered(operatorSet, operator, curveType);
    }

    function _checkECDSAKey(address operator, OperatorSet memory operatorSet, bytes calldata keyData, bytes calldata sig)
        internal
        view
        returns (bytes32)
    {
        if (keyData.length != 20) revert InvalidKeyFormat();
        address keyAddress = address(bytes20(keyData));
        if (keyAddress == address(0)) revert ZeroPubkey();
        bytes32 digest = _ecdsaDigest(operator, operatorSet, keyAddress);
        if (!_isValidSignatureNow(keyAddress, digest, sig)) revert InvalidSignature();
        return keccak256(keyData);
    }

    function _checkBN254Key(address operator, OperatorSet memory operatorSet, bytes calldata keyData, bytes calldata sig)
        internal
        view
        returns (bytes32)
    {
        if (keyData.length != 192) revert InvalidKeyFormat();
        if (sig.length != 64) revert InvalidSignature();
        bytes32 digest = _bn254Digest(operator, operatorSet, keyData);
        (BN254.G1Point memory g1, BN254.G2Point memory g2) = _decodeBN254Key(keyData);
        if (g1.X == 0 && g1.Y == 0) revert ZeroPubkey();
        if (!g1.isOnCurve()) revert InvalidKeyFormat();
        (uint256 sigX, uint256 sigY) = abi.decode(sig, (uint256, uint256));

        // One pairing proves both possession (the signature) and that G1 and G2 share the secret.
        (bool pairingOk, bool valid) = BN254.verifyBLS(digest, BN254.G1Point(sigX, sigY), g1, g2, gasleft());
        if (!pairingOk || !valid) revert InvalidSignature();
        return g1.hashG1Point();
    }

    function _decodeBN254Key(bytes memory keyData)
        internal
        pure
        returns (BN254.G1Point memory g1, BN254.G2Point memory g2)
    {
        (g1.X, g1.Y, g2.X, g2.Y) = abi.decode(keyData, (uint256, uint256, uint256[2], uint256[2]));
    }

    function _isValidSignatureNow(address signer, bytes32 digest, bytes calldata sig) internal view returns (bool) {
        if (signer.code.length == 0) return ECDSARecover.tryRecover(digest, sig) == signer;
        (bool ok, bytes memory ret) = signer.staticcall(abi.encodeWithSelector(ERC1271_MAGIC_VALUE, digest, sig));
        return ok && ret.length >= 32 && bytes4(abi.decode(ret, (bytes32))) == ERC1271_MAGIC_VALUE;
    }

    function _ecdsaDigest(address operator, OperatorSet memory operatorSet, address keyAddress)
        internal
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(
            abi.encode(ECDSA_KEY_REGISTRATION_TYPEHASH, operator, operatorSet.avs, operatorSet.id, keyAddress)
        );
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function _bn254Digest(address operator, OperatorSet memory operatorSet, bytes memory keyData)
        internal
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(
            abi.encode(BN254_KEY_REGISTRATION_TYPEHASH, operator, operatorSet.avs, operatorSet.id, keccak256(keyData))
        );
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function _keyHash(bytes memory keyData, CurveType curveType) internal pure returns (bytes32) {
        if (curveType == CurveType.ECDSA) {
            if (keyData.length != 20) revert InvalidKeyFormat();
            return keccak256(keyData);
        }
        if (curveType == CurveType.BN254) {
            // Either the G1 key alone (64 bytes) or the full G1 ‖ G2 key data (192 bytes).
            if (keyData.length != 64 && keyData.length != 192) revert InvalidKeyFormat();
            uint256 x;
            uint256 y;
            assembly ("memory-safe") {
                x := mload(add(keyData, 0x20))
                y := mload(add(keyData, 0x40))
            }
            return BN254.G1Point(x, y).hashG1Point();
        }
        revert InvalidCurveType();
    }

    /// @notice The EIP-712 domain: name "EigenLayer", the major version, chain id and this address.
    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(
                EIP712_DOMAIN_TYPEHASH,
                keccak256(bytes("EigenLayer")),
                keccak256(bytes(_majorVersion())),
                block.chainid,
                address(this)
            )
        );
    }

    /// @inheritdoc IKeyRegistrar
    function isRegistered(OperatorSet memory operatorSet, address operator) external view returns (bool) {
        return _operatorKeyInfo[operatorSet.key()][operator].isRegistered;
    }

    /// @notice Like isRegistered, but reverts for an operator set that has no curve type.
    function checkKey(OperatorSet memory operatorSet, address operator) external view returns (bool) {
        bytes32 setKey = operatorSet.key();
        if (_operatorSetCurveTypes[setKey] == CurveType.NONE) revert OperatorSetNotConfigured();
        return _operatorKeyInfo[setKey][operator].isRegistered;
    }

    /// @inheritdoc IKeyRegistrar
    function getOperatorSetCurveType(OperatorSet memory operatorSet) external view returns (CurveType) {
        return _operatorSetCurveTypes[operatorSet.key()];
    }

    /// @inheritdoc IKeyRegistrar
    function getBN254Key(OperatorSet memory operatorSet, address operator)
        external
        view
        returns (BN254.G1Point memory g1Point, BN254.G2Point memory g2Point)
    {
        bytes32 setKey = operatorSet.key();
        if (_operatorSetCurveTypes[setKey] != CurveType.BN254) revert InvalidCurveType();
        KeyInfo storage info = _operatorKeyInfo[setKey][operator];
        if (!info.isRegistered) return (g1Point, g2Point);
        return _decodeBN254Key(info.keyData);
    }

    /// @inheritdoc IKeyRegistrar
    function getECDSAKey(OperatorSet memory operatorSet, address operator) public view returns (bytes memory) {
        bytes32 setKey = operatorSet.key();
        if (_operatorSetCurveTypes[setKey] != CurveType.ECDSA) revert InvalidCurveType();
        return _operatorKeyInfo[setKey][operator].keyData;
    }

    /// @inheritdoc IKeyRegistrar
    function getECDSAAddress(OperatorSet memory operatorSet, address operator) external view returns (address) {
        return address(bytes20(getECDSAKey(operatorSet, operator)));
    }

    /// @inheritdoc IKeyRegistrar
    function isKeyGloballyRegistered(bytes32 keyHash) external view returns (bool) {
        return _globalKeyRegistry[keyHash];
    }

    /// @inheritdoc IKeyRegistrar
    function getKeyHash(OperatorSet memory operatorSet, address operator) external view returns (bytes32) {
        bytes32 setKey = operatorSet.key();
        KeyInfo storage info = _operatorKeyInfo[setKey][operator];
        if (!info.isRegistered) return bytes32(0);
        return _keyHash(info.keyData, _operatorSetCurveTypes[setKey]);
    }

    /// @inheritdoc IKeyRegistrar
    function getOperatorFromSigningKey(OperatorSet memory operatorSet, bytes memory keyData)
        external
        view
        returns (address, bool)
    {
        bytes32 setKey = operatorSet.key();
        address operator = _keyHashToOperator[_keyHash(keyData, _operatorSetCurveTypes[setKey])];
        return (operator, operator != address(0) && _operatorKeyInfo[setKey][operator].isRegistered);
    }

    /// @inheritdoc IKeyRegistrar
    function getECDSAKeyRegistrationMessageHash(address operator, OperatorSet memory operatorSet, address keyAddress)
        external
        view
        returns (bytes32)
    {
        return _ecdsaDigest(operator, operatorSet, keyAddress);
    }

    /// @inheritdoc IKeyRegistrar
    function getBN254KeyRegistrationMessageHash(address operator, OperatorSet memory operatorSet, bytes calldata keyData)
        external
        view
        returns (bytes32)
    {
        return _bn254Digest(operator, operatorSet, keyData);
    }

    /// @inheritdoc IKeyRegistrar
    function encodeBN254KeyData(BN254.G1Point memory g1Point, BN254.G2Point memory g2Point)
        external
        pure
        returns (bytes memory)
    {
        return abi.encode(g1Point, g2Point);
    }
}
