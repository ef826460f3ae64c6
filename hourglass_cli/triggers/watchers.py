"""Watchers: what an operator watches for one task (a ``SyncMessagesResp.TaskMetadata``) and the hits it reports.

Pure parts driven from outside (:class:`hourglass_cli.triggers.operator.OperatorClient` runs them): a
:class:`TimeWatch` is asked what is :meth:`~TimeWatch.due` at a clock value, a :class:`BlockWatch` or
:class:`EventWatch` is :meth:`advanced <ChainWatch.advance>` to a chain head through a :class:`ChainSource`
(one per poll: each block is fetched once for all watches). A hit is ``(request id, output)`` as
:mod:`hourglass_cli.triggers.protocol` forms them, so every honest operator reports the same bytes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from eth_utils import event_abi_to_log_topic, to_checksum_address

from hourglass_cli.triggers import protocol
from hourglass_cli.wire.gen import avs_pb2

log = logging.getLogger("hourglass.executor.triggers")

#: The TaskTrigger oneof name → TriggerType.
TRIGGER_TYPES = {"fixed_time": avs_pb2.TRIGGER_TYPE_FIXED_TIME, "cron": avs_pb2.TRIGGER_TYPE_CRON,
                 "block": avs_pb2.TRIGGER_TYPE_BLOCK, "event": avs_pb2.TRIGGER_TYPE_EVENT,
                 "manual": avs_pb2.TRIGGER_TYPE_MANUAL}
DEFAULT_MAX_EVENTS_PER_BLOCK = 100
MAX_BLOCKS_PER_ADVANCE = 500  # a chain watch far behind catches up over several polls
_DECIMALS_SELECTOR = bytes.fromhex("313ce567")  # decimals()


class WatchError(ValueError):
    """A trigger this operator cannot watch (unknown kind, bad cron, no interval, bad ABI)."""


@dataclass(frozen=True)
class Hit:
    """One trigger occurrence to report."""

    task_id: str
    trigger_type: int
    request_id: str
    output: dict


@dataclass(frozen=True)
class Overload:
    """A block with more matching logs than a query's ``max_events_per_block``: reported instead of its hits."""

    task_id: str
    block_number: int
    events_detected: int
    safety_limit: int
    query_index: str

    @property
    def details(self) -> str:
        return (f"Query {self.query_index} exceeded {self.safety_limit} events per block limit with "
                f"{self.events_detected} events at block {self.block_number}")


@dataclass
class Advance:
    hits: list[Hit] = field(default_factory=list)
    overload: Overload | None = None


def trigger_kind(trigger: avs_pb2.TaskTrigger) -> str:
    kind = trigger.WhichOneof("trigger_type")
    if kind is None:
        kind = {v: k for k, v in TRIGGER_TYPES.items()}.get(trigger.type, "")
    return kind


class Watch:
    """What every watch has: its task, trigger type, window (ms, 0 = open) and whether it is finished."""

    kind = ""

    def __init__(self, meta: Any) -> None:
        self.task_id: str = meta.task_id
        self.trigger_type = TRIGGER_TYPES[self.kind]
        self.start_at = int(meta.start_at)
        self.expired_at = int(meta.expired_at)
        self.fingerprint = meta.trigger.SerializeToString(deterministic=True) + f"|{self.start_at}|{self.expired_at}".encode()
        self.done = False

    def in_window(self, at_ms: int) -> bool:
        return at_ms >= self.start_at and (not self.expired_at or at_ms < self.expired_at)

    def expired(self, at_ms: int) -> bool:
        return bool(self.expired_at) and at_ms >= self.expired_at


# -- time ------------------------------------------------------------------------------------------


class TimeWatch(Watch):
    """FIXED_TIME epochs or CRON schedules (UTC). On creation, times up to ``grace_ms`` before ``now_ms`` are still
    due (a late joiner reports them), older ones are skipped; each scheduled time is reported once."""

    def __init__(self, meta: Any, *, now_ms: int, grace_ms: int) -> None:
        self.kind = trigger_kind(meta.trigger)
        super().__init__(meta)
        floor = max(int(now_ms) - int(grace_ms), self.start_at)
        self._schedules: dict[str, int | None] = {}
        self._pending: list[int] = []
        if self.kind == "fixed_time":
            self._pending = sorted({int(e) for e in meta.trigger.fixed_time.config.epochs if int(e) >= floor})
        else:
            from hourglass_cli.api.schedule import check_cron, next_fire

            schedules = list(meta.trigger.cron.config.schedules)
            if not schedules:
                raise WatchError(f"task {self.task_id}: a cron trigger without schedules")
            for text in schedules:
                problem = check_cron(text)
                if problem:
                    raise WatchError(f"task {self.task_id}: cron schedule {text!r}: {problem}")
                self._schedules[text] = next_fire(text, floor - 1)  # next_fire is strictly after
        self._drop_expired()

    def _drop_expired(self) -> None:
        self._pending = [t for t in self._pending if not self.expired(t)]
        for text, at in self._schedules.items():
            if at is not None and self.expired(at):
                self._schedules[text] = None
        if not self._pending and all(at is None for at in self._schedules.values()):
            self.done = True

    def next_due(self) -> int | None:
        """The next scheduled time (ms), None when nothing is left."""
        times = self._pending + [at for at in self._schedules.values() if at is not None]
        return min(times) if times else None

    def due(self, now_ms: int) -> list[Hit]:
        """The hits of every scheduled time at or before ``now_ms`` not reported yet, oldest first."""
        from hourglass_cli.api.schedule import next_fire

        fired: set[int] = {t for t in self._pending if t <= now_ms}
        self._pending = [t for t in self._pending if t > now_ms]
        for text, at in self._schedules.items():
            while at is not None and at <= now_ms and not self.expired(at):
                fired.add(at)
                at = next_fire(text, at)
            self._schedules[text] = at
        self._drop_expired()
        return [Hit(self.task_id, self.trigger_type, protocol.time_request_id(self.task_id, t), protocol.time_output(t))
                for t in sorted(fired) if self.in_window(t)]


# -- chain -----------------------------------------------------------------------------------------


class ChainSource:
    """The chain as one poll sees it: blocks and ``decimals()`` results fetched once, shared by all watches."""

    def __init__(self, w3: Any) -> None:
        self.w3 = w3
        self._blocks: dict[int, Any] = {}
        self._calls: dict[tuple[str, bytes, int], int | None] = {}

    def block(self, number: int) -> Any:
        if number not in self._blocks:
            self._blocks[number] = self.w3.eth.get_block(number)
        return self._blocks[number]

    def block_ms(self, number: int) -> int:
        return int(self.block(number)["timestamp"]) * 1000

    def get_logs(self, params: dict) -> list[Any]:
        return list(self.w3.eth.get_logs(params))

    def call_uint(self, address: str, data: bytes, block: int) -> int | None:
        """A uint returned by an eth_call at ``block`` (the log's: the same answer on every operator), None on
        a revert or a non-uint answer."""
        key = (address, data, block)
        if key not in self._calls:
            from eth_abi import decode

            try:
                raw = self.w3.eth.call({"to": address, "data": "0x" + data.hex()}, block)
                self._calls[key] = int(decode(["uint256"], bytes(raw))[0])
            except Exception as exc:  # noqa: BLE001 - not such a contract / reverts: no formatting
                log.debug("method call failed address=%s block=%s error=%s", address, block, exc)
                self._calls[key] = None
        return self._calls[key]


class ChainWatch(Watch):
    """A watch of new blocks: those after the head when it was made."""

    def __init__(self, meta: Any, *, head: int) -> None:
        super().__init__(meta)
        self.next_block = int(head) + 1

    def advance(self, chain: ChainSource, head: int) -> Advance:
        raise NotImplementedError


class BlockWatch(ChainWatch):
    """Every block ``n`` with ``n % interval == 0``."""

    kind = "block"

    def __init__(self, meta: Any, *, head: int) -> None:
        super().__init__(meta, head=head)
        self.interval = int(meta.trigger.block.config.interval)
        if self.interval <= 0:
            raise WatchError(f"task {self.task_id}: a block trigger needs interval > 0, got {self.interval}")

    def advance(self, chain: ChainSource, head: int) -> Advance:
        result = Advance()
        last = min(int(head), self.next_block + MAX_BLOCKS_PER_ADVANCE - 1)
        first = -(-self.next_block // self.interval) * self.interval  # the first multiple at or after next_block
        for n in range(first, last + 1, self.interval):
            at = chain.block_ms(n) if (self.start_at or self.expired_at) else 0
            if self.expired(at):
                self.done = True
                break
            if self.in_window(at):
                result.hits.append(Hit(self.task_id, self.trigger_type, protocol.block_request_id(self.task_id, n),
                                       protocol.block_output(chain.block(n))))
        self.next_block = max(self.next_block, last + 1)
        return result


def _abi_entries(values: Any) -> list[dict]:
    """A query's contract_abi (Values: ABI entries, or a JSON text of one entry or a whole ABI) as dicts."""
    from hourglass_cli.api.engine import from_value

    entries: list[dict] = []
    for value in values:
        data = from_value(value)
        if isinstance(data, str):
            data = json.loads(data)
        entries.extend(data if isinstance(data, list) else [data])
    return [e for e in entries if isinstance(e, dict)]


def _plain(value: Any) -> Any:
    """A decoded ABI value as output data: numbers as decimal strings (exact beyond 2^53), bytes as 0x-hex."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _int(text: str) -> int:
    text = text.strip()
    return int(text, 16) if text.lower().startswith(("0x", "-0x")) else int(text, 10)


_ORDER = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b,
          "lte": lambda a, b: a <= b, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b}


def condition_holds(condition: Any, event_name: str, fields: dict[str, Any]) -> bool:
    """One EventCondition against an event's decoded fields (upstream's rules): ``field_name`` is ``field`` or
    ``Event.field`` (a condition on another event passes); numbers compare as integers (``decimal`` too),
    addresses/bytes case-insensitively (eq/ne), bools and strings eq/ne. Anything else does not hold."""
    name = condition.field_name
    if "." in name:
        target, name = name.split(".", 1)
        if target != event_name:
            return True
    if name not in fields:
        return False
    value, kind, op = fields[name], condition.field_type.strip().lower(), condition.operator.strip().lower()
    if op not in _ORDER:
        return False
    try:
        if kind.startswith(("uint", "int")) or kind == "decimal":
            return isinstance(value, int) and not isinstance(value, bool) and _ORDER[op](value, _int(condition.value))
        if op not in ("eq", "ne"):
            return False
        if kind in ("address",) or kind.startswith("bytes"):
            actual = ("0x" + bytes(value).hex()) if isinstance(value, (bytes, bytearray)) else str(value)
            return _ORDER[op](actual.lower(), condition.value.strip().lower())
        if kind == "bool":
            return isinstance(value, bool) and _ORDER[op](value, condition.value.strip().lower() == "true")
        if kind == "string":
            return _ORDER[op](str(value), condition.value)
    except ValueError:
        return False
    return False


@dataclass
class _Query:
    index: int
    addresses: list[str]
    topics: list[str]
    limit: int
    events: dict[bytes, dict]  # topic0 → event ABI
    conditions: list[Any]
    decimals_calls: list[tuple[bytes, list[str]]]  # (call data, fields to format)


class EventWatch(ChainWatch):
    """Logs of each query in new blocks, decoded with the query's ABI, filtered by its conditions."""

    kind = "event"

    def __init__(self, meta: Any, *, head: int, max_events_per_block: int = DEFAULT_MAX_EVENTS_PER_BLOCK) -> None:
        super().__init__(meta, head=head)
        self.queries: list[_Query] = []
        for i, q in enumerate(meta.trigger.event.config.queries):
            try:
                entries = _abi_entries(q.contract_abi)
                events = {bytes(event_abi_to_log_topic(e)): e for e in entries
                          if e.get("type") == "event" and not e.get("anonymous")}
            except (ValueError, KeyError, TypeError) as exc:
                raise WatchError(f"task {self.task_id}: query {i}: contract_abi is not a valid ABI: {exc}") from exc
            calls = [(bytes.fromhex(mc.call_data.removeprefix("0x")) if mc.call_data else _DECIMALS_SELECTOR,
                      list(mc.apply_to_fields)) for mc in q.method_calls if mc.method_name == "decimals"]
            limit = q.max_events_per_block if q.HasField("max_events_per_block") and q.max_events_per_block else 0
            self.queries.append(_Query(i, list(q.addresses), list(q.topics), int(limit or max_events_per_block),
                                       events, list(q.conditions), calls))
        if not self.queries:
            raise WatchError(f"task {self.task_id}: an event trigger without queries")

    def advance(self, chain: ChainSource, head: int) -> Advance:
        result = Advance()
        last = min(int(head), self.next_block + MAX_BLOCKS_PER_ADVANCE - 1)
        if last < self.next_block:
            return result
        by_block: dict[int, list[tuple[_Query, list[Any]]]] = {}
        for q in self.queries:
            per_block: dict[int, list[Any]] = {}
            for entry in chain.get_logs(protocol.log_filter(q.addresses, q.topics, self.next_block, last)):
                per_block.setdefault(int(entry["blockNumber"]), []).append(entry)
            for number, logs in per_block.items():
                by_block.setdefault(number, []).append((q, logs))
        for number in sorted(by_block):
            at = chain.block_ms(number) if (self.start_at or self.expired_at) else 0
            if self.expired(at):
                self.done = True
                break
            over = next(((q, logs) for q, logs in by_block[number] if len(logs) > q.limit), None)
            if over is not None:
                q, logs = over
                result.overload = Overload(self.task_id, number, len(logs), q.limit, str(q.index))
                self.done = True
                break
            if not self.in_window(at):
                continue
            seen: set[tuple[str, int]] = set()
            for q, logs in by_block[number]:
                for entry in sorted(logs, key=lambda e: int(e["logIndex"])):
                    output = self._output(chain, q, entry)
                    key = (output["transactionHash"], output["logIndex"]) if output else None
                    if output is None or key in seen:
                        continue
                    seen.add(key)
                    result.hits.append(Hit(self.task_id, self.trigger_type,
                                           protocol.event_request_id(self.task_id, *key), output))
        self.next_block = max(self.next_block, last + 1) if not self.done else self.next_block
        return result

    def _output(self, chain: ChainSource, q: _Query, entry: Any) -> dict | None:
        """The hit's output for one log, None when the query's conditions reject it."""
        output = protocol.log_output(entry)
        topics = entry["topics"]
        event = q.events.get(bytes(topics[0])) if topics else None
        if event is None:
            return None if q.conditions else output  # conditions need the ABI (upstream: no match)
        from web3._utils.events import get_event_data

        try:
            decoded = get_event_data(chain.w3.codec, event, entry)
        except Exception as exc:  # noqa: BLE001 - a log not of this ABI's shape (e.g. ERC-721 Transfer)
            log.debug("log not decodable task=%s tx=%s error=%s", self.task_id, output["transactionHash"], exc)
            return None if q.conditions else output
        name, args = event["name"], dict(decoded["args"])
        if not all(condition_holds(c, name, args) for c in q.conditions):
            return None
        fields = {k: _plain(v) for k, v in args.items()}
        for data, targets in q.decimals_calls:
            decimals = chain.call_uint(to_checksum_address(entry["address"]), data, int(entry["blockNumber"]))
            if decimals is None:
                continue
            for target in targets:
                if "." in target:
                    event_name, target = target.split(".", 1)
                    if event_name != name:
                        continue
                raw = args.get(target)
                if isinstance(raw, int) and not isinstance(raw, bool):
                    fields[target] = protocol.format_decimals(raw, decimals)
                    fields[target + "Raw"] = str(raw)
        # the raw log's keys win: they name the log the dedup key is made of
        return {**fields, "eventName": name, **output}


def make_watch(meta: Any, *, now_ms: int, head: int | None, grace_ms: int = 60_000,
               max_events_per_block: int = DEFAULT_MAX_EVENTS_PER_BLOCK) -> Watch:
    """The watch of a task's trigger; ``head`` (the chain's latest block) is needed for block and event ones."""
    kind = trigger_kind(meta.trigger)
    if kind in ("fixed_time", "cron"):
        return TimeWatch(meta, now_ms=now_ms, grace_ms=grace_ms)
    if kind in ("block", "event") and head is None:
        raise WatchError(f"task {meta.task_id}: a {kind} trigger needs the chain head")
    if kind == "block":
        return BlockWatch(meta, head=int(head))  # type: ignore[arg-type]
    if kind == "event":
        return EventWatch(meta, head=int(head), max_events_per_block=max_events_per_block)  # type: ignore[arg-type]
    raise WatchError(f"task {meta.task_id}: trigger kind {kind or 'unset'!r} is not watched by operators")
