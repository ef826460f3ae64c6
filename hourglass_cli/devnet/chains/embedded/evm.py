"""The py-evm chain behind the embedded devnet: Prague rules, chain id 31337, fast BN254 precompiles.

Prague is the newest fork py-evm ships and runs everything solc's `cancun` target emits (PUSH0,
MCOPY, TSTORE/TLOAD); anvil is started with `--hardfork prague` so both backends agree on gas
(EIP-7623 calldata floor included). The chain id is a class attribute of the chain, which py-evm
hands to every VM's execution context, so `eth_chainId` and the CHAINID opcode both see 31337.
"""

from __future__ import annotations

import time
from typing import Any

from eth import constants
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.state import PragueState
from eth_keys import keys

from hourglass_cli.devnet.chains.embedded.precompiles import FAST_PRECOMPILES

CHAIN_ID = 31337
HARDFORK = "prague"
BLOCK_GAS_LIMIT = 30_000_000  # anvil's default
ZERO_HASH = b"\x00" * 32


class FastComputation(PragueComputation):
    """Prague computation whose 0x06/0x07/0x08 precompiles run on our plain-int BN254 code."""

    _precompiles = {**PragueComputation._precompiles, **FAST_PRECOMPILES}


class FastState(PragueState):
    computation_class = FastComputation


class FastPragueVM(PragueVM):
    """PragueVM with the fast BN254 precompiles (same gas, same results)."""

    _state_class = FastState


class _DevChain(MiningChain):
    chain_id = CHAIN_ID

    def create_header_from_parent(self, parent_header: Any, **header_params: Any) -> Any:
        # A constant gas limit (like anvil) and anvil's zero beacon root.
        header_params.setdefault("gas_limit", parent_header.gas_limit)
        header_params.setdefault("parent_beacon_block_root", ZERO_HASH)
        return super().create_header_from_parent(parent_header, **header_params)


class DevChain(_DevChain):
    vm_configuration = ((0, FastPragueVM),)


class PyEccDevChain(_DevChain):
    """The same chain on py-evm's own (py_ecc) precompiles: for tests and benchmarks."""

    vm_configuration = ((0, PragueVM),)


def new_chain(
    private_keys: list[bytes],
    balance: int,
    timestamp: int | None = None,
    fast_precompiles: bool = True,
) -> MiningChain:
    """A fresh in-memory chain whose genesis funds `private_keys`' addresses with `balance` wei."""
    genesis_params = {
        "coinbase": constants.ZERO_ADDRESS,
        "difficulty": 0,
        "gas_limit": BLOCK_GAS_LIMIT,
        "timestamp": int(time.time()) if timestamp is None else timestamp,
        "extra_data": b"",
        "nonce": b"\x00" * 8,
        "mix_hash": ZERO_HASH,
        "parent_beacon_block_root": ZERO_HASH,
    }
    state = {
        keys.PrivateKey(k).public_key.to_canonical_address(): {
            "balance": balance,
            "nonce": 0,
            "code": b"",
            "storage": {},
        }
        for k in private_keys
    }
    chain_class = DevChain if fast_precompiles else PyEccDevChain
    return chain_class.from_genesis(AtomicDB(), genesis_params, state)
