"""What a result costs to put on chain, and whether it can fit in a block at all.

`TaskMailbox.submitResult` stores the result (`task.result = result`) and logs it in TaskVerified, so its gas
grows with the result's size: ~20,000 gas for every nonzero 32-byte word stored, 4/16 per zero/nonzero calldata
byte, 8 per logged byte. `result_gas_floor` is a lower bound from those terms alone (no certificate check, no
memory): a result whose floor exceeds the block gas limit can never be submitted, whatever anyone does — the
executor refuses to sign it and the aggregator does not try.
"""

from __future__ import annotations

# what a node says of a transaction (or gas limit) no block can hold: anvil, geth and our embedded chain
TOO_MUCH_GAS_MESSAGES = ("gas required exceeds", "exceeds block gas limit", "intrinsic gas too high",
                         "gas limit reached")
SSTORE_SET = 20_000  # a zero slot made nonzero (EIP-2200), before any access cost
TX_BASE = 21_000


def result_gas_floor(result: bytes) -> int:
    """A lower bound of submitResult's gas for `result` (storage, calldata and log terms only)."""
    data = bytes(result)
    zeros = data.count(0)
    words = [data[i:i + 32] for i in range(0, len(data), 32)]
    stored = sum(1 for w in words if any(w)) + (1 if len(data) >= 32 else 0)  # chunks + the length slot
    return TX_BASE + 4 * zeros + 16 * (len(data) - zeros) + SSTORE_SET * stored + 8 * len(data)


def too_large_for_chain(result: bytes, block_gas_limit: int) -> str | None:
    """Why `result` cannot be submitted on a chain with this block gas limit, or None if it may fit."""
    floor = result_gas_floor(result)
    if floor <= block_gas_limit:
        return None
    return (f"the result ({len(result):,} bytes) is too large to submit on chain: storing it takes at least "
            f"{floor:,} gas and a block of this chain holds {block_gas_limit:,}")
