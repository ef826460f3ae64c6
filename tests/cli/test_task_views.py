"""What the task commands print, on a real devnet (anvil, the project's own performer), as a user reads it.

`task list` / `task watch` at 80 and 120 columns (status and hash first, nothing blank, a failed task's reason
cut to one line and shown whole by `task status`, which takes the short hash), `task status` leading with what
happened, `--json` of numbers with stable keys and one timing origin for `submit` and `status`, `--no-wait`
naming the next command, `--json` errors on stdout, and `devnet start --detach`'s summary when piped (80 columns).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest

from tests.devnet._helpers import CLI, failed, hourglass, ok, run, state_of

pytestmark = pytest.mark.slow

UNLUCKY = 13
# A performer error long enough that the aggregator's reason (every executor's error) runs to ~700 characters.
WHY = "unlucky number 13, and here is a long explanation of exactly why this performer refuses it"
RAISE = f'        if number == {UNLUCKY}:\n            raise RuntimeError("{WHY}")\n'
RETURN = '        return encode(["uint256"], [number * number])'
SHORT = re.compile(r"0x[0-9a-f]{8}…[0-9a-f]{4}")
# The JSON contract: every timing key always present (None until reached), the stages a task reaches, in order.
TIMING_KEYS = ("seen", "first_response", "last_response", "certificate", "verified", "ended")
STAGES = ("distributed", "responses", "certificate", "verified")


@dataclass
class Devnet:
    project: Path
    start_stdout: str  # `devnet start --detach`, piped, COLUMNS unset
    verified: dict  # `task submit --json` of a task verified with 25
    failed: dict  # `task submit --json` of a task the performer failed


def hg(project: Path, *args: str, columns: int = 200, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return run(project, *args, timeout=timeout, env={"COLUMNS": str(columns)})


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    folder = tmp_path_factory.mktemp("task-views")
    ok(hg(folder, "avs", "init", "views-avs"))
    project = folder / "views-avs"
    performer = project / "views_avs" / "performer.py"
    source = performer.read_text()
    assert RETURN in source
    performer.write_text(source.replace(RETURN, RAISE + RETURN))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    start = subprocess.run(hourglass("devnet", "start", "--detach", "--chain", "anvil", code=CLI), cwd=project,
                           capture_output=True, text=True, timeout=180, env={**env, "NO_COLOR": "1"})
    ok(start)
    try:
        verified = json.loads(ok(hg(project, "task", "submit", "--signature", "(uint256)", "--args", "(5)",
                                    "--result-abi", "(uint256)", "--json")).stdout)
        result = hg(project, "task", "submit", "--signature", "(uint256)", "--args", f"({UNLUCKY})", "--json")
        failed(result)
        yield Devnet(project, start.stdout, verified, json.loads(result.stdout))
    finally:
        ok(hg(project, "devnet", "stop", timeout=120))


def lines_of(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def table_rows(text: str) -> dict[str, str]:
    """Short hash → its row line, for every task row in a `task list`/`task watch` table."""
    rows = {}
    for line in lines_of(text):
        found = SHORT.search(line)
        if found and not line.startswith(("reasons", "hint")):
            rows[found.group(0)] = line
    return rows


def short(task_hash: str) -> str:
    return task_hash[:10] + "…" + task_hash[-4:]


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("command", [("task", "list"), ("task", "watch", "--once")])
def test_list_and_watch_fit_the_width_status_and_hash_first(devnet: Devnet, command: tuple[str, ...],
                                                            columns: int) -> None:
    text = ok(hg(devnet.project, *command, columns=columns)).stdout
    lines = lines_of(text)
    assert all(len(line) <= columns for line in lines), "\n".join(lines)
    header = next(line for line in lines if line.startswith("status"))
    assert header.split()[:2] == ["status", "task"], header
    assert header.split()[-2:] == ["time", "reason"], header
    rows = table_rows(text)
    good, bad = rows[short(devnet.verified["task_hash"])], rows[short(devnet.failed["task_hash"])]
    # every column of a row has something in it: status, hash, (block,) stages, time (and the reason)
    assert good.startswith("verified ") and re.search(r"4/4 → cert(ificate)? → verified +\d+\.\d\d s$", good), good
    assert bad.startswith("failed ") and re.search(r"0/4 +\d+\.\d\d s +every executor: perf", bad), bad
    assert bad.endswith("…")  # cut to one line, not wrapped into dozens
    if columns >= 100:
        assert "block" in header and "distributed → 4/4 → certificate → verified" in good
    footnote = lines[-1]
    assert footnote == f"reasons cut to fit; the full text: hourglass task status {short(devnet.failed['task_hash'])}"


@pytest.mark.parametrize("columns", [80, 120])
def test_status_of_a_failed_task_leads_with_failed_and_why_from_the_short_hash(devnet: Devnet, columns: int) -> None:
    text = ok(hg(devnet.project, "task", "status", short(devnet.failed["task_hash"]), columns=columns)).stdout
    lines = lines_of(text)
    assert all(len(line) <= columns for line in lines), text
    assert lines[0].split() == ["status", "failed"], text
    # what every executor said first, then the tally
    assert re.match(r"reason +every executor: performer error: failed to handle task", lines[1]), text
    assert "threshold cannot be met (every executor has answered)" in " ".join(text.split()), text
    flat = " ".join(text.split())
    for name in ("executor-1", "executor-2", "executor-3", "executor-4"):  # the whole reason, every executor
        assert f"{name}: INTERNAL: performer error: failed to handle task: {WHY}" in flat, flat
    assert f"task {devnet.failed['task_hash']}" in flat and "on chain CREATED" in flat
    assert flat.index("status failed") < flat.index("CREATED")
    assert "(since the aggregator saw the task)" in flat


def test_status_of_a_verified_task_and_hash_forms(devnet: Devnet) -> None:
    full = devnet.verified["task_hash"]
    text = ok(hg(devnet.project, "task", "status", full[:12], "--result-abi", "(uint256)", columns=80)).stdout
    assert lines_of(text)[0].split() == ["status", "verified"] and "(25 as (uint256))" in text
    assert re.search(r"first response \+\d+ ms · 4/4 responses \+\d+ ms · certificate \+\d+ ms · verified \+\d+ ms",
                     " ".join(text.split())), text
    error = failed(hg(devnet.project, "task", "status", "0xffffffff…ffff"))
    assert "no task matching 0xffffffff…ffff" in error and "task list --json" in error


def test_list_json_holds_numbers_and_stable_keys(devnet: Devnet) -> None:
    rows = json.loads(ok(hg(devnet.project, "task", "list", "--json")).stdout)
    assert len(rows) >= 2 and len({tuple(row) for row in rows}) == 1, rows  # the same keys in every row
    by_hash = {row["task_hash"]: row for row in rows}
    good, bad = by_hash[devnet.verified["task_hash"]], by_hash[devnet.failed["task_hash"]]
    for row in rows:
        assert isinstance(row["block"], int) and isinstance(row["seconds"], float), row
        assert set(row["responses"]) == {"ok", "total"} and all(isinstance(v, int) for v in row["responses"].values())
        assert tuple(row["timings"]) == TIMING_KEYS and row["timings_from"] == "aggregator_seen"
        assert all(v is None or isinstance(v, float) for v in row["timings"].values()), row
        assert set(row["stages"]) <= set(STAGES)
    assert good["outcome"] == "verified" and good["on_chain"] == "VERIFIED" and good["aggregator"] == "completed"
    assert good["responses"] == {"ok": 4, "total": 4} and good["stages"] == list(STAGES) and good["reason"] is None
    assert bad["outcome"] == "failed" and bad["on_chain"] == "CREATED" and bad["stages"] == ["distributed", "responses"]
    assert bad["timings"]["verified"] is None and bad["timings"]["ended"] is not None and WHY in bad["reason"]


def test_submit_and_status_json_use_one_origin_and_the_same_keys(devnet: Devnet) -> None:
    for doc in (devnet.verified, devnet.failed):
        status = json.loads(ok(hg(devnet.project, "task", "status", doc["task_hash"], "--json")).stdout)
        for each in (doc, status):  # the keys do not depend on the operator count or the command
            assert tuple(each["timings"]) == TIMING_KEYS and each["timings_from"] == "aggregator_seen", each
            assert each["timings"]["seen"] == 0.0 and isinstance(each["responses"]["total"], int)
        same = [k for k in TIMING_KEYS if k != "verified" or doc["aggregator"]["status"] == "completed"]
        assert {k: doc["timings"][k] for k in same} == {k: status["timings"][k] for k in same}
        assert status["outcome"] == doc["outcome"] and status["responses"] == doc["responses"]
    assert devnet.verified["outcome"] == "verified" and devnet.verified["status"] == "VERIFIED"
    assert isinstance(devnet.verified["mined_in"], float)
    t = devnet.verified["timings"]
    assert 0 <= t["first_response"] <= t["last_response"] <= t["certificate"] <= t["verified"]
    assert devnet.failed["outcome"] == "failed" and devnet.failed["status"] == "CREATED"
    assert devnet.failed["error"].startswith(f"task {devnet.failed['task_hash']} failed") and devnet.failed["hint"]


def test_no_wait_prints_the_next_command(devnet: Devnet) -> None:
    out = ok(hg(devnet.project, "task", "submit", "--signature", "(uint256)", "--args", "(3)", "--no-wait",
                columns=80)).stdout
    match = re.search(r"^next: hourglass task status (0x[0-9a-f]{64})$", out, re.MULTILINE)
    assert match, out  # one line, whole, even at 80 columns
    assert f"task {match.group(1)} created in block" in out
    doc = json.loads(ok(hg(devnet.project, "task", "submit", "--signature", "(uint256)", "--args", "(4)",
                           "--no-wait", "--json")).stdout)
    assert doc["next"] == f"hourglass task status {doc['task_hash']}" and doc["status"] == "CREATED"
    # the command works as printed (run through this checkout's CLI)
    status = ok(hg(devnet.project, *doc["next"].split()[1:], "--json"))
    assert json.loads(status.stdout)["task_hash"] == doc["task_hash"]


def test_json_errors_are_json_on_stdout(devnet: Devnet, tmp_path: Path) -> None:
    cases = [
        (tmp_path, ("task", "submit", "0x01", "--json"), 1, "no devnet is running"),
        (tmp_path, ("task", "list", "--json"), 1, "no devnet is running"),
        (tmp_path, ("task", "status", "0x1234", "--json"), 2, "'0x1234' is not a task hash"),
        (devnet.project, ("task", "submit", "--signature", "(uint256)", "--args", "(five)", "--json"), 2,
         "argument 1 (uint256): expected an integer"),
        (devnet.project, ("task", "submit", "--signature", "(uint256)", "--json"), 2,
         "--signature and --args go together"),
    ]
    for folder, args, code, message in cases:
        result = hg(folder, *args)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        doc = json.loads(result.stdout)
        assert set(doc) == {"error", "hint"} and message in doc["error"], (args, doc)
        assert message in result.stderr  # the red line for a person is still there


def test_devnet_start_summary_piped_fits_80_columns(devnet: Devnet) -> None:
    """Piped, rich gets 80 columns: every address, socket, path and command stays whole on its line."""
    from rich.console import Console

    from hourglass_cli.cli._devnet_view import summary

    state = state_of(devnet.project)
    buffer = StringIO()
    Console(file=buffer, width=120, no_color=True).print(summary(state))
    for columns, text in ((80, devnet.start_stdout), (120, buffer.getvalue())):
        lines = lines_of(text)
        assert all(len(line) <= columns for line in lines), "\n".join(lines)
        for op in (state.operators or {})["operators"]:
            assert any(line.split() == [op["name"], str(op["operator_set_id"]), op["address"], op["socket"]]
                       for line in lines), text
        pairs = [("TaskMailbox", state.deployment["task_mailbox"]), ("logs", "hourglass devnet logs -f"),
                 ("next", 'hourglass task submit --signature "(uint256)" --args "(5)"'),
                 ("stop", "hourglass devnet stop")]
        path = f"{devnet.project}/.hourglass/devnet/state.json"
        if len(path) + 7 <= columns:  # a path wider than the terminal can only fold
            pairs.append(("state", path))
        for label, value in pairs:
            assert any(line.split(None, 1) == [label, value] for line in lines), (label, "\n".join(lines))
