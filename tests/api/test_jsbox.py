"""The JavaScript sandbox: upstream's CUSTOM_CODE/BRANCH/FILTER semantics, its limits, and its isolation."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import pytest

from hourglass_cli.api import js_libs
from hourglass_cli.api.jsbox import (
    JsError,
    JsLibraryMissingError,
    JsLimits,
    JsPool,
    evaluate_expression,
    evaluate_expressions,
    filter_items,
    run_code,
)
from hourglass_cli.errors import HourglassError

REPO = Path(__file__).resolve().parents[2]
FAST = JsLimits(time_s=0.5)  # the failure tests need not wait the default 2 s


@pytest.fixture(scope="module", autouse=True)
def libs() -> dict[str, Path]:
    """lodash, dayjs and uuid: the checkout's node_modules (`make tools`), else installed once into a cache folder."""
    found = js_libs.find_libs()
    if set(found) != set(js_libs.JS_LIBS):
        base = Path.home() / ".cache" / "hourglass" / "js-libs"
        try:
            found = js_libs.install_js_libs(base)
        except HourglassError as exc:
            pytest.fail(f"lodash/dayjs/uuid are not installed and could not be: {exc} ({exc.hint}); run `make tools` "
                        "or `hourglass devnet install js-libs`", pytrace=False)
        os.environ["HOURGLASS_JS_LIBS"] = str(base / "node_modules")
    return found


@pytest.fixture(scope="module")
def pool() -> JsPool:
    p = JsPool(size=2)
    yield p
    p.close()


def run(source: str, variables: dict | None = None, pool: JsPool | None = None, **kw):
    return run_code(source, variables or {}, pool=pool, **kw)


# --- values -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("source, expected", [
    ("return 1", 1),
    ("return 1.5", 1.5),
    ("return 'hé'", "hé"),
    ("return true", True),
    ("return null", None),
    ("return undefined", None),
    ("return", None),
    ("return [1, 'a', null, undefined, () => 1]", [1, "a", None, None, None]),
    ("return {a: {b: [1, 2]}, f() {}, u: undefined, s: Symbol('x')}", {"a": {"b": [1, 2]}}),
    ("return new Date(Date.UTC(2024, 0, 2, 3, 4, 5))", "2024-01-02T03:04:05.000Z"),
    ("return {d: new Date(0)}", {"d": "1970-01-01T00:00:00.000Z"}),
    ("return 10n ** 30n", "1" + "0" * 30),
    ("return {wei: 123456789012345678901234567890n}", {"wei": "123456789012345678901234567890"}),
    ("return () => 1", None),
    ("return new Map([['a', 1], [2, 'b']])", {"a": 1, "2": "b"}),
    ("return new Set([1, 2, 2])", [1, 2]),
    ("return new Uint8Array([1, 2, 255])", [1, 2, 255]),
    ("return new Uint8Array([7, 8]).buffer", [7, 8]),
    ("return NaN", None),
    ("return Promise.resolve(1)", None),
    ("return 2 ** 53 + 2", 2 ** 53 + 2),
    # without `return` the source is a script whose value is its last expression statement's (goja's RunString)
    ("1 + 2", 3),
    ("const x = 5; x * 2", 10),
    ("let o = {a: 1}; o", {"a": 1}),
    ("({a: 1})", {"a": 1}),
    ("var n = 0; for (let i = 0; i < 4; i++) { n += i }", 6),
    # upstream wraps any source with `return` on a code line, even in a string: then the value is undefined
    ("const s = 'no return here'; s", None),
    ("// return in a comment line only\n'kept'", "kept"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_values(pool: JsPool, source: str, expected) -> None:
    assert run(source, pool=pool).value == expected


def test_result_has_logs_and_duration(pool: JsPool) -> None:
    result = run("console.log('hi'); return 1", pool=pool)
    assert result.value == 1 and result.logs == ["hi"] and 0 < result.duration_ms < 5000


def test_globals_are_the_variables(pool: JsPool) -> None:
    variables = {"trigger": {"data": {"amount": 7, "token": "0xabc"}}, "balance1": {"data": [{"v": 1}, {"v": 2}]},
                 "workflowContext": {"id": "w1"}, "my_input": "x"}
    out = run("return {a: trigger.data.amount * 2, s: balance1.data.map(b => b.v), id: workflowContext.id, "
              "i: my_input}", variables, pool)
    assert out.value == {"a": 14, "s": [1, 2], "id": "w1", "i": "x"}


def test_config_vars_are_ap_context_config_vars(pool: JsPool) -> None:
    out = run_code("return apContext.configVars.apiKey + '/' + apContext.other", {"apContext": {"other": 1}},
                   config_vars={"apiKey": "s3cret"}, pool=pool)
    assert out.value == "s3cret/1"


def test_variables_must_be_json(pool: JsPool) -> None:
    with pytest.raises(HourglassError, match="JSON values"):
        run("return 1", {"x": object()}, pool)


# --- libraries ----------------------------------------------------------------------------------------------------


def test_lodash_dayjs_uuid_by_require(pool: JsPool) -> None:
    out = run("""
const _ = require('lodash');
const dayjs = require('dayjs');
const { v4 } = require('uuid');
return {
  sum: _.sumBy([{n: 1}, {n: 2}], 'n'),
  groups: _.groupBy(['one', 'two', 'three'], 'length'),
  day: dayjs('2024-03-01T00:00:00Z').add(1, 'day').toISOString(),
  fmt: dayjs(0).format('YYYY'),
  ids: [v4(), v4()],
  same: require('lodash') === _,
};""", pool=pool).value
    assert out["sum"] == 3 and out["groups"] == {"3": ["one", "two"], "5": ["three"]}
    assert out["day"] == "2024-03-02T00:00:00.000Z" and out["fmt"] == "1970"
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u) for u in out["ids"])
    assert out["ids"][0] != out["ids"][1] and out["same"] is True


def test_es6_imports_are_turned_into_requires(pool: JsPool) -> None:
    out = run("import _ from 'lodash';\nimport { v4 as uuidv4 } from 'uuid';\nimport * as dayjs from 'dayjs';\n"
              "return [_.chunk([1, 2, 3], 2), uuidv4().length, dayjs(0).year()]", pool=pool)
    assert out.value == [[[1, 2], [3]], 36, 1970]


def test_error_line_after_imports_is_the_users(pool: JsPool) -> None:
    with pytest.raises(JsError) as info:
        run("import _ from 'lodash';\n\nconst a = 1;\nnull.x;", pool=pool)
    assert info.value.kind == "runtime" and info.value.line == 4


def test_libraries_are_not_globals_as_upstream(pool: JsPool) -> None:
    assert run("[typeof _, typeof dayjs, typeof uuid, typeof module, typeof exports]", pool=pool).value == [
        "undefined"] * 5


def test_uuid_randomness_differs_between_runs(pool: JsPool) -> None:
    ids = {run("return require('uuid').v4()", pool=pool).value for _ in range(3)}
    assert len(ids) == 3


def test_get_random_values_is_chacha20_keyed_by_the_seed() -> None:
    """RFC 8439 appendix A.1 test vectors 1 and 2 (zero key and nonce, blocks 0 and 1), through the prelude."""
    import quickjs

    ctx = quickjs.Context()
    setup = ctx.eval((REPO / "hourglass_cli" / "api" / "jsbox_prelude.js").read_text())
    cfg = json.dumps({"lineOffset": 10, "maxOutput": 10 ** 6, "maxLog": 1000, "known": [], "missing": {}})
    hg = setup(cfg, "00" * 32)
    hg("begin", "{}", "{}")
    env = json.loads(hg("run", "const a = new Uint8Array(128); crypto.getRandomValues(a);"
                               "Array.from(a, b => b.toString(16).padStart(2, '0')).join('')"))
    assert env["value"] == (
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7da41597c5157488d7724e03fb8d84a376a43b8f4"
        "1518a11cc387b669b2ee6586"
        "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed29b721769ce64e43d57133b074d839d531ed1f"
        "28510afb45ace10a1f4b794d6f")


def test_require_of_another_module_says_which_are_available(pool: JsPool) -> None:
    for name in ("fs", "child_process", "http", "net", "lodash/fp", "./x"):
        with pytest.raises(JsError, match=f"module {re.escape(name)} is not available "
                                          r"\(lodash, dayjs, uuid are\)") as info:
            run(f"return require('{name}')", pool=pool)
        assert info.value.kind == "runtime"
    with pytest.raises(JsError, match="module fs is not available"):
        run("import fs from 'fs';\nreturn fs", pool=pool)


def test_a_library_not_installed_says_how_to_install_it(pool: JsPool, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    monkeypatch.setattr(js_libs, "search_dirs", lambda: [tmp_path])
    for source in ("return require('lodash').sum([1])",
                   "try { require('dayjs') } catch (e) { return 'caught' }"):  # caught or not, the step fails
        with pytest.raises(JsLibraryMissingError) as info:
            run(source, pool=pool)
        assert info.value.kind == "runtime" and "is not installed" in str(info.value)
        assert "hourglass devnet install js-libs" in str(info.value) + info.value.hint
    assert run("return 1", pool=pool).value == 1  # a step that needs no library still runs


def test_package_json_pins_the_versions_hourglass_installs() -> None:
    pins = json.loads((REPO / "package.json").read_text())["dependencies"]
    assert pins == {lib.name: lib.version for lib in js_libs.JS_LIBS.values()}


def test_hourglass_devnet_install_js_libs(tmp_path: Path) -> None:
    """The pip-installed user's one command: npm installs the pinned libraries into the tools folder."""
    from tests.cli.test_cli_basics import run_cli

    out = run_cli("devnet", "install", "js-libs", env={"HOURGLASS_TOOLS_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    for lib in js_libs.JS_LIBS.values():
        assert f"{lib.name} {lib.version} installed" in out.stdout
        package = json.loads((tmp_path / "node_modules" / lib.name / "package.json").read_text())
        assert package["version"] == lib.version
    assert js_libs.find_libs([tmp_path / "node_modules"]).keys() == js_libs.JS_LIBS.keys()
    bad = run_cli("devnet", "install", "js-libs", "--version", "1.0.0")
    assert bad.returncode == 2 and "takes no --version" in bad.stderr


# --- console --------------------------------------------------------------------------------------------------------


def test_console_is_captured_not_printed(pool: JsPool, capfd: pytest.CaptureFixture[str]) -> None:
    out = run("console.log('a', 1, {b: [2]}, null, undefined); console.info('i'); console.warn('w');"
              "console.error(new Error('e')); console.debug(10n); return 0", pool=pool)
    assert out.logs == ['a 1 {"b":[2]} null undefined', "info: i", "warn: w", "error: Error: e", 'debug: "10"']
    assert capfd.readouterr() == ("", "")


def test_console_output_is_bounded(pool: JsPool) -> None:
    out = run("for (let i = 0; i < 1000; i++) console.log('line ' + i); return 1", pool=pool,
              limits=JsLimits(max_log_chars=100))
    assert sum(len(line) for line in out.logs[:-1]) <= 100
    assert out.logs[-1].startswith("... log truncated at 100 characters")


def test_logs_before_a_failure_are_kept(pool: JsPool) -> None:
    with pytest.raises(JsError) as info:
        run("console.log('before'); while (true) {}", pool=pool, limits=FAST)
    assert info.value.kind == "timeout" and info.value.logs == ["before"]


# --- failures -----------------------------------------------------------------------------------------------------


def _fails(pool: JsPool, source: str, kind: str, limits: JsLimits = FAST) -> JsError:
    with pytest.raises(JsError) as info:
        run(source, pool=pool, limits=limits)
    assert info.value.kind == kind, (info.value.kind, str(info.value))
    assert isinstance(info.value, HourglassError)
    assert run("return 'still fine'", pool=pool).value == "still fine"  # the engine goes on
    return info.value


@pytest.mark.parametrize("source, line", [("return {", None), ("const a = 1;\nconst b = ;\nreturn a", 2),
                                          ("let x = 1\nx +* 2", 2), ("import { from 'lodash'", None)])
def test_syntax_error(pool: JsPool, source: str, line: int | None) -> None:
    err = _fails(pool, source, "syntax")
    assert str(err).startswith("SyntaxError:") and "the body of a function" in err.hint
    if line is not None:
        assert err.line == line


def test_thrown_error_has_message_and_line(pool: JsPool) -> None:
    err = _fails(pool, "const a = 1;\n\nthrow new Error('amount too low: ' + a);", "runtime")
    assert str(err) == "Error: amount too low: 1 (line 3)" and err.line == 3 and err.column
    err = _fails(pool, "function f(o) {\n  return o.missing.x;\n}\nreturn f({});", "runtime")
    assert err.name == "TypeError" and err.line == 2


def test_runtime_syntax_errors_are_runtime(pool: JsPool) -> None:
    err = _fails(pool, "return JSON.parse('{bad')", "runtime")
    assert err.name == "SyntaxError" and err.line == 1


def test_thrown_non_errors(pool: JsPool) -> None:
    assert str(_fails(pool, "throw 'plain string'", "runtime")) == "the code threw plain string"
    assert '{"code":42}' in str(_fails(pool, "throw {code: 42}", "runtime"))


def test_endless_loop_times_out(pool: JsPool) -> None:
    started = time.monotonic()
    err = _fails(pool, "while (true) {}", "timeout")
    assert time.monotonic() - started < 5
    assert "0.5 s" in str(err) and "endless loop" in err.hint


def test_catastrophic_regex_times_out(pool: JsPool) -> None:
    _fails(pool, "return /(a+)+$/.test('a'.repeat(40) + 'b')", "timeout")


def test_timeout_cannot_be_caught(pool: JsPool) -> None:
    _fails(pool, "for (;;) { try { while (true) {} } catch (e) {} }", "timeout")


def test_the_wall_clock_backstop_kills_and_replaces_the_worker(pool: JsPool) -> None:
    err = _fails(pool, "while (true) {}", "timeout", JsLimits(time_s=30, wall_s=0.5))
    assert "wall-clock" in str(err)


@pytest.mark.parametrize("source", [
    "return new Array(1e9).fill(0)",
    "let s = 'x'; while (true) s = s + s + 'y';",
    "const a = []; while (true) a.push({n: a.length});",
    "return 'x'.repeat(2 ** 27).length",
])
def test_memory_limit(pool: JsPool, source: str) -> None:
    err = _fails(pool, source, "memory")
    assert "64 MiB" in str(err) and "less data" in err.hint


def test_memory_limit_is_configurable(pool: JsPool) -> None:
    source = "return 'x'.repeat(16 * 1024 * 1024).length"
    assert run(source, pool=pool).value == 16 * 1024 * 1024
    assert "8 MiB" in str(_fails(pool, source, "memory", JsLimits(memory_bytes=8 * 1024 * 1024)))


def test_deep_recursion(pool: JsPool) -> None:
    err = _fails(pool, "function f(n) { return f(n + 1) + 1 }\nreturn f(0)", "memory")
    assert "recursed too deeply" in str(err)


def test_output_limits(pool: JsPool) -> None:
    err = _fails(pool, "return 'x'.repeat(2000)", "output", JsLimits(max_output_chars=1000))
    assert "more than the limit of 1000" in str(err)
    assert "circular" in str(_fails(pool, "const o = {}; o.self = o; return o", "output"))


def test_limits_are_validated() -> None:
    with pytest.raises(HourglassError, match="time_s must be positive"):
        JsLimits(time_s=0)
    with pytest.raises(HourglassError, match="at least 1 MiB"):
        JsLimits(memory_bytes=1000)


# --- sandbox --------------------------------------------------------------------------------------------------------


def test_no_file_network_process_or_timer_api(pool: JsPool) -> None:
    names = ["process", "fetch", "XMLHttpRequest", "WebSocket", "setTimeout", "setInterval", "setImmediate",
             "std", "os", "Deno", "Bun", "importScripts", "Worker", "print", "scriptArgs", "__loadScript",
             "navigator", "module", "exports", "global"]
    out = run("const g = Function('return this')();\nreturn Object.fromEntries(["
              + ", ".join(f"'{n}'" for n in names) + "].map(n => [n, typeof g[n]]))", pool=pool).value
    assert out == dict.fromkeys(names, "undefined")


def test_dynamic_import_loads_nothing(pool: JsPool) -> None:
    out = run("let state = 'pending';\nimport('/etc/passwd').then(() => { state = 'loaded' }, () => {});\n"
              "import('fs').then(() => { state = 'loaded' }, () => {});\nreturn state", pool=pool)
    assert out.value == "pending"
    with pytest.raises(JsError, match="SyntaxError"):
        run("import fs from '/etc/passwd'\nexport default 1", pool=pool)


def test_runs_are_isolated() -> None:
    """One worker, so the second run lands where the first ran: it sees none of the first's changes."""
    solo = JsPool(size=1)
    try:
        run("globalThis.leak = 'secret'; var v = 1; Object.prototype.polluted = 1; Array.prototype.extra = 2;"
            "JSON.stringify = () => 'hijacked'; require('lodash').sum = () => 666; console.log('x'); return 1",
            pool=solo)
        out = run("return [typeof leak, typeof v, ({}).polluted, [].extra, JSON.stringify({a: 1}),"
                  "require('lodash').sum([1, 2])]", pool=solo)
        assert out.value == ["undefined", "undefined", None, None, '{"a":1}', 3] and out.logs == []
    finally:
        solo.close()


def test_concurrent_runs_from_threads(pool: JsPool) -> None:
    results: dict[tuple[int, int], object] = {}
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            for i in range(6):
                source = ("const _ = require('lodash'); return {t: who.t, i: who.i, s: _.sum(who.xs)}" if i % 2
                          else "return {t: who.t, i: who.i, s: who.xs.reduce((a, b) => a + b, 0)}")
                results[(t, i)] = run(source, {"who": {"t": t, "i": i, "xs": list(range(t + i))}}, pool).value
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert results == {(t, i): {"t": t, "i": i, "s": sum(range(t + i))} for t in range(8) for i in range(6)}


def test_a_timeout_in_one_thread_does_not_disturb_the_others(pool: JsPool) -> None:
    box: list[BaseException] = []
    slow = threading.Thread(target=lambda: box.append(pytest.raises(JsError, run, "while (true) {}", None, pool,
                                                                    limits=FAST).value))
    slow.start()
    values = [run("return who * 2", {"who": n}, pool).value for n in range(20)]
    slow.join()
    assert values == [n * 2 for n in range(20)] and box[0].kind == "timeout"


def test_a_worker_killed_from_outside_is_replaced() -> None:
    solo = JsPool(size=1)
    try:
        assert run("return 1", pool=solo).value == 1
        (worker,) = solo._idle
        worker.proc.kill()
        worker.proc.wait()
        assert run("return 2", pool=solo).value == 2
    finally:
        solo.close()


# --- BRANCH and FILTER expressions ----------------------------------------------------------------------------------


def test_evaluate_expression(pool: JsPool) -> None:
    variables = {"trigger": {"data": {"amount": 7}}, "settings": {"min": "5"}}
    assert evaluate_expression("trigger.data.amount > 5", variables, pool=pool) is True
    assert evaluate_expression("trigger.data.amount > Number(settings.min) * 2", variables, pool=pool) is False
    assert evaluate_expression("trigger.data.amount", variables, pool=pool) == 7  # the caller wants a bool
    with pytest.raises(JsError) as info:
        evaluate_expression("missing.x > 1", variables, pool=pool)
    assert info.value.kind == "runtime" and "missing is not defined" in str(info.value)


def test_evaluate_expressions_in_one_context(pool: JsPool) -> None:
    out = evaluate_expressions(["1 > 0", "nope(", "x.y", "'a' + 'b'"], {}, pool=pool)
    assert out[0] is True and out[3] == "ab"
    assert isinstance(out[1], JsError) and out[1].kind == "syntax"
    assert isinstance(out[2], JsError) and out[2].kind == "runtime"
    with pytest.raises(JsError) as info:
        evaluate_expressions(["1", "(() => { while (true) {} })()"], {}, pool=pool, limits=FAST)
    assert info.value.kind == "timeout"


def test_filter_items(pool: JsPool) -> None:
    people = [{"name": "a", "age": 12}, {"name": "b", "age": 30}, {"name": "c", "age": 18}]
    assert filter_items("value.age >= 18", people, pool=pool).items == people[1:]
    assert filter_items("index % 2 === 0", people, pool=pool).items == [people[0], people[2]]
    assert filter_items("value.age >= trigger.data.minAge", people, {"trigger": {"data": {"minAge": 20}}},
                        pool=pool).items == [people[1]]
    body = "if (value.name === 'a') { return true; }\nreturn value.age > 20;"
    assert filter_items(body, people, pool=pool).items == people[:2]
    # `notified` holds "if": upstream's []interface{} path tests the substring; we use its word test
    assert filter_items("value.notified", [{"notified": 1}, {"notified": 0}], pool=pool).items == [{"notified": 1}]


def test_filter_skips_items_it_throws_on(pool: JsPool) -> None:
    out = filter_items("value.age > 1", [{"age": 2}, None, {"age": 3}], pool=pool)
    assert out.items == [{"age": 2}, {"age": 3}]
    ((index, err),) = out.errors
    assert index == 1 and err.kind == "runtime" and "age" in str(err)


def test_filter_single_object_and_failures(pool: JsPool) -> None:
    assert filter_items("value.ok", {"ok": True}, pool=pool).items == [{"ok": True}]
    assert filter_items("value.ok", {"ok": False}, pool=pool).items == []
    with pytest.raises(JsError):
        filter_items("value.missing.x", {"ok": True}, pool=pool)
    with pytest.raises(JsError) as info:
        filter_items("value.age >", [{"age": 1}], pool=pool)
    assert info.value.kind == "syntax"
    with pytest.raises(JsError) as info:
        filter_items("(() => { while (true) {} })()", [1], pool=pool, limits=FAST)
    assert info.value.kind == "timeout"


def test_the_spare_context_keeps_runs_isolated() -> None:
    """The worker prepares the next context (lodash already loaded when the last run used it) before the next
    request: what one run does to lodash, the globals or the prototypes is not seen by the next."""
    solo = JsPool(size=1)
    try:
        first = run("const _ = require('lodash'); _.secret = 'x'; _.sum = () => 666; Object.prototype.p = 1;"
                    "globalThis.left = 1; return _.VERSION", pool=solo)
        assert first.value == js_libs.JS_LIBS["lodash"].version
        for _ in range(2):
            out = run("const _ = require('lodash'); return [_.secret, _.sum([1, 2]), ({}).p, typeof left]",
                      pool=solo)
            assert out.value == [None, 3, None, "undefined"]
        assert run("return [typeof require, typeof console.log, typeof crypto.getRandomValues]",
                   pool=solo).value == ["function"] * 3
    finally:
        solo.close()
