"""The workflow driver against the real WorkflowStateMachine on eth-tester, with phase tasks certified for real.

Each test runs the driver's rounds by hand (`poll_once`) and moves the chain's clock, so schedules are exact.
Crashes are simulated in process: a failpoint raises `Killed` (a BaseException, so nothing in the driver can
swallow it), the driver and its store are dropped as a SIGKILL would leave them, the nonce cache is cleared, and
a new driver opens the same store file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_abi import decode

from hourglass_cli import failpoints
from hourglass_cli.aggregator import store as st
from hourglass_cli.aggregator.config import ChainSection
from hourglass_cli.aggregator.metrics import Metrics
from hourglass_cli.aggregator.workflow_driver import WorkflowDriver
from hourglass_cli.chain.sender import TxSender, reset_nonces
from tests.contracts import stack as s
from tests.contracts import workflow_env as w

pytestmark = pytest.mark.slow


class Killed(BaseException):
    """The process died at a failpoint."""


@pytest.fixture(scope="module")
def base() -> w.Env:
    return w.build_env()


@pytest.fixture
def env(base: w.Env) -> Iterator[w.Env]:
    yield from w.rolled_back(base)


class Harness:
    """A driver on `env` with its own store file, restartable."""

    def __init__(self, env: w.Env, folder: Path, account: str) -> None:
        self.env, self.folder, self.account = env, folder, account
        self.metrics = Metrics()
        self.store: st.SqliteStore | None = None
        self.driver: WorkflowDriver | None = None
        self.start_block = int(env.chain.w3.eth.block_number)
        self.start()

    def start(self) -> WorkflowDriver:
        env = self.env
        section = ChainSection(name="l1", rpc_url="http://127.0.0.1:1", task_mailbox=env.mailbox.address,
                               workflow_state_machine=env.wsm.address, start_block=self.start_block)
        self.store = st.SqliteStore(self.folder / "aggregator.db")
        sender = TxSender(env.chain.w3, env.chain.keys[self.account], label="driver")
        self.driver = WorkflowDriver(section, env.chain.w3, env.wsm.address, sender, self.store,
                                     metrics=self.metrics, recheck=0.0)
        return self.driver

    def crash_and_restart(self) -> WorkflowDriver:
        """What a SIGKILL and a restart leave: the store file, the chain, nothing in memory."""
        assert self.store is not None
        self.store.close()
        reset_nonces(self.env.chain.w3)
        return self.start()

    def rounds(self, n: int = 3) -> None:
        assert self.driver is not None
        for _ in range(n):
            self.driver.poll_once()

    def txs(self, function: str | None = None) -> list[tuple[str, int]]:
        """(function name, receipt status) of this driver's transactions to the workflow contract."""
        w3, wsm = self.env.chain.w3, self.env.wsm
        names = {bytes.fromhex(wsm.encode_abi(f, [b"\0" * 32, 0])[2:10]): f for f in
                 ("startPhaseTask", "startContinuousUpdate", "completePhase", "checkPhaseTimeout")}
        found = []
        for number in range(self.start_block, w3.eth.block_number + 1):
            for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
                if tx["from"] == self.account and tx["to"] == wsm.address:
                    name = names.get(bytes(tx.get("input", tx.get("data", b"")))[:4], "?")
                    if function is None or name == function:
                        found.append((name, int(w3.eth.get_transaction_receipt(tx["hash"])["status"])))
        return found


@pytest.fixture
def harness(env: w.Env, tmp_path: Path) -> Harness:
    return Harness(env, tmp_path / "a", env.fee_collector)


def task_times(env: w.Env, ex: bytes, index: int) -> list[int]:
    """Block timestamps of the phase's PhaseTaskCreated events, in update order."""
    logs = env.wsm.events.PhaseTaskCreated().get_logs(from_block=0, argument_filters={"executionId": ex})
    return [int(env.chain.w3.eth.get_block(e["blockNumber"])["timestamp"]) for e in logs
            if e["args"]["phaseIndex"] == index]


def run_continuous(env: w.Env, h: Harness, ex: bytes, interval: int, updates: int,
                   between: Callable[[int], None] = lambda update: None) -> None:
    """Certify each update as it appears and move the clock by the interval until the phase ends."""
    for update in range(updates):
        h.rounds()
        hashes = env.wsm.functions.getPhaseTaskHashes(ex, 0).call()
        assert len(hashes) == update + 1, f"update {update} was not created on schedule"
        env.certify(bytes(hashes[update]), f"u{update}".encode())
        between(update)
        h.rounds()
        if update + 1 < updates:
            env.chain.advance(interval // 3)
            h.rounds()
            assert len(env.wsm.functions.getPhaseTaskHashes(ex, 0).call()) == update + 1, "an update came early"
            env.chain.advance(interval)
    h.rounds()


def test_continuous_phase_gets_exactly_its_updates_on_schedule_and_completes_by_pull(env: w.Env,
                                                                                    harness: Harness) -> None:
    wf = env.register([w.phase("monitor", w.CONTINUOUS, metadata=w.continuous(30, 3), timeout=3600)])
    ex, _ = env.execute(wf, b"feed")
    run_continuous(env, harness, ex, 30, 3)
    env.chain.advance(100)
    harness.rounds()
    assert env.execution(ex)["status"] == w.EX_COMPLETED
    assert decode(["bytes[]"], env.state(ex, 0)["result"])[0] == (b"u0", b"u1", b"u2")
    times = task_times(env, ex, 0)
    assert len(times) == 3 and all(b - a >= 30 for a, b in zip(times, times[1:]))
    # Update 0 came with executeWorkflow; the driver sent two updates and three pulls, none reverted.
    assert sorted(harness.txs()) == [("completePhase", 1)] * 3 + [("startContinuousUpdate", 1)] * 2
    assert harness.store.workflow_phases("l1") == []  # closed
    assert harness.metrics.workflow_actions.value("l1", "update", "ok") == 2
    assert harness.store.problems() == []


def test_push_path_deferred_task_and_deferred_first_update_are_created(env: w.Env, harness: Harness) -> None:
    env.use_push(s.ECDSA_SET)
    wf = env.register([w.phase("a"), w.phase("b", deps=(0,)),
                       w.phase("watch", w.CONTINUOUS, deps=(0,), metadata=w.continuous(20, 2))])
    ex, _ = env.execute(wf)
    harness.rounds()
    env.certify(env.task(ex, 0), b"ra")  # the push completes a; b and watch start without their tasks
    assert env.wsm.functions.getPhaseTaskHashes(ex, 1).call() == []
    harness.rounds()
    assert len(env.wsm.functions.getPhaseTaskHashes(ex, 1).call()) == 1
    assert len(env.wsm.functions.getPhaseTaskHashes(ex, 2).call()) == 1
    env.certify(env.task(ex, 1), b"rb")
    env.certify(env.task(ex, 2), b"w0")  # pushed: recorded
    env.chain.advance(20)
    harness.rounds()
    env.certify(env.task(ex, 2, 1), b"w1")
    harness.rounds()
    assert env.execution(ex)["status"] == w.EX_COMPLETED
    # Everything was pushed: the driver only created the deferred tasks.
    assert sorted(harness.txs()) == [("startContinuousUpdate", 1)] * 2 + [("startPhaseTask", 1)]


def test_pull_completes_a_phase_when_the_push_is_off(env: w.Env, harness: Harness) -> None:
    wf = env.register([w.phase("a"), w.phase("b", deps=(0,))])
    ex, _ = env.execute(wf)
    harness.rounds()
    env.certify(env.task(ex, 0), b"ra")
    harness.rounds()
    assert env.statuses(ex) == [w.COMPLETED, w.ACTIVE]
    env.certify(env.task(ex, 1), b"rb")
    harness.rounds()
    assert env.execution(ex)["status"] == w.EX_COMPLETED
    assert harness.txs() == [("completePhase", 1)] * 2


def test_timeout_fires_when_due_and_not_before(env: w.Env, harness: Harness) -> None:
    cond = w.condition(w.C_PRICE, ["uint256", "bool"], [5000, True])
    wf = env.register([w.phase("a", timeout=60), w.phase("gate", w.CONDITIONAL, condition=cond, timeout=60)])
    ex, _ = env.execute(wf)
    harness.rounds()
    env.chain.advance(30)
    harness.rounds()
    assert env.execution(ex)["status"] == w.EX_RUNNING and harness.txs() == []
    env.chain.advance(31)
    harness.rounds()
    assert env.execution(ex)["status"] == w.EX_FAILED
    assert w.TIMED_OUT in env.statuses(ex)
    assert [t for t in harness.txs() if t[1] == 1] == [("checkPhaseTimeout", 1)]
    assert harness.store.workflow_phases("l1") == []


def test_a_person_winning_the_race_is_not_a_failure(env: w.Env, harness: Harness) -> None:
    """The person's update lands between the driver's decision and its transaction; the driver's mined
    transaction reverts (AllUpdatesCreated/UpdateNotDue) and counts as done."""
    wf = env.register([w.phase("monitor", w.CONTINUOUS, metadata=w.continuous(10, 2))])
    ex, _ = env.execute(wf)
    env.certify(env.task(ex, 0), b"u0")
    harness.rounds()
    env.chain.advance(10)
    driver = harness.driver
    real_send = driver.sender.send

    def raced(fn: Any, **kwargs: Any) -> Any:
        if fn.fn_name == "startContinuousUpdate":
            env.send(env.wsm.functions.startContinuousUpdate(ex, 0), env.stranger)
            return real_send(fn, gas=2_000_000, **kwargs)  # no dry run: it is mined and reverts
        return real_send(fn, **kwargs)

    driver.sender.send = raced  # type: ignore[method-assign]
    harness.rounds()
    del driver.sender.send
    assert len(env.wsm.functions.getPhaseTaskHashes(ex, 0).call()) == 2
    assert harness.txs("startContinuousUpdate") == [("startContinuousUpdate", 0)]
    assert harness.metrics.workflow_actions.value("l1", "update", "done_elsewhere") == 1
    assert [r.outcome for r in harness.store.workflow_actions("l1") if r.action == "update"] == ["done_elsewhere"]
    env.certify(env.task(ex, 0, 1), b"u1")
    harness.rounds()
    assert env.execution(ex)["status"] == w.EX_COMPLETED
    assert harness.store.problems() == []


def test_two_drivers_racing_on_every_action_both_keep_going(env: w.Env, harness: Harness, tmp_path: Path) -> None:
    other = Harness(env, tmp_path / "b", env.stack.avs)
    wf = env.register([w.phase("a"), w.phase("monitor", w.CONTINUOUS, deps=(0,), metadata=w.continuous(10, 2)),
                       w.phase("late", deps=(1,), timeout=5)])
    ex, _ = env.execute(wf)
    real_send = harness.driver.sender.send

    def other_first(fn: Any, **kwargs: Any) -> Any:
        other.rounds(1)  # the other driver reads the same state and acts first; our dry run then reverts
        return real_send(fn, **kwargs)

    harness.driver.sender.send = other_first  # type: ignore[method-assign]
    env.certify(env.task(ex, 0), b"ra")
    harness.rounds()
    env.certify(env.task(ex, 1), b"u0")
    harness.rounds()
    env.chain.advance(10)
    harness.rounds()
    env.certify(env.task(ex, 1, 1), b"u1")
    harness.rounds()
    env.chain.advance(10)
    harness.rounds()
    other.rounds()
    assert env.execution(ex)["status"] == w.EX_FAILED and env.statuses(ex)[2] == w.TIMED_OUT
    assert len(env.wsm.functions.getPhaseTaskHashes(ex, 1).call()) == 2
    assert harness.txs() == []  # every dry run lost: no gas spent
    assert sorted(f for f, ok in other.txs() if ok) == ["checkPhaseTimeout", "completePhase", "completePhase",
                                                         "completePhase", "startContinuousUpdate"]
    assert harness.metrics.workflow_actions.value("l1", "update", "done_elsewhere") >= 1
    assert harness.store.workflow_phases("l1") == [] and other.store.workflow_phases("l1") == []


def test_bad_input_is_logged_and_retried_never_a_crash(env: w.Env, harness: Harness,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    wf = env.register([w.phase("a")])
    ex, _ = env.execute(wf)
    bogus = "0x" + "ab" * 32
    harness.store.workflow_record_scan("l1", st.Checkpoint(0, "0x" + "00" * 32), [(bogus, 3, 1)], keep=64)
    harness.store.workflow_rewind("l1", None)  # rescan from start_block
    env.certify(env.task(ex, 0), b"ra")
    harness.rounds(2)
    # The execution the contract does not know is closed; the real one completes.
    assert env.execution(ex)["status"] == w.EX_COMPLETED
    assert (bogus, "unknown execution") in {(p.execution_id, p.reason)
                                            for p in harness.store.workflow_phases("l1", st.PHASE_CLOSED)}
    assert harness.store.workflow_phases("l1") == []


@pytest.mark.parametrize("point", [
    "workflow.update.signed", "workflow.update.sent", "workflow.update.recorded",
    "workflow.complete.signed", "workflow.task.sent", "workflow.timeout.signed",
])
def test_killed_at_a_failpoint_then_restarted_exactly_one_task_per_slot(env: w.Env, harness: Harness,
                                                                        monkeypatch: pytest.MonkeyPatch,
                                                                        point: str) -> None:
    armed = {"left": point}

    def hit(name: str) -> None:
        if armed.get("left") == name:
            armed.pop("left")
            raise Killed(name)

    monkeypatch.setattr(failpoints, "hit", hit)
    push = point.startswith("workflow.task")
    if push:
        env.use_push(s.ECDSA_SET)  # b's task and the first update are deferred: the driver creates them
    phases = [w.phase("a"), w.phase("b", deps=(0,)),
              w.phase("monitor", w.CONTINUOUS, deps=(1,), metadata=w.continuous(30, 3), timeout=3600)]
    if point.startswith("workflow.timeout"):
        phases.append(w.phase("late", deps=(2,), timeout=5))
    wf = env.register(phases)
    ex, _ = env.execute(wf)

    def restartable() -> None:
        try:
            harness.rounds()
        except Killed:
            harness.crash_and_restart()
            harness.rounds()

    for index in (0, 1):  # pushed, or pulled by the driver
        restartable()
        env.certify(env.task(ex, index), b"r%d" % index)
    for update in range(3):
        restartable()
        hashes = env.wsm.functions.getPhaseTaskHashes(ex, 2).call()
        assert len(hashes) == update + 1
        env.certify(bytes(hashes[update]), f"u{update}".encode())
        restartable()
        env.chain.advance(31)
    restartable()
    if point.startswith("workflow.timeout"):
        env.chain.advance(10)
        restartable()
        assert env.execution(ex)["status"] == w.EX_FAILED and env.statuses(ex)[3] == w.TIMED_OUT
    else:
        assert env.execution(ex)["status"] == w.EX_COMPLETED
    assert "left" not in armed, f"{point} was never reached"
    assert len(env.wsm.functions.getPhaseTaskHashes(ex, 2).call()) == 3
    # One transaction per slot, all mined successfully: nothing re-sent, no gas burned on a refused second one.
    updates = harness.txs("startContinuousUpdate")
    assert updates == [("startContinuousUpdate", 1)] * (3 if push else 2)
    assert harness.txs("startPhaseTask") == [("startPhaseTask", 1)] * push
    assert all(ok == 1 for _f, ok in harness.txs())
    assert harness.store.problems() == []
    assert not [r for r in harness.store.workflow_actions("l1") if r.outcome in st.UNSETTLED]


def test_store_migrates_a_schema_2_database(tmp_path: Path) -> None:
    path = tmp_path / "agg.db"
    store = st.SqliteStore(path)
    store.close()
    import sqlite3

    db = sqlite3.connect(path)
    db.executescript("DROP TABLE workflow_actions; DROP TABLE workflow_phases; DROP TABLE workflow_checkpoints; "
                     "UPDATE meta SET value = '2' WHERE key = 'schema';")
    db.close()
    store = st.SqliteStore(path)
    assert store.workflow_phases("l1") == [] and store.problems() == []
    store.workflow_record_scan("l1", st.Checkpoint(5, "0x05"), [("0xe1", 0, 5)], keep=4)
    store.add_workflow_action("l1", st.ActionRecord("0xe1", 0, "update", 1, 1, "0xaa", "signed", None, None, 1.0))
    store.add_workflow_action("l1", st.ActionRecord("0xe2", 0, "task", 0, 1, "0xbb", "ok", None, 1, 1.0))
    problems = store.problems()
    assert len(problems) == 2 and "without its signed bytes" in problems[0] and "does not know" in problems[1]
    # A reading that closed a phase above a fork point is undone by the rewind.
    store.workflow_close("l1", "0xe1", 0, 9, "phase COMPLETED")
    store.workflow_rewind("l1", st.Checkpoint(8, "0x08"))
    assert [p.state for p in store.workflow_phases("l1", None)] == [st.PHASE_OPEN]
    store.close()


@pytest.mark.parametrize("certified, opens", [(6000, True), (4000, False)])
def test_trigger_from_opens_a_conditional_phase_with_the_certified_result(env: w.Env, harness: Harness,
                                                                           certified: int, opens: bool) -> None:
    """`trigger_from` (workflows.definition): the driver calls triggerFromTask with the source phase's verified
    task; a value that does not meet the condition is refused once — no transaction, no retry — and the phase
    keeps waiting for its other trigger sources."""
    from eth_abi import encode

    from hourglass_cli.workflows.definition import TRIGGER_FROM

    cond = w.condition(w.C_PRICE, ["uint256", "bool"], [5000, True])
    gate = w.phase("gate", w.CONDITIONAL, deps=(0,), condition=cond,
                   metadata=encode(["string", "uint32"], [TRIGGER_FROM, 0]))
    wf = env.register([w.phase("agree"), gate], triggers=[harness.account])
    ex, _ = env.execute(wf)
    harness.rounds()
    env.certify(env.task(ex, 0), encode(["uint256"], [certified]))
    harness.rounds(5)
    assert env.statuses(ex)[0] == w.COMPLETED
    if opens:
        assert env.statuses(ex)[1] == w.ACTIVE and env.state(ex, 1)["input"] == encode(["uint256"], [certified])
    else:
        assert env.statuses(ex)[1] == w.WAITING
        refused = [a for a in harness.store.workflow_actions("l1", "0x" + ex.hex(), 1) if a.action == "trigger"]
        assert [a.outcome for a in refused] == ["refused"] and "ConditionNotMet" in (refused[0].detail or "")
    trigger_txs = [t for t in harness.txs() if t[0] not in ("completePhase", "startPhaseTask")]
    assert len(trigger_txs) == (1 if opens else 0), trigger_txs
