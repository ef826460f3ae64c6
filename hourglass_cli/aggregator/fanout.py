"""Calling every executor of a task at once and turning each reply into a stored, checked `Answer`.

`FanOut.start()` signs one `TaskSubmission` per executor (WIRE.md §2a: the 224-byte message names that
executor) and fires all calls as gRPC futures with the task's deadline; replies land in a queue that the
session reads. Unreachable executors (UNAVAILABLE) and replay refusals (ALREADY_EXISTS) are called again with a
doubling pause (at most 5 s) until the deadline; other refusals are final. A reply that does not parse — wrong task, operator, AVS, set, version, size, or
signature encoding — is stored as 'invalid' and never reaches a certificate; nothing a reply holds can raise
out of here.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from hourglass_cli.aggregator.operators import Operator
from hourglass_cli.aggregator.store import ResponseRecord
from hourglass_cli.aggregator.verify import Answer, parse_bn254
from hourglass_cli.chain.structs import CurveType
from hourglass_cli.wire import messages
from hourglass_cli.wire.services import ExecutorStub, executor_pb2

log = logging.getLogger("hourglass.aggregator.session")

# UNAVAILABLE: unreachable or restarting. ALREADY_EXISTS: an executor that refuses a task id it has seen (Ponos
# does; ours answers a re-sent submission with its stored answer): never a reason to give the task up — it is
# asked again until the deadline, in case it is answered after all.
_RETRY_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ALREADY_EXISTS)


_CHANNEL_OPTIONS = [("grpc.enable_retries", 0), ("grpc.initial_reconnect_backoff_ms", 100),
                    ("grpc.min_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 1000)]


class Channels:
    """One gRPC channel per executor socket, shared by all sessions.

    A channel that failed to connect fails calls at once while it backs off; `reset` swaps it for a fresh one
    so an executor that is back is reached on the next call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stubs: dict[str, tuple[grpc.Channel, ExecutorStub]] = {}
        self._retired: list[grpc.Channel] = []

    def stub(self, socket: str) -> ExecutorStub:
        with self._lock:
            found = self._stubs.get(socket)
            if found is None:
                channel = grpc.insecure_channel(socket, options=_CHANNEL_OPTIONS)
                found = self._stubs[socket] = (channel, ExecutorStub(channel))
            return found[1]

    def reset(self, socket: str, stub: ExecutorStub) -> None:
        """Replace the channel behind `stub` (if it is still the current one) with a fresh one next time."""
        with self._lock:
            found = self._stubs.get(socket)
            if found is not None and found[1] is stub:
                del self._stubs[socket]
                self._retired.append(found[0])  # closing it would cancel other sessions' calls on it

    def close(self) -> None:
        with self._lock:
            for channel in [c for c, _stub in self._stubs.values()] + self._retired:
                channel.close()
            self._stubs.clear()
            self._retired.clear()


@dataclass(frozen=True)
class Reply:
    """One finished call: an Answer, or why there is none (final or retryable)."""

    operator: Operator
    answer: Answer | None
    outcome: str  # ok | invalid | error
    detail: str | None
    retry: bool = False


def _safe(text: str, limit: int = 160) -> str:
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text[:limit]


def parse_reply(reply: Any, operator: Operator, *, task_id: str, avs: str, set_id: int, curve: CurveType) -> Answer:
    """The Answer in a TaskResult; ValueError saying what is wrong with it."""
    from eth_utils import to_checksum_address

    if reply.version != messages.TASK_MESSAGE_VERSION:
        raise ValueError(f"version {reply.version}")
    if messages.normalize_task_id(reply.task_id) != task_id:
        raise ValueError("the reply is for another task")
    if to_checksum_address(messages.address_bytes(reply.operator_address)) != operator.address:
        raise ValueError(f"operator_address {_safe(reply.operator_address, 50)} is not the executor called")
    if to_checksum_address(messages.address_bytes(reply.avs_address)) != avs:
        raise ValueError("avs_address is not this AVS")
    if reply.operator_set_id != set_id:
        raise ValueError(f"operator_set_id {reply.operator_set_id} is not the task's {set_id}")
    output = bytes(reply.output)
    if len(output) >= messages.MAX_RESULT_BYTES:
        raise ValueError(f"the result is {len(output)} bytes (1.5 MiB or more is dropped)")
    if curve == CurveType.BN254:
        return parse_bn254(operator, output, reply.result_signature, reply.auth_signature, task_id)
    if len(reply.result_signature) != 65 or len(reply.auth_signature) != 65:
        raise ValueError("ECDSA signatures are 65 bytes")
    return Answer(operator, output, messages.result_message_hash(task_id, output), bytes(reply.result_signature),
                  bytes(reply.auth_signature))


class FanOut:
    """The calls of one task; `replies` yields each finished call (retries are scheduled internally)."""

    def __init__(self, *, task_id: str, avs: str, aggregator: str, set_id: int, reference_timestamp: int,
                 block: int, payload: bytes, curve: CurveType, sign: Callable[[bytes], bytes], channels: Channels,
                 deadline: float, call_timeout: float, retry_interval: float) -> None:
        self.task_id, self.avs, self.aggregator = task_id, avs, aggregator
        self.set_id, self.reference_timestamp, self.block = set_id, reference_timestamp, block
        self.payload, self.curve, self.sign, self.channels = payload, curve, sign, channels
        self.deadline, self.call_timeout, self.retry_interval = deadline, call_timeout, retry_interval
        self.replies: queue.Queue[Reply] = queue.Queue()
        self._lock = threading.Lock()
        self._futures: dict[str, Any] = {}
        self._retry_at: dict[str, tuple[float, Operator, str, float]] = {}
        self._closed = False
        self.transient: set[str] = set()  # operators that failed in a way that may pass (unreachable)

    def submission(self, operator: Operator) -> Any:
        message = messages.aggregator_task_message(self.task_id, self.avs, operator.address, self.set_id,
                                                   self.reference_timestamp, self.block, self.payload)
        return executor_pb2.TaskSubmission(
            task_id=self.task_id, aggregator_address=self.aggregator, avs_address=self.avs, payload=self.payload,
            signature=self.sign(message), operator_set_id=self.set_id, reference_timestamp=self.reference_timestamp,
            executor_address=operator.address, task_block_number=self.block, version=messages.TASK_MESSAGE_VERSION)

    def call(self, operator: Operator, socket: str, pause: float | None = None) -> None:
        """Call `operator` at `socket` (no socket: an error reply at once)."""
        if not socket:
            self.replies.put(Reply(operator, None, "error", "no executor socket registered"))
            return
        timeout = self.deadline - time.time()
        if self.call_timeout > 0:
            timeout = min(timeout, self.call_timeout)
        if timeout <= 0:
            self.replies.put(Reply(operator, None, "error", "DEADLINE_EXCEEDED: the task's deadline passed"))
            return
        try:
            stub = self.channels.stub(socket)
            future = stub.SubmitTask.future(self.submission(operator), timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - a bad socket string must not end the session
            self.replies.put(Reply(operator, None, "error", f"cannot call {_safe(socket, 80)}: {type(exc).__name__}"))
            return
        with self._lock:
            if self._closed:
                future.cancel()
                return
            self._futures[operator.address] = future
        pause = self.retry_interval if pause is None else pause
        future.add_done_callback(lambda f: self._done(operator, socket, stub, pause, f))

    def _done(self, operator: Operator, socket: str, stub: ExecutorStub, pause: float, future: Any) -> None:
        if future.cancelled():
            with self._lock:
                self._futures.pop(operator.address, None)
            return
        retry_at: float | None = None
        try:
            result = future.result()
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
            reply = Reply(operator, None, "error",
                          f"{code.name}: {_safe(exc.details() if hasattr(exc, 'details') else exc)}")
            if code in _RETRY_CODES:
                if code == grpc.StatusCode.UNAVAILABLE:
                    self.channels.reset(socket, stub)
                self.transient.add(operator.address)
                if time.time() + pause < self.deadline:
                    retry_at = time.time() + pause
                    reply = Reply(operator, None, "error", reply.detail, retry=True)
        except Exception as exc:  # noqa: BLE001
            reply = Reply(operator, None, "error", f"call failed: {type(exc).__name__}")
        else:
            try:
                answer = parse_reply(result, operator, task_id=self.task_id, avs=self.avs, set_id=self.set_id,
                                     curve=self.curve)
                reply = Reply(operator, answer, "ok", None)
            except Exception as exc:  # noqa: BLE001 - anything malformed is only an invalid answer
                reply = Reply(operator, None, "invalid", f"malformed reply: {_safe(exc)}")
        with self._lock:  # the call leaves `outstanding` only together with its reply (or its retry) arriving
            self._futures.pop(operator.address, None)
            if self._closed:
                return
            if retry_at is not None:
                self._retry_at[operator.address] = (retry_at, operator, socket, min(pause * 2, 5.0))
            self.replies.put(reply)

    def next_retry(self) -> float | None:
        with self._lock:
            return min((t for t, *_ in self._retry_at.values()), default=None)

    def run_due_retries(self) -> None:
        now = time.time()
        with self._lock:
            due = [(op, socket, pause) for t, op, socket, pause in self._retry_at.values() if t <= now]
            for op, _s, _p in due:
                self._retry_at.pop(op.address, None)
        for op, socket, pause in due:
            self.call(op, socket, pause)

    def outstanding(self) -> int:
        """Calls in flight plus calls scheduled again plus replies not yet read."""
        with self._lock:
            return len(self._futures) + len(self._retry_at) + self.replies.qsize()

    def close(self) -> None:
        """Cancel every call still in flight; no more replies or retries."""
        with self._lock:
            self._closed = True
            futures = list(self._futures.values())
            self._futures.clear()
            self._retry_at.clear()
        for future in futures:
            future.cancel()


def record_of(reply: Reply) -> ResponseRecord:
    """What the store keeps of a reply."""
    a = reply.answer
    return ResponseRecord(reply.operator.address, reply.outcome, a.output if a else None,
                          a.result_signature if a else None, a.auth_signature if a else None, reply.detail,
                          time.time())
