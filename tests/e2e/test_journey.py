"""The README journey as a user runs it: the CLI as subprocesses, on the embedded chain and on anvil.

`avs init` → (the performer edited to raise for 13 and to answer big payloads with their length, the hook to let
them through) → `devnet start --detach` → `task submit` for several
numbers (decoded n² checked) → a task the performer fails ends non-zero with the executors' reason, fast →
`--no-wait` returns the hash at once and `task status` later shows VERIFIED → `task list` / `task watch --once`
→ `devnet stop`. Process runtime; the docker runtime joins when its defaults settle.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.devnet._helpers import failed, ok, run, wait_for

pytestmark = pytest.mark.slow

# `python -m hourglass_cli` with the task group mounted even before cli/__init__.py lists it.
CLI = ("from hourglass_cli import cli\n"
       "if 'task' not in cli.GROUPS:\n"
       "    import hourglass_cli.cli.task as group\n"
       "    cli.app.add_typer(group.app, name='task')\n"
       "cli.main()\n")
UNLUCKY = 13
RAISE = (f'        if number == {UNLUCKY}:\n'
         f'            raise RuntimeError("unlucky number {UNLUCKY}")\n')
RETURN = '        return encode(["uint256"], [number * number])'
# Big payloads (> 1 KB) are answered with their length, so a 200 KB payload can go through the whole path.
VALIDATE = "        number = decode_number(request.payload)\n        if number >= LIMIT:"
BIG = "        if len(request.payload) > 1024:\n"
# "result:N" is answered with N bytes: a result too large for any block (the devnet's hold 300M gas).
HUGE = "        if request.payload.startswith(b'result:'):\n"


@dataclass
class Journey:
    backend: str
    project: Path


def hg(project: Path, *args: str, timeout: float = 120.0) -> object:
    return run(project, *args, timeout=timeout, code=CLI)


@pytest.fixture(scope="module", params=["embedded", "anvil"])
def journey(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    """`avs init demo-avs`, a performer that raises for 13, and `devnet start --detach --chain BACKEND`."""
    folder = tmp_path_factory.mktemp(f"journey-{request.param}")
    ok(hg(folder, "avs", "init", "demo-avs"))
    project = folder / "demo-avs"
    performer = project / "demo_avs" / "performer.py"
    source = performer.read_text()
    assert RETURN in source
    assert VALIDATE in source
    source = source.replace(VALIDATE, BIG + "            return\n" + HUGE + "            return\n" + VALIDATE)
    handle = "        number = decode_number(request.payload)\n" + RETURN
    assert handle in source
    source = source.replace(handle, HUGE + "            return b'\\x07' * int(request.payload[7:])\n" +
                            BIG + '            return encode(["uint256"], [len(request.payload)])\n' +
                            handle.replace(RETURN, RAISE + RETURN))
    performer.write_text(source)
    hook = next((project / "contracts" / "src").glob("*TaskHook.sol"))
    check = "if (taskParams.payload.length != 32)"
    assert check in hook.read_text()
    hook.write_text(hook.read_text().replace(check, "if (taskParams.payload.length != 32 && "
                                                    "taskParams.payload.length <= 1024)"))
    ok(hg(project, "devnet", "start", "--detach", "--chain", request.param))
    try:
        yield Journey(request.param, project)
    finally:
        ok(hg(project, "devnet", "stop", timeout=120))


def submit(project: Path, n: int, *extra: str) -> dict:
    result = ok(hg(project, "task", "submit", "--signature", "(uint256)", "--args", f"({n})",
                   "--result-abi", "(uint256)", "--json", *extra))
    return json.loads(result.stdout)


def test_several_tasks_are_verified_with_their_decoded_results(journey: Journey) -> None:
    for n in (5, 7, 2**64 + 3):
        doc = submit(journey.project, n)
        assert doc["status"] == "VERIFIED" and doc["decoded"] == [n * n], doc
        assert doc["result"] == "0x" + (n * n).to_bytes(32, "big").hex()
        assert len(doc["task_hash"]) == 66 and doc["payload"] == "0x" + n.to_bytes(32, "big").hex()
        assert doc["outcome"] == "verified" and doc["responses"]["total"] == 4 and doc["responses"]["ok"] >= 3
        timings = doc["timings"]  # seconds since the aggregator saw the task, every key present
        assert list(timings) == ["seen", "first_response", "last_response", "certificate", "verified", "ended"]
        assert doc["timings_from"] == "aggregator_seen" and timings["seen"] == 0.0
        assert timings["verified"] >= timings["certificate"] >= timings["first_response"] >= 0
    # Each executor's record across those tasks (issue #13's operator performance), in devnet status.
    status = json.loads(ok(hg(journey.project, "devnet", "status", "--json")).stdout)
    performance = {p["name"]: p for p in status["operator_performance"]}
    assert sum(p["answered"] for p in performance.values()) >= 9, performance
    assert all(p["agreed"] <= p["answered"] and p["median_latency_s"] is not None
               for p in performance.values() if p["answered"]), performance
    table = " ".join(ok(hg(journey.project, "devnet", "status")).stdout.split())
    assert "operators (tasks and workflow phases)" in table and "median answer" in table, table


def test_a_200_kb_payload_from_a_file_is_verified(journey: Journey) -> None:
    """Issue #12: above ~3.4 KB createTask ran out of its fixed gas, and a big payload fits no command line."""
    big = journey.project / "big-payload.bin"
    big.write_bytes(bytes(range(256)) * 800)  # 204,800 bytes
    doc = json.loads(ok(hg(journey.project, "task", "submit", "--payload-file", str(big), "--result-abi", "(uint256)",
                           "--json", timeout=300)).stdout)
    assert doc["status"] == "VERIFIED" and doc["decoded"] == [204_800], {k: doc[k] for k in doc if k != "payload"}
    assert doc["payload"] == "0x" + big.read_bytes().hex()


def test_a_result_too_large_for_the_chain_fails_at_once_saying_so(journey: Journey) -> None:
    """Issue #12: such a result was retried five times and reported as "submitResult failed 5 times; see the
    submissions table"; the executors now refuse to sign it and the task fails saying why."""
    payload = "0x" + b"result:1400000".ljust(32).hex()  # 32 bytes: what the template's hook lets through
    error = failed(hg(journey.project, "task", "submit", payload, "--timeout", "60"))
    assert "every executor: the result (1,400,000 bytes) is too large to submit on chain" in error, error
    assert "block of this chain holds 300,000,000" in error and "table" not in error, error


def test_performers_never_get_the_operators_keystore_password(journey: Journey) -> None:
    """Each executor holds its keystore password in its environment (HOURGLASS_DEVNET_KEYSTORE_PASSWORD, set in
    os.environ after the supervisor forked it, so /proc does not show it there); its performer (the AVS's code,
    spawned with an explicit environment that /proc shows exactly) must not get it."""
    from tests.devnet._helpers import state_of

    executors = [c for c in state_of(journey.project).components if c.kind == "executor"]
    performers = [pid for c in executors for pid, _ticks in c.children]
    assert executors and len(performers) == len(executors), [(c.name, c.children) for c in executors]
    for pid in performers:
        env = _environ(pid)
        assert env["PORT"] and env["TASK_MAILBOX"] and env["L1_RPC_URL"] and env["PATH"], sorted(env)
        assert not [k for k in env if k.startswith("HOURGLASS_")], sorted(env)
        assert "hourglass-devnet" not in env.values()


def _environ(pid: int | None) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def test_text_output_names_result_hash_and_stages(journey: Journey) -> None:
    out = " ".join(ok(hg(journey.project, "task", "submit", "--signature", "(uint256)", "--args", "(9)",
                         "--result-abi", "(uint256)")).stdout.split())
    assert "status verified" in out and "on chain VERIFIED" in out and "(81 as (uint256))" in out
    for stage in ("createTask mined in", "first response +", "4/4 responses +", "certificate +", "verified +",
                  "(since the aggregator saw the task)"):
        assert stage in out, out


def test_a_task_the_performer_fails_ends_non_zero_with_the_reason(journey: Journey) -> None:
    error = failed(hg(journey.project, "task", "submit", "--signature", "(uint256)", "--args", f"({UNLUCKY})",
                      "--timeout", "60"))
    # Ended by the aggregator's verdict, not by the 60 s timeout (whose message would say so).
    # What happened first (every executor failed the same way), then the tally.
    assert (f"failed: the aggregator gave up (failed): every executor: performer error: failed to handle task: "
            f"unlucky number {UNLUCKY}; threshold cannot be met") in error, error
    assert "did not" not in error and "timeout" not in error.lower(), error
    assert f"executor-1: INTERNAL: performer error: failed to handle task: unlucky number {UNLUCKY}" in error
    assert "hourglass task status 0x" in error
    # Issue #12: the performer's log has the traceback (which line raised), under the executor's name.
    log = ok(hg(journey.project, "devnet", "logs", "executor-1.performer")).stdout
    assert "Traceback (most recent call last):" in log, log[-2000:]
    assert 'performer.py", line' in log and f"RuntimeError: unlucky number {UNLUCKY}" in log, log[-2000:]


def test_bad_args_are_a_usage_error_before_anything_is_sent(journey: Journey) -> None:
    error = failed(hg(journey.project, "task", "submit", "--signature", "(uint256)", "--args", "(five)"), code=2)
    assert "argument 1 (uint256): expected an integer" in error


def test_no_wait_returns_the_hash_and_status_shows_it_verified_later(journey: Journey) -> None:
    doc = json.loads(ok(hg(journey.project, "task", "submit", "--signature", "(uint256)", "--args", "(11)",
                           "--no-wait", "--json")).stdout)
    assert doc["status"] == "CREATED" and len(doc["task_hash"]) == 66  # returned before verification

    def verified() -> dict | None:
        state = json.loads(ok(hg(journey.project, "task", "status", doc["task_hash"], "--result-abi", "(uint256)",
                                 "--json")).stdout)
        return state if state["status"] == "VERIFIED" else None

    state = wait_for(verified, 60, "task status VERIFIED")
    assert state["decoded"] == [121] and state["aggregator"]["status"] == "completed"


def test_list_and_watch_show_the_tasks(journey: Journey) -> None:
    verified = submit(journey.project, 11)["task_hash"]
    failed(hg(journey.project, "task", "submit", "--signature", "(uint256)", "--args", f"({UNLUCKY})"))
    rows = json.loads(ok(hg(journey.project, "task", "list", "--json")).stdout)
    assert len(rows) >= 2
    assert next(r for r in rows if r["task_hash"] == verified)["on_chain"] == "VERIFIED", rows
    failed_row = next(r for r in rows if r["aggregator"] == "failed")
    assert failed_row["outcome"] == "failed" and f"unlucky number {UNLUCKY}" in failed_row["reason"]
    table = ok(hg(journey.project, "task", "list")).stdout
    assert "verified" in table and "certificate" in table and verified in table  # 200 columns: the whole hash
    view = ok(hg(journey.project, "task", "watch", "--once")).stdout
    assert "verified" in view and "distributed" in view


def test_task_commands_without_a_devnet(tmp_path: Path) -> None:
    error = failed(hg(tmp_path, "task", "submit", "0x01"))
    assert "no devnet is running" in error and "hourglass devnet start" in error
    error = failed(hg(tmp_path, "task", "status", "0x1234"), code=2)
    assert "is not a task hash" in error
