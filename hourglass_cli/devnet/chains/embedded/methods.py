"""The JSON-RPC methods: parse wire params, ask the Node, answer in wire format.

Each handler takes the positional params list and returns a JSON-ready value; the server holds
the node's lock around the call. Development methods (evm_*, anvil_*) are in devmethods.py.
"""

from __future__ import annotations

from typing import Any, Callable

from hourglass_cli import __version__
from hourglass_cli.devnet.chains.embedded.filters import Filters
from hourglass_cli.devnet.chains.embedded.logindex import LogFilter
from hourglass_cli.devnet.chains.embedded.node import DEFAULT_PRIORITY_FEE, Node
from hourglass_cli.devnet.chains.embedded.params import (
    BlockRef,
    RpcError,
    address,
    block_ref,
    data,
    hash32,
    invalid,
    params_list,
    quantity,
    tx_params,
)
from hourglass_cli.devnet.chains.embedded.wire import format_header, hx, q

CLIENT_VERSION = f"hourglass-embedded/v{__version__}/py-evm"

Handler = Callable[[list[Any]], Any]


class Methods:
    """name -> handler for one node; `table` is what the server dispatches on."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.filters = Filters()
        node.on_revert.append(self.filters.rewind)
        self.table: dict[str, Handler] = {}
        for name in dir(self):
            if name.startswith(("eth_", "net_", "web3_")):
                self.table[name] = getattr(self, name)
        from hourglass_cli.devnet.chains.embedded.devmethods import dev_methods

        self.table.update(dev_methods(self))

    # --- node info ----------------------------------------------------------------------------

    def web3_clientVersion(self, params: list[Any]) -> str:
        params_list(params, 0, 0)
        return CLIENT_VERSION

    def eth_chainId(self, params: list[Any]) -> str:
        return q(self.node.chain_id)

    def net_version(self, params: list[Any]) -> str:
        return str(self.node.chain_id)

    def net_listening(self, params: list[Any]) -> bool:
        return True

    def eth_syncing(self, params: list[Any]) -> bool:
        return False

    def eth_mining(self, params: list[Any]) -> bool:
        return True

    def eth_accounts(self, params: list[Any]) -> list[str]:
        return [hx(a) for a in self.node.accounts]

    def eth_blockNumber(self, params: list[Any]) -> str:
        return q(self.node.head.number)

    def eth_gasPrice(self, params: list[Any]) -> str:
        return q(self.node.next_base_fee() + DEFAULT_PRIORITY_FEE)

    def eth_maxPriorityFeePerGas(self, params: list[Any]) -> str:
        return q(DEFAULT_PRIORITY_FEE)

    def eth_blobBaseFee(self, params: list[Any]) -> str:
        return "0x1"

    def eth_feeHistory(self, params: list[Any]) -> dict[str, Any]:
        count_raw, newest_raw, percentiles = params_list(params, 2, 3)
        count = min(quantity(count_raw, "blockCount"), 1024)
        newest = min(self.node.block_number(block_ref(newest_raw)), self.node.head.number)
        if percentiles is not None and (
            not isinstance(percentiles, list)
            or not all(isinstance(p, (int, float)) and 0 <= p <= 100 for p in percentiles)
            or percentiles != sorted(percentiles)
        ):
            raise invalid("rewardPercentiles: expected increasing numbers in 0..100")
        oldest = max(0, newest - count + 1)
        records = self.node.blocks[oldest : newest + 1] if count else []
        out: dict[str, Any] = {
            "baseFeePerGas": [q(r.header.base_fee_per_gas) for r in records],
            "gasUsedRatio": [r.header.gas_used / r.header.gas_limit for r in records],
            "baseFeePerBlobGas": ["0x1"] * (len(records) + 1),
            "blobGasUsedRatio": [0.0] * len(records),
            "oldestBlock": q(oldest),
        }
        if records:
            out["baseFeePerGas"].append(q(self.node.base_fee_after(records[-1])))
        if percentiles:
            out["reward"] = [[q(v) for v in _rewards(r, percentiles)] for r in records]
        return out

    # --- blocks and transactions --------------------------------------------------------------

    def eth_getBlockByNumber(self, params: list[Any]) -> dict[str, Any] | None:
        ref_raw, full = params_list(params, 1, 2)
        ref = block_ref(ref_raw)
        if ref.tag == "pending":
            header = self.node.pending_header()
            out = format_header(header, header.hash)
            out.update({"size": "0x0", "uncles": [], "transactions": [], "withdrawals": []})
            return out
        record = self.node.block(ref)
        return None if record is None else record.json(bool(full))

    def eth_getBlockByHash(self, params: list[Any]) -> dict[str, Any] | None:
        block_hash, full = params_list(params, 1, 2)
        record = self.node.block(BlockRef(hash=hash32(block_hash, "block hash")))
        return None if record is None else record.json(bool(full))

    def eth_getBlockTransactionCountByNumber(self, params: list[Any]) -> str | None:
        record = self.node.block(block_ref(params_list(params, 1, 1)[0]))
        return None if record is None else q(len(record.transactions))

    def eth_getBlockTransactionCountByHash(self, params: list[Any]) -> str | None:
        record = self.node.block(BlockRef(hash=hash32(params_list(params, 1, 1)[0], "block hash")))
        return None if record is None else q(len(record.transactions))

    def eth_getTransactionByHash(self, params: list[Any]) -> dict[str, Any] | None:
        found = self.node.transaction(hash32(params_list(params, 1, 1)[0], "transaction hash"))
        return None if found is None else found[0].tx_json(found[1])

    def eth_getTransactionByBlockNumberAndIndex(self, params: list[Any]) -> dict[str, Any] | None:
        ref_raw, index_raw = params_list(params, 2, 2)
        return self._tx_in(self.node.block(block_ref(ref_raw)), quantity(index_raw, "index"))

    def eth_getTransactionByBlockHashAndIndex(self, params: list[Any]) -> dict[str, Any] | None:
        hash_raw, index_raw = params_list(params, 2, 2)
        record = self.node.block(BlockRef(hash=hash32(hash_raw, "block hash")))
        return self._tx_in(record, quantity(index_raw, "index"))

    @staticmethod
    def _tx_in(record: Any, index: int) -> dict[str, Any] | None:
        if record is None or index >= len(record.transactions):
            return None
        return record.tx_json(index)

    def eth_getTransactionReceipt(self, params: list[Any]) -> dict[str, Any] | None:
        found = self.node.transaction(hash32(params_list(params, 1, 1)[0], "transaction hash"))
        return None if found is None else found[0].receipt_json(found[1])

    def eth_getBlockReceipts(self, params: list[Any]) -> list[dict[str, Any]] | None:
        record = self.node.block(block_ref(params_list(params, 1, 1)[0]))
        if record is None:
            return None
        return [record.receipt_json(i) for i in range(len(record.transactions))]

    # --- state --------------------------------------------------------------------------------

    def eth_getBalance(self, params: list[Any]) -> str:
        who, ref = params_list(params, 1, 2)
        return q(self.node.state_at(block_ref(ref)).get_balance(address(who)))

    def eth_getTransactionCount(self, params: list[Any]) -> str:
        who, ref = params_list(params, 1, 2)
        # automine: no transaction ever waits, so pending == latest
        return q(self.node.state_at(block_ref(ref)).get_nonce(address(who)))

    def eth_getCode(self, params: list[Any]) -> str:
        who, ref = params_list(params, 1, 2)
        return hx(self.node.state_at(block_ref(ref)).get_code(address(who)))

    def eth_getStorageAt(self, params: list[Any]) -> str:
        who, slot, ref = params_list(params, 2, 3)
        value = self.node.state_at(block_ref(ref)).get_storage(address(who), quantity(slot, "slot"))
        return "0x" + value.to_bytes(32, "big").hex()

    # --- execution ----------------------------------------------------------------------------

    def eth_call(self, params: list[Any]) -> str:
        tx, ref, overrides = params_list(params, 1, 3)
        if overrides:
            raise invalid("state overrides are not supported by the embedded chain")
        return hx(self.node.call(tx_params(tx), block_ref(ref)))

    def eth_estimateGas(self, params: list[Any]) -> str:
        tx, ref, overrides = params_list(params, 1, 3)
        if overrides:
            raise invalid("state overrides are not supported by the embedded chain")
        return q(self.node.estimate(tx_params(tx), block_ref(ref))[0])

    def eth_sendTransaction(self, params: list[Any]) -> str:
        signed = self.node.sign(tx_params(params_list(params, 1, 1)[0]))
        return hx(self.node.send(signed))

    def eth_sendRawTransaction(self, params: list[Any]) -> str:
        raw = data(params_list(params, 1, 1)[0], "raw transaction")
        try:
            tx = self.node.chain.get_vm().get_transaction_builder().decode(raw)
        except Exception as exc:  # noqa: BLE001 - rlp/validation errors of every kind mean "bad input"
            raise invalid(f"invalid raw transaction: {exc}") from None
        return hx(self.node.send(tx))

    # --- logs and filters ---------------------------------------------------------------------

    def eth_getLogs(self, params: list[Any]) -> list[dict[str, Any]]:
        criteria, start, end = self._log_query(params_list(params, 1, 1)[0])
        return self.node.logs.query(criteria, start, end)

    def _log_query(self, obj: Any) -> tuple[LogFilter, int, int]:
        criteria = log_filter(obj)
        if obj.get("blockHash") is not None:
            if obj.get("fromBlock") is not None or obj.get("toBlock") is not None:
                raise invalid("blockHash cannot be combined with fromBlock/toBlock")
            record = self.node.block(BlockRef(hash=hash32(obj["blockHash"], "blockHash")))
            if record is None:
                raise RpcError(-32000, "unknown block")
            return criteria, record.number, record.number
        start = self.node.block_number(block_ref(obj.get("fromBlock")))
        end = self.node.block_number(block_ref(obj.get("toBlock")))
        return criteria, start, end

    def eth_newFilter(self, params: list[Any]) -> str:
        obj = params_list(params, 1, 1)[0]
        criteria = log_filter(obj)
        bounds = []
        for key in ("fromBlock", "toBlock"):
            ref = block_ref(obj.get(key))
            bounds.append(None if ref.tag in ("latest", "pending") else self.node.block_number(ref))
        return self.filters.new_log_filter(criteria, bounds[0], bounds[1], self.node.head.number)

    def eth_newBlockFilter(self, params: list[Any]) -> str:
        return self.filters.new_block_filter(self.node.head.number)

    def eth_getFilterChanges(self, params: list[Any]) -> list[Any]:
        return self.filters.changes(_filter_id(params), self.node)

    def eth_getFilterLogs(self, params: list[Any]) -> list[Any]:
        return self.filters.all_logs(_filter_id(params), self.node)

    def eth_uninstallFilter(self, params: list[Any]) -> bool:
        return self.filters.uninstall(_filter_id(params))


def _filter_id(params: list[Any]) -> str:
    value = params_list(params, 1, 1)[0]
    if not isinstance(value, str):
        raise invalid("filter id: expected a hex string")
    return value.lower()


def log_filter(obj: Any) -> LogFilter:
    """The address/topics part of an eth_getLogs or eth_newFilter object."""
    if not isinstance(obj, dict):
        raise invalid("filter: expected an object")
    raw_address = obj.get("address")
    addresses = None
    if isinstance(raw_address, list):
        addresses = frozenset(address(a) for a in raw_address) or None
    elif raw_address is not None:
        addresses = frozenset([address(raw_address)])
    raw_topics = obj.get("topics") or []
    if not isinstance(raw_topics, list) or len(raw_topics) > 4:
        raise invalid("topics: expected an array of at most 4 entries")
    topics: list[frozenset[bytes] | None] = []
    for entry in raw_topics:
        if entry is None:
            topics.append(None)
        elif isinstance(entry, list):
            # a null inside an OR-list matches anything, so the whole position does
            topics.append(None if any(t is None for t in entry) or not entry else frozenset(hash32(t, "topic") for t in entry))
        else:
            topics.append(frozenset([hash32(entry, "topic")]))
    return LogFilter(addresses, tuple(topics))


def _rewards(record: Any, percentiles: list[float]) -> list[int]:
    """Priority fees paid in the block at each gas-weighted percentile (geth's feeHistory rule)."""
    txs = record.transactions
    if not txs:
        return [0] * len(percentiles)
    base = record.header.base_fee_per_gas
    tips = sorted(
        (record.effective_gas_price(tx) - base, record.gas_used(i)) for i, tx in enumerate(txs)
    )
    total = record.header.gas_used
    out, index, acc = [], 0, tips[0][1]
    for p in percentiles:
        threshold = total * p / 100
        while acc < threshold and index < len(tips) - 1:
            index += 1
            acc += tips[index][1]
        out.append(tips[index][0])
    return out
