"""The sandbox that runs CUSTOM_CODE JavaScript and BRANCH/FILTER expressions, with upstream's (goja) semantics.

Engine: QuickJS through quickjs-ng (PyPI). Its memory limit is real and recoverable (an allocation past it throws
in the script; the engine goes on), its time limit interrupts loops and regular expressions alike, and it has no
file, network, process or timer API (no `std`/`os` modules, no module loader). mini-racer (V8) was measured too: a
fresh isolate costs ~7 ms and `new Array(1e9).fill(0)` under its memory limit aborts the whole process; PetterS'
`quickjs` cannot interrupt a backtracking regex.

Isolation and threads: every run gets a **fresh QuickJS context** (its own runtime and heap), so nothing one
user's code sets is seen by the next run. Contexts run in a small pool of **worker processes** (`JsPool`, one run
per worker at a time, as many workers as CPUs): QuickJS's time limit is the process's CPU clock, which in a shared
process other threads' work would eat into; in a worker it is the run's own. A worker that does not answer by a
wall-clock backstop (2x the time limit + 1 s) is killed and replaced, so even an engine bug cannot hang or crash
the caller. While idle, a worker prepares its next context (prelude evaluated, the libraries its last run
required loaded; no code has run in it): `return 1` costs ~0.5 ms end to end, a lodash step ~1.5 ms instead of
lodash's ~8 ms load (docs/benchmarks.md). `run_code` and the others may be called from many threads at once.

Not offered, unlike upstream's goja VM: its `fetch`, `readContractData`, chainlink and big-number macros (network
and chain access belong to other node kinds here) and its `Object.prototype.toString` override.
"""

from __future__ import annotations

import atexit
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from hourglass_cli.api import _jsbox_source
from hourglass_cli.api._jsbox_pool import JsEngineError, JsPool, WorkerCrashed, WorkerTimeout
from hourglass_cli.api._jsbox_worker import KNOWN_LIBS, LINE_OFFSET
from hourglass_cli.errors import HourglassError

__all__ = ["FilterResult", "JsEngineError", "JsError", "JsLibraryMissingError", "JsLimits", "JsPool", "JsResult",
           "default_pool", "evaluate_expression", "evaluate_expressions", "filter_items", "run_code"]

MiB = 1024 * 1024
KINDS = ("syntax", "runtime", "timeout", "memory", "output", "crash")


@dataclass(frozen=True)
class JsLimits:
    """What one run may use; every field has a default."""

    time_s: float = 2.0
    """CPU seconds the code may run (QuickJS's interrupt); loops and regular expressions alike are stopped."""
    memory_bytes: int = 64 * MiB
    """The context's heap: an allocation past it fails the run with kind "memory"."""
    stack_bytes: int = 1 * MiB
    """The JavaScript stack: deeper recursion fails with kind "memory"."""
    max_output_chars: int = 1_000_000
    """The result's size as JSON text; a bigger one fails with kind "output"."""
    max_log_chars: int = 64 * 1024
    """console output kept; past it the log ends with a line saying how much was dropped."""
    wall_s: float | None = None
    """The wall-clock backstop after which the worker is killed (default 2 x time_s + 1 s)."""

    def __post_init__(self) -> None:
        for name in ("time_s", "memory_bytes", "stack_bytes", "max_output_chars", "max_log_chars"):
            if not getattr(self, name) > 0:
                raise HourglassError(f"JsLimits.{name} must be positive, not {getattr(self, name)!r}")
        if self.memory_bytes < MiB:
            raise HourglassError(f"JsLimits.memory_bytes must be at least 1 MiB, not {self.memory_bytes}")

    @property
    def backstop_s(self) -> float:
        return self.wall_s if self.wall_s is not None else 2 * self.time_s + 1.0


DEFAULT_LIMITS = JsLimits()


class JsError(HourglassError):
    """The code could not run to a value: kind is one of KINDS; line/column point into the user's source."""

    def __init__(self, kind: str, message: str, *, line: int | None = None, column: int | None = None,
                 logs: list[str] | None = None, name: str = "", hint: str | None = None) -> None:
        where = f" (line {line})" if line is not None else ""
        super().__init__(message + where, hint)
        self.kind = kind
        self.detail = message
        self.line = line
        self.column = column
        self.logs = logs or []
        self.name = name


class JsLibraryMissingError(JsError):
    """The code required lodash, dayjs or uuid and this server does not have it."""


@dataclass(frozen=True)
class JsResult:
    """A run's value (JSON-compatible), what it logged, and how long it took end to end."""

    value: Any
    logs: list[str] = field(default_factory=list)
    duration_ms: float = 0.0


@dataclass(frozen=True)
class FilterResult:
    """The items the expression kept, in order; the items it threw on (skipped, as upstream does)."""

    items: list[Any]
    errors: list[tuple[int, JsError]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    duration_ms: float = 0.0


_pool: JsPool | None = None
_pool_lock = threading.Lock()


def default_pool() -> JsPool:
    """The process-wide pool the functions here use unless given one (closed at exit)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = JsPool()
            atexit.register(_pool.close)
        return _pool


def run_code(source: str, variables: dict[str, Any], *, config_vars: dict[str, str] | None = None,
             limits: JsLimits = DEFAULT_LIMITS, pool: JsPool | None = None) -> JsResult:
    """Run CUSTOM_CODE source with `variables` as globals (node outputs, trigger, inputs); its value as JSON data."""
    if config_vars is not None:
        variables = dict(variables)
        ap = dict(variables.get("apContext") or {})
        ap["configVars"] = dict(config_vars)
        variables["apContext"] = ap
    script = _jsbox_source.to_script(source)
    started = time.perf_counter()
    header, env = _call("run", [script.text.encode(), _vars_json(variables)], limits, pool)
    lines = _LineMap(script.prefix_lines, source.count("\n") + 1)
    _raise_for(header, env, limits, lines)
    if not env["ok"]:
        raise _error_from(env["error"], env["logs"], lines)
    return JsResult(env["value"], env["logs"], (time.perf_counter() - started) * 1000)


def evaluate_expressions(expressions: list[str], variables: dict[str, Any], *, limits: JsLimits = DEFAULT_LIMITS,
                         pool: JsPool | None = None) -> list[Any]:
    """Each expression's value (as upstream's BRANCH runs `(expr)`), or the JsError it failed with, in one context.

    A timeout or memory failure fails them all (raised)."""
    header, env = _call("exprs", [json.dumps(list(expressions)).encode(), _vars_json(variables)], limits, pool)
    lines = _LineMap(0, 1)
    _raise_for(header, env, limits, lines)
    return [r["value"] if r["ok"] else _error_from(r["error"], [], lines) for r in env["value"]]


def evaluate_expression(expression: str, variables: dict[str, Any], *, limits: JsLimits = DEFAULT_LIMITS,
                        pool: JsPool | None = None) -> Any:
    """The value of one expression (a BRANCH condition such as ``trigger.data.amount > 5``); JsError if it fails."""
    (value,) = evaluate_expressions([expression], variables, limits=limits, pool=pool)
    if isinstance(value, JsError):
        raise value
    return value


def filter_items(expression: str, items: list[Any] | dict[str, Any], variables: dict[str, Any] | None = None, *,
                 limits: JsLimits = DEFAULT_LIMITS, pool: JsPool | None = None) -> FilterResult:
    """The items for which `expression` (with `value` and `index` bound) is truthy, as upstream's FILTER keeps them.

    An expression with `if` or `return` is a function body, any other is returned. An item the expression throws
    on is skipped and listed in `errors`; a dict is filtered as a single item, and there an error is raised."""
    single = isinstance(items, dict)
    listed: list[Any] = [items] if single else list(items)
    wrap_body = bool(_jsbox_source.FILTER_BODY.search(expression))
    started = time.perf_counter()
    header, env = _call("filter", [expression.encode(), _vars_json(variables or {}), _json(listed, "the items")],
                        limits, pool, wrap_body=wrap_body)
    lines = _LineMap(0, expression.count("\n") + 1)
    _raise_for(header, env, limits, lines)
    if not env["ok"]:
        raise _error_from(env["error"], env["logs"], lines)
    errors = [(i, _error_from(e, [], lines)) for i, e in env["errors"]]
    if single and errors:
        raise errors[0][1]
    return FilterResult([listed[i] for i in env["value"]], errors, env["logs"], (time.perf_counter() - started) * 1000)


# --- the request and what comes back ----------------------------------------------------------------------------


def _json(value: Any, what: str) -> bytes:
    try:
        return json.dumps(value, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise HourglassError(f"{what} must be JSON values (str, number, bool, None, list, dict): {exc}") from None


def _vars_json(variables: dict[str, Any]) -> bytes:
    return _json(variables, "the variables")


def _call(op: str, parts: list[bytes], limits: JsLimits, pool: JsPool | None,
          wrap_body: bool = False) -> tuple[dict[str, Any], dict[str, Any] | list[str]]:
    from hourglass_cli.api.js_libs import find_libs, missing_message

    libs = {name: str(path) for name, path in find_libs().items()}
    req = {"op": op, "time_s": limits.time_s, "memory": limits.memory_bytes, "stack": limits.stack_bytes,
           "max_output": limits.max_output_chars, "max_log": limits.max_log_chars, "libs": libs,
           "missing": {name: missing_message(name) for name in KNOWN_LIBS if name not in libs},
           "wrap_body": wrap_body}
    try:
        header, out = (pool or default_pool()).call(req, parts, limits.backstop_s)
    except WorkerTimeout:
        raise JsError("timeout", f"the code did not finish within {limits.backstop_s:g} s of wall-clock time and "
                      "was stopped", hint=_HINTS["timeout"](limits)) from None
    except WorkerCrashed as exc:
        raise JsError("crash", f"the JavaScript engine stopped while running the code: {exc}",
                      hint="this is a bug in the engine or hourglass; the run was not completed") from None
    return header, json.loads(out[0]) if out else {}


_HINTS = {
    "syntax": lambda lim: "fix the code at that line; code with `return` runs as the body of a function",
    "timeout": lambda lim: (f"the code may use {lim.time_s:g} s of CPU; look for an endless loop or a regular "
                            "expression that backtracks"),
    "memory": lambda lim: (f"the code may use {lim.memory_bytes / MiB:g} MiB of memory and "
                           f"{lim.stack_bytes / MiB:g} MiB of stack; work on less data or recurse less deeply"),
}


class _LineMap:
    """Turns a line of the script run into the user's line (None when it is not in the user's source)."""

    def __init__(self, prefix_lines: int, user_lines: int) -> None:
        self.prefix, self.count = prefix_lines, user_lines

    def find(self, stack: str) -> tuple[int | None, int | None]:
        for m in re.finditer(r"<input>:(\d+):(\d+)", stack):
            line = int(m.group(1)) - LINE_OFFSET - self.prefix
            if int(m.group(1)) > LINE_OFFSET:
                return min(max(line, 1), self.count), int(m.group(2))
        return None, None


def _raise_for(header: dict[str, Any], env: Any, limits: JsLimits, lines: _LineMap) -> None:
    """Raise for what escaped the prelude (time, memory) and for a required library that is not installed."""
    if "exc" in header:
        text: str = header["exc"]
        first = text.split("\n", 1)[0]
        line, column = lines.find(text)
        logs = env if isinstance(env, list) else []
        if first.startswith("InternalError: interrupted"):
            raise JsError("timeout", f"the code ran longer than {limits.time_s:g} s of CPU and was stopped",
                          line=line, column=column, logs=logs, hint=_HINTS["timeout"](limits))
        if header.get("stack_overflow") or "call stack" in first:
            raise JsError("memory", "stack overflow: the code recursed too deeply", line=line, column=column,
                          logs=logs, hint=_HINTS["memory"](limits))
        if "out of memory" in first or "string too long" in first or header.get("near_memory_limit"):
            raise JsError("memory", f"the code used more than {limits.memory_bytes / MiB:g} MiB of memory",
                          line=line, column=column, logs=logs, hint=_HINTS["memory"](limits))
        raise JsError("runtime", first, line=line, column=column, logs=logs)
    if env.get("missing"):
        from hourglass_cli.api.js_libs import INSTALL_COMMAND, missing_message

        raise JsLibraryMissingError("runtime", missing_message(env["missing"]), logs=env.get("logs"),
                                    hint=f"run `{INSTALL_COMMAND}` on the server")


def _error_from(err: dict[str, Any], logs: list[str], lines: _LineMap) -> JsError:
    line, column = lines.find(err["stack"])
    if err["name"] == "OutputError":
        return JsError("output", err["message"], logs=logs,
                       hint="return less data, or only the fields the next steps need")
    if err["syntax"]:
        return JsError("syntax", f"SyntaxError: {err['message']}", line=line, column=column, logs=logs,
                       name="SyntaxError", hint=_HINTS["syntax"](None))
    if err["name"] == "thrown value":
        return JsError("runtime", f"the code threw {err['message']}", line=line, column=column, logs=logs)
    return JsError("runtime", f"{err['name']}: {err['message']}", line=line, column=column, logs=logs,
                   name=err["name"])
