"""Development methods with anvil's names and answers: time, mining, snapshots, account setters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from hourglass_cli.devnet.chains.embedded.params import (
    SERVER_ERROR,
    RpcError,
    address,
    data,
    invalid,
    params_list,
    quantity,
)

if TYPE_CHECKING:
    from hourglass_cli.devnet.chains.embedded.methods import Methods


MAX_BLOCKS_PER_CALL = 100_000  # the lock is held while mining: bound one request's work
_MAX_U64 = 2**64 - 1  # timestamps and offsets are u64 on anvil too


def _int(value: Any, what: str, maximum: int = _MAX_U64) -> int:
    """A number as anvil takes it here: a JSON integer or a hex quantity."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        number = quantity(value, what)
    if not 0 <= number <= maximum:
        raise invalid(f"{what}: must be between 0 and {maximum}")
    return number


def dev_methods(methods: Methods) -> dict[str, Callable[[list[Any]], Any]]:
    node = methods.node

    def evm_snapshot(params: list[Any]) -> str:
        params_list(params, 0, 0)
        return hex(node.snapshot())

    def evm_revert(params: list[Any]) -> bool:
        return node.revert(_int(params_list(params, 1, 1)[0], "snapshot id"))

    def evm_mine(params: list[Any]) -> str:
        (arg,) = params_list(params, 0, 1)
        timestamp, blocks = None, 1
        if isinstance(arg, dict):
            if arg.get("timestamp") is not None:
                timestamp = _int(arg["timestamp"], "timestamp")
            if arg.get("blocks") is not None:
                blocks = _int(arg["blocks"], "blocks", MAX_BLOCKS_PER_CALL)
        elif arg is not None:
            timestamp = _int(arg, "timestamp")
        for i in range(blocks):
            node.mine(timestamp=timestamp if i == 0 else None)
        return "0x0"

    def anvil_mine(params: list[Any]) -> None:
        count_raw, interval_raw = params_list(params, 0, 2)
        count = 1 if count_raw is None else _int(count_raw, "blocks", MAX_BLOCKS_PER_CALL)
        interval = None if interval_raw is None else _int(interval_raw, "interval")
        for _ in range(count):
            node.mine(timestamp=None if interval is None else node.head.header.timestamp + interval)

    def evm_increaseTime(params: list[Any]) -> int:
        return node.increase_time(_int(params_list(params, 1, 1)[0], "seconds"))

    def evm_setNextBlockTimestamp(params: list[Any]) -> None:
        node.set_next_timestamp(_int(params_list(params, 1, 1)[0], "timestamp"))

    def set_interval(params: list[Any]) -> None:
        node.timestamp_interval = _int(params_list(params, 1, 1)[0], "interval")

    def remove_interval(params: list[Any]) -> bool:
        had, node.timestamp_interval = node.timestamp_interval is not None, None
        return had

    def evm_setAutomine(params: list[Any]) -> None:
        if params_list(params, 1, 1)[0] is not True:
            raise RpcError(SERVER_ERROR, "the embedded chain always automines (a block per transaction)")

    def set_balance(params: list[Any]) -> None:
        who, value = params_list(params, 2, 2)
        node.set_balance(address(who), quantity(value, "balance"))

    def set_nonce(params: list[Any]) -> None:
        who, value = params_list(params, 2, 2)
        node.set_nonce(address(who), quantity(value, "nonce"))

    def set_code(params: list[Any]) -> None:
        who, code = params_list(params, 2, 2)
        node.set_code(address(who), data(code, "code"))

    def set_storage(params: list[Any]) -> bool:
        who, slot, value = params_list(params, 3, 3)
        word = data(value, "value", 32)
        node.set_storage(address(who), quantity(slot, "slot"), int.from_bytes(word, "big"))
        return True

    return {
        "evm_snapshot": evm_snapshot,
        "evm_revert": evm_revert,
        "evm_mine": evm_mine,
        "anvil_mine": anvil_mine,
        "hardhat_mine": anvil_mine,
        "evm_increaseTime": evm_increaseTime,
        "evm_setNextBlockTimestamp": evm_setNextBlockTimestamp,
        "evm_setAutomine": evm_setAutomine,
        "anvil_setBlockTimestampInterval": set_interval,
        "anvil_removeBlockTimestampInterval": remove_interval,
        "anvil_setBalance": set_balance,
        "hardhat_setBalance": set_balance,
        "anvil_setNonce": set_nonce,
        "hardhat_setNonce": set_nonce,
        "anvil_setCode": set_code,
        "hardhat_setCode": set_code,
        "anvil_setStorageAt": set_storage,
        "hardhat_setStorageAt": set_storage,
    }
