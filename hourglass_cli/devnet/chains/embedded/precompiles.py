"""BN254 precompiles (0x06 ecAdd, 0x07 ecMul, 0x08 ecPairing) on our plain-int curve code.

py-evm's are py_ecc's: ~0.2 s per pairing and ~12 ms per ecMul, which makes one certificate
verification cost seconds and every eth_estimateGas many times that. These keep the exact
EIP-196/197 semantics and EIP-1108 gas: gas is charged first, and malformed input raises VMError,
which py-evm turns into a failed call that consumes all the gas it was given.
"""

from __future__ import annotations

from typing import Callable

from eth.abc import ComputationAPI
from eth.exceptions import VMError
from eth.vm.forks.istanbul.constants import (
    GAS_ECADD,
    GAS_ECMUL,
    GAS_ECPAIRING_BASE,
    GAS_ECPAIRING_PER_POINT,
)

from hourglass_cli.crypto import bn254
from hourglass_cli.crypto.pairing import ecpairing_precompile
from hourglass_cli.errors import CryptoError

__all__ = ["ecadd_output", "ecmul_output", "ecpairing_output", "ecadd", "ecmul", "ecpairing", "FAST_PRECOMPILES"]


def _words(data: bytes, count: int) -> list[int]:
    """The first `count` 32-byte words of data, zero-padded on the right as EIP-196 says."""
    size = 32 * count
    padded = bytes(data[:size]).ljust(size, b"\x00")
    return [int.from_bytes(padded[i : i + 32], "big") for i in range(0, size, 32)]


def _point_bytes(pt: tuple[int, int]) -> bytes:
    return pt[0].to_bytes(32, "big") + pt[1].to_bytes(32, "big")


def ecadd_output(data: bytes) -> bytes | None:
    """EIP-196 ecAdd: 64 bytes, or None where the precompile fails (bad or off-curve point)."""
    x1, y1, x2, y2 = _words(data, 4)
    try:
        return _point_bytes(bn254.g1_add((x1, y1), (x2, y2)))
    except CryptoError:
        return None


def ecmul_output(data: bytes) -> bytes | None:
    """EIP-196 ecMul: 64 bytes, or None where the precompile fails (bad or off-curve point)."""
    x, y, k = _words(data, 3)
    try:
        # E(Fp) has prime order r, so reducing the scalar mod r (as g1_mul does) is exact
        return _point_bytes(bn254.g1_mul((x, y), k))
    except CryptoError:
        return None


def ecpairing_output(data: bytes) -> bytes | None:
    """EIP-197 ecPairing: 32-byte 0/1, or None where the precompile fails."""
    return ecpairing_precompile(bytes(data))


def ecadd(computation: ComputationAPI) -> ComputationAPI:
    computation.consume_gas(GAS_ECADD, reason="ECADD Precompile")
    out = ecadd_output(computation.msg.data_as_bytes)
    if out is None:
        raise VMError("Invalid ECADD parameters")
    computation.output = out
    return computation


def ecmul(computation: ComputationAPI) -> ComputationAPI:
    computation.consume_gas(GAS_ECMUL, reason="ECMUL Precompile")
    out = ecmul_output(computation.msg.data_as_bytes)
    if out is None:
        raise VMError("Invalid ECMUL parameters")
    computation.output = out
    return computation


def ecpairing(computation: ComputationAPI) -> ComputationAPI:
    data = computation.msg.data_as_bytes
    if len(data) % 192:
        raise VMError("Invalid ECPAIRING parameters")
    computation.consume_gas(
        GAS_ECPAIRING_BASE + (len(data) // 192) * GAS_ECPAIRING_PER_POINT, reason="ECPAIRING Precompile"
    )
    out = ecpairing_output(data)
    if out is None:
        raise VMError("Invalid ECPAIRING parameters")
    computation.output = out
    return computation


def _address(n: int) -> bytes:
    return n.to_bytes(20, "big")


#: Address -> implementation, merged over the fork's own precompiles by evm.py.
FAST_PRECOMPILES: dict[bytes, Callable[[ComputationAPI], ComputationAPI]] = {
    _address(6): ecadd,
    _address(7): ecmul,
    _address(8): ecpairing,
}
