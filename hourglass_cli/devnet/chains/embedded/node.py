"""The embedded chain's state: canonical blocks, automining, time, snapshots, account setters.

py-evm executes and stores state (tries keyed by state root); this class keeps the canonical
chain as a list of BlockRecords (a block per transaction, like anvil's automine), the tx-hash
index and the log index, so every read is a dict or list lookup. Callers hold `lock`: the
JSON-RPC server takes it around each request.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from eth.constants import GENESIS_PARENT_HASH
from eth_keys import keys
from eth_utils import ValidationError

from hourglass_cli.devnet.chains.embedded import execution
from hourglass_cli.devnet.chains.embedded.accounts import (
    DEFAULT_ACCOUNTS,
    DEFAULT_BALANCE_WEI,
    DEFAULT_MNEMONIC,
    dev_keys,
)
from hourglass_cli.devnet.chains.chain_id import DEFAULT_CHAIN_ID, check_chain_id
from hourglass_cli.devnet.chains.embedded.evm import BLOCK_GAS_LIMIT, expected_base_fee, new_chain
from hourglass_cli.devnet.chains.embedded.logindex import LogIndex
from hourglass_cli.devnet.chains.embedded.params import SERVER_ERROR, BlockRef, RpcError, TxParams
from hourglass_cli.devnet.chains.embedded.wire import BlockRecord, hx

DEFAULT_PRIORITY_FEE = 10**9  # 1 gwei, anvil's eth_maxPriorityFeePerGas


@dataclass(frozen=True)
class _Snapshot:
    head: int
    state_root: bytes
    time_offset: int
    next_timestamp: int | None


class Node:
    """One chain; not thread-safe by itself: hold `lock` around every use."""

    def __init__(
        self,
        mnemonic: str = DEFAULT_MNEMONIC,
        accounts: int = DEFAULT_ACCOUNTS,
        balance: int = DEFAULT_BALANCE_WEI,
        fast_precompiles: bool = True,
        clock: Callable[[], float] = time.time,
        gas_limit: int = BLOCK_GAS_LIMIT,
        chain_id: int = DEFAULT_CHAIN_ID,
    ) -> None:
        self.lock = threading.RLock()
        #: eth_chainId, net_version, the CHAINID opcode and the id a signed transaction must name
        self.chain_id = check_chain_id(chain_id, "chain_id")
        self._clock = clock
        private_keys = dev_keys(mnemonic, accounts)
        self._keys: dict[bytes, keys.PrivateKey] = {}
        for raw in private_keys:
            key = keys.PrivateKey(raw)
            self._keys[key.public_key.to_canonical_address()] = key
        self.accounts = list(self._keys)
        self.chain = new_chain(private_keys, balance, int(clock()), fast_precompiles, gas_limit, self.chain_id)
        genesis = self.chain.get_canonical_block_by_number(0)
        self.blocks: list[BlockRecord] = []
        self._by_hash: dict[bytes, int] = {}
        self._tx_index: dict[bytes, tuple[int, int]] = {}
        self.logs = LogIndex()
        self._append(BlockRecord(genesis, (), []))
        self._head_state_root = genesis.header.state_root
        self._time_offset = 0
        self._next_timestamp: int | None = None
        #: anvil_setBlockTimestampInterval: each block this many seconds after its parent
        self.timestamp_interval: int | None = None
        self._snapshots: dict[int, _Snapshot] = {}
        self._snapshot_counter = 0
        self.on_revert: list[Callable[[int], None]] = []

    # --- blocks -----------------------------------------------------------------------------

    @property
    def head(self) -> BlockRecord:
        return self.blocks[-1]

    def block(self, ref: BlockRef) -> BlockRecord | None:
        """The mined block `ref` names; None if there is none (pending is not mined)."""
        if ref.hash is not None:
            number = self._by_hash.get(ref.hash)
            return None if number is None else self.blocks[number]
        if ref.tag == "earliest":
            return self.blocks[0]
        if ref.tag is not None:
            return self.head
        return self.blocks[ref.number] if ref.number < len(self.blocks) else None

    def block_number(self, ref: BlockRef) -> int:
        """The number `ref` names for ranges (pending = head, as eth_getLogs treats it)."""
        if ref.tag is not None or ref.hash is not None:
            record = self.block(ref)
            if record is None:
                raise RpcError(SERVER_ERROR, "block not found")
            return record.number
        return ref.number

    def transaction(self, tx_hash: bytes) -> tuple[BlockRecord, int] | None:
        where = self._tx_index.get(tx_hash)
        return None if where is None else (self.blocks[where[0]], where[1])

    def pending_header(self) -> Any:
        """The header the next block would get now (not consuming evm_setNextBlockTimestamp)."""
        parent = self.head.header
        header = self.chain.create_header_from_parent(parent, timestamp=self._timestamp_after(parent))
        return header.copy(state_root=self._head_state_root)

    def next_base_fee(self) -> int:
        return expected_base_fee(self.head.header)

    def base_fee_after(self, record: BlockRecord) -> int:
        return expected_base_fee(record.header)

    # --- state ------------------------------------------------------------------------------

    def vm_at(self, ref: BlockRef) -> Any:
        """A VM on the state after block `ref`, in that block's context (pending: the next one)."""
        if ref.tag == "pending":
            return self.chain.get_vm(self.pending_header())
        record = self.block(ref)
        if record is None:
            raise RpcError(SERVER_ERROR, "header not found")
        header = record.header
        if record is self.head and header.state_root != self._head_state_root:
            header = header.copy(state_root=self._head_state_root)
        return self.chain.get_vm(header)

    def state_at(self, ref: BlockRef) -> Any:
        return self.vm_at(ref).state

    def _edit_head_state(self, edit: Callable[[Any], None]) -> None:
        """Change the latest state in place (anvil_set*): later blocks build on it."""
        state = self.vm_at(BlockRef(tag="latest")).state
        edit(state)
        state.persist()
        self._head_state_root = state.state_root

    def set_balance(self, address: bytes, value: int) -> None:
        self._edit_head_state(lambda s: s.set_balance(address, value))

    def set_nonce(self, address: bytes, value: int) -> None:
        self._edit_head_state(lambda s: s.set_nonce(address, value))

    def set_code(self, address: bytes, code: bytes) -> None:
        self._edit_head_state(lambda s: s.set_code(address, code))

    def set_storage(self, address: bytes, slot: int, value: int) -> None:
        self._edit_head_state(lambda s: s.set_storage(address, slot, value))

    # --- time -------------------------------------------------------------------------------

    def _timestamp_after(self, parent: Any) -> int:
        if self._next_timestamp is not None:
            return self._next_timestamp
        if self.timestamp_interval is not None:
            return parent.timestamp + self.timestamp_interval
        # like anvil: the wall clock plus evm_increaseTime's offset, never before the parent
        # (blocks mined within one second share its timestamp)
        return max(parent.timestamp, int(self._clock()) + self._time_offset)

    def increase_time(self, seconds: int) -> int:
        self._time_offset += seconds
        return self._time_offset

    def set_next_timestamp(self, timestamp: int) -> None:
        if timestamp < self.head.header.timestamp:
            raise RpcError(
                SERVER_ERROR,
                f"timestamp {timestamp} is before the latest block's ({self.head.header.timestamp})",
            )
        self._next_timestamp = timestamp

    # --- mining -----------------------------------------------------------------------------

    def mine(self, transactions: tuple[Any, ...] = (), timestamp: int | None = None) -> BlockRecord:
        """Mine one block with `transactions` on the head; RpcError if one is invalid."""
        parent = self.head.header
        if timestamp is not None:
            self.set_next_timestamp(timestamp)
        ts = self._timestamp_after(parent)
        header = self.chain.create_header_from_parent(parent, timestamp=ts)
        self.chain.header = header.copy(state_root=self._head_state_root)
        try:
            result, receipts, _ = self.chain.mine_all(list(transactions), mix_hash=os.urandom(32))
        except ValidationError as exc:
            what = "transaction" if transactions else "block"
            raise RpcError(SERVER_ERROR, f"{what} rejected: {exc}") from None
        if self._next_timestamp is not None:
            # time continues from the forced timestamp, as on anvil
            self._time_offset = self._next_timestamp - int(self._clock())
            self._next_timestamp = None
        block = result.imported_block
        record = BlockRecord(block, tuple(receipts), [bytes(tx.sender) for tx in block.transactions])
        self._append(record)
        self._head_state_root = block.header.state_root
        return record

    def _append(self, record: BlockRecord) -> None:
        self.blocks.append(record)
        self._by_hash[record.hash] = record.number
        for i, tx in enumerate(record.transactions):
            self._tx_index[tx.hash] = (record.number, i)
        self.logs.append_block(record.logs)

    def send(self, tx: Any) -> bytes:
        """Validate and mine a signed transaction in its own block; its hash."""
        tx_chain_id = getattr(tx, "chain_id", None)  # None: a legacy transaction without EIP-155 (any chain)
        if tx_chain_id is not None and tx_chain_id != self.chain_id:
            raise RpcError(SERVER_ERROR, f"invalid chain id {tx_chain_id}: the transaction is signed for chain "
                                         f"{tx_chain_id}, this chain's id is {self.chain_id} (eth_chainId)")
        self.mine((tx,))
        return bytes(tx.hash)

    def sign(self, p: TxParams) -> Any:
        """eth_sendTransaction's server-side signing for an unlocked dev account."""
        if p.sender is None:
            raise RpcError(SERVER_ERROR, "from is required")
        key = self._keys.get(p.sender)
        if key is None:
            raise RpcError(SERVER_ERROR, f"no signer for account {hx(p.sender)}")
        # automine: the pending state is the latest one (no VM for the pending block needed)
        nonce = p.nonce if p.nonce is not None else self.state_at(BlockRef(tag="latest")).get_nonce(p.sender)
        gas = p.gas
        if gas is None:
            gas = self.estimate(p, BlockRef(tag="pending"))[0]
        to = p.to or b""
        builder = self.chain.get_vm_class_for_block_number(self.head.number + 1).get_transaction_builder()
        tx_type = p.type
        if tx_type is None:
            tx_type = 2 if p.gas_price is None else (1 if p.access_list else 0)
        if tx_type == 0:
            price = p.gas_price if p.gas_price is not None else self.next_base_fee() + DEFAULT_PRIORITY_FEE
            unsigned = builder.create_unsigned_transaction(
                nonce=nonce, gas_price=price, gas=gas, to=to, value=p.value, data=p.data
            )
            return unsigned.as_signed_transaction(key, chain_id=self.chain_id)
        if tx_type == 1:
            price = p.gas_price if p.gas_price is not None else self.next_base_fee() + DEFAULT_PRIORITY_FEE
            unsigned = builder.new_unsigned_access_list_transaction(
                chain_id=self.chain_id, nonce=nonce, gas_price=price, gas=gas, to=to, value=p.value,
                data=p.data, access_list=p.access_list,
            )  # fmt: skip
            return unsigned.as_signed_transaction(key)
        if tx_type != 2:
            raise RpcError(SERVER_ERROR, f"transaction type {tx_type} is not supported by eth_sendTransaction")
        priority = p.max_priority_fee_per_gas
        if priority is None:
            priority = DEFAULT_PRIORITY_FEE if p.max_fee_per_gas is None else min(DEFAULT_PRIORITY_FEE, p.max_fee_per_gas)
        max_fee = p.max_fee_per_gas if p.max_fee_per_gas is not None else 2 * self.next_base_fee() + priority
        unsigned = builder.new_unsigned_dynamic_fee_transaction(
            chain_id=self.chain_id, nonce=nonce, max_priority_fee_per_gas=priority, max_fee_per_gas=max_fee,
            gas=gas, to=to, value=p.value, data=p.data, access_list=p.access_list,
        )  # fmt: skip
        return unsigned.as_signed_transaction(key)

    # --- execution --------------------------------------------------------------------------

    def call(self, p: TxParams, ref: BlockRef) -> bytes:
        vm = self.vm_at(ref)
        return execution.call(vm, p, p.gas if p.gas is not None else vm.get_header().gas_limit)

    def estimate(self, p: TxParams, ref: BlockRef) -> tuple[int, int]:
        """(gas estimate, executions it took)."""
        vm = self.vm_at(ref)
        cap = p.gas if p.gas is not None else vm.get_header().gas_limit
        return execution.estimate_gas(lambda gas: execution.execute(vm, p, gas), cap)

    # --- snapshots --------------------------------------------------------------------------

    def snapshot(self) -> int:
        snap_id = self._snapshot_counter
        self._snapshot_counter += 1
        self._snapshots[snap_id] = _Snapshot(
            self.head.number, self._head_state_root, self._time_offset, self._next_timestamp
        )
        return snap_id

    def revert(self, snap_id: int) -> bool:
        """Back to snapshot `snap_id`; it and every later snapshot are used up (as on anvil)."""
        snap = self._snapshots.get(snap_id)
        if snap is None:
            return False
        for later in [i for i in self._snapshots if i >= snap_id]:
            del self._snapshots[later]
        for record in self.blocks[snap.head + 1 :]:
            del self._by_hash[record.hash]
            for tx in record.transactions:
                self._tx_index.pop(tx.hash, None)
        del self.blocks[snap.head + 1 :]
        self.logs.truncate(snap.head + 1)
        chaindb = self.chain.chaindb
        # py-evm's own canonical head too, so its block-number lookups agree with ours
        chaindb._set_as_canonical_chain_head(chaindb.db, self.head.header, GENESIS_PARENT_HASH)
        self._head_state_root = snap.state_root
        self._time_offset = snap.time_offset
        self._next_timestamp = snap.next_timestamp
        for hook in self.on_revert:
            hook(self.head.number)
        return True
