"""The operator side of ``aggregator.Node``: receive trigger assignments, watch them, report hits.

:class:`OperatorClient` runs three threads: the *stream* (``SyncMessages``: each message is acknowledged with
``Ack`` at once, then applied; reconnects with exponential backoff and jitter when the stream ends or fails),
the *watch loop* (one for all watches: wakes at the next due time of a time watch, polls the chain head every
``poll_interval`` for block/event watches, each new block fetched once) and the *reporter* (``NotifyTriggers``
per hit, retried on UNAVAILABLE, never on a refusal; ``ReportEventOverload``; ``Ping`` every ``ping_interval``).
Everything it signs is :mod:`hourglass_cli.triggers.protocol`'s bytes; keys and signatures are never logged.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable

from eth_utils import to_checksum_address

from hourglass_cli.triggers import protocol
from hourglass_cli.triggers.watchers import (
    TRIGGER_TYPES,
    ChainSource,
    ChainWatch,
    Hit,
    Overload,
    TimeWatch,
    Watch,
    WatchError,
    make_watch,
    trigger_kind,
)
from hourglass_cli.wire.gen import avs_pb2

if TYPE_CHECKING:
    from hourglass_cli.wire.signing import Signer

log = logging.getLogger("hourglass.executor.triggers")

#: TriggerType → the NotifyTriggersReq ``trigger_output`` oneof field carrying the output.
OUTPUT_FIELDS = {avs_pb2.TRIGGER_TYPE_FIXED_TIME: "fixed_time_trigger", avs_pb2.TRIGGER_TYPE_CRON: "cron_trigger",
                 avs_pb2.TRIGGER_TYPE_BLOCK: "block_trigger", avs_pb2.TRIGGER_TYPE_EVENT: "event_trigger",
                 avs_pb2.TRIGGER_TYPE_MANUAL: "manual_trigger"}
_IDLE_WAIT = 60.0  # nothing to watch: the loop still wakes now and then (and at once on a new assignment)


@dataclass(frozen=True)
class TriggerSettings:
    """The client's knobs (the executor's ``[triggers]`` section)."""

    poll_interval: float = 0.5
    ping_interval: float = 15.0
    time_grace: float = 60.0
    max_events_per_block: int = 100
    reconnect_min: float = 1.0
    reconnect_max: float = 30.0
    event_monitoring: bool = True
    block_monitoring: bool = True
    time_monitoring: bool = True
    report_attempts: int = 4
    rpc_timeout: float = 10.0
    report_patience: float = 600.0  # seconds a report is retried while the aggregator is unreachable


@dataclass
class TriggerCounters:
    """What the client did, for status and metrics."""

    streams_opened: int = 0
    reconnects: int = 0
    messages_received: int = 0
    messages_acked: int = 0
    hits: int = 0
    reports_sent: int = 0
    reports_refused: int = 0
    reports_failed: int = 0
    overloads: int = 0
    pings: int = 0
    pings_failed: int = 0
    watch_errors: int = 0


class OperatorClient:
    """One operator's connection to the aggregator's Node service (``host:port``, insecure: loopback/tunnel)."""

    def __init__(self, address: str, *, operator: str, signer: Signer, chain_id: int, w3: Any = None,
                 settings: TriggerSettings | None = None, clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None, version: str = "") -> None:
        from hourglass_cli import __version__

        self.address = address
        self.operator = to_checksum_address(operator)
        self.signer = signer
        self.chain_id = int(chain_id)
        self.w3 = w3
        self.settings = settings or TriggerSettings()
        self.clock = clock
        self.version = version or __version__
        self._rng = rng or random.Random()
        self.counters = TriggerCounters()
        self.backoff_delays: deque[float] = deque(maxlen=32)  # the last reconnect waits (seconds)
        self.connected = threading.Event()  # a stream is open
        self.head: int | None = None
        self.event_count = 0
        self._lock = threading.RLock()
        self._watches: dict[str, Watch] = {}
        self._assigned: dict[str, Any] = {}  # task id → TaskMetadata not turned into a watch yet
        self._immediate_seen: deque[str] = deque(maxlen=1024)
        self._unwatched: dict[str, int] = {}  # task id → times it was stopped: queued hits from before are dropped
        self._reports: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._channel: Any = None
        self._stub: Any = None
        self._call: Any = None
        self._started_at = 0.0

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        import grpc

        from hourglass_cli.wire.gen import node_pb2_grpc

        if self._threads:
            return
        s = self.settings
        self._channel = grpc.insecure_channel(self.address, options=[
            ("grpc.initial_reconnect_backoff_ms", max(1, int(s.reconnect_min * 1000))),
            ("grpc.min_reconnect_backoff_ms", max(1, int(s.reconnect_min * 1000))),
            ("grpc.max_reconnect_backoff_ms", max(1, int(s.reconnect_max * 1000)))])
        self._stub = node_pb2_grpc.NodeStub(self._channel)
        self._started_at = time.monotonic()
        for name, target in (("stream", self._stream_loop), ("watch", self._watch_loop),
                             ("report", self._report_loop)):
            thread = threading.Thread(target=target, name=f"triggers-{name}", daemon=True)
            self._threads.append(thread)
            thread.start()
        log.info("trigger operator started aggregator=%s operator=%s curve=%s", self.address, self.operator,
                 self.signer.curve.value)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop all threads (in-flight calls are cancelled); returns within about ``timeout`` seconds."""
        self._stop.set()
        self._wake.set()
        self._reports.put(None)
        call = self._call
        if call is not None:
            call.cancel()
        if self._channel is not None:
            self._channel.close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("trigger operator thread %s did not stop within %gs", thread.name, timeout)
        self._threads = []
        self.connected.clear()

    def __enter__(self) -> OperatorClient:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state -------------------------------------------------------------------------------------

    @property
    def watched(self) -> set[str]:
        """Task ids being watched (or about to be)."""
        with self._lock:
            return set(self._watches) | set(self._assigned)

    def status(self) -> dict:
        """Counters and state for status pages and metrics."""
        return {**asdict(self.counters), "connected": self.connected.is_set(), "watching": len(self.watched),
                "queue_depth": self._reports.qsize(), "head": self.head}

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.counters, name, getattr(self.counters, name) + n)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _sign(self, message: bytes) -> bytes:
        return self.signer.sign_offchain(message)

    # -- stream ------------------------------------------------------------------------------------

    def _sync_request(self) -> Any:
        from hourglass_cli.wire.gen import node_pb2

        epoch = self._now_ms()
        s = self.settings
        return node_pb2.SyncMessagesReq(
            id=self.operator, address=self.operator, monotonic_clock=epoch,
            signature=self._sign(protocol.auth_message(self.chain_id, "sync", self.operator, epoch)),
            capabilities=node_pb2.SyncMessagesReq.Capabilities(
                event_monitoring=s.event_monitoring, block_monitoring=s.block_monitoring,
                time_monitoring=s.time_monitoring))

    def _backoff(self, failures: int) -> float:
        """Exponential from ``reconnect_min`` up to ``reconnect_max``, minus up to 20 % jitter."""
        s = self.settings
        base = min(s.reconnect_max, s.reconnect_min * (2 ** min(failures, 30)))
        return base * (1 - 0.2 * self._rng.random())

    def _stream_loop(self) -> None:
        import grpc

        from hourglass_cli.wire.gen import node_pb2

        failures = 0
        while not self._stop.is_set():
            got_message = False
            try:
                self._call = self._stub.SyncMessages(self._sync_request())
                self._count("streams_opened")
                for message in self._call:
                    self.connected.set()
                    got_message = True
                    self._count("messages_received")
                    self._stub.Ack(node_pb2.AckMessageReq(id=message.id), timeout=self.settings.rpc_timeout)
                    self._count("messages_acked")
                    self._apply(message)
                log.info("trigger stream ended by the aggregator address=%s", self.address)
            except grpc.RpcError as exc:
                if self._stop.is_set():
                    break
                code = exc.code() if hasattr(exc, "code") else None
                log.warning("trigger stream failed address=%s code=%s detail=%s", self.address,
                            getattr(code, "name", code), exc.details() if hasattr(exc, "details") else exc)
            except ValueError:  # the channel was closed under us: stopping
                if self._stop.is_set():
                    break
                raise
            finally:
                self._call = None
                self.connected.clear()
            if self._stop.is_set():
                break
            failures = 0 if got_message else failures + 1
            delay = self._backoff(failures)
            self.backoff_delays.append(delay)
            self._count("reconnects")
            log.info("trigger stream reconnecting in %.2fs address=%s", delay, self.address)
            self._stop.wait(delay)

    def _apply(self, message: Any) -> None:
        from hourglass_cli.wire.gen import node_pb2

        op, meta = message.op, message.task_metadata
        task = meta.task_id
        if op == node_pb2.MonitorTaskTrigger:
            if not self._capable(trigger_kind(meta.trigger)):
                log.warning("trigger not watched (capability off) task=%s kind=%s", task,
                            trigger_kind(meta.trigger))
                return
            with self._lock:
                self._assigned[task] = meta
            log.info("trigger assigned task=%s kind=%s", task, trigger_kind(meta.trigger))
            self._wake.set()
        elif op in (node_pb2.DisableTask, node_pb2.DeleteTask, node_pb2.CompletedTask):
            self._unwatch(task, node_pb2.MessageOp.Name(op))
        elif op == node_pb2.ImmediateTrigger:
            if message.id in self._immediate_seen:
                return
            self._immediate_seen.append(message.id)
            kind = trigger_kind(meta.trigger)
            at = int(meta.start_at) or self._now_ms()
            trigger_type = TRIGGER_TYPES[kind] if kind else (meta.trigger.type or avs_pb2.TRIGGER_TYPE_MANUAL)
            hit = Hit(task, trigger_type, protocol.time_request_id(task, at), protocol.time_output(at))
            self._count("hits")
            self._reports.put(("hit", hit, None))
        else:
            log.warning("trigger message with unknown op=%s task=%s", op, task)

    def _capable(self, kind: str) -> bool:
        s = self.settings
        return {"fixed_time": s.time_monitoring, "cron": s.time_monitoring, "block": s.block_monitoring,
                "event": s.event_monitoring}.get(kind, False)

    def _unwatch(self, task: str, why: str) -> None:
        with self._lock:
            self._unwatched[task] = self._unwatched.get(task, 0) + 1
            known = self._watches.pop(task, None) is not None
            known = self._assigned.pop(task, None) is not None or known
        if known:
            log.info("trigger watch stopped task=%s reason=%s", task, why)
        self._wake.set()

    # -- watches -----------------------------------------------------------------------------------

    def _take_assigned(self) -> None:
        """Turn new assignments into watches; one that equals the current watch keeps its progress."""
        with self._lock:
            assigned, self._assigned = self._assigned, {}
        if not assigned:
            return
        head = None
        now = self._now_ms()
        for task, meta in assigned.items():
            try:
                if head is None and trigger_kind(meta.trigger) in ("block", "event"):
                    head = self._chain_head()
                watch = make_watch(meta, now_ms=now, head=head, grace_ms=int(self.settings.time_grace * 1000),
                                   max_events_per_block=self.settings.max_events_per_block)
            except WatchError as exc:
                self._count("watch_errors")
                log.warning("trigger not watchable task=%s: %s", task, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - the chain is down: retry on the next round
                log.warning("trigger watch not started task=%s error=%s (retrying)", task, exc)
                with self._lock:
                    self._assigned.setdefault(task, meta)
                continue
            with self._lock:
                current = self._watches.get(task)
                if current is None or current.fingerprint != watch.fingerprint:
                    self._watches[task] = watch

    def _chain_head(self) -> int:
        if self.w3 is None:
            raise WatchError("no chain connection for block/event triggers")
        self.head = int(self.w3.eth.block_number)
        return self.head

    def _watch_loop(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self._watch_round()
            except Exception as exc:  # noqa: BLE001 - an RPC hiccup must not end the loop
                log.warning("trigger watch round failed error=%s", exc)
                wait = self.settings.poll_interval
            self._wake.wait(wait)
            self._wake.clear()

    def _watch_round(self) -> float:
        """One pass over all watches; returns how long to wait before the next."""
        self._take_assigned()
        with self._lock:
            watches = list(self._watches.values())
        now = self._now_ms()
        wait = _IDLE_WAIT
        chain_watches = [w for w in watches if isinstance(w, ChainWatch)]
        for w in watches:
            if isinstance(w, TimeWatch):
                self._emit(w, w.due(now))
                next_at = w.next_due()
                if next_at is not None:
                    wait = min(wait, max(0.0, (next_at - self._now_ms()) / 1000))
        if chain_watches:
            head = self._chain_head()
            source = ChainSource(self.w3)
            for w in chain_watches:
                if w.next_block <= head:
                    result = w.advance(source, head)
                    self._emit(w, result.hits)
                    if result.overload is not None:
                        self._reports.put(("overload", result.overload, None))
                        log.warning("trigger overload task=%s block=%s events=%s limit=%s query=%s", w.task_id,
                                    result.overload.block_number, result.overload.events_detected,
                                    result.overload.safety_limit, result.overload.query_index)
            wait = min(wait, self.settings.poll_interval)
        with self._lock:
            for w in watches:
                if w.done and self._watches.get(w.task_id) is w:
                    del self._watches[w.task_id]
                    log.info("trigger watch finished task=%s", w.task_id)
        return wait

    def _emit(self, watch: Watch, hits: list[Hit]) -> None:
        with self._lock:
            generation = self._unwatched.get(watch.task_id, 0)
        for hit in hits:
            self._count("hits")
            self._reports.put(("hit", hit, generation))

    # -- reports -----------------------------------------------------------------------------------

    def _report_loop(self) -> None:
        next_ping = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() >= next_ping:
                self._ping()
                next_ping = time.monotonic() + self.settings.ping_interval
            try:
                item = self._reports.get(timeout=max(0.0, next_ping - time.monotonic()))
            except queue.Empty:
                continue
            if item is None:
                break
            kind, payload, generation = item
            try:
                if kind == "hit":
                    with self._lock:
                        stale = generation is not None and self._unwatched.get(payload.task_id, 0) != generation
                    if stale:
                        log.info("trigger hit dropped (task stopped) task=%s request=%s", payload.task_id,
                                 payload.request_id)
                    else:
                        self._notify(payload)
                else:
                    self._overload(payload)
            except Exception as exc:  # noqa: BLE001 - one bad report must not end the reporter
                if self._stop.is_set():
                    break
                log.warning("trigger report failed task=%s error=%s", payload.task_id, exc)

    def _with_retries(self, what: str, task: str, send: Callable[[], Any]) -> Any:
        """``send()``; UNAVAILABLE/DEADLINE_EXCEEDED retried with backoff, a refusal raised at once."""
        import grpc

        retryable = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
        attempts = max(1, self.settings.report_attempts)
        # an aggregator restarting (or crashed and restarted) must not lose a hit: keep trying for report_patience
        deadline = time.monotonic() + self.settings.report_patience
        attempt = 0
        while True:
            try:
                return send()
            except grpc.RpcError as exc:
                code = exc.code()
                if self._stop.is_set() or code not in retryable or \
                        (attempt >= attempts - 1 and time.monotonic() >= deadline):
                    raise
                delay = self._backoff(attempt)
                attempt += 1
                log.info("trigger %s retry task=%s code=%s in=%.2fs", what, task, code.name, delay)
                if self._stop.wait(delay):
                    raise

    def _notify(self, hit: Hit) -> None:
        import grpc

        from hourglass_cli.api.engine import to_value
        from hourglass_cli.wire.gen import node_pb2

        value = to_value(hit.output)
        digest = protocol.output_hash(value)
        signature = self._sign(protocol.report_message(self.chain_id, self.operator, hit.task_id, hit.request_id,
                                                       digest))
        req = node_pb2.NotifyTriggersReq(address=self.operator, signature="0x" + signature.hex(),
                                         task_id=hit.task_id, trigger_type=hit.trigger_type,
                                         trigger_request_id=hit.request_id)
        getattr(req, OUTPUT_FIELDS[hit.trigger_type]).data.CopyFrom(value)
        try:
            resp = self._with_retries("report", hit.task_id,
                                      lambda: self._stub.NotifyTriggers(req, timeout=self.settings.rpc_timeout))
        except grpc.RpcError as exc:
            code = exc.code()
            retryable = code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                                 grpc.StatusCode.CANCELLED)
            self._count("reports_failed" if retryable else "reports_refused")
            log.warning("trigger report %s task=%s request=%s code=%s detail=%s",
                        "failed" if retryable else "refused", hit.task_id, hit.request_id, code.name, exc.details())
            return
        self._count("reports_sent")
        if hit.trigger_type == avs_pb2.TRIGGER_TYPE_EVENT:
            self.event_count += 1
        log.info("trigger reported task=%s request=%s remaining=%s enabled=%s status=%s", hit.task_id,
                 hit.request_id, resp.remaining_executions, resp.task_still_enabled, resp.status)
        if not resp.task_still_enabled or resp.remaining_executions == 0:
            self._unwatch(hit.task_id, "disabled" if not resp.task_still_enabled else "no executions left")

    def _overload(self, over: Overload) -> None:
        import grpc

        from hourglass_cli.wire.gen import node_pb2

        with self._lock:
            self._watches.pop(over.task_id, None)
        now = self._now_ms()
        signature = self._sign(protocol.overload_message(self.chain_id, self.operator, over.task_id,
                                                         over.block_number, over.query_index,
                                                         over.events_detected, now))
        alert = node_pb2.EventOverloadAlert(task_id=over.task_id, operator_address=self.operator,
                                            block_number=over.block_number, events_detected=over.events_detected,
                                            safety_limit=over.safety_limit, query_index=over.query_index,
                                            timestamp=now, details=over.details)
        self._count("overloads")
        try:
            resp = self._with_retries("overload", over.task_id, lambda: self._stub.ReportEventOverload(
                alert, timeout=self.settings.rpc_timeout,
                metadata=((protocol.SIGNATURE_METADATA, "0x" + signature.hex()),)))
        except grpc.RpcError as exc:
            log.warning("trigger overload report not accepted task=%s code=%s detail=%s", over.task_id,
                        exc.code().name, exc.details())
            return
        log.info("trigger overload reported task=%s cancelled=%s", over.task_id, resp.task_cancelled)

    def _ping(self) -> None:
        import grpc
        from google.protobuf import timestamp_pb2

        from hourglass_cli.wire.gen import node_pb2

        epoch = self._now_ms()
        signature = self._sign(protocol.auth_message(self.chain_id, "ping", self.operator, epoch))
        beat = timestamp_pb2.Timestamp(seconds=epoch // 1000, nanos=(epoch % 1000) * 1_000_000)
        checkin = node_pb2.Checkin(
            id=self.operator, address=self.operator, signature="0x" + signature.hex(), version=self.version,
            status=node_pb2.Checkin.Status(uptime=int(time.monotonic() - self._started_at),
                                           queueDepth=self._reports.qsize(), last_heartbeat=beat),
            block_number=self.head or 0, event_count=self.event_count)
        try:
            self._stub.Ping(checkin, timeout=self.settings.rpc_timeout)
            self._count("pings")
        except grpc.RpcError as exc:
            self._count("pings_failed")
            if not self._stop.is_set():
                log.debug("trigger ping failed code=%s", exc.code().name)
        except ValueError:  # channel closed: stopping
            pass
