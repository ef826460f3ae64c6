"""Mined blocks as the node keeps them, and their JSON-RPC wire form (hex quantities, camelCase).

Field names and order follow anvil's answers, so a client sees the same shapes on both backends.
A mined block never changes, so its JSON is built once per form (hashes only / full txs) and
reused; receipts and logs likewise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import rlp
from eth._utils.address import generate_contract_address

from hourglass_cli.devnet.chains.embedded.logindex import LogEntry

ZERO_NONCE = "0x0000000000000000"


def hx(raw: bytes) -> str:
    return "0x" + raw.hex()


def q(value: int) -> str:
    return hex(value)


def _h32(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


@dataclass
class BlockRecord:
    """One canonical block with what the RPC needs precomputed at mining time."""

    block: Any  # py-evm block
    receipts: tuple[Any, ...]
    senders: list[bytes]
    number: int = 0
    hash: bytes = b""
    _json: dict[bool, dict[str, Any]] = field(default_factory=dict)
    _tx_json: list[dict[str, Any]] = field(default_factory=list)
    _receipt_json: list[dict[str, Any]] = field(default_factory=list)
    logs: list[LogEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        header = self.block.header
        self.number = header.block_number
        self.hash = header.hash
        self._build_logs()

    @property
    def header(self) -> Any:
        return self.block.header

    @property
    def transactions(self) -> tuple[Any, ...]:
        return tuple(self.block.transactions)

    def gas_used(self, index: int) -> int:
        before = self.receipts[index - 1].gas_used if index else 0
        return int(self.receipts[index].gas_used - before)

    def effective_gas_price(self, tx: Any) -> int:
        if getattr(tx, "type_id", None) in (None, 1):
            return int(tx.gas_price)
        base = self.header.base_fee_per_gas
        return int(min(tx.max_fee_per_gas, base + tx.max_priority_fee_per_gas))

    def contract_address(self, index: int) -> bytes | None:
        tx = self.block.transactions[index]
        if tx.to:
            return None
        return generate_contract_address(self.senders[index], tx.nonce)

    def _build_logs(self) -> None:
        ts = q(self.header.timestamp)
        log_index = 0
        for i, (tx, receipt) in enumerate(zip(self.block.transactions, self.receipts)):
            for log in receipt.logs:
                topics = tuple(t.to_bytes(32, "big") for t in log.topics)
                address = bytes(log.address)
                self.logs.append(
                    LogEntry(
                        address,
                        topics,
                        {
                            "address": hx(address),
                            "topics": [hx(t) for t in topics],
                            "data": hx(log.data),
                            "blockHash": hx(self.hash),
                            "blockNumber": q(self.number),
                            "blockTimestamp": ts,
                            "transactionHash": hx(tx.hash),
                            "transactionIndex": q(i),
                            "logIndex": q(log_index),
                            "removed": False,
                        },
                    )
                )
                log_index += 1

    # --- JSON -------------------------------------------------------------------------------

    def tx_json(self, index: int) -> dict[str, Any]:
        if not self._tx_json:
            self._tx_json = [self._format_tx(i, tx) for i, tx in enumerate(self.block.transactions)]
        return self._tx_json[index]

    def _format_tx(self, index: int, tx: Any) -> dict[str, Any]:
        out = format_tx_fields(tx)
        out.update(
            {
                "hash": hx(tx.hash),
                "blockHash": hx(self.hash),
                "blockNumber": q(self.number),
                "transactionIndex": q(index),
                "from": hx(self.senders[index]),
                "gasPrice": q(self.effective_gas_price(tx)),
                "blockTimestamp": q(self.header.timestamp),
            }
        )
        return out

    def receipt_json(self, index: int) -> dict[str, Any]:
        if not self._receipt_json:
            self._receipt_json = [self._format_receipt(i) for i in range(len(self.receipts))]
        return self._receipt_json[index]

    def _format_receipt(self, index: int) -> dict[str, Any]:
        tx = self.block.transactions[index]
        receipt = self.receipts[index]
        created = self.contract_address(index)
        first = sum(len(r.logs) for r in self.receipts[:index])
        logs = [e.json for e in self.logs[first : first + len(receipt.logs)]]
        return {
            "type": q(getattr(tx, "type_id", None) or 0),
            "status": "0x1" if receipt.state_root == b"\x01" else "0x0",
            "cumulativeGasUsed": q(receipt.gas_used),
            "logs": logs,
            "logsBloom": _bloom(receipt.bloom),
            "transactionHash": hx(tx.hash),
            "transactionIndex": q(index),
            "blockHash": hx(self.hash),
            "blockNumber": q(self.number),
            "gasUsed": q(self.gas_used(index)),
            "effectiveGasPrice": q(self.effective_gas_price(tx)),
            "blobGasPrice": "0x1",
            "from": hx(self.senders[index]),
            "to": hx(tx.to) if tx.to else None,
            "contractAddress": hx(created) if created else None,
            "blockTimestamp": self.header.timestamp,  # a JSON number in anvil's receipts (hex in its logs)
        }

    def json(self, full: bool) -> dict[str, Any]:
        cached = self._json.get(full)
        if cached is None:
            cached = format_header(self.header, self.hash)
            cached["size"] = q(block_size(self.block))
            cached["uncles"] = []
            if full:
                cached["transactions"] = [self.tx_json(i) for i in range(len(self.block.transactions))]
            else:
                cached["transactions"] = [hx(tx.hash) for tx in self.block.transactions]
            cached["withdrawals"] = []
            self._json[full] = cached
        return cached


def block_size(block: Any) -> int:
    """RLP size of the block as the network encodes it (typed txs as opaque byte strings)."""
    txs = [tx.encode() if getattr(tx, "type_id", None) else tx for tx in block.transactions]
    return len(rlp.encode([block.header, txs, [], []]))


def _bloom(value: int) -> str:
    return "0x" + value.to_bytes(256, "big").hex()


def format_header(header: Any, block_hash: bytes | None) -> dict[str, Any]:
    """A block's header fields in anvil's order (the caller adds size, uncles, transactions)."""
    return {
        "hash": hx(block_hash) if block_hash is not None else None,
        "parentHash": hx(header.parent_hash),
        "sha3Uncles": hx(header.uncles_hash),
        "miner": hx(header.coinbase),
        "stateRoot": hx(header.state_root),
        "transactionsRoot": hx(header.transaction_root),
        "receiptsRoot": hx(header.receipt_root),
        "logsBloom": _bloom(header.bloom),
        "difficulty": q(header.difficulty),
        "number": q(header.block_number),
        "gasLimit": q(header.gas_limit),
        "gasUsed": q(header.gas_used),
        "timestamp": q(header.timestamp),
        "extraData": hx(header.extra_data),
        "mixHash": hx(header.mix_hash),
        "nonce": hx(header.nonce),
        "baseFeePerGas": q(header.base_fee_per_gas),
        "withdrawalsRoot": hx(header.withdrawals_root),
        "blobGasUsed": q(header.blob_gas_used),
        "excessBlobGas": q(header.excess_blob_gas),
        "parentBeaconBlockRoot": hx(header.parent_beacon_block_root),
        "requestsHash": hx(header.requests_hash),
        "totalDifficulty": "0x0",
    }


def format_tx_fields(tx: Any) -> dict[str, Any]:
    """The signed transaction's own fields, by type (0 legacy, 1 access list, 2 dynamic fee)."""
    type_id = getattr(tx, "type_id", None) or 0
    out: dict[str, Any] = {"type": q(type_id)}
    if type_id == 0:
        chain_id = tx.chain_id
        if chain_id is not None:
            out["chainId"] = q(chain_id)
        out.update({"nonce": q(tx.nonce), "gasPrice": q(tx.gas_price), "gas": q(tx.gas)})
    else:
        out.update({"chainId": q(tx.chain_id), "nonce": q(tx.nonce), "gas": q(tx.gas)})
        if type_id == 1:
            out["gasPrice"] = q(tx.gas_price)
        else:
            out["maxFeePerGas"] = q(tx.max_fee_per_gas)
            out["maxPriorityFeePerGas"] = q(tx.max_priority_fee_per_gas)
    out.update({"to": hx(tx.to) if tx.to else None, "value": q(tx.value)})
    if type_id:
        out["accessList"] = [
            {"address": hx(addr), "storageKeys": [_h32(k) for k in slots]} for addr, slots in tx.access_list
        ]
    out.update({"input": hx(tx.data), "r": q(tx.r), "s": q(tx.s)})
    if type_id:
        out["yParity"] = q(tx.y_parity)
        out["v"] = q(tx.y_parity)
    else:
        out["v"] = q(tx.v)
    return out
