"""Fuzzing the executor's SubmitTask over real gRPC on 127.0.0.1 (the aggregator → executor trust boundary).

Submissions are valid ones with fields replaced (wrong-format strings, out-of-range numbers, truncated or
foreign signatures, oversized payloads) — some re-signed by the real aggregator key so they pass authentication
and reach the chain checks and the performer — and raw protobuf bytes (random, truncated, with fields of the
wrong wire type). Every call must end in a TaskResult or a refusal with a status; never the executor's
"internal executor error" (an exception nobody meant), never the keystore password in a message. Afterwards
the executor still answers a good task and its store passes its integrity check.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from eth_abi import decode, encode
from hypothesis import given
from hypothesis import strategies as st

from hourglass_cli.devnet.operators import DEVNET_KEYSTORE_PASSWORD
from hourglass_cli.wire import messages
from hourglass_cli.wire.services import SUBMIT_TASK, executor_pb2
from tests.executor.conftest import SQUARE, REPO, Net, RunningExecutor, Task, build_net, start_executor, write_config
from tests.fuzz.strategies import fuzz_settings, nasty_text, truncations, uint32, uint64

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

Code = grpc.StatusCode
STRING_FIELDS = ("task_id", "aggregator_address", "avs_address", "executor_address")
BYTES_FIELDS = ("payload", "signature")
INT_FIELDS = {"operator_set_id": uint32, "reference_timestamp": uint32, "task_block_number": uint64,
              "version": uint32}
MiB = 1024 * 1024


class Target:
    """One executor under fuzz (process runtime, the square example) and the tasks it may be sent."""

    def __init__(self, net: Net, running: RunningExecutor, tasks: list[Task]) -> None:
        self.net, self.running, self.tasks = net, running, tasks
        self.raw = running.channel.unary_unary(SUBMIT_TASK, request_serializer=None, response_deserializer=None)
        self.calls = 0
        self.outcomes: Counter[str] = Counter()  # status code (or OK) → calls: what the fuzz reached


@pytest.fixture(scope="module", params=["bn254", "ecdsa"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    root = tmp_path_factory.mktemp(f"fuzz-executor-{request.param}")
    net = build_net(request.param, root)
    path = write_config(net, root / "executor", {"runtime": "process", "command": SQUARE, "cwd": str(REPO),
                                                 "startup_timeout": 30.0}, block_wait=0.3, task_timeout=5.0)
    running = start_executor(net, path)
    try:
        built = Target(net, running, [net.create_task(n) for n in (2, 7)])
        yield built
        print(f"executor fuzz ({request.param}) outcomes:", dict(built.outcomes.most_common()))
        # The inputs reached every layer: results, format refusals, authentication refusals.
        reached = {key.split(":")[0] for key in built.outcomes}
        assert {"OK", "INVALID_ARGUMENT", "UNAUTHENTICATED"} <= reached, built.outcomes
        # Still serving a task it has never seen, and the store is sound — from the executor's own view and
        # from a separate connection to the file.
        fresh = net.create_task(12)
        assert decode(["uint256"], running.submit(net.submission(fresh)).output) == (144,)
        assert running.executor.store.problems() == []
        db = sqlite3.connect(root / "executor" / "executor.db")
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            db.close()
    finally:
        running.close()
        net.chain.close()


def _values(net: Net, task: Task) -> dict[str, Any]:
    return dict(task_id=task.task_id, aggregator_address=net.aggregator_address, avs_address=net.core.avs,
                payload=task.payload, operator_set_id=net.core.executor_operator_set_id,
                reference_timestamp=task.reference_timestamp, executor_address=net.executor_address,
                task_block_number=task.block, version=1)


def _sign(net: Net, v: dict[str, Any]) -> bytes | None:
    """The aggregator's real signature over the (mutated) fields, or None when they do not form a message."""
    try:
        message = messages.aggregator_task_message(v["task_id"], v["avs_address"], v["executor_address"],
                                                   v["operator_set_id"], v["reference_timestamp"],
                                                   v["task_block_number"], v["payload"])
    except Exception:  # noqa: BLE001 - a mutated field the message cannot hold: sign nothing
        return None
    return net.aggregator_signer.sign_offchain(message)


def _check(target: Target, call: Any, submitted: dict[str, Any] | None) -> None:
    """One call's outcome: a result (then the right one) or a deliberate refusal."""
    target.calls += 1
    try:
        result = call()
    except grpc.RpcError as exc:
        code, details = exc.code(), exc.details() or ""
        target.outcomes[f"{code.name}: {details[:40]}"] += 1
        assert code != Code.UNKNOWN, details
        assert "internal executor error" not in details, details
        assert DEVNET_KEYSTORE_PASSWORD not in details
        return
    target.outcomes["OK"] += 1
    if isinstance(result, bytes):
        result = executor_pb2.TaskResult.FromString(result)
    assert submitted is not None, "raw bytes that do not form a signed submission were answered"
    assert result.operator_address == target.net.executor_address
    assert messages.normalize_task_id(result.task_id) == messages.normalize_task_id(submitted["task_id"])
    # The performer's answer to the payload it was given (the executor runs what the authenticated aggregator
    # signed; the first signed submission of a task id is the one it serves).
    assert decode(["uint256"], result.output)[0] == decode(["uint256"], submitted["payload"])[0] ** 2


def _field_values(name: str, valid: Any) -> st.SearchStrategy[Any]:
    if name in STRING_FIELDS:
        return st.one_of(nasty_text, st.just(valid.lower()), st.just(valid.upper()), st.just(valid + " "),
                         st.just(valid[:-1]), st.just("0x" + valid[2:].upper()))
    if name == "payload":
        return st.one_of(st.binary(max_size=300), truncations(valid),
                         st.sampled_from([b"", encode(["uint256"], [2**256 - 1]), b"\x00" * (MiB + 1),
                                          b"\x01" * (5 * MiB)]))
    return INT_FIELDS[name]


@st.composite
def submissions(draw: st.DrawFn, target: Target) -> tuple[dict[str, Any], bool]:
    task = draw(st.sampled_from(target.tasks))
    values = _values(target.net, task)
    for name in draw(st.sets(st.sampled_from(STRING_FIELDS + ("payload",) + tuple(INT_FIELDS)), max_size=3)):
        values[name] = draw(_field_values(name, values[name]))
    honest = _sign(target.net, values)
    how = draw(st.sampled_from(["resigned"] * 4 + ["original", "random", "truncated", "empty"]))
    if how == "resigned" and honest is not None:
        values["signature"] = honest
    elif how == "original":
        values["signature"] = _sign(target.net, _values(target.net, task))
    elif how == "truncated" and honest is not None:
        values["signature"] = draw(truncations(honest))
    elif how == "empty":
        values["signature"] = b""
    else:
        values["signature"] = draw(st.binary(min_size=1, max_size=200))
    return values, how == "resigned" and honest is not None


@fuzz_settings(60)
@given(data=st.data())
def test_submit_task_with_mutated_fields(target: Target, data: st.DataObject) -> None:
    values, _signed = data.draw(submissions(target))
    submission = executor_pb2.TaskSubmission(**values)
    _check(target, lambda: target.running.submit(submission, timeout=30), values)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


@st.composite
def wire_fields(draw: st.DrawFn) -> bytes:
    """Protobuf records with any field number and wire type: a string where a uint is, a group, a fixed64 …"""
    out = b""
    for _ in range(draw(st.integers(1, 12))):
        number, kind = draw(st.integers(1, 16)), draw(st.integers(0, 7))
        out += _varint(number << 3 | kind)
        if kind == 0:
            out += _varint(draw(st.integers(0, 2**70)))
        elif kind == 1:
            out += draw(st.binary(min_size=8, max_size=8))
        elif kind == 2:
            body = draw(st.binary(max_size=80))
            out += _varint(draw(st.sampled_from([len(body), len(body) + 1, 2**31]))) + body
        elif kind == 5:
            out += draw(st.binary(min_size=4, max_size=4))
    return out


@fuzz_settings(60)
@given(data=st.data())
def test_submit_task_with_raw_bytes(target: Target, data: st.DataObject) -> None:
    good = executor_pb2.TaskSubmission(**{**_values(target.net, target.tasks[0]),
                                          "signature": _sign(target.net, _values(target.net, target.tasks[0]))})
    raw = data.draw(st.one_of(st.binary(max_size=2000), truncations(good.SerializeToString()), wire_fields(),
                              wire_fields().map(lambda extra: good.SerializeToString() + extra)))
    try:
        parsed: dict[str, Any] | None = {f.name: v for f, v in executor_pb2.TaskSubmission.FromString(raw).ListFields()}
    except Exception:  # noqa: BLE001 - not a message at all: the executor must refuse it
        parsed = None
    _check(target, lambda: target.raw(raw, timeout=30), parsed)
