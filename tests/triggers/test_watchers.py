"""Watchers on an injected clock (time) and on the embedded py-evm chain with a DevnetERC20 (block, event)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_utils import to_checksum_address

from hourglass_cli.triggers import protocol
from hourglass_cli.triggers.watchers import (
    BlockWatch,
    ChainSource,
    EventWatch,
    Overload,
    TimeWatch,
    WatchError,
    condition_holds,
    make_watch,
)
from hourglass_cli.wire.gen import avs_pb2
from tests.contracts.chains import Chain, deploy, eth_tester_chain, send
from tests.triggers.helpers import TASK, block, cron, fixed, flood, meta, transfers_above

T0 = 1_767_225_630_000  # 2026-01-01T00:00:30Z
MIN = 60_000


@pytest.fixture
def chain() -> Iterator[Chain]:
    started = eth_tester_chain()
    try:
        yield started
    finally:
        started.close()


# -- time ------------------------------------------------------------------------------------------


def test_fixed_time_reports_each_epoch_once_within_grace_and_window() -> None:
    epochs = (T0 - 120_000, T0 - 30_000, T0 + 10_000, T0 + 20_000, T0 + 40_000)
    watch = make_watch(meta(TASK, fixed(*epochs), expired_at=T0 + 40_000), now_ms=T0, head=None, grace_ms=60_000)
    assert isinstance(watch, TimeWatch)
    hits = watch.due(T0)
    assert [(h.request_id, h.output) for h in hits] == [(f"{TASK}:{T0 - 30_000}", protocol.time_output(T0 - 30_000))]
    assert hits[0].trigger_type == avs_pb2.TRIGGER_TYPE_FIXED_TIME
    assert watch.due(T0 + 5_000) == [] and watch.next_due() == T0 + 10_000
    assert [h.request_id for h in watch.due(T0 + 25_000)] == [f"{TASK}:{T0 + 10_000}", f"{TASK}:{T0 + 20_000}"]
    assert watch.done and watch.next_due() is None  # T0 + 40 s is at expired_at: never due


def test_fixed_time_before_start_at_is_skipped() -> None:
    watch = make_watch(meta(TASK, fixed(T0 - 10_000, T0 + 10_000), start_at=T0), now_ms=T0, head=None)
    assert watch.due(T0) == []
    assert [h.request_id for h in watch.due(T0 + 10_000)] == [f"{TASK}:{T0 + 10_000}"]


def test_cron_late_joiner_gets_the_fire_within_grace_then_each_fire_once() -> None:
    minute = T0 - 30_000  # 00:00:00, 30 s before now
    watch = make_watch(meta(TASK, cron("* * * * *")), now_ms=T0, head=None, grace_ms=60_000)
    hits = watch.due(T0)
    assert [(h.request_id, h.output) for h in hits] == [(f"{TASK}:{minute}", protocol.time_output(minute))]
    assert hits[0].trigger_type == avs_pb2.TRIGGER_TYPE_CRON
    assert watch.due(T0) == [] and watch.next_due() == minute + MIN
    assert [h.request_id for h in watch.due(minute + 3 * MIN)] == [f"{TASK}:{minute + k * MIN}" for k in (1, 2, 3)]


def test_cron_without_grace_skips_the_past_and_dedups_schedules() -> None:
    # 6 fields (croniter: seconds last); both schedules fire at 00:01:00: one hit for that time
    watch = make_watch(meta(TASK, cron("*/1 * * * *", "0 * * * * 0"), expired_at=T0 + 2 * MIN), now_ms=T0,
                       head=None, grace_ms=0)
    assert watch.due(T0) == []
    first = T0 + 30_000
    assert [h.request_id for h in watch.due(first)] == [f"{TASK}:{first}"]
    assert [h.request_id for h in watch.due(T0 + 10 * MIN)] == [f"{TASK}:{first + MIN}"]  # then expired
    assert watch.done


def test_bad_triggers_are_watch_errors() -> None:
    with pytest.raises(WatchError, match="5 fields"):
        make_watch(meta(TASK, cron("* *")), now_ms=T0, head=None)
    with pytest.raises(WatchError, match="interval > 0"):
        make_watch(meta(TASK, block(0)), now_ms=T0, head=1)
    with pytest.raises(WatchError, match="needs the chain head"):
        make_watch(meta(TASK, block(3)), now_ms=T0, head=None)
    with pytest.raises(WatchError, match="not watched"):
        make_watch(meta(TASK, avs_pb2.TaskTrigger(manual=avs_pb2.ManualTrigger())), now_ms=T0, head=None)


# -- conditions ------------------------------------------------------------------------------------


def _cond(field: str, op: str, value: str, kind: str) -> avs_pb2.EventCondition:
    return avs_pb2.EventCondition(field_name=field, operator=op, value=value, field_type=kind)


def test_conditions() -> None:
    addr = "0x" + "ab" * 20
    fields = {"value": 10**30, "to": to_checksum_address(addr), "flag": True, "memo": "hi", "h": b"\x01" * 32}
    holds = [("value", "gt", str(10**30 - 1), "uint256"), ("Transfer.value", "lte", str(10**30), "uint256"),
             ("value", "ne", "0x1", "uint256"), ("to", "eq", addr.upper().replace("0X", "0x"), "address"),
             ("flag", "eq", "true", "bool"), ("memo", "eq", "hi", "string"), ("h", "eq", "0x" + "01" * 32, "bytes32"),
             ("Approval.value", "eq", "1", "uint256")]  # a condition on another event passes
    fails = [("value", "lt", "5", "uint256"), ("missing", "eq", "1", "uint256"), ("value", "gt", "x", "uint256"),
             ("to", "gt", addr, "address"), ("value", "approx", "1", "uint256"), ("memo", "eq", "hi", "tuple"),
             ("flag", "ne", "true", "bool")]
    for case in holds:
        assert condition_holds(_cond(*case), "Transfer", fields), case
    for case in fails:
        assert not condition_holds(_cond(*case), "Transfer", fields), case


def test_format_decimals() -> None:
    assert protocol.format_decimals(1_500_000, 6) == "1.5"
    assert protocol.format_decimals(2_000_000, 6) == "2"
    assert protocol.format_decimals(5, 18) == "0.000000000000000005"
    assert protocol.format_decimals(7, 0) == "7"


# -- block -----------------------------------------------------------------------------------------


def test_block_watch_reports_every_interval_block_after_subscribe_once(chain: Chain) -> None:
    w3 = chain.w3
    head = w3.eth.block_number
    watch = make_watch(meta(TASK, block(2)), now_ms=T0, head=head)
    assert isinstance(watch, BlockWatch)
    for _ in range(5):
        chain.advance(1)
    now = w3.eth.block_number
    result = watch.advance(ChainSource(w3), now)
    expected = [n for n in range(head + 1, now + 1) if n % 2 == 0]
    assert [h.request_id for h in result.hits] == [protocol.block_request_id(TASK, n) for n in expected]
    assert [h.output for h in result.hits] == [protocol.block_output(w3.eth.get_block(n)) for n in expected]
    assert result.overload is None and watch.advance(ChainSource(w3), now).hits == []


# -- event -----------------------------------------------------------------------------------------


def test_event_watch_reports_transfers_above_the_threshold_decoded_and_formatted(chain: Chain) -> None:
    w3 = chain.w3
    token = deploy(chain, "DevnetERC20", "Watch", "WCH")
    holder, other = chain.accounts[5], chain.accounts[6]
    watch = make_watch(meta(TASK, transfers_above(token.address, 10**18)), now_ms=T0, head=w3.eth.block_number)
    assert isinstance(watch, EventWatch)
    send(chain, token.functions.mint(holder, 5 * 10**17), chain.accounts[0])  # below: no hit
    receipt = send(chain, token.functions.mint(other, 25 * 10**17), chain.accounts[0])
    send(chain, token.functions.approve(other, 10**20), chain.accounts[0])  # another event of the token
    result = watch.advance(ChainSource(w3), w3.eth.block_number)
    assert result.overload is None and len(result.hits) == 1
    hit = result.hits[0]
    raw = w3.eth.get_logs({"fromBlock": receipt["blockNumber"], "toBlock": receipt["blockNumber"]})[0]
    assert hit.request_id == protocol.event_request_id(TASK, "0x" + bytes(receipt["transactionHash"]).hex(),
                                                      raw["logIndex"])
    assert hit.trigger_type == avs_pb2.TRIGGER_TYPE_EVENT
    assert hit.output == {**protocol.log_output(raw), "eventName": "Transfer", "from": "0x" + "00" * 20,
                          "to": other, "value": "2.5", "valueRaw": str(25 * 10**17)}
    assert protocol.parse_request_id(hit.request_id) is not None
    assert watch.advance(ChainSource(w3), w3.eth.block_number).hits == []  # each block once


def test_event_topics_filter_on_an_indexed_address(chain: Chain) -> None:
    w3 = chain.w3
    token = deploy(chain, "DevnetERC20", "Watch", "WCH")
    wanted = chain.accounts[7]
    watch = make_watch(meta(TASK, transfers_above(token.address, 0, decimals=False, to=wanted)), now_ms=T0,
                       head=w3.eth.block_number)
    send(chain, token.functions.mint(chain.accounts[5], 10**18), chain.accounts[0])
    send(chain, token.functions.mint(wanted, 3), chain.accounts[0])
    hits = watch.advance(ChainSource(w3), w3.eth.block_number).hits
    assert [(h.output["to"], h.output["value"]) for h in hits] == [(wanted, "3")]


def test_a_flood_in_one_block_is_an_overload_not_hits(chain: Chain) -> None:
    w3 = chain.w3
    token = deploy(chain, "DevnetERC20", "Flood", "FLD")
    watch = make_watch(meta(TASK, transfers_above(token.address, 10, limit=3)), now_ms=T0, head=w3.eth.block_number)
    send(chain, token.functions.mint(chain.accounts[5], 100), chain.accounts[0])  # a block before: reported
    number = flood(chain, token, [100, 200, 300, 400])
    assert len(w3.eth.get_block(number)["transactions"]) == 4
    result = watch.advance(ChainSource(w3), w3.eth.block_number)
    assert [h.output["blockNumber"] for h in result.hits] == [number - 1]
    assert result.overload == Overload(TASK, number, 4, 3, "0")
    assert "exceeded 3 events per block" in result.overload.details
    assert watch.done


def test_the_default_limit_applies_when_the_query_has_none(chain: Chain) -> None:
    w3 = chain.w3
    token = deploy(chain, "DevnetERC20", "Flood", "FLD")
    watch = make_watch(meta(TASK, transfers_above(token.address, 10)), now_ms=T0, head=w3.eth.block_number,
                       max_events_per_block=2)
    number = flood(chain, token, [100, 200, 300])
    result = watch.advance(ChainSource(w3), w3.eth.block_number)
    assert result.hits == [] and result.overload == Overload(TASK, number, 3, 2, "0")
