"""The py-evm chain behind the embedded devnet: Prague rules, a chain id of its own, fast BN254 precompiles.

Prague is the newest fork py-evm ships and runs everything solc's `cancun` target emits (PUSH0,
MCOPY, TSTORE/TLOAD); anvil is started with `--hardfork prague` so both backends agree on gas
(EIP-7623 calldata floor included). py-evm reads the chain id from a class attribute of the chain and hands it to
every VM's execution context; `new_chain` makes a subclass per id (never a module global), so `eth_chainId` and the
CHAINID opcode see the same id, and chains with different ids live side by side in one process.
"""

from __future__ import annotations

import time
from typing import Any

from eth import constants
from eth.constants import GAS_CALLSTIPEND
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.state import PragueState
from eth_keys import keys

from hourglass_cli.devnet.chains.chain_id import DEFAULT_CHAIN_ID
from hourglass_cli.devnet.chains.embedded.precompiles import FAST_PRECOMPILES

HARDFORK = "prague"
BLOCK_GAS_LIMIT = 30_000_000  # anvil's default
ZERO_HASH = b"\x00" * 32


class _SstoreProbe:
    """SSTORE that first notes the least gas its frame had left at one (EIP-2200's 2300 sentry)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.mnemonic = inner.mnemonic
        self.gas_cost = inner.gas_cost

    def __call__(self, computation: Any) -> Any:
        left = computation.get_gas_remaining()
        if computation.least_gas_at_sstore is None or left < computation.least_gas_at_sstore:
            computation.least_gas_at_sstore = left
        return self.inner(computation)


_SSTORE = 0x55


class DevComputation(PragueComputation):
    """Prague computation that records what bounds the least workable gas limit.

    For each sub-call, the gas its caller had at the CALL (what the 63/64 rule of EIP-150 applies
    to), and per frame the least gas left at an SSTORE (which fails at 2300 or less):
    eth_estimateGas reads both from one run to compute the least limit (execution.required_gas).
    """

    opcodes = {**PragueComputation.opcodes, _SSTORE: _SstoreProbe(PragueComputation.opcodes[_SSTORE])}
    available_at_call: int | None = None
    least_gas_at_sstore: int | None = None

    def apply_child_computation(self, child_msg: Any) -> Any:
        stipend = GAS_CALLSTIPEND if child_msg.value and child_msg.should_transfer_value else 0
        # the caller already paid the call's costs and the forwarded gas
        available = self.get_gas_remaining() + child_msg.gas - stipend
        child = super().apply_child_computation(child_msg)
        child.available_at_call = available
        return child


class FastComputation(DevComputation):
    """DevComputation whose 0x06/0x07/0x08 precompiles run on our plain-int BN254 code."""

    _precompiles = {**PragueComputation._precompiles, **FAST_PRECOMPILES}


class DevState(PragueState):
    computation_class = DevComputation


class FastState(PragueState):
    computation_class = FastComputation


class DevPragueVM(PragueVM):
    """PragueVM that, like anvil, accepts a block in the same second as its parent."""

    _state_class = DevState

    @classmethod
    def validate_header(cls, header: Any, parent_header: Any) -> None:
        # py-evm insists on strictly later timestamps; anvil automines several blocks per second
        # at the wall-clock time, and clients (and our parity tests) expect exactly that.
        if parent_header is not None and header.timestamp == parent_header.timestamp:
            parent_header = parent_header.copy(timestamp=parent_header.timestamp - 1)
        super().validate_header(header, parent_header)

    @classmethod
    def validate_gas(cls, header: Any, parent_header: Any) -> None:
        super().validate_gas(header, _as_base_fee_parent(parent_header))


def _as_base_fee_parent(parent: Any) -> Any:
    """Anvil's block 1 keeps the genesis base fee: treat genesis as exactly at the gas target."""
    if parent.block_number == 0:
        return parent.copy(gas_used=parent.gas_limit // 2)
    return parent


def expected_base_fee(parent: Any) -> int:
    """The base fee of the block after `parent` (EIP-1559, with anvil's genesis rule)."""
    return calculate_expected_base_fee_per_gas(_as_base_fee_parent(parent))


class FastPragueVM(DevPragueVM):
    """DevPragueVM with the fast BN254 precompiles (same gas, same results)."""

    _state_class = FastState


class _DevChain(MiningChain):
    chain_id = DEFAULT_CHAIN_ID  # new_chain configures a subclass with the chain's own

    def create_header_from_parent(self, parent_header: Any, **header_params: Any) -> Any:
        # A constant gas limit (like anvil) and anvil's zero beacon root.
        header_params.setdefault("gas_limit", parent_header.gas_limit)
        header_params.setdefault("parent_beacon_block_root", ZERO_HASH)
        header = super().create_header_from_parent(parent_header, **header_params)
        return header.copy(base_fee_per_gas=expected_base_fee(parent_header))


class DevChain(_DevChain):
    vm_configuration = ((0, FastPragueVM),)


class PyEccDevChain(_DevChain):
    """The same chain on py-evm's own (py_ecc) BN254 precompiles: for tests and benchmarks."""

    vm_configuration = ((0, DevPragueVM),)


def new_chain(
    private_keys: list[bytes],
    balance: int,
    timestamp: int | None = None,
    fast_precompiles: bool = True,
    gas_limit: int = BLOCK_GAS_LIMIT,
    chain_id: int = DEFAULT_CHAIN_ID,
) -> MiningChain:
    """A fresh in-memory chain with id `chain_id` whose genesis funds `private_keys`' addresses with `balance` wei."""
    genesis_params = {
        "coinbase": constants.ZERO_ADDRESS,
        "difficulty": 0,
        "gas_limit": gas_limit,
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
    base = DevChain if fast_precompiles else PyEccDevChain
    chain_class = base if chain_id == base.chain_id else base.configure(f"{base.__name__}{chain_id}", chain_id=chain_id)
    return chain_class.from_genesis(AtomicDB(), genesis_params, state)
