// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

// Test-only: compiled at test time by tests/contracts/sol/__init__.py.

import {BN254} from "../../../contracts/src/libraries/BN254.sol";

/// @notice Exposes the internal functions of contracts/src/libraries/BN254.sol for cross-checks.
contract BN254Harness {
    uint256 internal constant PAIRING_GAS = 400_000;

    function hashToG1(bytes32 h) external view returns (BN254.G1Point memory) {
        return BN254.hashToG1(h);
    }

    function hashToG1Many(bytes32[] calldata hs) external view returns (BN254.G1Point[] memory points) {
        points = new BN254.G1Point[](hs.length);
        for (uint256 i = 0; i < hs.length; ++i) {
            points[i] = BN254.hashToG1(hs[i]);
        }
    }

    function isOnCurve(BN254.G1Point memory p) external pure returns (bool) {
        return BN254.isOnCurve(p);
    }

    function verifyBLS(
        bytes32 msgHash,
        BN254.G1Point memory signature,
        BN254.G1Point memory apkG1,
        BN254.G2Point memory apkG2
    ) external view returns (bool pairingOk, bool valid) {
        return BN254.verifyBLS(msgHash, signature, apkG1, apkG2, PAIRING_GAS);
    }
}
