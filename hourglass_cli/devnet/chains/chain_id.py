"""The devnet's chain id: its default, what is allowed, and the L2 chain's id next to it.

Every chain a devnet starts gets its id from here (anvil's `--chain-id`, the embedded chain's `--chain-id`),
so nothing downstream assumes one: clients read `eth_chainId`, the devnet records what its chains answer.
"""

from __future__ import annotations

from typing import Any

from hourglass_cli.errors import UsageError

DEFAULT_CHAIN_ID = 31337  # anvil's and hardhat's
#: exclusive: ids from here on lose precision as JavaScript numbers (wallets and SDKs read them so)
CHAIN_ID_LIMIT = 2**53
CHAIN_ID_RULE = f"a whole number from 1 to {CHAIN_ID_LIMIT - 1} (2^53 - 1)"
CHAIN_ID_HINT = (f"e.g. --chain-id 11155111 (Sepolia's, which the AvaProtocol SDK assumes); the default is "
                 f"{DEFAULT_CHAIN_ID}")


def check_chain_id(value: Any, option: str = "--chain-id") -> int:
    """`value` (an int, or a decimal or 0x-hex string) as a chain id; UsageError naming `option` otherwise."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            number = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
        except ValueError:
            number = None
    if number is None or not 1 <= number < CHAIN_ID_LIMIT:
        raise UsageError(f"{option} must be {CHAIN_ID_RULE}, got {value!r}", hint=CHAIN_ID_HINT)
    return number


def l2_chain_id(chain_id: int) -> int:
    """The `--l2` chain's id: one more than the L1's (one less at the top of the range), so the two never share
    one: a transaction signed for one chain cannot be replayed on the other, and wallets tell them apart."""
    return chain_id + 1 if chain_id + 1 < CHAIN_ID_LIMIT else chain_id - 1
