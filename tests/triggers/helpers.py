"""Shared parts of the trigger tests: task metadata, the embedded chain with a DevnetERC20, floods in one block."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_utils import event_abi_to_log_topic

from hourglass_cli.api.engine import to_value
from hourglass_cli.wire.gen import avs_pb2, node_pb2

TASK = "01J9Z3Y7W8X6V5T4S3R2Q1P0NM"
TASK_B = "01J9Z3Y7W8X6V5T4S3R2Q1P0NN"
TASK_C = "01J9Z3Y7W8X6V5T4S3R2Q1P0NP"
ERC20_ABI = json.loads((Path(__file__).resolve().parents[2] / "contracts/out/DevnetERC20.json").read_text())["abi"]
TRANSFER_ABI = next(e for e in ERC20_ABI if e.get("name") == "Transfer")
TRANSFER_TOPIC = "0x" + event_abi_to_log_topic(TRANSFER_ABI).hex()


def meta(task_id: str, trigger: avs_pb2.TaskTrigger, *, start_at: int = 0, expired_at: int = 0,
         remain: int = 0) -> node_pb2.SyncMessagesResp.TaskMetadata:
    return node_pb2.SyncMessagesResp.TaskMetadata(task_id=task_id, trigger=trigger, start_at=start_at,
                                                  expired_at=expired_at, remain=remain)


def fixed(*epochs: int) -> avs_pb2.TaskTrigger:
    return avs_pb2.TaskTrigger(name="t", type=avs_pb2.TRIGGER_TYPE_FIXED_TIME,
                               fixed_time=avs_pb2.FixedTimeTrigger(config=avs_pb2.FixedTimeTrigger.Config(
                                   epochs=list(epochs))))


def cron(*schedules: str) -> avs_pb2.TaskTrigger:
    return avs_pb2.TaskTrigger(name="t", type=avs_pb2.TRIGGER_TYPE_CRON, cron=avs_pb2.CronTrigger(
        config=avs_pb2.CronTrigger.Config(schedules=list(schedules))))


def block(interval: int) -> avs_pb2.TaskTrigger:
    return avs_pb2.TaskTrigger(name="t", type=avs_pb2.TRIGGER_TYPE_BLOCK, block=avs_pb2.BlockTrigger(
        config=avs_pb2.BlockTrigger.Config(interval=interval)))


def transfers_above(token: str, threshold: int, *, limit: int | None = None, decimals: bool = True,
                    to: str = "") -> avs_pb2.TaskTrigger:
    """ERC-20 Transfers of `token` whose value is above `threshold` (optionally only to `to`)."""
    query = avs_pb2.EventTrigger.Query(
        addresses=[token], topics=[TRANSFER_TOPIC, "", to] if to else [TRANSFER_TOPIC],
        contract_abi=[to_value(e) for e in ERC20_ABI if e.get("name") in ("Transfer", "decimals")],
        conditions=[avs_pb2.EventCondition(field_name="Transfer.value", operator="gt", value=str(threshold),
                                           field_type="uint256")])
    if decimals:
        query.method_calls.append(avs_pb2.EventTrigger.MethodCall(method_name="decimals",
                                                                   apply_to_fields=["Transfer.value"]))
    if limit is not None:
        query.max_events_per_block = limit
    return avs_pb2.TaskTrigger(name="t", type=avs_pb2.TRIGGER_TYPE_EVENT, event=avs_pb2.EventTrigger(
        config=avs_pb2.EventTrigger.Config(queries=[query])))


def flood(chain: Any, token: Any, values: list[int]) -> int:
    """Mint `values` (at most 8; one tx each, from accounts 1…) into one block of the embedded chain; its number."""
    tester = chain.w3.provider.ethereum_tester
    tester.disable_auto_mine_transactions()
    try:
        sent = [token.functions.mint(chain.accounts[9], value).transact({"from": chain.accounts[1 + i], "gas": 200_000})
                for i, value in enumerate(values)]  # one tx per account: no pending nonces; 0 is TxSender's
        tester.mine_blocks(1)
    finally:
        tester.enable_auto_mine_transactions()  # (mines one more, empty block)
    return int(chain.w3.eth.get_transaction_receipt(sent[0])["blockNumber"])
