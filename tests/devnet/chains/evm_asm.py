"""Tiny hand-assembled contracts for chain tests and benchmarks (no compiler needed)."""

from __future__ import annotations

# Opcodes used below.
_PUSH0, _PUSH1, _PUSH32 = 0x5F, 0x60, 0x7F
_CALLDATASIZE, _CALLDATACOPY, _CALLDATALOAD = 0x36, 0x37, 0x35
_GAS, _STATICCALL, _JUMPI, _JUMPDEST = 0x5A, 0xFA, 0x57, 0x5B
_RETURN, _REVERT, _STOP, _LOG2, _CODECOPY, _DUP1 = 0xF3, 0xFD, 0x00, 0xA2, 0x39, 0x80

#: topic0 of every log the emitter writes
EMITTER_TOPIC0 = bytes.fromhex("5d6b7f7cbd2c0aa3ee1e3f9d4dcb5f0a8a6c2c7f1f3b8c6b0b56d1a2f0e4c3b1")


def deploy_code(runtime: bytes) -> bytes:
    """Init code that returns `runtime` as the contract's code."""
    assert len(runtime) < 256
    init = bytes([_PUSH1, len(runtime), _DUP1, _PUSH1, 0, _PUSH0, _CODECOPY, _PUSH0, _RETURN])
    init = init[:4] + bytes([len(init)]) + init[5:]  # the runtime starts right after the init code
    return init + runtime


def emitter_runtime() -> bytes:
    """LOG2(topic0 = EMITTER_TOPIC0, topic1 = calldata[0:32], data = calldata)."""
    return bytes(
        [_CALLDATASIZE, _PUSH0, _PUSH0, _CALLDATACOPY, _PUSH0, _CALLDATALOAD, _PUSH32]
        + list(EMITTER_TOPIC0)
        + [_CALLDATASIZE, _PUSH0, _LOG2, _STOP]
    )


def pairing_runtime() -> bytes:
    """Forward calldata to the ecPairing precompile (0x08); return its word, revert if it fails."""
    head = [_CALLDATASIZE, _PUSH0, _PUSH0, _CALLDATACOPY]
    call = [_PUSH1, 32, _PUSH0, _CALLDATASIZE, _PUSH0, _PUSH1, 8, _GAS, _STATICCALL]
    ok_at = len(head) + len(call) + 2 + 1 + 3
    tail = [_PUSH1, ok_at, _JUMPI, _PUSH0, _PUSH0, _REVERT, _JUMPDEST, _PUSH1, 32, _PUSH0, _RETURN]
    return bytes(head + call + tail)


def gas_floor_runtime(minimum: int) -> bytes:
    """Revert unless GAS (gas left) is at least `minimum`: code whose outcome reads the gas left."""
    assert minimum < 2**24
    return bytes([0x5A, 0x62]) + minimum.to_bytes(3, "big") + bytes([0x11, _PUSH1, 10, _JUMPI, _STOP, _JUMPDEST,
                                                                      _PUSH0, _PUSH0, _REVERT])
