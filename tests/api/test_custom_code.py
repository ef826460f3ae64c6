"""CUSTOM_CODE, BRANCH and FILTER through the service over gRPC: code that throws, loops forever or allocates
without bound fails its step with a clear error; the service keeps serving and its store stays sound; secrets
reach code as apContext.configVars; branches gate their targets."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hourglass_cli.api.engine import from_value, to_value
from hourglass_cli.api.server import ApiClient, ApiServer
from hourglass_cli.wire.gen import avs_pb2 as pb
from tests.api.conftest import login, make_config

WALLET = "0x" + "cd" * 20


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ApiServer, ApiClient, str, str]]:
    server = ApiServer(make_config(tmp_path, js_timeout=0.5, js_memory_mb=16, step_timeout=10)).start()
    client = ApiClient(server.address, timeout=60)
    token, account = login(client)
    yield server, client, token, account.address
    client.close()
    server.stop()


def _code(node_id: str, source: str) -> pb.TaskNode:
    return pb.TaskNode(id=node_id, name=node_id, type=pb.NODE_TYPE_CUSTOM_CODE, custom_code=pb.CustomCodeNode(
        config=pb.CustomCodeNode.Config(lang=pb.LANG_JAVASCRIPT, source=source)))


def _automation(server: ApiServer, owner: str, nodes: list[pb.TaskNode], edges: list[tuple[str, str]]) -> str:
    """An automation as CreateTask stores it (the store's own write; no chain for wallets here)."""
    from ulid import ULID

    task_id = str(ULID())
    task = pb.Task(id=task_id, owner=owner, smart_wallet_address=WALLET, name="code", status=pb.Enabled,
                   trigger=pb.TaskTrigger(id="trig", name="trigger", type=pb.TRIGGER_TYPE_MANUAL,
                                          manual=pb.ManualTrigger()),
                   nodes=nodes, edges=[pb.TaskEdge(id=f"e{i}", source=s, target=t) for i, (s, t) in enumerate(edges)])
    task.input_variables["settings"].CopyFrom(to_value({"name": "code", "runner": WALLET}))
    server.service.store.put_task(task_id, owner, WALLET, task.status, task.SerializeToString())
    return task_id


def _trigger(client: ApiClient, token: str, task_id: str, data=None) -> pb.TriggerTaskResp:
    request = pb.TriggerTaskReq(task_id=task_id, trigger_type=pb.TRIGGER_TYPE_MANUAL, is_blocking=True)
    if data is not None:
        request.manual_trigger.data.CopyFrom(to_value(data))
    return client.call("TriggerTask", request, auth_key=token)


@pytest.mark.parametrize(("source", "words"), [
    ("while (true) {}", "longer than 0.5 s of CPU"),
    ("const a = []; while (true) a.push('x'.repeat(1 << 20));", "more than 16 MiB of memory"),
    ("function f() { return f() + 1 } return f()", "recursed too deeply"),
    ("throw new Error('no luck')", "Error: no luck"),
    ("return require('fs').readFileSync('/etc/passwd', 'utf8')", "module fs is not available"),
    ("return fetch('http://127.0.0.1:1/')", "fetch is not defined"),
    ("return (", "SyntaxError"),
])
def test_bad_code_fails_its_step_and_the_service_carries_on(served, source: str, words: str) -> None:
    server, client, token, owner = served
    bad = _automation(server, owner, [_code("bad", source)], [("trig", "bad")])
    resp = _trigger(client, token, bad)
    assert resp.status == pb.EXECUTION_STATUS_FAILED
    assert words in resp.steps[1].error, resp.steps[1].error
    good = _automation(server, owner, [_code("good", "return trigger.data.n + 1")], [("trig", "good")])
    assert from_value(_trigger(client, token, good, {"n": 41}).steps[1].custom_code.data) == 42
    stored = client.call("GetExecution", pb.ExecutionReq(task_id=bad, execution_id=resp.execution_id),
                         auth_key=token)
    assert not stored.steps[1].success and words in stored.steps[1].error
    assert server.service.store.problems() == []


def test_bad_and_good_code_at_once(served) -> None:
    server, client, token, owner = served
    loop = _automation(server, owner, [_code("spin", "while (true) {}")], [("trig", "spin")])
    good = _automation(server, owner, [_code("ok", "return [1, 2, 3].map(x => x * trigger.data.k)")],
                       [("trig", "ok")])
    with ThreadPoolExecutor(8) as pool:
        spins = [pool.submit(_trigger, client, token, loop) for _ in range(3)]
        oks = [pool.submit(_trigger, client, token, good, {"k": i}) for i in range(12)]
        assert [from_value(f.result().steps[1].custom_code.data) for f in oks] == [
            [i, 2 * i, 3 * i] for i in range(12)]
        assert all(f.result().status == pb.EXECUTION_STATUS_FAILED for f in spins)


def test_secrets_libraries_and_earlier_outputs_in_code(served) -> None:
    server, client, token, owner = served
    client.call("CreateSecret", pb.CreateOrUpdateSecretReq(name="greeting", secret="hello"), auth_key=token)
    first = _code("first", "return {items: [3, 1, 2]}")
    second = _code("second", "const _ = require('lodash'); const dayjs = require('dayjs');"
                             " const { v4 } = require('uuid');"
                             " return {sorted: _.sortBy(first.data.items), msg: apContext.configVars.greeting,"
                             " year: dayjs('2024-05-06').year(), id: v4().length}")
    task = _automation(server, owner, [first, second], [("trig", "first"), ("first", "second")])
    out = from_value(_trigger(client, token, task).steps[2].custom_code.data)
    assert out == {"sorted": [1, 2, 3], "msg": "hello", "year": 2024, "id": 36}


def test_branch_and_filter(served) -> None:
    server, client, token, owner = served
    branch = pb.TaskNode(id="br", name="route", type=pb.NODE_TYPE_BRANCH, branch=pb.BranchNode(
        config=pb.BranchNode.Config(conditions=[
            pb.BranchNode.Condition(id="big", type="if", expression="{{trigger.data.amount}} > 100"),
            pb.BranchNode.Condition(id="small", type="else")])))
    big = _code("big", "return 'big'")
    keep = pb.TaskNode(id="flt", name="keep", type=pb.NODE_TYPE_FILTER, filter=pb.FilterNode(
        config=pb.FilterNode.Config(input_variable="trigger.data.items", expression="value.v >= 2")))
    task = _automation(server, owner, [branch, big, keep],
                       [("trig", "br"), ("br.big", "big"), ("br.small", "flt")])
    high = _trigger(client, token, task, {"amount": 500, "items": []})
    assert [s.name for s in high.steps] == ["trigger", "route", "big"]
    low = _trigger(client, token, task, {"amount": 5, "items": [{"v": 1}, {"v": 2}, {"v": 3}]})
    assert [s.name for s in low.steps] == ["trigger", "route", "keep"]
    assert from_value(low.steps[2].filter.data) == [{"v": 2}, {"v": 3}]
    assert from_value(low.steps[1].branch.data) == {"conditionId": "br.small"}
