"""One node of an automation: what each node kind does (the engine schedules them, `engine.py`).

CUSTOM_CODE runs in the JS sandbox (`jsbox.py`); REST_API and GRAPHQL_QUERY use httpx with the configured
timeout (and, unless ``[api].allow_private_http``, refuse loopback and private addresses); CONTRACT_READ is an
``eth_call`` per method; CONTRACT_WRITE and ETH_TRANSFER are UserOps from the runner wallet (`wallets.py`);
BRANCH, FILTER and LOOP evaluate JavaScript expressions in the sandbox; HOURGLASS_TASK creates a TaskMailbox task
and waits for its certificate to verify (`hourglass_task.py`).
"""

from __future__ import annotations

import ipaddress
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from google.protobuf import json_format

from hourglass_cli.api.engine import FIELD_TO_TYPE, NODE_FIELDS, RunContext, StepError, StepResult
from hourglass_cli.api.templates import render, render_value
from hourglass_cli.wire.gen import avs_pb2 as pb

MAX_HTTP_BODY = 4 * 1024 * 1024
MAX_LOOP_ITEMS = 1000


@dataclass
class NodeServices:
    """What runners need from the service; set up by `service.py`."""

    js_timeout: float = 2.0
    js_memory_mb: int = 64
    http_timeout: float = 10.0
    allow_private_http: bool = True
    chain: Any = None  # api.chain.ApiChain or None (no chain steps)
    hourglass: Any = None  # hourglass_task.HourglassTasks or None


def _js():
    from hourglass_cli.api import jsbox

    return jsbox


def _js_limits(services: NodeServices):
    jsbox = _js()
    return jsbox.JsLimits(time_s=services.js_timeout, memory_bytes=services.js_memory_mb * 1024 * 1024)


def _config_vars(ctx: RunContext) -> dict[str, str]:
    ap = ctx.variables.get("apContext")
    return dict(ap.get("configVars", {})) if isinstance(ap, dict) else {}


def run_js(source: str, ctx: RunContext) -> tuple[Any, str]:
    """(value, log) of user JavaScript, or StepError with what went wrong."""
    jsbox = _js()
    try:
        result = jsbox.run_code(source, ctx.variables, config_vars=_config_vars(ctx), limits=_js_limits(ctx.services))
    except jsbox.JsError as exc:
        raise _step_error(exc) from None
    return result.value, "\n".join(result.logs)


def _step_error(exc) -> StepError:
    code = {"syntax": pb.INVALID_NODE_CONFIG}.get(exc.kind, pb.EXECUTION_ENGINE_ERROR)
    message = str(exc) + (f" — {exc.hint}" if exc.hint and exc.kind in ("timeout", "memory", "output") else "")
    return StepError(message, code, "\n".join(exc.logs or []))


def _check_url(url: str, services: NodeServices) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise StepError(f"url {url!r} is not an http(s) URL", pb.INVALID_NODE_CONFIG)
    if services.allow_private_http:
        return
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise StepError(f"cannot resolve {parsed.hostname}: {exc}", pb.INVALID_NODE_CONFIG) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            raise StepError(f"{parsed.hostname} is a private address; this server does not call those",
                            pb.INVALID_NODE_CONFIG)


def _http(method: str, url: str, headers: dict[str, str], body: str | None, services: NodeServices) -> Any:
    import httpx

    _check_url(url, services)
    try:
        with httpx.Client(timeout=services.http_timeout, follow_redirects=False) as client:
            with client.stream(method, url, headers=headers, content=body.encode() if body else None) as resp:
                chunks, size = [], 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > MAX_HTTP_BODY:
                        raise StepError(f"the response is larger than {MAX_HTTP_BODY} bytes", pb.INVALID_REQUEST)
                    chunks.append(chunk)
                raw = b"".join(chunks)
                status, reason, out_headers = resp.status_code, resp.reason_phrase, dict(resp.headers)
    except httpx.TimeoutException:
        raise StepError(f"{method} {url} timed out after {services.http_timeout:g} s",
                        pb.EXECUTION_ENGINE_ERROR) from None
    except httpx.HTTPError as exc:
        raise StepError(f"{method} {url} failed: {exc}", pb.EXECUTION_ENGINE_ERROR) from None
    text = raw.decode("utf-8", "replace")
    try:
        data: Any = json.loads(text) if text.strip() else None
    except ValueError:
        data = text
    return {"status": status, "statusText": reason, "headers": out_headers, "data": data, "url": url}


def rest_api(node: pb.RestAPINode, ctx: RunContext) -> StepResult:
    cfg, missing = node.config, []
    url = render(cfg.url, ctx.variables, missing)
    headers = {k: render(v, ctx.variables, missing) for k, v in cfg.headers.items()}
    body = render(cfg.body, ctx.variables, missing) if cfg.body else None
    method = (cfg.method or "GET").upper()
    if method not in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
        raise StepError(f"method {cfg.method!r} is not an HTTP method", pb.INVALID_NODE_CONFIG)
    out = _http(method, url, headers, body, ctx.services)
    log = "\n".join(f"template: {m}" for m in missing)
    if out["status"] >= 400:
        raise StepError(f"HTTP {out['status']} {out['statusText']} from {url}", pb.EXECUTION_ENGINE_ERROR, log)
    return StepResult(output=out, log=log)


def graphql(node: pb.GraphQLQueryNode, ctx: RunContext) -> StepResult:
    cfg, missing = node.config, []
    url = render(cfg.url, ctx.variables, missing)
    variables = {k: render_value(v, ctx.variables, missing) for k, v in cfg.variables.items()}
    payload = json.dumps({"query": render(cfg.query, ctx.variables, missing), "variables": variables})
    out = _http("POST", url, {"content-type": "application/json"}, payload, ctx.services)
    data = out["data"]
    if out["status"] >= 400 or (isinstance(data, dict) and data.get("errors") and not data.get("data")):
        detail = data.get("errors") if isinstance(data, dict) else out["statusText"]
        raise StepError(f"GraphQL query failed: {json.dumps(detail)[:500]}", pb.EXECUTION_ENGINE_ERROR)
    return StepResult(output=data.get("data") if isinstance(data, dict) and "data" in data else data)


def custom_code(node: pb.CustomCodeNode, ctx: RunContext) -> StepResult:
    if node.config.lang not in (pb.LANG_UNSPECIFIED, pb.LANG_JAVASCRIPT):
        raise StepError(f"lang {pb.Lang.Name(node.config.lang)} is not supported by CUSTOM_CODE (JavaScript only)",
                        pb.INVALID_NODE_CONFIG)
    if not node.config.source.strip():
        raise StepError("custom_code.config.source is empty", pb.INVALID_NODE_CONFIG)
    value, log = run_js(node.config.source, ctx)
    return StepResult(output=value, log=log)


def _expression(expr: str, ctx: RunContext) -> str:
    """A condition with its templates replaced by JSON literals (so `{{a.data.x}} > 5` is valid JS)."""
    from hourglass_cli.api.templates import _TEMPLATE, lookup

    def one(match) -> str:
        try:
            return json.dumps(lookup(ctx.variables, match.group(1)))
        except KeyError:
            return "undefined"

    return _TEMPLATE.sub(one, expr)


def branch(node_id: str, node: pb.BranchNode, ctx: RunContext) -> StepResult:
    conditions = list(node.config.conditions)
    if not conditions:
        raise StepError("branch.config.conditions is empty", pb.INVALID_NODE_CONFIG)
    if conditions[0].type != "if":
        raise StepError("the first branch condition must be of type 'if'", pb.INVALID_NODE_CONFIG)
    for cond in conditions:
        if cond.type not in ("if", "else"):
            raise StepError(f"branch condition {cond.id!r}: type must be 'if' or 'else'", pb.INVALID_NODE_CONFIG)
        if cond.type == "else":
            return StepResult(output={"conditionId": f"{node_id}.{cond.id}"}, branch_taken=f"{node_id}.{cond.id}")
        if not cond.expression.strip():
            continue
        jsbox = _js()
        try:
            value = jsbox.evaluate_expression(_expression(cond.expression, ctx), _js_globals(ctx),
                                              limits=_js_limits(ctx.services))
        except jsbox.JsError as exc:
            raise _step_error(exc) from None
        if value:
            return StepResult(output={"conditionId": f"{node_id}.{cond.id}"}, branch_taken=f"{node_id}.{cond.id}")
    return StepResult(output={"conditionId": ""}, log="no condition matched", branch_taken="")


def _input_list(name: str, ctx: RunContext, what: str) -> list[Any]:
    from hourglass_cli.api.templates import _TEMPLATE, lookup

    path = name.strip()
    whole = _TEMPLATE.fullmatch(path)
    path = whole.group(1) if whole else path
    try:
        value = lookup(ctx.variables, path)
    except KeyError as exc:
        raise StepError(f"{what}.config.input_variable: {exc.args[0]}", pb.INVALID_NODE_CONFIG) from None
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        value = value["data"]
    if not isinstance(value, list):
        raise StepError(f"{what}.config.input_variable {name!r} is not a list", pb.INVALID_NODE_CONFIG)
    return value


def filter_node(node: pb.FilterNode, ctx: RunContext) -> StepResult:
    items = _input_list(node.config.input_variable, ctx, "filter")
    expr = _expression(node.config.expression, ctx)
    if not expr.strip():
        raise StepError("filter.config.expression is empty", pb.INVALID_NODE_CONFIG)
    jsbox = _js()
    try:
        kept = jsbox.filter_items(expr, items, _js_globals(ctx), limits=_js_limits(ctx.services))
    except jsbox.JsError as exc:
        raise _step_error(exc) from None
    log = "\n".join([*kept.logs, *(f"item {i} skipped: {e}" for i, e in kept.errors)])
    return StepResult(output=kept.items, log=log)


def _js_globals(ctx: RunContext) -> dict[str, Any]:
    return dict(ctx.variables)


def loop(node: pb.LoopNode, ctx: RunContext) -> StepResult:
    items = _input_list(node.config.input_variable, ctx, "loop")
    if len(items) > MAX_LOOP_ITEMS:
        raise StepError(f"loop over {len(items)} items; at most {MAX_LOOP_ITEMS}", pb.INVALID_NODE_CONFIG)
    runner_field = node.WhichOneof("runner")
    if runner_field is None:
        raise StepError("loop has no runner node (custom_code, rest_api, contract_read …)", pb.INVALID_NODE_CONFIG)
    iter_val, iter_key = node.config.iter_val or "value", node.config.iter_key or "index"
    inner_field = "graphql_query" if runner_field == "graphql_data_query" else runner_field
    kind = FIELD_TO_TYPE[inner_field]

    def one(index: int) -> Any:
        variables = dict(ctx.variables)
        variables[iter_val], variables[iter_key] = items[index], index
        sub = RunContext(variables, ctx.owner, ctx.runner, ctx.task_id, ctx.execution_id, ctx.services)
        inner = pb.TaskNode(type=kind, id=f"loop-{index}", name=f"iteration{index}")
        getattr(inner, inner_field).CopyFrom(getattr(node, runner_field))
        return run_node(inner, sub).output

    if node.config.execution_mode == pb.EXECUTION_MODE_PARALLEL and len(items) > 1:
        with ThreadPoolExecutor(max_workers=min(4, len(items)), thread_name_prefix="api-loop") as pool:
            results = list(pool.map(one, range(len(items))))
    else:
        results = [one(i) for i in range(len(items))]
    return StepResult(output=results)


def _abi_of(values) -> list[dict]:
    return [json_format.MessageToDict(v) for v in values]


def contract_read(node: pb.ContractReadNode, ctx: RunContext) -> StepResult:
    chain = ctx.services.chain
    if chain is None:
        raise StepError("contract reads need [api].rpc_url", pb.RPC_NODE_ERROR)
    cfg, missing = node.config, []
    address = render(cfg.contract_address, ctx.variables, missing)
    calls = [(m.method_name, [render(p, ctx.variables, missing) for p in m.method_params],
              render(m.call_data, ctx.variables, missing) if m.HasField("call_data") else "")
             for m in cfg.method_calls]
    return chain.read(address, _abi_of(cfg.contract_abi), calls)


def contract_write(node: pb.ContractWriteNode, ctx: RunContext) -> StepResult:
    chain = ctx.services.chain
    if chain is None or not chain.can_write:
        raise StepError("contract writes need [api].rpc_url, entry_point, wallet_factory and a controller key",
                        pb.SMART_WALLET_RPC_ERROR)
    cfg, missing = node.config, []
    address = render(cfg.contract_address, ctx.variables, missing)
    calls = [(m.method_name, [render(p, ctx.variables, missing) for p in m.method_params],
              render(m.call_data, ctx.variables, missing) if m.HasField("call_data") else "")
             for m in cfg.method_calls]
    if not calls and cfg.call_data:
        calls = [("", [], render(cfg.call_data, ctx.variables, missing))]
    value = int(render(cfg.value, ctx.variables, missing) or 0) if cfg.HasField("value") else 0
    return chain.write(ctx.owner, ctx.runner, address, _abi_of(cfg.contract_abi), calls, value,
                       simulate=cfg.is_simulated if cfg.HasField("is_simulated") else False)


def eth_transfer(node: pb.ETHTransferNode, ctx: RunContext) -> StepResult:
    chain = ctx.services.chain
    if chain is None or not chain.can_write:
        raise StepError("ETH transfers need [api].rpc_url, entry_point, wallet_factory and a controller key",
                        pb.SMART_WALLET_RPC_ERROR)
    missing: list[str] = []
    destination = render(node.config.destination, ctx.variables, missing)
    amount = render(node.config.amount, ctx.variables, missing)
    return chain.transfer(ctx.owner, ctx.runner, destination, amount)


def hourglass_task(node: pb.HourglassTaskNode, ctx: RunContext) -> StepResult:
    tasks = ctx.services.hourglass
    if tasks is None:
        raise StepError("HOURGLASS_TASK steps need [api].task_mailbox, avs_address and rpc_url",
                        pb.INVALID_NODE_CONFIG)
    return tasks.run(node.config, ctx)


def run_node(node: pb.TaskNode, ctx: RunContext) -> StepResult:
    """Do one node (the engine's runner)."""
    which = node.WhichOneof("task_type")
    if which is None:
        raise StepError(f"node {node.name or node.id!r} has no configuration", pb.INVALID_NODE_CONFIG)
    expected = FIELD_TO_TYPE.get(which)
    if node.type not in (pb.NODE_TYPE_UNSPECIFIED, expected):
        raise StepError(f"node {node.name!r}: type {pb.NodeType.Name(node.type)} does not match its {which} config",
                        pb.INVALID_NODE_CONFIG)
    body = getattr(node, which)
    if which == "custom_code":
        return custom_code(body, ctx)
    if which == "rest_api":
        return rest_api(body, ctx)
    if which == "graphql_query":
        return graphql(body, ctx)
    if which == "branch":
        return branch(node.id, body, ctx)
    if which == "filter":
        return filter_node(body, ctx)
    if which == "loop":
        return loop(body, ctx)
    if which == "contract_read":
        return contract_read(body, ctx)
    if which == "contract_write":
        return contract_write(body, ctx)
    if which == "eth_transfer":
        return eth_transfer(body, ctx)
    if which == "hourglass_task":
        return hourglass_task(body, ctx)
    raise StepError(f"{which} nodes are not supported by this server (BALANCE needs a Moralis key upstream)",
                    pb.INVALID_NODE_CONFIG)


__all__ = ["NODE_FIELDS", "NodeServices", "run_node"]
