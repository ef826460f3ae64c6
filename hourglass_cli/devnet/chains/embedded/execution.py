"""eth_call and eth_estimateGas: one message execution on a throw-away state, no validation.

A call runs like geth's: in the context of the named block (its number, timestamp, base fee), on
the state after it, with gas price 0, so the sender needs no balance for gas. The estimate runs
once at the cap and reads from that run's call tree the least limit that works (the 63/64 rule at
every sub-call, EIP-2200's SSTORE sentry), then verifies it: two executions where py-evm's own
estimator binary-searches from 21000 to the block gas limit (a dozen or more executions, each
paying every BN254 pairing in the call again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from eth.constants import GAS_CALLSTIPEND
from eth.exceptions import OutOfGas, Revert
from eth.vm.forks.prague.state import PragueTransactionExecutor
from eth.vm.spoof import SpoofTransaction

from hourglass_cli.devnet.chains.embedded.params import (
    EXECUTION_REVERTED,
    INTERNAL_ERROR,
    SERVER_ERROR,
    RpcError,
    TxParams,
)

ZERO_ADDRESS = b"\x00" * 20
_ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
_PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
_PANICS = {
    0x01: "assertion failed",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "enum conversion out of range",
    0x22: "invalid storage byte array",
    0x31: "pop on empty array",
    0x32: "array out-of-bounds access",
    0x41: "out of memory",
    0x51: "call to a zero-initialised function pointer",
}
#: The estimate stops searching once the passing and failing limits are this close (parts per 1000).
ESTIMATE_TOLERANCE_PERMILLE = 1


@dataclass
class ExecResult:
    """What one execution did: success, output, the error and the gas it used before refunds."""

    success: bool
    output: bytes
    error: Exception | None
    gas_used: int
    floor: int  # EIP-7623 calldata floor: the gas limit must cover it too
    margin: int = 0  # extra gas the 63/64 rule needs on top of gas_used (see required_gas)
    margin_known: bool = False


def execute(vm: Any, params: TxParams, gas: int) -> ExecResult:
    """Run `params` as a message with `gas` on `vm`'s state, then undo every change."""
    state = vm.state
    sender = params.sender or ZERO_ADDRESS
    snapshot = state.snapshot()
    try:
        unsigned = vm.get_transaction_builder().new_unsigned_dynamic_fee_transaction(
            chain_id=vm.chain_context.chain_id,  # the chain's own (never checked for a call)
            nonce=state.get_nonce(sender),
            max_priority_fee_per_gas=0,
            max_fee_per_gas=0,
            gas=gas,
            to=params.to or b"",
            value=params.value,
            data=params.data,
            access_list=params.access_list,
        )
        tx = SpoofTransaction(unsigned, from_=sender)
        intrinsic = unsigned.intrinsic_gas
        floor = PragueTransactionExecutor.calc_data_floor_gas(unsigned, 0, 0)
        if gas < intrinsic:
            return ExecResult(False, b"", OutOfGas("intrinsic gas too low"), gas, floor)
        executor = state.get_transaction_executor()
        message = executor.build_evm_message(tx)
        computation = executor.build_computation(message, tx)
        used = intrinsic + computation.get_gas_used()
        if computation.is_error:
            return ExecResult(False, bytes(computation.output), computation.error, used, floor)
        exact = required_gas(computation)
        margin = intrinsic + exact - used if exact else 0
        return ExecResult(True, bytes(computation.output), None, used, floor, margin, exact > 0)
    finally:
        state.revert(snapshot)


def call(vm: Any, params: TxParams, gas: int) -> bytes:
    """eth_call: the output, or the RpcError anvil/geth would answer."""
    result = execute(vm, params, gas)
    if not result.success:
        raise execution_error(result)
    return result.output


def required_gas(computation: Any) -> int:
    """The least gas this (successful) frame needs to be given to run exactly as it did.

    Given d less, the frame has d less at every point. It needs what it used; more than 2300 left
    at each SSTORE (EIP-2200); and at each sub-call enough left that the 63/64 rule (EIP-150)
    still hands the callee what the callee needs: with A at the CALL it forwards at most
    (A - d) - (A - d) // 64. Callees are solved first. Needs DevComputation's records; without
    them returns 0 (unknown). Code that reads GAS itself can still differ: the caller verifies.
    """
    need = computation.get_gas_used()
    given = computation.msg.gas
    sstore_left = getattr(computation, "least_gas_at_sstore", None)
    if sstore_left is not None:  # EIP-2200: an SSTORE needs more than 2300 gas left
        need = max(need, given - sstore_left + GAS_CALLSTIPEND + 1)
    for child in computation.children:
        available = getattr(child, "available_at_call", None)
        if available is None:
            return 0
        if child.is_error:
            continue  # a failing callee (try/catch) fails the same way with less gas
        stipend = GAS_CALLSTIPEND if child.msg.value and child.msg.should_transfer_value else 0
        child_need = min(required_gas(child) or child.get_gas_used(), child.msg.gas) - stipend
        least = _least_available(child_need)
        need = max(need, given - (available - least))
    return need


def _least_available(forward: int) -> int:
    """The least A with A - A // 64 >= forward."""
    a = forward + forward // 63
    while a - a // 64 < forward:
        a += 1
    while a > 0 and (a - 1) - (a - 1) // 64 >= forward:
        a -= 1
    return a


def estimate_gas(run: Callable[[int], ExecResult], cap: int) -> tuple[int, int]:
    """(estimate, executions): a gas limit verified to succeed.

    Two executions as a rule: one at the cap, then the least limit its call tree allows
    (required_gas), verified — the exact least limit, as anvil finds by searching. Where that
    misjudges (code that branches on the gas left), a binary search between the failing and a
    passing limit ends within 0.1% above the least.
    """
    first = run(cap)
    runs = 1
    if not first.success:
        if isinstance(first.error, Revert):
            raise execution_error(first)
        if isinstance(first.error, OutOfGas):
            raise RpcError(SERVER_ERROR, f"gas required exceeds allowance ({cap})")
        raise execution_error(first)
    need = max(first.gas_used, first.floor)
    if need >= cap:
        return cap, runs
    lo, hi = need - 1, cap  # less than it used fails; the cap passed
    least = need + first.margin if first.margin_known else need
    for candidate in (least, (need + 2300) * 64 // 63 + 1):  # then a one-level 63/64 margin
        if lo < candidate < hi:
            runs += 1
            if run(candidate).success:
                if candidate == least:
                    return candidate, runs
                hi = candidate
                break
            lo = candidate
    while hi - lo > max(1, hi * ESTIMATE_TOLERANCE_PERMILLE // 1000):
        mid = (lo + hi) // 2
        runs += 1
        if run(mid).success:
            hi = mid
        else:
            lo = mid
    return hi, runs


def execution_error(result: ExecResult) -> RpcError:
    """The JSON-RPC error for a failed execution: code 3 with the revert bytes for a revert."""
    if isinstance(result.error, Revert):
        return revert_error(result.output)
    if isinstance(result.error, OutOfGas):
        return RpcError(INTERNAL_ERROR, "EVM error OutOfGas")
    name = type(result.error).__name__ if result.error is not None else "Unknown"
    return RpcError(INTERNAL_ERROR, f"EVM error {name}")


def revert_error(output: bytes) -> RpcError:
    """Code 3, `data` = the revert bytes (what web3.py decodes), and a readable reason."""
    return RpcError(EXECUTION_REVERTED, "execution reverted" + _reason(output), "0x" + output.hex())


def _reason(output: bytes) -> str:
    if len(output) < 4:
        return ""
    selector, body = output[:4], output[4:]
    if selector == _ERROR_SELECTOR:
        text = _abi_string(body)
        return f": {text}" if text is not None else ""
    if selector == _PANIC_SELECTOR and len(body) >= 32:
        code = int.from_bytes(body[:32], "big")
        return f": panic: {_PANICS.get(code, 'unknown panic')} (0x{code:02x})"
    return f": custom error 0x{selector.hex()}: {body.hex()}"


def _abi_string(body: bytes) -> str | None:
    try:
        offset = int.from_bytes(body[:32], "big")
        length = int.from_bytes(body[offset : offset + 32], "big")
        raw = body[offset + 32 : offset + 32 + length]
        if len(raw) != length:
            return None
        return raw.decode("utf-8", errors="replace")
    except (ValueError, OverflowError):
        return None
