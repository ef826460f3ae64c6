"""The README journey as a user runs it: the CLI as subprocesses, on the embedded chain and on anvil.

`avs init` → (the performer edited to raise for 13) → `devnet start --detach` → `task submit` for several
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
    performer.write_text(source.replace(RETURN, RAISE + RETURN))
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
    assert "failed: the aggregator gave up (failed): threshold cannot be met" in error, error
    assert "did not" not in error and "timeout" not in error.lower(), error
    assert f"executor-1: INTERNAL: performer error: failed to handle task: unlucky number {UNLUCKY}" in error
    assert "hourglass task status 0x" in error


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
