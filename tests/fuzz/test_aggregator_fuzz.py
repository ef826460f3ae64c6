"""Fuzzing the aggregator's handling of TaskResults (the executor → aggregator trust boundary).

A hostile executor — a real gRPC server on 127.0.0.1 — answers the aggregator's real `FanOut` call with a
fuzzed TaskResult (fields of an honest, correctly signed reply replaced: another task, operator, AVS or set,
a wrong version, truncated, random or oversized signatures and outputs), with raw bytes that are no TaskResult
(random, truncated, wrong wire types), or with a refusal of any status code and any details text. Every call
must come back as one `Reply` — ok, invalid or error — with printable, bounded details; an answer that parses
must still fail the pairing check unless it is exactly the honest one; the reply is stored in a real SQLite
store and read back unchanged, and the store passes its integrity check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hourglass_cli.aggregator import store as agg_store
from hourglass_cli.aggregator.fanout import Channels, FanOut, record_of
from hourglass_cli.aggregator.operators import Operator
from hourglass_cli.aggregator.verify import check_bn254_group
from hourglass_cli.chain.structs import CurveType
from hourglass_cli.crypto import bn254
from hourglass_cli.wire import messages
from hourglass_cli.wire.services import EXECUTOR_SERVICE, executor_pb2
from hourglass_cli.wire.signing import Bn254Signer
from tests.fuzz.strategies import fuzz_settings, nasty_text, truncations, uint32
from tests.fuzz.test_executor_fuzz import wire_fields

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

TASK = "0x" + "ab" * 32
AVS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
SET_ID = 1
REFERENCE_TS = 1_700_000_000
OUTPUT = (9).to_bytes(32, "big")
KEY = bn254.PrivateKey.from_seed(b"fuzzed executor")
OPERATOR = Operator(0, "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65", (1,), KEY.public_g1(), KEY.public_g2(),
                    KEY.public_g2_bytes())


def honest_reply() -> executor_pb2.TaskResult:
    """What a correct executor answers: the result signature and the auth signature that binds it to us."""
    signer = Bn254Signer(KEY)
    result_signature = signer.sign_result(TASK, OUTPUT, REFERENCE_TS)
    auth = signer.sign_offchain(messages.auth_message(TASK, AVS, OPERATOR.address, SET_ID, result_signature))
    return executor_pb2.TaskResult(task_id=TASK, operator_address=OPERATOR.address, output=OUTPUT,
                                   result_signature=result_signature, avs_address=AVS, operator_set_id=SET_ID,
                                   auth_signature=auth, version=messages.TASK_MESSAGE_VERSION)


class HostileExecutor:
    """An ExecutorService on 127.0.0.1 whose next answer is set by the test: raw bytes, or an abort."""

    def __init__(self) -> None:
        self.answer: tuple[str, Any] = ("bytes", b"")
        self.calls = 0
        self._lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                                  options=[("grpc.max_send_message_length", 8 * 1024 * 1024)])
        handler = grpc.unary_unary_rpc_method_handler(self._submit, request_deserializer=None,
                                                      response_serializer=None)
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(EXECUTOR_SERVICE,
                                                                                   {"SubmitTask": handler}),))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _submit(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self._lock:
            self.calls += 1
            kind, value = self.answer
        executor_pb2.TaskSubmission.FromString(request)  # the aggregator sent a well-formed submission
        if kind == "abort":
            context.abort(*value)
        return bytes(value)

    def close(self) -> None:
        self.server.stop(grace=0)


class Target:
    def __init__(self, executor: HostileExecutor, store: agg_store.SqliteStore, path: Path) -> None:
        self.executor, self.store, self.path = executor, store, path
        self.channels = Channels()
        self.n = 0

    def call(self) -> Any:
        """One FanOut call to the hostile executor; the reply it yields (retries are not followed)."""
        fan = FanOut(task_id=TASK, avs=AVS, aggregator="0x90F79bf6EB2c4f870365E785982E1f101E93b906", set_id=SET_ID,
                     reference_timestamp=REFERENCE_TS, block=10, payload=(3).to_bytes(32, "big"),
                     curve=CurveType.BN254, sign=lambda message: b"\x01" * 64, channels=self.channels,
                     deadline=time.time() + 30, call_timeout=20, retry_interval=60)
        try:
            fan.call(OPERATOR, f"127.0.0.1:{self.executor.port}")
            return fan.replies.get(timeout=30)
        finally:
            fan.close()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    path = tmp_path_factory.mktemp("fuzz-aggregator") / "aggregator.db"
    store = agg_store.SqliteStore(path)
    head = agg_store.Checkpoint(10, "0x" + "11" * 32)
    store.record_scan("l1", head, [agg_store.NewTask(TASK, 10, head.hash, 0, AVS, SET_ID, REFERENCE_TS,
                                                     REFERENCE_TS, REFERENCE_TS + 120, (3).to_bytes(32, "big"))],
                      keep=100)
    executor = HostileExecutor()
    built = Target(executor, store, path)
    try:
        # The oracle: an honest reply is taken and verifies.
        executor.answer = ("bytes", honest_reply().SerializeToString())
        reply = built.call()
        assert reply.outcome == "ok", reply
        good, bad = check_bn254_group(TASK, AVS, SET_ID, REFERENCE_TS, [reply.answer])
        assert good and not bad
        yield built
        assert executor.calls >= built.n
        assert store.problems() == []
        import sqlite3

        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            db.close()
    finally:
        built.channels.close()
        executor.close()
        store.close()


def _take(target: Target, raw: bytes | None) -> None:
    reply = target.call()
    target.n += 1
    assert reply.operator == OPERATOR
    assert reply.outcome in ("ok", "invalid", "error"), reply
    if reply.detail is not None:
        assert reply.detail.isprintable() and len(reply.detail) <= 200, reply.detail
    if reply.outcome == "ok":
        # Taken only when it is about this task, from this operator, for this AVS and set, in version 1.
        sent = executor_pb2.TaskResult.FromString(raw or b"")
        assert messages.normalize_task_id(sent.task_id) == TASK
        assert sent.operator_address.lower() == OPERATOR.address.lower() and sent.avs_address.lower() == AVS.lower()
        assert (sent.operator_set_id, sent.version) == (SET_ID, messages.TASK_MESSAGE_VERSION)
        assert len(sent.output) < messages.MAX_RESULT_BYTES
        good, bad = check_bn254_group(TASK, AVS, SET_ID, REFERENCE_TS, [reply.answer])
        same = (reply.answer.output, reply.answer.result_signature, reply.answer.auth_signature) == (
            OUTPUT, honest_reply().result_signature, honest_reply().auth_signature)
        assert (good, bad) == (([reply.answer], []) if same else ([], [reply.answer])), reply
    else:
        assert reply.answer is None
    record = record_of(reply)
    target.store.add_response("l1", TASK, record)
    (stored,) = [r for r in target.store.responses("l1", TASK) if r.operator == OPERATOR.address]
    assert (stored.outcome, stored.output, stored.result_signature, stored.auth_signature, stored.detail) == (
        record.outcome, record.output, record.result_signature, record.auth_signature, record.detail)


def _mutations(honest: executor_pb2.TaskResult) -> dict[str, st.SearchStrategy[Any]]:
    sig, auth = honest.result_signature, honest.auth_signature
    return {
        "task_id": st.one_of(nasty_text, st.just(TASK.upper()), st.just(TASK[2:]), st.just("0x" + "cd" * 32)),
        "operator_address": st.one_of(nasty_text, st.just(OPERATOR.address.lower()), st.just(AVS)),
        "avs_address": st.one_of(nasty_text, st.just(AVS.lower()), st.just(OPERATOR.address)),
        "operator_set_id": uint32,
        "version": uint32,
        "output": st.one_of(st.binary(max_size=200), truncations(OUTPUT),
                            st.sampled_from([b"", b"\x00" * (1536 * 1024), b"\x01" * (1536 * 1024 - 1)])),
        "result_signature": st.one_of(st.binary(max_size=200), truncations(sig), st.just(auth),
                                      st.just(bn254.g1_to_bytes(KEY.public_g1()))),
        "auth_signature": st.one_of(st.binary(max_size=200), truncations(auth), st.just(sig)),
    }


@fuzz_settings(80)
@given(data=st.data())
def test_task_results_with_mutated_fields(target: Target, data: st.DataObject) -> None:
    honest = honest_reply()
    mutations = _mutations(honest)
    fields = {f.name: v for f, v in honest.ListFields()}
    for name in data.draw(st.sets(st.sampled_from(sorted(mutations)), min_size=1, max_size=3)):
        fields[name] = data.draw(mutations[name])
    raw = executor_pb2.TaskResult(**fields).SerializeToString()
    target.executor.answer = ("bytes", raw)
    _take(target, raw)


@fuzz_settings(50)
@given(raw=st.one_of(st.binary(max_size=2000), truncations(honest_reply().SerializeToString()), wire_fields(),
                     wire_fields().map(lambda extra: honest_reply().SerializeToString() + extra)))
def test_task_results_as_raw_bytes(target: Target, raw: bytes) -> None:
    target.executor.answer = ("bytes", raw)
    _take(target, raw)


STATUS_CODES = [c for c in grpc.StatusCode if c != grpc.StatusCode.OK]


@fuzz_settings(40)
@given(code=st.sampled_from(STATUS_CODES), details=st.one_of(nasty_text, st.text(min_size=1000, max_size=5000)))
def test_refusals_with_any_code_and_text(target: Target, code: grpc.StatusCode, details: str) -> None:
    target.executor.answer = ("abort", (code, details))
    _take(target, None)
