"""The embedded chain answers like anvil: the same scenario runs on both, web3.py and raw JSON-RPC.

Each test plays one scenario on anvil and on the embedded chain (both fresh from a snapshot) and
compares what a client sees: field names and types, receipts, logs under topic and range filters,
call results, revert errors as web3.py raises them, estimates, chain id, snapshot/revert.
Hashes, timestamps and base fees legitimately differ (wall clock; see the report) and are not compared.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from hourglass_cli.devnet.chains import ChainHandle
from tests.devnet.chains.conftest import Rpc

ACCOUNT0_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def _word(n: int) -> str:
    return "0x" + n.to_bytes(32, "big").hex()


def _shape(value: Any) -> Any:
    """The JSON type structure of a value: which keys, hex string or null or list or bool."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


def _deploy(w3: Web3, artifact: dict[str, Any]) -> Any:
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(factory.constructor().transact({"from": w3.eth.accounts[0]}))
    assert receipt["status"] == 1
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def _run_both(both: dict[str, ChainHandle], scenario: Any, *args: Any) -> dict[str, Any]:
    return {name: scenario(Web3(Web3.HTTPProvider(h.rpc_url)), Rpc(h.rpc_url), *args) for name, h in both.items()}


# --- blocks, receipts, logs ----------------------------------------------------------------------


def _tx_scenario(w3: Web3, rpc: Rpc, artifact: dict[str, Any]) -> dict[str, Any]:
    accounts = w3.eth.accounts
    probe = _deploy(w3, artifact)
    hashes = []
    for n, sender in [(1, accounts[0]), (2, accounts[1]), (3, accounts[0]), (4, accounts[2])]:
        hashes.append(probe.functions.ping(n, bytes([n]) * 32).transact({"from": sender}))
    receipts = [w3.eth.wait_for_transaction_receipt(h) for h in hashes]
    raw_receipts = [rpc("eth_getTransactionReceipt", "0x" + h.hex()) for h in hashes]
    head = rpc("eth_blockNumber")
    first = receipts[0]["blockNumber"]
    ping, pong = probe.events.Ping, probe.events.Pong
    pong_topic = Web3.keccak(text="Pong(uint256)").to_0x_hex()
    ping_topic = Web3.keccak(text="Ping(address,uint256,bytes32,string)").to_0x_hex()
    sender1 = "0x" + "00" * 12 + accounts[1][2:].lower()

    def logs(**flt: Any) -> list[tuple[str, ...]]:
        found = rpc("eth_getLogs", {"fromBlock": hex(first), "toBlock": "latest", **flt})
        # hashes and timestamps differ between chains; block numbers, positions and contents must not
        return [(x["address"], x["blockNumber"], *x["topics"], x["data"], x["logIndex"], x["transactionIndex"]) for x in found]

    return {
        "head": head,
        "contract": probe.address,
        "status": [r["status"] for r in receipts],
        "gas_used": [r["gasUsed"] for r in receipts],
        "effective_gas_price": [r["effectiveGasPrice"] for r in receipts],
        "base_fees": [rpc("eth_getBlockByNumber", hex(n), False)["baseFeePerGas"] for n in range(int(head, 16) + 1)],
        "cumulative": [r["cumulativeGasUsed"] for r in receipts],
        "receipt_logs": [[(x["logIndex"], x["transactionIndex"], x["topics"], x["data"]) for x in r["logs"]] for r in receipts],
        "receipt_shape": _shape(raw_receipts[1]),
        "tx_shape": _shape(rpc("eth_getTransactionByHash", "0x" + hashes[1].hex())),
        "block_shape": _shape(rpc("eth_getBlockByNumber", head, False)),
        "block_full_shape": _shape(rpc("eth_getBlockByNumber", head, True)),
        "block_by_hash_txs": len(rpc("eth_getBlockByHash", raw_receipts[3]["blockHash"], True)["transactions"]),
        "earliest": rpc("eth_getBlockByNumber", "earliest", False)["number"],
        "future_block": rpc("eth_getBlockByNumber", hex(int(head, 16) + 5), False),
        "missing_receipt": rpc("eth_getTransactionReceipt", "0x" + "ab" * 32),
        "web3_logs": [(e["args"]["n"], e["args"]["from"]) for e in ping.get_logs(from_block=first)],
        "web3_pong": [e["args"]["n"] for e in pong.get_logs(from_block=first)],
        "logs_all": logs(),
        "logs_address_list": logs(address=[probe.address, accounts[5]]),
        "logs_topic0": logs(topics=[pong_topic]),
        "logs_or_topic0": logs(topics=[[pong_topic, ping_topic]]),
        "logs_null_then_sender": logs(topics=[None, sender1]),
        "logs_or_n": logs(topics=[ping_topic, None, [_word(1), _word(4)]]),
        "logs_trailing_nulls": logs(topics=[pong_topic, None, None]),
        "logs_topic_beyond": logs(topics=[pong_topic, None, _word(2)]),
        "logs_range": logs(fromBlock=hex(first + 1), toBlock=hex(first + 2)),
        "logs_reversed_range": logs(fromBlock=hex(first + 2), toBlock=hex(first + 1)),
        "logs_block_hash": logs(blockHash=raw_receipts[3]["blockHash"], fromBlock=None, toBlock=None),
        "logs_past_head": logs(toBlock=hex(int(head, 16) + 100)),
        "logs_default_range": logs(fromBlock=None, toBlock=None),
        "nonce_pending": rpc("eth_getTransactionCount", accounts[0], "pending"),
        "storage_count": rpc("eth_getStorageAt", probe.address, "0x0", "latest"),
        "code_len": len(rpc("eth_getCode", probe.address, "latest")),
        "accounts": [a.lower() for a in rpc("eth_accounts")],
        "balance_0": rpc("eth_getBalance", accounts[9], "latest"),
    }


def test_blocks_receipts_and_logs_match(both: dict[str, ChainHandle], probe_artifact: dict[str, Any]) -> None:
    seen = _run_both(both, _tx_scenario, probe_artifact)
    anvil, ours = seen["anvil"], seen["embedded"]
    for key in anvil:
        assert ours[key] == anvil[key], f"{key}: embedded {ours[key]!r} != anvil {anvil[key]!r}"
    assert len(anvil["logs_all"]) == 6 and len(anvil["logs_or_n"]) == 2 and anvil["logs_reversed_range"] == []


# --- calls, reverts, estimates, chain id ---------------------------------------------------------


def _call_scenario(w3: Web3, rpc: Rpc, artifact: dict[str, Any]) -> dict[str, Any]:
    probe = _deploy(w3, artifact)
    sender = w3.eth.accounts[3]
    out: dict[str, Any] = {
        "chain_id_rpc": w3.eth.chain_id,
        "chain_id_opcode": probe.functions.chainId().call(),
        "net_version": rpc("net_version"),
        "block_number_in_call": probe.functions.blockNumber().call() == w3.eth.block_number,
        "count": probe.functions.count().call(),
        "max_priority_fee": rpc("eth_maxPriorityFeePerGas"),
        "syncing": rpc("eth_syncing"),
        "fee_history_keys": sorted(rpc("eth_feeHistory", "0x2", "latest", [10, 90])),
    }
    for name, args in [("failCustom", [7]), ("failString", []), ("failEmpty", []), ("failPanic", [0])]:
        fn = getattr(probe.functions, name)(*args)
        for kind, attempt in (("call", fn.call), ("estimate", fn.estimate_gas)):
            with pytest.raises(ContractLogicError) as info:
                attempt({"from": sender})
            out[f"{name}_{kind}"] = (type(info.value).__name__, info.value.data)
        raw = rpc.request("eth_call", {"from": sender, "to": probe.address, "data": fn._encode_transaction_data()})
        out[f"{name}_raw"] = (raw["error"]["code"], raw["error"].get("data"))
    out["custom_decoded"] = isinstance(_raises(probe.functions.failCustom(7).call, {"from": sender}), ContractCustomError)
    out["panic_decoded"] = isinstance(_raises(probe.functions.failPanic(0).call, {}), ContractPanicError)
    out["estimates"] = {
        "ping": probe.functions.ping(5, b"\x05" * 32).estimate_gas({"from": sender}),
        "burn": probe.functions.burn(30).estimate_gas({"from": sender}),
        "transfer": w3.eth.estimate_gas({"from": sender, "to": w3.eth.accounts[4], "value": 1}),
        "pair": probe.functions.pair(_pairing_input()).estimate_gas({"from": sender}),
    }
    out["pair_result"] = probe.functions.pair(_pairing_input()).call()
    out["pair_bad_input"] = type(_raises(probe.functions.pair(b"\x01" * 192).call, {})).__name__
    return out


def _raises(fn: Any, tx: dict[str, Any]) -> Exception | None:
    try:
        fn(tx)
    except Exception as exc:  # noqa: BLE001 - the test looks at which exception it was
        return exc
    return None


def _pairing_input() -> bytes:
    """e(P, G2) * e(P, -G2) == 1: two valid pairs."""
    from hourglass_cli.crypto import bn254
    from hourglass_cli.crypto.pairing import G2_GENERATOR, NEG_G2

    p = bn254.g1_mul(bn254.G1_GENERATOR, 0xC0FFEE)

    def g2(q: Any) -> bytes:
        return b"".join(v.to_bytes(32, "big") for v in (q[0][1], q[0][0], q[1][1], q[1][0]))

    g1 = p[0].to_bytes(32, "big") + p[1].to_bytes(32, "big")
    return g1 + g2(G2_GENERATOR) + g1 + g2(NEG_G2)


def test_calls_reverts_estimates_and_chain_id_match(both: dict[str, ChainHandle], probe_artifact: dict[str, Any]) -> None:
    seen = _run_both(both, _call_scenario, probe_artifact)
    anvil, ours = seen["anvil"], seen["embedded"]
    assert anvil["chain_id_rpc"] == anvil["chain_id_opcode"] == 31337
    for key in anvil:
        assert ours[key] == anvil[key], f"{key}: embedded {ours[key]!r} != anvil {anvil[key]!r}"
    # both find the least gas limit that works (ours from the call tree in two executions)
    assert ours["estimates"] == anvil["estimates"]


# --- raw transactions, snapshots, filters, time, setters -----------------------------------------


def _state_scenario(w3: Web3, rpc: Rpc, artifact: dict[str, Any]) -> dict[str, Any]:
    accounts = w3.eth.accounts
    probe = _deploy(w3, artifact)
    out: dict[str, Any] = {}
    signer = Account.from_key(ACCOUNT0_KEY)
    nonce = w3.eth.get_transaction_count(signer.address)
    base = w3.eth.get_block("latest")["baseFeePerGas"]
    dynamic = signer.sign_transaction(
        {"type": 2, "chainId": 31337, "nonce": nonce, "to": accounts[7], "value": 12345, "gas": 21000,
         "maxFeePerGas": 3 * base + 10**9, "maxPriorityFeePerGas": 10**9}  # fmt: skip
    )
    legacy = signer.sign_transaction(
        {"chainId": 31337, "nonce": nonce + 1, "to": accounts[7], "value": 1, "gas": 21000, "gasPrice": 3 * base + 10**9}
    )
    for label, signed in (("raw_dynamic", dynamic), ("raw_legacy", legacy)):
        tx_hash = rpc("eth_sendRawTransaction", "0x" + signed.raw_transaction.hex())
        w3.eth.wait_for_transaction_receipt(tx_hash)  # anvil mines a raw tx a moment after answering
        receipt = rpc("eth_getTransactionReceipt", tx_hash)
        tx = rpc("eth_getTransactionByHash", tx_hash)
        out[label] = (receipt["status"], receipt["type"], receipt["from"], tx["type"], tx["nonce"], tx["value"])
    out["wrong_chain_id"] = "error" in rpc.request(
        "eth_sendRawTransaction",
        "0x" + signer.sign_transaction(
            {"type": 2, "chainId": 1, "nonce": nonce + 2, "to": accounts[7], "value": 1, "gas": 21000,
             "maxFeePerGas": 3 * base, "maxPriorityFeePerGas": 1}
        ).raw_transaction.hex(),
    )  # fmt: skip

    # filters see what is mined after they are installed
    log_filter = rpc("eth_newFilter", {"address": probe.address})
    block_filter = rpc("eth_newBlockFilter")
    w3.eth.wait_for_transaction_receipt(probe.functions.ping(2, b"\x02" * 32).transact({"from": accounts[0]}))
    out["filter_changes"] = [x["topics"][0] for x in rpc("eth_getFilterChanges", log_filter)]
    out["filter_changes_again"] = rpc("eth_getFilterChanges", log_filter)
    out["block_filter"] = len(rpc("eth_getFilterChanges", block_filter))
    out["uninstall"] = (rpc("eth_uninstallFilter", log_filter), rpc("eth_uninstallFilter", log_filter))

    # snapshot / revert restores balances, logs, nonces and the head
    snap = rpc("evm_snapshot")
    before = (rpc("eth_blockNumber"), rpc("eth_getBalance", accounts[8], "latest"), len(rpc("eth_getLogs", {"fromBlock": "0x0"})))
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": accounts[8], "to": accounts[9], "value": 10**18}))
    w3.eth.wait_for_transaction_receipt(probe.functions.ping(4, b"\x04" * 32).transact({"from": accounts[8]}))
    changed = (rpc("eth_blockNumber"), rpc("eth_getBalance", accounts[8], "latest"), len(rpc("eth_getLogs", {"fromBlock": "0x0"})))
    out["snapshot_changed"] = all(a != b for a, b in zip(before, changed))
    out["revert"] = rpc("evm_revert", snap)
    after = (rpc("eth_blockNumber"), rpc("eth_getBalance", accounts[8], "latest"), len(rpc("eth_getLogs", {"fromBlock": "0x0"})))
    out["snapshot_restored"] = after == before
    out["revert_again"] = rpc("evm_revert", snap)
    out["nonce_after_revert"] = rpc("eth_getTransactionCount", accounts[8], "latest")

    # time and setters
    t0 = w3.eth.get_block("latest")["timestamp"]
    rpc("evm_increaseTime", 3600)
    rpc("evm_mine")
    out["time_jump"] = 3600 <= w3.eth.get_block("latest")["timestamp"] - t0 < 3700
    rpc("evm_setNextBlockTimestamp", t0 + 7200)
    rpc("evm_mine")
    out["next_timestamp"] = w3.eth.get_block("latest")["timestamp"] - t0
    rpc("anvil_setBalance", accounts[6], hex(42))
    rpc("anvil_setNonce", accounts[6], hex(7))
    out["set_balance"] = (w3.eth.get_balance(accounts[6]), w3.eth.get_transaction_count(accounts[6]))
    return out


def test_raw_txs_filters_snapshots_time_and_setters_match(
    both: dict[str, ChainHandle], probe_artifact: dict[str, Any]
) -> None:
    seen = _run_both(both, _state_scenario, probe_artifact)
    anvil, ours = seen["anvil"], seen["embedded"]
    for key in anvil:
        assert ours[key] == anvil[key], f"{key}: embedded {ours[key]!r} != anvil {anvil[key]!r}"
    assert anvil["snapshot_changed"] and anvil["snapshot_restored"] and anvil["revert"] and not anvil["revert_again"]
    assert anvil["set_balance"] == (42, 7) and anvil["next_timestamp"] == 7200
