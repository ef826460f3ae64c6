// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

import {BN254} from "../libraries/BN254.sol";

/// @notice Operator table shapes shared by the table updater and the certificate verifiers.
interface IOperatorTableCalculatorTypes {
    /// @notice One BN254 operator: its G1 key and one weight per stake type.
    struct BN254OperatorInfo {
        BN254.G1Point pubkey;
        uint256[] weights;
    }

    /// @notice A BN254 operator set's table: the Merkle root over operator infos (leaf
    ///         keccak256(0x75 ‖ abi.encode(info)), in operator index order), the operator count,
    ///         the sum of all G1 keys and the sum of all weights per stake type.
    struct BN254OperatorSetInfo {
        bytes32 operatorInfoTreeRoot;
        uint256 numOperators;
        BN254.G1Point aggregatePubkey;
        uint256[] totalWeights;
    }

    /// @notice One ECDSA operator: its signing-key address and weights.
    struct ECDSAOperatorInfo {
        address pubkey;
        uint256[] weights;
    }
}
