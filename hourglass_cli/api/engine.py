"""Running an automation: the trigger step, then the node graph as a DAG.

- **Graph**: edges ``{source, target}``; a source is the trigger's id, a node's id, or ``<branchId>.<conditionId>``
  for a branch's outcome. A node runs once every node that leads to it has finished and at least one of its
  incoming edges is *active* (its source succeeded and, for a branch condition, was the condition taken).
  Nodes whose inputs can never become active are skipped (not recorded as steps, as upstream). Independent
  nodes run in parallel on one bounded worker pool shared by all executions (``[api].engine_workers``).
- **Timeouts and retries** (upstream has neither): ``input_variables.settings.timeout_seconds`` and
  ``settings.retry = {attempts, backoff_ms}`` for every node, overridable per node name under
  ``settings.nodes.<name>``; a step that times out or fails is retried with doubling backoff, and its log says
  how many attempts it took.
- **Variables** a node sees: the trigger's output as ``<triggerName>.data``, every finished node's output as
  ``<nodeName>.data``, the input variables (``settings`` …), and the caller's secrets as
  ``apContext.configVars``. Templates (``{{…}}``, `templates.py`) in configs are rendered from them.
- **Status**: SUCCESS when every step succeeded, FAILED when the trigger or every node failed, PARTIAL_SUCCESS
  otherwise (v2.12's enum); the first failure's message is the execution's error.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2

from hourglass_cli.wire.gen import avs_pb2 as pb

# node kind → (TaskNode oneof field, Execution.Step output field)
NODE_FIELDS = {
    pb.NODE_TYPE_ETH_TRANSFER: ("eth_transfer", "eth_transfer"),
    pb.NODE_TYPE_CONTRACT_WRITE: ("contract_write", "contract_write"),
    pb.NODE_TYPE_CONTRACT_READ: ("contract_read", "contract_read"),
    pb.NODE_TYPE_GRAPHQL_QUERY: ("graphql_query", "graphql"),
    pb.NODE_TYPE_REST_API: ("rest_api", "rest_api"),
    pb.NODE_TYPE_CUSTOM_CODE: ("custom_code", "custom_code"),
    pb.NODE_TYPE_BRANCH: ("branch", "branch"),
    pb.NODE_TYPE_FILTER: ("filter", "filter"),
    pb.NODE_TYPE_LOOP: ("loop", "loop"),
    pb.NODE_TYPE_BALANCE: ("balance", "balance"),
    pb.NODE_TYPE_HOURGLASS_TASK: ("hourglass_task", "hourglass_task"),
}
FIELD_TO_TYPE = {fields[0]: kind for kind, fields in NODE_FIELDS.items()}
# trigger oneof field → (TriggerType, Step output field, TriggerTaskReq output field)
TRIGGER_FIELDS = {
    "manual": (pb.TRIGGER_TYPE_MANUAL, "manual_trigger"),
    "fixed_time": (pb.TRIGGER_TYPE_FIXED_TIME, "fixed_time_trigger"),
    "cron": (pb.TRIGGER_TYPE_CRON, "cron_trigger"),
    "block": (pb.TRIGGER_TYPE_BLOCK, "block_trigger"),
    "event": (pb.TRIGGER_TYPE_EVENT, "event_trigger"),
}
TYPE_TO_TRIGGER = {kind: name for name, (kind, _) in TRIGGER_FIELDS.items()}


class StepError(Exception):
    """A step failed: `message` for the user, `code` an ErrorCode."""

    def __init__(self, message: str, code: int = pb.INVALID_NODE_CONFIG, log: str = "") -> None:
        super().__init__(message)
        self.message, self.code, self.log = message, code, log


@dataclass
class StepResult:
    output: Any = None
    log: str = ""
    metadata: Any = None
    gas_used: str = ""
    gas_price: str = ""
    total_gas_cost: str = ""
    branch_taken: str | None = None  # for BRANCH: the "<node>.<condition>" edge source taken


@dataclass
class RunContext:
    """What a node runner may use: the variables, the caller, the service's chain and limits."""

    variables: dict[str, Any]
    owner: str
    runner: str
    task_id: str
    execution_id: str
    services: Any  # the NodeServices of runners.py
    log: list[str] = field(default_factory=list)
    branch_taken: str | None = None


def to_value(data: Any) -> struct_pb2.Value:
    value = struct_pb2.Value()
    json_format.ParseDict(_jsonable(data), value)
    return value


def from_value(value: struct_pb2.Value | None) -> Any:
    """A protobuf Value as plain Python; whole numbers come back as ints (a Value holds doubles: 7 → 7.0 would
    render "7.0" in a template)."""
    if value is None:
        return None
    return ints(json_format.MessageToDict(value))


def ints(data: Any) -> Any:
    if isinstance(data, float) and data.is_integer() and abs(data) < 2**53:
        return int(data)
    if isinstance(data, list):
        return [ints(v) for v in data]
    if isinstance(data, dict):
        return {k: ints(v) for k, v in data.items()}
    return data


def _jsonable(data: Any) -> Any:
    if isinstance(data, dict):
        return {str(k): _jsonable(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_jsonable(v) for v in data]
    if isinstance(data, bytes):
        return "0x" + data.hex()
    if isinstance(data, bool) or data is None or isinstance(data, (str, float)):
        return data
    if isinstance(data, int):
        return data if abs(data) < 2**53 else str(data)
    return str(data)


def now_ms() -> int:
    return int(time.time() * 1000)


def flat_config(message: Any) -> dict[str, Any]:
    """A node's or trigger's configuration as upstream records it in ``Step.config``: the fields of its ``config``
    (url, method, headers … — not wrapped in ``{"config": …}``), beside any other field (a LOOP's runner)."""
    data = json_format.MessageToDict(message, preserving_proto_field_name=False)
    inner = data.pop("config", None)
    return {**inner, **data} if isinstance(inner, dict) else data


def node_config(node: pb.TaskNode) -> Any:
    which = node.WhichOneof("task_type")
    if which is None:
        return None
    return flat_config(getattr(node, which))


def trigger_step(trigger: pb.TaskTrigger, output: Any, start: int) -> pb.Execution.Step:
    which = trigger.WhichOneof("trigger_type") or TYPE_TO_TRIGGER.get(trigger.type, "manual")
    kind, out_field = TRIGGER_FIELDS[which]
    step = pb.Execution.Step(id=trigger.id, success=True, type=pb.TriggerType.Name(kind), name=trigger.name,
                             start_at=start, end_at=now_ms())
    if trigger.HasField(which):
        step.config.CopyFrom(to_value(flat_config(getattr(trigger, which))))
    getattr(step, out_field).data.CopyFrom(to_value(output))
    return step


def settings_of(variables: dict[str, Any]) -> dict[str, Any]:
    settings = variables.get("settings")
    return settings if isinstance(settings, dict) else {}


def _policy(settings: dict[str, Any], name: str, default_timeout: float) -> tuple[float, int, float]:
    """(timeout s, attempts, first backoff s) of a node from the settings (per-node overrides first)."""
    per_node = settings.get("nodes", {}).get(name, {}) if isinstance(settings.get("nodes"), dict) else {}
    per_node = per_node if isinstance(per_node, dict) else {}

    def pick(key: str) -> Any:
        return per_node.get(key, settings.get(key))

    timeout = pick("timeout_seconds")
    timeout = float(timeout) if isinstance(timeout, (int, float)) and 0 < timeout <= 3600 else default_timeout
    retry = pick("retry") if isinstance(pick("retry"), dict) else {}
    attempts = retry.get("attempts", 1)
    attempts = int(attempts) if isinstance(attempts, (int, float)) and 1 <= attempts <= 10 else 1
    backoff = retry.get("backoff_ms", 200)
    backoff = float(backoff) / 1000 if isinstance(backoff, (int, float)) and 0 <= backoff <= 60_000 else 0.2
    return timeout, attempts, backoff


Runner = Callable[[pb.TaskNode, RunContext], StepResult]


class Engine:
    """Runs node graphs; `runner(node, ctx)` (runners.py) does one node."""

    def __init__(self, runner: Runner, *, workers: int, step_timeout: float) -> None:
        self.runner = runner
        self.step_timeout = step_timeout
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="api-step")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def run_node(self, node: pb.TaskNode, ctx: RunContext) -> pb.Execution.Step:
        """One node with its timeout and retries, as a step (never raises)."""
        settings = settings_of(ctx.variables)
        timeout, attempts, backoff = _policy(settings, node.name, self.step_timeout)
        start = now_ms()
        step = pb.Execution.Step(id=node.id, name=node.name, type=pb.NodeType.Name(node.type)
                                 if node.type in pb.NodeType.values() else str(node.type), start_at=start)
        config = node_config(node)
        if config is not None:
            step.config.CopyFrom(to_value(config))
        from hourglass_cli.api.templates import referenced

        step.inputs.extend(referenced(str(config)))
        logs: list[str] = []
        error: StepError | None = None
        result: StepResult | None = None
        for attempt in range(1, attempts + 1):
            future: Future = self.pool.submit(self.runner, node, ctx)
            try:
                result = future.result(timeout=timeout)
                error = None
                break
            except FutureTimeout:
                future.cancel()
                error = StepError(f"step timed out after {timeout:g} s", pb.EXECUTION_ENGINE_ERROR)
            except StepError as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 - a runner bug fails the step, never the service
                error = StepError(f"{type(exc).__name__}: {exc}", pb.EXECUTION_ENGINE_ERROR)
            if error.log:
                logs.append(error.log)
            if attempt < attempts:
                logs.append(f"attempt {attempt} of {attempts} failed: {error.message}; retrying")
                time.sleep(backoff * (2 ** (attempt - 1)))  # the retry policy's backoff, not a wait for a condition
        step.end_at = now_ms()
        _, out_field = NODE_FIELDS.get(node.type, (None, None))
        if error is None and result is not None:
            step.success = True
            if result.log:
                logs.append(result.log)
            if out_field:
                getattr(step, out_field).data.CopyFrom(to_value(result.output))
            if result.metadata is not None:
                step.metadata.CopyFrom(to_value(result.metadata))
            step.gas_used, step.gas_price, step.total_gas_cost = result.gas_used, result.gas_price, \
                result.total_gas_cost
            if attempts > 1 and len(logs) > 1:
                logs.append("succeeded after retrying")
        else:
            step.success = False
            step.error = error.message if error else "step failed"
            step.error_code = error.code if error else pb.EXECUTION_ENGINE_ERROR
        step.log = "\n".join(logs)[-64_000:]
        ctx.branch_taken = result.branch_taken if result else None
        return step

    def run_graph(self, trigger: pb.TaskTrigger, nodes: list[pb.TaskNode], edges: list[pb.TaskEdge],
                  ctx_for: Callable[[], RunContext], *, deadline: float | None = None
                  ) -> tuple[list[pb.Execution.Step], dict[str, Any]]:
        """Run every reachable node; (steps in finishing order, outputs by node name)."""
        by_id = {n.id: n for n in nodes}
        incoming: dict[str, list[str]] = {n.id: [] for n in nodes}
        for edge in edges:
            if edge.target in incoming:
                incoming[edge.target].append(edge.source)
        done: dict[str, tuple[bool, str | None]] = {trigger.id: (True, None)} if trigger.id else {}
        steps: list[pb.Execution.Step] = []
        lock = threading.Lock()
        finished = threading.Condition(lock)
        running: set[str] = set()
        skipped: set[str] = set()
        base = ctx_for()

        def source_state(source: str) -> str:
            """'active', 'inactive' or 'pending' for an edge source."""
            node_id, _, condition = source.partition(".")
            if source in done or node_id in done:
                ok, taken = done.get(node_id, done.get(source, (False, None)))
                if not ok:
                    return "inactive"
                if condition:
                    return "active" if taken == source else "inactive"
                return "active"
            if node_id in skipped:
                return "inactive"
            if node_id not in by_id and node_id != trigger.id:
                return "inactive"  # an edge from nowhere
            return "pending"

        def launch(node: pb.TaskNode) -> None:
            ctx = RunContext(dict(base.variables), base.owner, base.runner, base.task_id, base.execution_id,
                             base.services)

            def work() -> None:
                step = self.run_node(node, ctx)
                with finished:
                    steps.append(step)
                    taken = ctx.branch_taken
                    done[node.id] = (step.success, taken)
                    if step.success:
                        out_field = NODE_FIELDS.get(node.type, (None, None))[1]
                        output = from_value(getattr(step, out_field).data) if out_field else None
                        base.variables[node.name] = {"data": output}
                    running.discard(node.id)
                    finished.notify_all()

            threading.Thread(target=work, name=f"api-node-{node.id[:8]}", daemon=True).start()

        with finished:
            while True:
                progressed = False
                for node in nodes:
                    if node.id in done or node.id in running or node.id in skipped:
                        continue
                    sources = incoming[node.id] or [trigger.id]
                    states = [source_state(s) for s in sources]
                    if "pending" in states:
                        continue
                    progressed = True
                    if "active" in states:
                        running.add(node.id)
                        launch(node)
                    else:
                        skipped.add(node.id)
                if not running and not progressed:
                    break
                if running:
                    remaining = None if deadline is None else max(0.0, deadline - time.time())
                    if remaining == 0.0:
                        break
                    finished.wait(timeout=remaining)
        outputs = {by_id[i].name: base.variables.get(by_id[i].name) for i in done if i in by_id}
        return steps, outputs


def execution_status(steps: list[pb.Execution.Step]) -> tuple[int, str]:
    """(ExecutionStatus, error) of finished steps (the trigger first)."""
    failed = [s for s in steps if not s.success]
    if not failed:
        return pb.EXECUTION_STATUS_SUCCESS, ""
    error = f"{failed[0].name or failed[0].id}: {failed[0].error}"
    succeeded_nodes = [s for s in steps[1:] if s.success]
    if steps and steps[0].success and succeeded_nodes:
        return pb.EXECUTION_STATUS_PARTIAL_SUCCESS, error
    return pb.EXECUTION_STATUS_FAILED, error
