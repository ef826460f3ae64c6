"""``aggregator.Node``: operators of the AVS's monitoring set watch the automations' triggers; a quorum fires them.

- **Auth, enforced** (upstream checks nothing): a stream (``SyncMessages``) or check-in (``Ping``) is accepted
  only from a member of the monitoring operator set (:mod:`registry`), with a signature by its registered key of
  the auth bytes (:mod:`protocol`) at an epoch within ``auth_window`` of our clock. Reports carry a signature
  over (task id, dedup key, output hash); overload alerts over their fields (in call metadata).
- **Assignment**: each enabled automation with a time, cron, block or event trigger is watched by
  ``redundancy`` connected operators that can watch its kind (0 = all of them), picked by rendezvous hashing of
  (task, operator); when an operator connects or its stream ends, every assignment is recomputed: new watchers
  get ``MonitorTaskTrigger``, dropped ones ``DeleteTask``.
- **Delivery**: each operator has an outbox holding at most one message per task (a newer one replaces an older
  one); a message is sent again every ``resend_seconds`` until the operator ``Ack``s its id. A stream that never
  acks costs one message per task, never more.
- **Quorum**: a report is recorded once per (dedup key, operator); when the operators whose reports agree on the
  output hold ``quorum`` of the set's total weight, :meth:`ApiService.fire_trigger` starts one execution (the
  key is stored with it in one transaction) recording who reported. One operator alone (unless it holds the
  quorum's weight), duplicates and disagreeing outputs never start one.
- **Lifecycle**: create / enable → MonitorTaskTrigger, disable → DisableTask, delete → DeleteTask, completed
  (max executions, expiry: a sweeper checks every second) → CompletedTask.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import grpc
from eth_utils import is_hex_address, to_checksum_address
from google.protobuf import timestamp_pb2, wrappers_pb2
from ulid import ULID

from hourglass_cli.api.auth import RateLimiter
from hourglass_cli.api.engine import from_value
from hourglass_cli.triggers import protocol
from hourglass_cli.triggers.registry import Member, OperatorRegistry
from hourglass_cli.wire.gen import avs_pb2 as pb
from hourglass_cli.wire.gen import node_pb2 as npb

log = logging.getLogger("hourglass.api.triggers")

# trigger oneof name → (TriggerType, NotifyTriggersReq output field, capability)
KINDS = {
    "fixed_time": (pb.TRIGGER_TYPE_FIXED_TIME, "fixed_time_trigger", "time_monitoring"),
    "cron": (pb.TRIGGER_TYPE_CRON, "cron_trigger", "time_monitoring"),
    "block": (pb.TRIGGER_TYPE_BLOCK, "block_trigger", "block_monitoring"),
    "event": (pb.TRIGGER_TYPE_EVENT, "event_trigger", "event_monitoring"),
}
_CAPABILITIES = ("event_monitoring", "block_monitoring", "time_monitoring")


class Refused(Exception):
    """A call refused with a gRPC status (counted in metrics by reason)."""

    def __init__(self, code: grpc.StatusCode, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def watched_kind(task: pb.Task) -> str | None:
    """The trigger kind operators watch for this task (None for manual triggers)."""
    which = task.trigger.WhichOneof("trigger_type")
    return which if which in KINDS else None


@dataclass
class _Outgoing:
    message: npb.SyncMessagesResp
    sent_at: float | None = None


@dataclass
class _Session:
    operator: str
    capabilities: frozenset[str]
    connected_at: float
    outbox: OrderedDict[str, _Outgoing] = field(default_factory=OrderedDict)  # task id → its latest message
    closed: bool = False
    acked: int = 0
    sent: int = 0


def _decode_signature(text: str) -> bytes | None:
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        return None
    return raw if 0 < len(raw) <= 256 else None


class NodeService:
    """The operator side of the client API over an :class:`ApiService` and an :class:`OperatorRegistry`."""

    def __init__(self, api: Any, registry: OperatorRegistry, *, chain_id: int, clock=time.time) -> None:
        self.api = api
        self.settings = api.config.triggers
        self.registry = registry
        self.chain_id = int(chain_id)
        self.clock = clock
        self.metrics: Counter[str] = Counter()
        self.quorum = Fraction(self.settings.quorum).limit_denominator(1000)
        self.limiter = RateLimiter(self.settings.reports_per_second, self.settings.report_burst)
        self._lock = threading.Condition(threading.RLock())
        self._sessions: dict[str, _Session] = {}
        self._assigned: dict[str, set[str]] = {}  # task id → operators watching it
        self._message_ids: dict[str, tuple[str, str]] = {}  # message id → (operator, task id)
        self._immediate: dict[str, set[int]] = {}  # task id → start_at of ImmediateTrigger messages sent
        self._last_report: dict[str, tuple[str, str, float]] = {}  # operator → (task, dedup key, at)
        self._pings: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="api-triggers-sweep", daemon=True)
        api.node = self

    def start(self) -> NodeService:
        self._sweeper.start()
        return self

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            for session in self._sessions.values():
                session.closed = True
            self._lock.notify_all()

    # -- plumbing -----------------------------------------------------------------------------------------

    def _refuse(self, code: grpc.StatusCode, reason: str, message: str) -> Refused:
        self.metrics[f"refused_{reason}"] += 1
        return Refused(code, reason, message)

    def _verifier(self):
        from hourglass_cli.wire.signing import verifier_for

        return verifier_for(self.registry.table().curve.label)

    def _member(self, address: str) -> Member:
        if not is_hex_address(address or ""):
            raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "bad_address",
                               f"address {address[:80]!r} is not an operator address (0x + 40 hex digits)")
        try:
            member = self.registry.member(address)
        except Exception as exc:  # noqa: BLE001 - the chain's error: the caller may retry
            raise self._refuse(grpc.StatusCode.UNAVAILABLE, "registry",
                               f"cannot read the monitoring operator set: {type(exc).__name__}: {exc}") from None
        if member is None:
            raise self._refuse(grpc.StatusCode.PERMISSION_DENIED, "unknown_operator",
                               f"{to_checksum_address(address)} is not a registered operator of operator set "
                               f"{self.registry.set_id} of AVS {self.registry.avs} (with a key)")
        return member

    def _check_signature(self, member: Member, message: bytes, signature: bytes | None, what: str) -> None:
        ok = False
        if signature:
            try:
                ok = self._verifier().verify_offchain(message, signature, member.public_key)
            except Exception:  # noqa: BLE001 - a malformed signature is a refusal, not a crash
                ok = False
        if not ok:
            raise self._refuse(grpc.StatusCode.UNAUTHENTICATED, "bad_signature",
                               f"the {what} signature does not verify with {member.address}'s registered key of "
                               f"operator set {self.registry.set_id}")

    def _check_epoch(self, epoch_ms: int) -> None:
        skew = abs(self.clock() * 1000 - epoch_ms) / 1000
        if skew > self.settings.auth_window:
            raise self._refuse(grpc.StatusCode.UNAUTHENTICATED, "stale_signature",
                               f"the signed epoch is {skew:.0f} s off the server's clock (at most "
                               f"{self.settings.auth_window:g} s): sign a fresh one (check the clock)")

    def _authenticate(self, address: str, purpose: str, epoch_ms: int, signature: bytes | None) -> Member:
        member = self._member(address)
        self._check_epoch(epoch_ms)
        self._check_signature(member, protocol.auth_message(self.chain_id, purpose, member.address, epoch_ms),
                              signature, purpose)
        return member

    # -- assignment and delivery ------------------------------------------------------------------------

    def _candidates(self, kind: str) -> list[str]:
        capability = KINDS[kind][2]
        return [op for op, s in self._sessions.items() if not s.closed and capability in s.capabilities]

    def _pick(self, task_id: str, kind: str) -> set[str]:
        candidates = self._candidates(kind)
        count = self.settings.redundancy or len(candidates)
        ranked = sorted(candidates, key=lambda op: hashlib.sha256(f"{task_id}:{op}".encode()).digest())
        return set(ranked[:count])

    def _enqueue(self, operator: str, task: pb.Task, op: int, *, start_at: int | None = None) -> None:
        session = self._sessions.get(operator)
        if session is None or session.closed:
            return
        message = npb.SyncMessagesResp(id=str(ULID()), op=op)
        meta = message.task_metadata
        meta.task_id = task.id
        meta.remain = task.max_execution - task.execution_count if task.max_execution else -1
        meta.expired_at = task.expired_at
        meta.start_at = task.start_at if start_at is None else start_at
        if op in (npb.MonitorTaskTrigger, npb.ImmediateTrigger):
            meta.trigger.CopyFrom(task.trigger)
        old = session.outbox.pop(task.id, None)
        if old is not None:
            self._message_ids.pop(old.message.id, None)
        session.outbox[task.id] = _Outgoing(message)
        self._message_ids[message.id] = (operator, task.id)
        self._lock.notify_all()

    def _watchable(self, task: pb.Task) -> bool:
        return task.status == pb.Enabled and watched_kind(task) is not None and \
            (task.expired_at == 0 or task.expired_at > self.clock() * 1000) and \
            (task.max_execution == 0 or task.execution_count < task.max_execution)

    def _reassign(self, task: pb.Task) -> None:
        kind = watched_kind(task)
        old = self._assigned.get(task.id, set())
        new = self._pick(task.id, kind) if kind and self._watchable(task) else set()
        for operator in new - old:
            self._enqueue(operator, task, npb.MonitorTaskTrigger)
        for operator in old - new:
            self._enqueue(operator, task, npb.DeleteTask)
        if new:
            self._assigned[task.id] = new
        else:
            self._assigned.pop(task.id, None)

    def _reassign_all(self) -> None:
        tasks = [pb.Task.FromString(data) for data in self.api.store.enabled_tasks()]
        with self._lock:
            live = {t.id for t in tasks}
            for task_id in [t for t in self._assigned if t not in live]:
                self._assigned.pop(task_id, None)
            for task in tasks:
                self._reassign(task)

    def task_changed(self, task: pb.Task, *, deleted: bool = False) -> None:
        """An automation was created, enabled, disabled, completed or deleted: tell its watchers."""
        if watched_kind(task) is None:
            return
        with self._lock:
            if not deleted and self._watchable(task):
                self._reassign(task)
                return
            op = npb.DeleteTask if deleted else npb.DisableTask if task.status == pb.Disabled else \
                npb.CompletedTask
            for operator in self._assigned.pop(task.id, set()):
                self._enqueue(operator, task, op)
            self._immediate.pop(task.id, None)

    def immediate(self, task: pb.Task) -> int:
        """Ask the watchers to fire `task` now (``ImmediateTrigger``): their reports of ``<task>:<at>`` still need
        the quorum. Returns the time `at` (ms) the reports will name."""
        at = int(self.clock() * 1000)
        with self._lock:
            watchers = self._assigned.get(task.id) or set()
            if not watchers:
                return 0
            self._immediate.setdefault(task.id, set()).add(at)
            for operator in watchers:
                self._enqueue(operator, task, npb.ImmediateTrigger, start_at=at)
        return at

    def _retally(self) -> None:
        """After a restart: keys whose reports were stored but not yet counted to a quorum are counted now (a
        crash between a report's write and its tally loses no occurrence)."""
        for request_id, task_id in self.api.store.unfired_reports(self.clock() - self.settings.report_ttl):
            if ":overload:" in request_id:
                continue
            row = self.api.store.task(task_id)
            reports = self.api.store.reports(request_id)
            if row is None or not reports:
                continue
            task = pb.Task.FromString(row[1])
            kind = watched_kind(task)
            if kind is None or task.status != pb.Enabled:
                continue
            try:
                event_time = self._check_request_id(task, kind, request_id, json.loads(reports[0][3]))
            except Refused:
                continue
            self._tally(task, request_id, event_time)

    def _sweep(self) -> None:
        """Complete expired automations (CompletedTask to their watchers) and forget stale reports."""
        last_prune = 0.0
        try:
            self._retally()
        except Exception as exc:  # noqa: BLE001 - the sweeper must keep going
            log.error("trigger re-tally: %s: %s", type(exc).__name__, exc)
        while not self._stop.wait(1.0):
            try:
                self.api.complete_ended()
                if time.monotonic() - last_prune > 60:
                    last_prune = time.monotonic()
                    self.api.store.prune_reports(self.clock() - self.settings.report_ttl)
            except Exception as exc:  # noqa: BLE001 - the sweeper must keep going
                log.error("trigger sweeper: %s: %s", type(exc).__name__, exc)

    # -- RPCs ---------------------------------------------------------------------------------------------

    def HealthCheck(self, request: npb.HealthCheckRequest, context) -> npb.HealthCheckResponse:
        return npb.HealthCheckResponse(status="OK", message="aggregator.Node serving",
                                       timestamp=int(self.clock() * 1000))

    def Ping(self, request: npb.Checkin, context) -> npb.CheckinResp:
        epoch_ms = request.status.last_heartbeat.ToMilliseconds() if request.status.HasField("last_heartbeat") \
            else 0
        member = self._authenticate(request.address, "ping", epoch_ms, _decode_signature(request.signature))
        status = {"version": request.version[:64], "block_number": request.block_number,
                  "event_count": request.event_count, "uptime": request.status.uptime,
                  "queue_depth": request.status.queueDepth, "at": self.clock()}
        with self._lock:
            self._pings[member.address] = status
        self.metrics["pings"] += 1
        now = timestamp_pb2.Timestamp()
        now.FromMilliseconds(int(self.clock() * 1000))
        return npb.CheckinResp(updated_at=now)

    def Ack(self, request: npb.AckMessageReq, context) -> wrappers_pb2.BoolValue:
        with self._lock:
            found = self._message_ids.pop(request.id, None)
            if found is None:
                self.metrics["acks_unknown"] += 1
                return wrappers_pb2.BoolValue(value=False)
            operator, task_id = found
            session = self._sessions.get(operator)
            if session is not None:
                outgoing = session.outbox.get(task_id)
                if outgoing is not None and outgoing.message.id == request.id:
                    del session.outbox[task_id]
                session.acked += 1
        self.metrics["acks"] += 1
        return wrappers_pb2.BoolValue(value=True)

    def SyncMessages(self, request: npb.SyncMessagesReq, context):
        """The operator's stream: its assignments, then every change, each resent until acknowledged."""
        try:
            member = self._authenticate(request.address, "sync", request.monotonic_clock, request.signature or None)
        except Refused as exc:
            context.abort(exc.code, exc.message)
            return
        caps = request.capabilities
        capabilities = frozenset(c for c in _CAPABILITIES if getattr(caps, c)) if request.HasField("capabilities") \
            else frozenset(_CAPABILITIES)  # upstream operators before capabilities watch everything
        session = _Session(member.address, capabilities, self.clock())
        with self._lock:
            live = sum(1 for s in self._sessions.values() if not s.closed)
            old = self._sessions.get(member.address)
            if old is None and live >= self.settings.max_streams:
                self.metrics["refused_too_many_streams"] += 1
                context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                              f"{live} operator streams are open, the most allowed ([api.triggers].max_streams)")
                return
            if old is not None:  # a reconnect: the old stream ends, this one gets the whole assignment
                old.closed = True
                for outgoing in old.outbox.values():
                    self._message_ids.pop(outgoing.message.id, None)
                for watchers in self._assigned.values():
                    watchers.discard(member.address)
            self._sessions[member.address] = session
            self.metrics["streams"] += 1
        log.info("operator %s connected (watches %s)", member.address, ",".join(sorted(capabilities)))
        self._reassign_all()
        try:
            yield from self._drain(session, context)
        finally:
            with self._lock:
                session.closed = True
                if self._sessions.get(member.address) is session:
                    del self._sessions[member.address]
                    for outgoing in session.outbox.values():
                        self._message_ids.pop(outgoing.message.id, None)
                    for watchers in self._assigned.values():
                        watchers.discard(member.address)
                    gone = True
                else:
                    gone = False
                self._lock.notify_all()
            if gone:
                log.info("operator %s disconnected; its triggers are reassigned", member.address)
                self._reassign_all()

    def _drain(self, session: _Session, context):
        resend = self.settings.resend_seconds
        while True:
            with self._lock:
                due: list[npb.SyncMessagesResp] = []
                while not due:
                    if session.closed or self._stop.is_set() or not context.is_active():
                        return
                    now = time.monotonic()
                    wake = now + min(resend, 1.0)
                    for outgoing in session.outbox.values():
                        if outgoing.sent_at is None or now - outgoing.sent_at >= resend:
                            due.append(outgoing.message)
                            if outgoing.sent_at is not None:
                                self.metrics["resent"] += 1
                            outgoing.sent_at = now
                        else:
                            wake = min(wake, outgoing.sent_at + resend)
                    if not due:
                        self._lock.wait(max(0.01, wake - now))
            for message in due:
                session.sent += 1
                yield message

    def _check_request_id(self, task: pb.Task, kind: str, request_id: str, data: Any) -> int:
        """The dedup key must name a time/block the trigger has (or an event); returns the event time (ms)."""
        parsed = protocol.parse_request_id(request_id)
        if parsed is None or parsed.task_id != task.id:
            raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "bad_request_id",
                               f"trigger_request_id {request_id[:80]!r} is not <task id>:<ms|block> or "
                               "<task id>:<0xtxhash>:<logIndex> for this task")
        now_ms = self.clock() * 1000
        slack = self.settings.future_slack
        if kind in ("fixed_time", "cron"):
            at = parsed.number
            if at is None:
                raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "bad_request_id",
                                   "a time trigger's trigger_request_id is <task id>:<ms>")
            if at > now_ms + slack * 1000:
                raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "future",
                                   f"time {at} is in the future (now {int(now_ms)})")
            scheduled = at in self._immediate.get(task.id, ())
            if not scheduled and kind == "fixed_time":
                scheduled = at in task.trigger.fixed_time.config.epochs
            if not scheduled and kind == "cron":
                from hourglass_cli.api.schedule import next_fire

                scheduled = any(next_fire(s, at - 1) == at for s in task.trigger.cron.config.schedules)
            if not scheduled:
                raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "not_scheduled",
                                   f"the trigger of {task.id} does not fire at {at}")
            if data != protocol.time_output(at):
                raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "bad_output",
                                   "a time trigger's output is {timestamp, timestampIso} of its scheduled time")
            return at
        if kind == "block":
            block = parsed.number
            interval = task.trigger.block.config.interval
            if block is None or interval <= 0 or block % interval:
                raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "not_scheduled",
                                   f"block {block} is not a multiple of the trigger's interval {interval}")
            head = self._head()
            if head is not None and block > head + slack:
                raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "future",
                                   f"block {block} is ahead of the chain's head {head}")
            if not isinstance(data, dict) or data.get("blockNumber") != block:
                raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "bad_output",
                                   "a block trigger's output names its blockNumber")
            return int(data.get("timestamp", 0)) * 1000 if isinstance(data.get("timestamp"), int) else 0
        if parsed.tx_hash is None or not isinstance(data, dict) or \
                str(data.get("transactionHash", "")).lower() != parsed.tx_hash or \
                data.get("logIndex") != parsed.log_index:
            raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "bad_request_id",
                               "an event trigger's trigger_request_id is <task id>:<transactionHash>:<logIndex> of "
                               "its output")
        return self._block_time(data.get("blockNumber"))

    def _head(self) -> int | None:
        chain = getattr(self.api, "chain", None)
        try:
            return int(chain.w3.eth.block_number) if chain is not None else None
        except Exception:  # noqa: BLE001 - no head check then; the quorum still has to agree
            return None

    def _block_time(self, number: Any) -> int:
        chain = getattr(self.api, "chain", None)
        if chain is not None and isinstance(number, int) and number >= 0:
            try:
                return int(chain.w3.eth.get_block(number)["timestamp"]) * 1000
            except Exception:  # noqa: BLE001 - fall back to our clock
                pass
        return int(self.clock() * 1000)

    def NotifyTriggers(self, request: npb.NotifyTriggersReq, context) -> npb.NotifyTriggersResp:
        self.metrics["reports"] += 1
        if request.ByteSize() > self.settings.max_report_bytes:
            raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "too_large",
                               f"the report is {request.ByteSize()} bytes, more than "
                               f"[api.triggers].max_report_bytes = {self.settings.max_report_bytes}")
        member = self._member(request.address)
        if not self.limiter.allow(member.address):
            raise self._refuse(grpc.StatusCode.RESOURCE_EXHAUSTED, "rate",
                               f"too many reports from {member.address}: at most "
                               f"{self.settings.reports_per_second:g}/s (burst {self.settings.report_burst})")
        which = request.WhichOneof("trigger_output")
        if which is None or which == "manual_trigger":
            raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "bad_output",
                               "a report carries the block, fixed_time, cron or event trigger output")
        value = getattr(request, which).data
        digest = protocol.output_hash(value)
        self._check_signature(member, protocol.report_message(self.chain_id, member.address, request.task_id,
                                                              request.trigger_request_id, digest),
                              _decode_signature(request.signature), "report")
        row = self.api.store.task(request.task_id) if request.task_id else None
        if row is None:
            raise self._refuse(grpc.StatusCode.NOT_FOUND, "unknown_task",
                               f"no automation {request.task_id[:40]!r} on this aggregator")
        task = pb.Task.FromString(row[1])
        kind = watched_kind(task)
        if kind is None or KINDS[kind][0] != request.trigger_type or KINDS[kind][1] != which:
            said = pb.TriggerType.Name(request.trigger_type) if request.trigger_type in pb.TriggerType.values() \
                else str(request.trigger_type)
            raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "wrong_kind",
                               f"automation {task.id} has a {kind or 'manual'} trigger; the report says {said} "
                               f"with a {which} output")
        data = from_value(value)
        event_time = self._check_request_id(task, kind, request.trigger_request_id, data)
        resp = self._answer(task)
        if task.status != pb.Enabled:
            self.metrics["reports_inactive"] += 1
            resp.message = f"automation {task.id} is {resp.status}: stop watching it"
            return resp
        with self._lock:
            self._last_report[member.address] = (task.id, request.trigger_request_id, self.clock())
        output = protocol.canonical(data).decode()
        if not self.api.store.add_report(request.trigger_request_id, member.address, task.id, digest.hex(),
                                         member.weight, output):
            self.metrics["reports_duplicate"] += 1
            resp.message = "already reported by this operator"
            return resp
        self.metrics["reports_accepted"] += 1
        self._tally(task, request.trigger_request_id, event_time)
        row = self.api.store.task(task.id)
        return self._answer(pb.Task.FromString(row[1])) if row else resp

    def _answer(self, task: pb.Task) -> npb.NotifyTriggersResp:
        now = timestamp_pb2.Timestamp()
        now.FromMilliseconds(int(self.clock() * 1000))
        expired = task.expired_at and task.expired_at <= self.clock() * 1000
        exhausted = task.max_execution and task.execution_count >= task.max_execution
        status = "exhausted" if exhausted else "expired" if expired else \
            {pb.Enabled: "enabled", pb.Disabled: "disabled", pb.Completed: "completed", pb.Failed: "failed",
             pb.Running: "running"}.get(task.status, "unknown")
        remaining = max(0, task.max_execution - task.execution_count) if task.max_execution else -1
        return npb.NotifyTriggersResp(updated_at=now, remaining_executions=remaining,
                                      task_still_enabled=status == "enabled", status=status)

    def _tally(self, task: pb.Task, request_id: str, event_time: int) -> None:
        """Fire when the reports agreeing on one output hold the quorum of the set's weight."""
        table = self.registry.table()
        by_hash: dict[str, list[tuple[str, int, str]]] = {}
        for operator, digest, _, output in self.api.store.reports(request_id):
            member = table.members.get(operator)
            if member is not None:  # weights as the set has them now: a deregistered operator counts nothing
                by_hash.setdefault(digest, []).append((operator, member.weight, output))
        if len(by_hash) > 1:
            self.metrics["reports_disagreeing"] += 1
        for digest, rows in by_hash.items():
            weight = sum(w for _, w, _ in rows)
            if table.total_weight <= 0 or weight * self.quorum.denominator < table.total_weight * \
                    self.quorum.numerator:
                continue
            quorum = {"requestId": request_id, "outputHash": "0x" + digest, "reporters": sorted(op for op, _, _ in rows),
                      "weight": str(weight), "totalWeight": str(table.total_weight),
                      "quorum": f"{self.quorum.numerator}/{self.quorum.denominator}",
                      "operatorSetId": self.registry.set_id}
            outcome, execution_id = self.api.fire_trigger(task.id, request_id, json.loads(rows[0][2]), quorum,
                                                          event_time)
            self.metrics[f"fires_{outcome.split(':')[0]}"] += 1
            if outcome == "fired":
                log.info("automation %s fired by %d operators (%s of weight %s) key=%s execution=%s", task.id,
                         len(rows), weight, table.total_weight, request_id, execution_id)
            return

    def ReportEventOverload(self, request: npb.EventOverloadAlert, context) -> npb.EventOverloadResponse:
        self.metrics["overload_reports"] += 1
        member = self._member(request.operator_address)
        signature = next((v for k, v in context.invocation_metadata() if k == protocol.SIGNATURE_METADATA), "")
        self._check_epoch(request.timestamp)
        self._check_signature(member, protocol.overload_message(
            self.chain_id, member.address, request.task_id, request.block_number, request.query_index,
            request.events_detected, request.timestamp), _decode_signature(signature), "overload")
        row = self.api.store.task(request.task_id) if request.task_id else None
        if row is None:
            raise self._refuse(grpc.StatusCode.NOT_FOUND, "unknown_task",
                               f"no automation {request.task_id[:40]!r} on this aggregator")
        task = pb.Task.FromString(row[1])
        if watched_kind(task) != "event":
            raise self._refuse(grpc.StatusCode.INVALID_ARGUMENT, "wrong_kind",
                               f"automation {task.id} does not have an event trigger")
        key = f"{task.id}:overload:{request.block_number}"
        self.api.store.add_report(key, member.address, task.id, "overload", member.weight,
                                  json.dumps({"events": request.events_detected, "limit": request.safety_limit}))
        table = self.registry.table()
        weight = sum(table.members[op].weight for op, _, _, _ in self.api.store.reports(key) if op in table.members)
        reached = table.total_weight > 0 and \
            weight * self.quorum.denominator >= table.total_weight * self.quorum.numerator
        now = int(self.clock() * 1000)
        if not reached:
            return npb.EventOverloadResponse(task_cancelled=False, timestamp=now,
                                             message="recorded; the automation is disabled when a quorum reports it")
        cancelled = self.api.disable_task(task.id, f"event flood: {request.events_detected} events in block "
                                                   f"{request.block_number} (limit {request.safety_limit}), "
                                                   "reported by a quorum of operators")
        if cancelled:
            self.metrics["overload_disabled"] += 1
        return npb.EventOverloadResponse(task_cancelled=True, timestamp=now,
                                         message="automation disabled: too many events per block")

    # -- status -------------------------------------------------------------------------------------------

    def status(self, task_id: str | None = None) -> dict[str, Any]:
        """Operators (connected or checked in), and for `task_id` its watchers, last reports and fires."""
        with self._lock:
            operators = {}
            for address, session in self._sessions.items():
                operators[address] = {"connected": not session.closed, "connectedAt": session.connected_at,
                                      "capabilities": sorted(session.capabilities), "sent": session.sent,
                                      "acked": session.acked, "unacked": len(session.outbox),
                                      "watching": sum(1 for w in self._assigned.values() if address in w)}
            for address, ping in self._pings.items():
                operators.setdefault(address, {"connected": False})["lastPing"] = ping
            for address, (task, key, at) in self._last_report.items():
                operators.setdefault(address, {"connected": False})["lastReport"] = {"task": task, "key": key,
                                                                                     "at": at}
            out: dict[str, Any] = {"operators": operators, "metrics": dict(self.metrics),
                                   "quorum": f"{self.quorum.numerator}/{self.quorum.denominator}",
                                   "operatorSetId": self.registry.set_id}
            if task_id is not None:
                out["watchers"] = sorted(self._assigned.get(task_id, set()))
        if task_id is not None:
            out["reports"] = [{"key": k, "operator": op, "outputHash": "0x" + h if h != "overload" else h, "at": at}
                              for k, op, h, at in self.api.store.recent_reports(task_id)]
            out["fires"] = [{"key": k, "execution": e, "outcome": o, "reporters": json.loads(r).get("reporters", []),
                             "at": at} for k, e, o, r, _, at in self.api.store.fires(task_id)]
        return out


def add_node_servicer(service: NodeService, server: grpc.Server) -> None:
    """Register ``aggregator.Node`` on `server` (refusals answer with their status; nothing else escapes)."""
    descriptor = npb.DESCRIPTOR.services_by_name["Node"]
    from google.protobuf import message_factory

    handlers = {}
    for method in descriptor.methods:
        request_type = message_factory.GetMessageClass(method.input_type)
        response_type = message_factory.GetMessageClass(method.output_type)
        fn = getattr(service, method.name)
        if method.server_streaming:
            handlers[method.name] = grpc.unary_stream_rpc_method_handler(
                fn, request_deserializer=request_type.FromString, response_serializer=response_type.SerializeToString)
        else:
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                _wrap(fn, service), request_deserializer=request_type.FromString,
                response_serializer=response_type.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(descriptor.full_name, handlers),))


def _wrap(fn, service: NodeService):
    def behaviour(request, context):
        try:
            return fn(request, context)
        except Refused as exc:
            context.abort(exc.code, exc.message)
        except Exception as exc:  # noqa: BLE001 - a bug answers INTERNAL and is logged; the service goes on
            service.metrics["internal_errors"] += 1
            log.exception("aggregator.Node %s failed", getattr(fn, "__name__", "?"))
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}")
    return behaviour
