// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;

/// @notice BN254 (alt_bn128) arithmetic over the EVM precompiles 0x05-0x08, with the
///         try-and-increment hash to G1 and the BLS pairing checks EigenLayer's contracts use.
/// @dev G2 coordinates are (imaginary, real): X[0] is the coefficient of i, as EIP-197 encodes them.
library BN254 {
    /// @dev The base field modulus p.
    uint256 internal constant FP_MODULUS =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @dev The group order r.
    uint256 internal constant FR_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @dev (p + 1) / 4: a square root exponent, valid because p = 3 mod 4.
    uint256 internal constant SQRT_EXPONENT = 0xc19139cb84c680a6e14116da060561765e05aa45a1c72a34f082305b61f3f52;

    struct G1Point {
        uint256 X;
        uint256 Y;
    }

    struct G2Point {
        uint256[2] X;
        uint256[2] Y;
    }

    error ECAddFailed();
    error ECMulFailed();
    error ECPairingFailed();
    error ExpModFailed();

    function generatorG1() internal pure returns (G1Point memory) {
        return G1Point(1, 2);
    }

    function generatorG2() internal pure returns (G2Point memory) {
        return G2Point(
            [
                11559732032986387107991004021392285783925812861821192530917403151452391805634,
                10857046999023057135944570762232829481370756359578518086990519993285655852781
            ],
            [
                4082367875863433681332203403145435568316851327593401208105741076214120093531,
                8495653923123431417604973247489272438418190587263600148770280649306958101930
            ]
        );
    }

    /// @notice -G2, the second argument of every "sigma against the generator" pairing.
    function negGeneratorG2() internal pure returns (G2Point memory) {
        return G2Point(
            [
                11559732032986387107991004021392285783925812861821192530917403151452391805634,
                10857046999023057135944570762232829481370756359578518086990519993285655852781
            ],
            [
                17805874995975841540914202342111839520379459829704422454583296818431106115052,
                13392588948715843804641432497768002650278120570034223513918757245338268106653
            ]
        );
    }

    /// @notice -P; the point at infinity (0, 0) is its own negation.
    function negate(G1Point memory p) internal pure returns (G1Point memory) {
        if (p.X == 0 && p.Y == 0) return G1Point(0, 0);
        return G1Point(p.X, FP_MODULUS - (p.Y % FP_MODULUS));
    }

    /// @notice a + b through precompile 0x06.
    function plus(G1Point memory a, G1Point memory b) internal view returns (G1Point memory r) {
        uint256[4] memory input = [a.X, a.Y, b.X, b.Y];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x06, input, 0x80, r, 0x40)
        }
        if (!ok) revert ECAddFailed();
    }

    /// @notice s * p through precompile 0x07.
    function scalar_mul(G1Point memory p, uint256 s) internal view returns (G1Point memory r) {
        uint256[3] memory input = [p.X, p.Y, s];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x07, input, 0x60, r, 0x40)
        }
        if (!ok) revert ECMulFailed();
    }

    /// @notice e(a1, a2) * e(b1, b2) == 1; reverts if the precompile rejects the input.
    function pairing(G1Point memory a1, G2Point memory a2, G1Point memory b1, G2Point memory b2)
        internal
        view
        returns (bool)
    {
        (bool ok, bool valid) = safePairing(a1, a2, b1, b2, gasleft());
        if (!ok) revert ECPairingFailed();
        return valid;
    }

    /// @notice Pairing check with a gas cap; `ok` is false when the precompile failed (bad point, gas).
    function safePairing(
        G1Point memory a1,
        G2Point memory a2,
        G1Point memory b1,
        G2Point memory b2,
        uint256 gasLimit
    ) internal view returns (bool ok, bool valid) {
        uint256[12] memory input = [
            a1.X, a1.Y, a2.X[0], a2.X[1], a2.Y[0], a2.Y[1],
            b1.X, b1.Y, b2.X[0], b2.X[1], b2.Y[0], b2.Y[1]
        ];
        uint256[1] memory out;
        assembly ("memory-safe") {
            ok := staticcall(gasLimit, 0x08, input, 0x180, out, 0x20)
        }
        valid = ok && out[0] == 1;
    }

    /// @notice keccak256(X ‖ Y): how EigenLayer identifies a G1 key.
    function hashG1Point(G1Point memory p) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(p.X, p.Y));
    }

    /// @notice True when p is (0, 0) or satisfies y^2 = x^3 + 3 with coordinates below p.
    function isOnCurve(G1Point memory p) internal pure returns (bool) {
        if (p.X == 0 && p.Y == 0) return true;
        if (p.X >= FP_MODULUS || p.Y >= FP_MODULUS) return false;
        uint256 rhs = addmod(mulmod(mulmod(p.X, p.X, FP_MODULUS), p.X, FP_MODULUS), 3, FP_MODULUS);
        return mulmod(p.Y, p.Y, FP_MODULUS) == rhs;
    }

    /// @notice Try-and-increment: x = h mod p, then x += 1 until x^3 + 3 is a square; y = sqrt.
    function hashToG1(bytes32 h) internal view returns (G1Point memory) {
        uint256 x = uint256(h) % FP_MODULUS;
        while (true) {
            uint256 beta = addmod(mulmod(mulmod(x, x, FP_MODULUS), x, FP_MODULUS), 3, FP_MODULUS);
            uint256 y = expMod(beta, SQRT_EXPONENT, FP_MODULUS);
            if (mulmod(y, y, FP_MODULUS) == beta) return G1Point(x, y);
            x = addmod(x, 1, FP_MODULUS);
        }
        return G1Point(0, 0); // unreachable
    }

    /// @notice base^exponent mod modulus through precompile 0x05.
    function expMod(uint256 base, uint256 exponent, uint256 modulus) internal view returns (uint256 result) {
        uint256[6] memory input = [uint256(32), 32, 32, base, exponent, modulus];
        uint256[1] memory out;
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x05, input, 0xc0, out, 0x20)
        }
        if (!ok) revert ExpModFailed();
        result = out[0];
    }

    /// @notice BLS check used by EigenLayer: with gamma = H(msg, apkG1, apkG2, sigma) mod r,
    ///         e(sigma + gamma*apkG1, -G2) * e(H(msg) + gamma*G1, apkG2) == 1.
    function verifyBLS(
        bytes32 msgHash,
        G1Point memory signature,
        G1Point memory apkG1,
        G2Point memory apkG2,
        uint256 pairingGas
    ) internal view returns (bool pairingOk, bool valid) {
        uint256 gamma = uint256(
            keccak256(
                abi.encodePacked(
                    msgHash,
                    apkG1.X,
                    apkG1.Y,
                    apkG2.X[0],
                    apkG2.X[1],
                    apkG2.Y[0],
                    apkG2.Y[1],
                    signature.X,
                    signature.Y
                )
            )
        ) % FR_MODULUS;
        G1Point memory left = plus(signature, scalar_mul(apkG1, gamma));
        G1Point memory right = plus(hashToG1(msgHash), scalar_mul(generatorG1(), gamma));
        return safePairing(left, negGeneratorG2(), right, apkG2, pairingGas);
    }
}
