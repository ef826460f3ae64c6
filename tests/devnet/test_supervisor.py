"""The devnet supervisor: state file, forked components, restarts, death with the supervisor, clean-up after
a killed supervisor, rollback of a failed or interrupted start, the L2 chain and hourglass.toml settings.

Real processes on loopback (anvil, executors, performers); the CLI is run as a user runs it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hourglass_cli.chain.connection import connect
from hourglass_cli.chain.structs import operator_set
from hourglass_cli.devnet import forking
from hourglass_cli.devnet.accounts import derive_account
from hourglass_cli.devnet.chains._process import pid_alive, stop_process
from hourglass_cli.devnet.deploy import CoreDeployment
from hourglass_cli.devnet.operators import DEVNET_KEYSTORE_PASSWORD
from hourglass_cli.devnet.state import (
    DevnetState, ProcessRecord, devnet_dir, load_state, process_cmdline, process_start_ticks,
)
from hourglass_cli.errors import DevnetError
from tests.devnet._helpers import (
    all_pids, all_ports, assert_nothing_left, failed, hourglass, ok, run, state_of, status_json, wait_for,
)

# ------------------------------------------------------------------ the state file


def _state(tmp_path: Path) -> DevnetState:
    state = DevnetState(project_dir=str(tmp_path), supervisor_pid=os.getpid(),
                        supervisor_ticks=process_start_ticks(os.getpid()))
    state.chains.append(ProcessRecord(name="chain", kind="chain", pid=1, port=8545, endpoint="http://x:8545"))
    state.components.append(ProcessRecord(name="executor-1", kind="executor", children=[[2, 3]]))
    return state


def test_state_round_trips_and_is_written_atomically(tmp_path: Path) -> None:
    state = _state(tmp_path)
    path = state.write(tmp_path)
    assert load_state(tmp_path) == state
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left behind
    assert json.loads(path.read_text())["version"] == 1
    assert load_state(tmp_path / "nowhere") is None
    assert state.record("executor-1") is state.components[0] and state.chain("l2") is None


def _pausing(*extra: str) -> subprocess.Popen[bytes]:
    """A process that waits for a signal, returned once it runs Python (its command line is its own)."""
    proc = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()", *extra])
    wait_for(lambda: "signal.pause" in process_cmdline(proc.pid), 10, "the child exec-ing")
    return proc


def test_is_running_means_our_live_supervisor(tmp_path: Path) -> None:
    state = _state(tmp_path)
    sleeper = _pausing()
    try:
        state.supervisor_pid, state.supervisor_ticks = sleeper.pid, process_start_ticks(sleeper.pid)
        assert not state.is_running()  # alive, but its command line is not hourglass
        renamed = _pausing("hourglass")
        try:
            state.supervisor_pid, state.supervisor_ticks = renamed.pid, process_start_ticks(renamed.pid)
            assert state.is_running()
            state.supervisor_ticks = (state.supervisor_ticks or 0) + 1  # the same pid, another process
            assert not state.is_running()
        finally:
            renamed.kill()
            renamed.wait()
    finally:
        sleeper.kill()
        sleeper.wait()
    state.supervisor_pid = state.chains[0].pid = sleeper.pid  # both gone now
    state.components[0].children = []
    assert not state.is_running() and state.leftover_pids() == []


@pytest.mark.parametrize("doc, reason", [
    ({"version": 1, "project_dir": "/p", "supervisor_pid": 5, "chains": [{"name": "c", "kind": "chain",
                                                                           "colour": 1}]}, "unknown process field"),
    ({"version": 1, "project_dir": "/p", "supervisor_pid": 5, "chains": [{"name": "c", "kind": "chain",
                                                                           "pid": -3}]}, "non-negative"),
    ({"version": 1, "project_dir": "/p", "supervisor_pid": 5, "components": [{"name": "e", "kind": "executor",
                                                                               "children": [[1]]}]}, "pairs"),
    ({"version": 1, "project_dir": "/p"}, "supervisor_pid"),
])
def test_a_damaged_state_names_the_file_and_the_way_out(tmp_path: Path, doc: dict, reason: str) -> None:
    (tmp_path / "state.json").write_text(json.dumps(doc))
    with pytest.raises(DevnetError) as info:
        load_state(tmp_path)
    assert info.value.message.startswith(f"{tmp_path / 'state.json'} is corrupt") and reason in info.value.message
    assert "hourglass devnet reset" in (info.value.hint or "")


# ------------------------------------------------------------------ forked components


def _entry(argv: list[str]) -> int:
    print(f"argv={argv} env={os.environ.get('HG_TEST')} pgid={os.getpgid(0) == os.getpid()}", flush=True)
    if argv and argv[0] == "wait":
        signal.pause()
    return 7


def test_fork_main_runs_the_entry_in_its_own_group_with_its_env_and_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "child.log"
    child = forking.fork_main(_entry, ["prog", "a", "b"], log, {"HG_TEST": "yes"}, title="hg-test")
    assert child.wait(30) == 7 and child.poll() == 7
    assert log.read_text() == "argv=['a', 'b'] env=yes pgid=True\n"
    assert os.environ.get("HG_TEST") is None  # the parent's environment is untouched


def test_a_forked_child_is_waited_on_and_stopped_like_a_popen(tmp_path: Path) -> None:
    child = forking.fork_main(_entry, ["prog", "wait"], tmp_path / "child.log", dict(os.environ))
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(0.2)
    stop_process(child.pid, child, 10.0)  # SIGTERM to its process group, waited on through the handle
    assert child.returncode == -signal.SIGTERM and not pid_alive(child.pid)


# ------------------------------------------------------------------ a running devnet under stress


def _start(project: Path, *args: str) -> DevnetState:
    ok(run(project, "devnet", "start", "--detach", "--chain", "anvil", *args))
    return state_of(project)


def _stop(project: Path, state: DevnetState) -> None:
    pids, ports = all_pids(state), all_ports(state)
    ok(run(project, "devnet", "stop", timeout=60))
    assert_nothing_left(pids, ports)


def test_dead_executors_and_aggregator_are_restarted_and_a_dead_chain_is_not(tmp_path: Path) -> None:
    state = _start(tmp_path, "--operators", "2")
    first, aggregator = state.record("executor-1"), state.record("aggregator")
    assert first is not None and first.pid and first.children and aggregator is not None and aggregator.pid
    old_pid, old_performer = first.pid, first.children[0][0]
    # the first executors and the aggregator are forks of the supervisor (its command line); restarts are spawned
    assert process_cmdline(old_pid) == process_cmdline(aggregator.pid) == process_cmdline(state.supervisor_pid)
    os.kill(old_pid, signal.SIGKILL)
    os.kill(aggregator.pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(old_performer), 15, "the killed executor's performer exiting (PDEATHSIG)")

    def restarted(name: str) -> ProcessRecord | None:
        record = state_of(tmp_path).record(name)
        return record if record and record.restarts == 1 and record.status == "healthy" else None

    record = wait_for(lambda: restarted("executor-1"), 60, "executor-1 restarting and serving again")
    assert record.pid not in (None, old_pid) and record.children and record.children[0][0] != old_performer
    assert f"-m hourglass_cli.executor --config {record.config}" in process_cmdline(record.pid or 0)
    record = wait_for(lambda: restarted("aggregator"), 60, "the aggregator restarting and serving again")
    assert f"run --config {record.config}" in process_cmdline(record.pid or 0)
    assert status_json(tmp_path)["healthy"]

    chain = state_of(tmp_path).chain()
    assert chain is not None and chain.pid
    os.kill(chain.pid, signal.SIGKILL)
    degraded = wait_for(lambda: (s := state_of(tmp_path)).status == "degraded" and s, 30, "the devnet degrading")
    assert degraded.chain().status == "down" and degraded.chain().restarts == 0  # type: ignore[union-attr]
    doc = status_json(tmp_path)
    assert doc["running"] and not doc["healthy"] and not doc["components"][0]["healthy"]
    _stop(tmp_path, state_of(tmp_path))


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    state = _start(tmp_path, "--operators", "2")
    pids, ports = all_pids(state), all_ports(state)
    assert len(pids) == 1 + 1 + 1 + 2 + 2  # supervisor, chain, aggregator, executors, performers
    os.kill(state.supervisor_pid, signal.SIGKILL)
    assert_nothing_left(pids, ports)
    doc = status_json(tmp_path)
    assert not doc["running"] and doc["leftover_pids"] == []


def _listener() -> tuple[subprocess.Popen[str], int]:
    """A process in its own group listening on a port (what a component left behind looks like)."""
    code = ("import signal, socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\n"
            "print(s.getsockname()[1], flush=True)\nsignal.pause()\n")
    proc = subprocess.Popen([sys.executable, "-c", code, "hourglass"], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    return proc, int(proc.stdout.readline())  # type: ignore[union-attr]


def test_stop_cleans_up_what_a_dead_supervisor_left(tmp_path: Path) -> None:
    # PR_SET_PDEATHSIG makes this rare (a child that ignores SIGTERM, a stopped child is SIGHUPed as an orphan),
    # so the leftovers are made by hand: the state names a dead supervisor and two live processes with ports.
    gone = _pausing()
    gone.kill()
    gone.wait()
    left = [_listener(), _listener()]
    try:
        state = DevnetState(project_dir=str(tmp_path), supervisor_pid=gone.pid, status="ready")
        for name, (proc, port) in zip(("chain", "executor-1"), left):
            record = ProcessRecord(name=name, kind="executor", pid=proc.pid, ticks=process_start_ticks(proc.pid),
                                   port=port, endpoint=f"127.0.0.1:{port}", status="healthy")
            (state.chains if name == "chain" else state.components).append(record)
        state.write(devnet_dir(tmp_path))
        pids, ports = [p.pid for p, _ in left], [port for _, port in left]
        doc = status_json(tmp_path)
        assert not doc["running"] and doc["leftover_pids"] == pids
        error = failed(run(tmp_path, "devnet", "start", "--detach", "--chain", "anvil"))
        assert "a previous devnet's processes are still running" in error and "hourglass devnet stop" in error
        assert "devnet stopped" in ok(run(tmp_path, "devnet", "stop", timeout=60)).stdout
        assert [p.wait(10) for p, _ in left] == [-signal.SIGTERM] * 2
        assert_nothing_left(pids, ports)
        after = state_of(tmp_path)
        assert after.status == "stopped" and after.leftover_pids() == [] and all(r.pid is None for r in after.records())
    finally:
        for proc, _ in left:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_failed_start_rolls_back_everything(tmp_path: Path) -> None:
    broken = [sys.executable, "-c", "import sys; print('performer broke'); sys.exit(3)"]
    (tmp_path / "hourglass.toml").write_text(f"[performer]\ncommand = {json.dumps(broken)}\nstartup_timeout = 10.0\n")
    error = failed(run(tmp_path, "devnet", "start", "--detach", "--chain", "anvil", "--operators", "2"))
    assert "executor-" in error and "before it was ready" in error and "performer broke" in error, error
    state = state_of(tmp_path)
    assert state.status == "failed" and "before it was ready" in state.error
    assert all(r.pid is None for r in state.records())
    assert not pid_alive(state.supervisor_pid)
    assert_nothing_left([], [r.port for r in state.records() if r.port])
    result = run(tmp_path, "devnet", "status", timeout=30)
    assert result.returncode == 1 and "last start failed" in result.stdout


def test_a_signal_while_starting_rolls_back(tmp_path: Path) -> None:
    # a performer that never serves: the supervisor is still waiting for the executors when the signal comes
    (tmp_path / "hourglass.toml").write_text(
        f"[performer]\ncommand = {json.dumps([sys.executable, '-c', 'import signal; signal.pause()'])}\n"
        "startup_timeout = 120.0\n")
    proc = subprocess.Popen(hourglass("devnet", "start", "--chain", "anvil", "--operators", "1"), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def executors_started() -> DevnetState | None:
            state = load_state(devnet_dir(tmp_path))
            return state if state is not None and state.components and state.components[0].pid else None

        state = wait_for(executors_started, 60, "the executors being started")
        assert state.status == "starting"
        pids = [pid for pid in all_pids(state) if pid != proc.pid]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1 and "stopped while starting (SIGTERM)" in out, out
    assert_nothing_left(pids, all_ports(state))
    assert state_of(tmp_path).status == "failed"


def test_l2_and_the_project_settings(tmp_path: Path) -> None:
    (tmp_path / "hourglass.toml").write_text(
        '[devnet]\nchain = "anvil"\ncurve = "ecdsa"\noperators = 2\nl2 = true\nstake_weights = [3, 5]\n'
        "[task]\nsla_seconds = 60\nthreshold_bips = 5000\n")
    sub = tmp_path / "src"
    sub.mkdir()
    ok(run(sub, "devnet", "start", "--detach"))  # the project is found from a sub-folder
    state = state_of(tmp_path)
    l1, l2 = state.chain("l1"), state.chain("l2")
    assert l1 and l2 and l1.port != l2.port and {l1.backend, l2.backend} == {"anvil"}
    assert state.options["curve"] == "ecdsa" and state.options["stake_weights"] == [3, 5]
    for chain, doc in ((l1, state.deployment), (l2, state.l2_deployment)):
        deployment = CoreDeployment.from_json(doc or {})
        w3 = connect(chain.endpoint)
        c = deployment.bind(w3)
        assert len(w3.eth.get_code(deployment.task_mailbox)) > 0 and deployment.curve == "ecdsa"
        executors = operator_set(deployment.avs, 1)
        ts = c.ecdsa_certificate_verifier.functions.latestReferenceTimestamp(executors).call()
        assert ts > 0  # the executor set's table was pushed to this chain's verifier
        assert c.ecdsa_certificate_verifier.functions.getTotalStakeWeights(executors, ts).call() == [8]
        config = c.task_mailbox.functions.getExecutorOperatorSetTaskConfig(executors).call()
        assert config[1] == 60 and config[5][1].hex().endswith(f"{5000:064x}")
    for record in state.components:
        text = Path(record.config).read_text()
        if record.kind == "aggregator":  # it watches both mailboxes
            assert text.count("[[chains]]") == 2 and l2.endpoint in text and "ecdsa_keystore" in text
            continue
        assert f'l2_rpc_url = "{l2.endpoint}"' in text and "ecdsa_keystore" in text
        assert "HOURGLASS_DEVNET_KEYSTORE_PASSWORD" in text
    tx_key = "0x" + derive_account(3).private_key.hex()  # the aggregator's sending account
    secrets = [Path(r.config).read_text() for r in state.components]
    secrets += [(devnet_dir(tmp_path) / "state.json").read_text(), (devnet_dir(tmp_path) / "logs" /
                                                                    "supervisor.log").read_text()]
    assert not [s for s in secrets if DEVNET_KEYSTORE_PASSWORD in s or tx_key[2:] in s]  # they travel in the env
    assert status_json(tmp_path)["healthy"]
    pids, ports = all_pids(state), all_ports(state)
    assert "removed" in ok(run(sub, "devnet", "reset", timeout=60)).stdout  # reset stops it first
    assert_nothing_left(pids, ports)
    assert not devnet_dir(tmp_path).exists()
