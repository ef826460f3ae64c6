"""The DAG engine: order, parallelism, branch gating, failures stopping dependents, per-node timeouts and retries;
and REST_API / GRAPHQL_QUERY steps against a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hourglass_cli.api.engine import Engine, RunContext, StepError, StepResult, execution_status, to_value
from hourglass_cli.api.runners import NodeServices, run_node
from hourglass_cli.wire.gen import avs_pb2 as pb

TRIGGER = pb.TaskTrigger(id="t0", name="trigger", type=pb.TRIGGER_TYPE_MANUAL, manual=pb.ManualTrigger())


def code_node(node_id: str, source: str = "return 1") -> pb.TaskNode:
    return pb.TaskNode(id=node_id, name=node_id, type=pb.NODE_TYPE_CUSTOM_CODE,
                       custom_code=pb.CustomCodeNode(config=pb.CustomCodeNode.Config(source=source)))


def edges(*pairs: tuple[str, str]) -> list[pb.TaskEdge]:
    return [pb.TaskEdge(id=f"e{i}", source=s, target=t) for i, (s, t) in enumerate(pairs)]


def ctx_factory(variables=None, services=None):
    def make() -> RunContext:
        return RunContext(dict(variables or {}), "0xowner", "0xrunner", "task", "exec", services or NodeServices())
    return make


class Scripted:
    """A runner whose behaviour per node id is given by the test (the engine under test is real)."""

    def __init__(self, behaviours) -> None:
        self.behaviours = behaviours
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, node: pb.TaskNode, ctx: RunContext) -> StepResult:
        with self.lock:
            self.calls.append(node.id)
        return self.behaviours[node.id](ctx)


def test_independent_nodes_run_in_parallel_and_join_waits_for_both() -> None:
    barrier = threading.Barrier(2, timeout=10)

    def meet(ctx):  # both must be in flight at once, or the barrier times out
        barrier.wait()
        return StepResult(output="met")

    def join(ctx):
        return StepResult(output=[ctx.variables["a"]["data"], ctx.variables["b"]["data"]])

    runner = Scripted({"a": meet, "b": meet, "c": join})
    engine = Engine(runner, workers=4, step_timeout=20)
    try:
        steps, outputs = engine.run_graph(TRIGGER, [code_node("a"), code_node("b"), code_node("c")],
                                          edges(("t0", "a"), ("t0", "b"), ("a", "c"), ("b", "c")), ctx_factory())
    finally:
        engine.close()
    assert [s.success for s in steps] == [True, True, True]
    assert steps[-1].id == "c" and outputs["c"] == {"data": ["met", "met"]}


def test_a_failed_node_stops_its_dependents_only() -> None:
    def boom(ctx):
        raise StepError("boom", pb.EXECUTION_ENGINE_ERROR)

    runner = Scripted({"a": boom, "b": lambda ctx: StepResult(output=2), "after_a": lambda ctx: StepResult(output=3)})
    engine = Engine(runner, workers=2, step_timeout=20)
    try:
        steps, _ = engine.run_graph(TRIGGER, [code_node("a"), code_node("b"), code_node("after_a")],
                                    edges(("t0", "a"), ("t0", "b"), ("a", "after_a")), ctx_factory())
    finally:
        engine.close()
    assert sorted((s.id, s.success) for s in steps) == [("a", False), ("b", True)]
    assert "after_a" not in runner.calls
    status, error = execution_status([pb.Execution.Step(id="t0", success=True), *steps])
    assert status == pb.EXECUTION_STATUS_PARTIAL_SUCCESS and error == "a: boom"


def test_branch_edges_gate_their_targets() -> None:
    def choose(ctx):
        return StepResult(output={"conditionId": "br.yes"}, branch_taken="br.yes")

    runner = Scripted({"br": choose, "yes": lambda ctx: StepResult(output="y"), "no": lambda ctx: StepResult(output="n")})
    engine = Engine(runner, workers=2, step_timeout=20)
    try:
        steps, _ = engine.run_graph(TRIGGER, [code_node("br"), code_node("yes"), code_node("no")],
                                    edges(("t0", "br"), ("br.yes", "yes"), ("br.no", "no")), ctx_factory())
    finally:
        engine.close()
    assert [s.id for s in steps] == ["br", "yes"]


def test_timeout_and_retry_policy() -> None:
    attempts = {"n": 0}
    release = threading.Event()

    def flaky(ctx):
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise StepError(f"transient {attempts['n']}", pb.EXECUTION_ENGINE_ERROR)
        return StepResult(output="third time")

    def hang(ctx):
        release.wait(30)
        return StepResult(output="late")

    settings = {"settings": {"retry": {"attempts": 3, "backoff_ms": 1},
                             "nodes": {"slow": {"timeout_seconds": 0.2, "retry": {"attempts": 1}}}}}
    runner = Scripted({"flaky": flaky, "slow": hang})
    engine = Engine(runner, workers=4, step_timeout=20)
    try:
        steps, _ = engine.run_graph(TRIGGER, [code_node("flaky"), code_node("slow")],
                                    edges(("t0", "flaky"), ("t0", "slow")), ctx_factory(settings))
    finally:
        release.set()
        engine.close()
    by_id = {s.id: s for s in steps}
    assert by_id["flaky"].success and attempts["n"] == 3
    assert "attempt 1 of 3 failed: transient 1" in by_id["flaky"].log
    assert not by_id["slow"].success and by_id["slow"].error == "step timed out after 0.2 s"
    assert runner.calls.count("slow") == 1


def test_a_runner_bug_fails_the_step_not_the_engine() -> None:
    runner = Scripted({"a": lambda ctx: 1 / 0})
    engine = Engine(runner, workers=1, step_timeout=5)
    try:
        step = engine.run_node(code_node("a"), ctx_factory()())
    finally:
        engine.close()
    assert not step.success and step.error == "ZeroDivisionError: division by zero"


# -- REST_API and GRAPHQL_QUERY against a real server ---------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/missing"):
            self._answer(404, {"error": "nope"})
        else:
            self._answer(200, {"path": self.path, "auth": self.headers.get("authorization")})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.path == "/graphql":
            self._answer(200, {"data": {"echo": body["query"], "vars": body["variables"]}})
        else:
            self._answer(201, {"got": body})


@pytest.fixture
def http_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _rest(url: str, method: str = "GET", body: str = "", headers=None) -> pb.TaskNode:
    return pb.TaskNode(id="r", name="r", type=pb.NODE_TYPE_REST_API, rest_api=pb.RestAPINode(
        config=pb.RestAPINode.Config(url=url, method=method, body=body, headers=headers or {})))


def test_rest_api_renders_templates_and_returns_the_response(http_url: str) -> None:
    variables = {"trigger": {"data": {"id": 7}}, "apContext": {"configVars": {"token": "s3cret"}}}
    ctx = ctx_factory(variables)()
    out = run_node(_rest(f"{http_url}/items/{{{{trigger.data.id}}}}",
                         headers={"authorization": "Bearer {{apContext.configVars.token}}"}), ctx).output
    assert out["status"] == 200 and out["data"] == {"path": "/items/7", "auth": "Bearer s3cret"}
    posted = run_node(_rest(f"{http_url}/post", "POST", '{"n": {{trigger.data.id}}}'), ctx).output
    assert posted["status"] == 201 and posted["data"] == {"got": {"n": 7}}
    with pytest.raises(StepError, match="HTTP 404"):
        run_node(_rest(f"{http_url}/missing"), ctx)


def test_rest_api_refuses_private_addresses_when_configured(http_url: str) -> None:
    ctx = ctx_factory(services=NodeServices(allow_private_http=False))()
    with pytest.raises(StepError, match="private address"):
        run_node(_rest(f"{http_url}/x"), ctx)
    with pytest.raises(StepError, match="not an http"):
        run_node(_rest("file:///etc/passwd"), ctx)


def test_graphql_query(http_url: str) -> None:
    node = pb.TaskNode(id="g", name="g", type=pb.NODE_TYPE_GRAPHQL_QUERY, graphql_query=pb.GraphQLQueryNode(
        config=pb.GraphQLQueryNode.Config(url=f"{http_url}/graphql", query="{ user(id: {{t.data}}) }",
                                          variables={"who": "{{t.data}}"})))
    out = run_node(node, ctx_factory({"t": {"data": 5}})()).output
    assert out == {"echo": "{ user(id: 5) }", "vars": {"who": 5}}


def test_values_round_trip_through_protobuf() -> None:
    value = {"a": [1, 2.5, "x", None, True], "big": 2**60, "bytes": b"\x01"}
    from hourglass_cli.api.engine import from_value

    assert from_value(to_value(value)) == {"a": [1, 2.5, "x", None, True], "big": str(2**60), "bytes": "0x01"}


def test_loop_runs_its_node_per_item_sequential_and_parallel(http_url: str) -> None:
    for mode in (pb.EXECUTION_MODE_SEQUENTIAL, pb.EXECUTION_MODE_PARALLEL):
        node = pb.TaskNode(id="l", name="each", type=pb.NODE_TYPE_LOOP, loop=pb.LoopNode(
            config=pb.LoopNode.Config(input_variable="{{trigger.data.ids}}", iter_val="item", iter_key="i",
                                      execution_mode=mode),
            rest_api=pb.RestAPINode(config=pb.RestAPINode.Config(url=f"{http_url}/item/{{{{item}}}}-{{{{i}}}}"))))
        out = run_node(node, ctx_factory({"trigger": {"data": {"ids": ["a", "b", "c"]}}})()).output
        assert [o["data"]["path"] for o in out] == ["/item/a-0", "/item/b-1", "/item/c-2"]
    bad = pb.TaskNode(id="l", name="each", type=pb.NODE_TYPE_LOOP, loop=pb.LoopNode(
        config=pb.LoopNode.Config(input_variable="trigger.data.nothing"),
        rest_api=pb.RestAPINode(config=pb.RestAPINode.Config(url=http_url))))
    with pytest.raises(StepError, match="input_variable"):
        run_node(bad, ctx_factory({"trigger": {"data": {}}})())
