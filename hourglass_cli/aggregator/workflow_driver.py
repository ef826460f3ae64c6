"""The workflow driver: one per chain whose config names a `workflow_state_machine`; runs in the aggregator.

It watches the contract's events by block range (one ``eth_getLogs`` per ``max_block_range`` blocks over the
contract's logs and the mailbox's TaskVerified logs of the contract's AVS), with the poller's reorg detection
(stored head checkpoints; on a fork it rewinds to the newest checkpoint still on the chain and reopens every phase
it closed from a reading above it). A PhaseStarted opens a phase in the store; the other events only say which
open phase to look at again. What to do is always decided from the contract's state read at one block
(``getExecution``, ``getPhaseState``, the mailbox status of the phase's tasks), never from the events alone:

- past the deadline (``block.timestamp > deadline`` in the next block): ``checkPhaseTimeout``;
- a phase task VERIFIED that the contract has not counted (the push was off or failed): ``completePhase``;
- an ACTIVE phase without its task (started inside a push, so deferred): ``startPhaseTask``;
- a CONTINUOUS phase with fewer than ``requiredUpdates`` tasks whose interval since the last one has passed:
  ``startContinuousUpdate`` for update N = the tasks so far (slot N);
- the execution ended, or the phase did: the phase is closed.

Every transaction is sent from the aggregator's account through the same TxSender as the submitter (one nonce
counter). It is recorded signed (raw bytes, hash, nonce) before it is sent and settled before anything else is
done for that phase — after a restart too: the transaction found by hash is waited for, one the node does not
know is re-sent byte for byte, one whose nonce went elsewhere is marked dropped and only then does the chain's
state decide again. So a slot never gets a second transaction from us, and the contract gives it one task
whoever calls. A call that reverts because someone else did it first (``PhaseTaskExists``, ``AllUpdatesCreated``,
``NothingNewVerified``, a phase or execution no longer running …) counts as done. Gas is estimated first, so a
lost race usually costs nothing. Any other failure (a reverting call, an unreadable workflow, a node error) is
logged and retried with backoff per phase; the driver never stops on bad input.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth_abi import decode

from hourglass_cli import failpoints
from hourglass_cli.aggregator import store as st
from hourglass_cli.aggregator.poller import _bytes, _hex, _int
from hourglass_cli.chain.reverts import RevertError
from hourglass_cli.chain.structs import TaskStatus
from hourglass_cli.errors import ChainError
from hourglass_cli.workflows.definition import trigger_from_metadata

if TYPE_CHECKING:
    from web3 import Web3

    from hourglass_cli.aggregator.config import ChainSection
    from hourglass_cli.aggregator.metrics import Metrics
    from hourglass_cli.chain.sender import TxSender

log = logging.getLogger("hourglass.aggregator.workflow")

# PhaseType, PhaseStatus, ExecutionStatus (IWorkflowStateMachineTypes)
IMMEDIATE, COORDINATION, CONTINUOUS, CONDITIONAL, AGGREGATION = range(5)
PENDING, ACTIVE, COMPLETED, FAILED, CONDITIONAL_WAITING, TIMED_OUT = range(6)
EX_NONE, EX_RUNNING = 0, 1
EXECUTION_STATUS = ("NONE", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
PHASE_STATUS = ("PENDING", "ACTIVE", "COMPLETED", "FAILED", "CONDITIONAL_WAITING", "TIMED_OUT")

ACTIONS = {"task": "startPhaseTask", "update": "startContinuousUpdate", "complete": "completePhase",
           "timeout": "checkPhaseTimeout", "trigger": "triggerFromTask"}
# Reverts that mean "someone else did it first" (or made it moot): success, look at the phase again.
_ALWAYS_DONE = {"ExecutionNotRunning", "InvalidPhaseStatus"}
DONE_ELSEWHERE = {
    "task": _ALWAYS_DONE | {"PhaseTaskExists"},
    "update": _ALWAYS_DONE | {"AllUpdatesCreated"},
    "complete": _ALWAYS_DONE | {"NothingNewVerified"},
    "timeout": _ALWAYS_DONE,
    "trigger": _ALWAYS_DONE,
}
# A trigger the contract refuses on its merits (the certified value does not meet the condition, the driver is not
# an authorized trigger source): recorded once as 'refused', never sent again — the phase waits for someone else.
REFUSED = {"trigger": {"ConditionNotMet", "InvalidTriggerData", "NotAuthorizedTrigger", "TaskNotVerified",
                       "ForeignTask"}}
# Reverts that mean "not yet", or that our reading went stale (UpdateNotDue also when another caller took the
# slot: the next reading shows its task): look again shortly, no backoff.
NOT_YET = {"PhaseNotTimedOut", "PhaseDeadlinePassed", "TaskNotVerified", "PhaseHasNoTask", "UpdateNotDue"}

BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0
NOT_YET_DELAY = 0.5


@dataclass(frozen=True)
class PhaseDef:
    """What the driver needs of a phase's definition."""

    phase_type: int
    interval: int = 0
    required_updates: int = 0
    trigger_from: int | None = None  # a CONDITIONAL phase opened by that phase's verified task (trigger_from)


@dataclass
class Watch:
    """In-memory bookkeeping of one open phase (rebuilt from the chain after a restart)."""

    dirty: bool = True
    due_at: int | None = None  # chain time at which something may become due
    next_try: float = 0.0  # monotonic: backoff after a failure
    failures: int = 0
    checked: float = 0.0  # monotonic time of the last look
    tasks: tuple[str, ...] = ()


@dataclass
class Snapshot:
    """The contract's state of one phase at one block."""

    block: int
    now: int
    execution_status: int
    workflow_id: bytes
    status: int
    deadline: int
    last_task_at: int
    verified_updates: int
    tasks: list[bytes] = field(default_factory=list)
    task_statuses: list[int] = field(default_factory=list)


def block_at(w3: Web3, at: int | str) -> st.Checkpoint | None:
    """(number, hash) of a block by number or tag, through web3's formatters (any provider); None if absent."""
    from web3.exceptions import BlockNotFound

    try:
        found = w3.eth.get_block(at)
    except BlockNotFound:
        return None
    return st.Checkpoint(int(found["number"]), _hex(found["hash"])) if found else None


class WorkflowDriver:
    """Drives one chain's WorkflowStateMachine; `poll_once` is one round (the thread runs it in a loop)."""

    def __init__(self, section: ChainSection, w3: Web3, address: str, sender: TxSender, store: st.Store, *,
                 metrics: Metrics | None = None, mailbox: Any = None, recheck: float = 2.0,
                 receipt_wait: float = 2.0) -> None:
        from eth_utils import event_abi_to_log_topic

        from hourglass_cli.chain.contracts import contract

        self.section = section
        self.chain = section.name
        self.w3 = w3
        self.wsm = contract(w3, "WorkflowStateMachine", address)
        self.mailbox = mailbox if mailbox is not None else contract(w3, "TaskMailbox",
                                                                     self.wsm.functions.mailbox().call())
        self.avs = self.wsm.functions.avs().call()
        self.sender = sender
        self.store = store
        self.metrics = metrics
        self.recheck = recheck
        self.receipt_wait = receipt_wait
        self.topics = {"0x" + event_abi_to_log_topic(e).hex(): e["name"] for e in self.wsm.abi
                       if e.get("type") == "event"}
        self.verified_topic = next("0x" + event_abi_to_log_topic(e).hex() for e in self.mailbox.abi
                                   if e.get("type") == "event" and e["name"] == "TaskVerified")
        self.watches: dict[tuple[str, int], Watch] = {}
        self.by_task: dict[str, tuple[str, int]] = {}
        self._definitions: dict[bytes, list[PhaseDef]] = {}
        self.stop = threading.Event()
        self.last_ok = 0.0
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"workflow-{self.chain}", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        delay = self.section.poll_interval
        while not self.stop.is_set():
            try:
                self.poll_once()
                self.last_ok, self.last_error = time.monotonic(), None
                delay = self.section.poll_interval
            except Exception as exc:  # noqa: BLE001 - a chain hiccup must not end the driver
                message = f"{type(exc).__name__}: {str(exc)[:200]}"
                if message != self.last_error:
                    log.warning("workflow driver round failed chain=%s error=%r", self.chain, message)
                self.last_error = message
                self._error("round")
                delay = min(max(delay * 2, 0.1), 5.0)
            self.stop.wait(delay)

    # -- one round --

    def poll_once(self) -> None:
        """Scan new blocks, then look at every open phase that may have something due."""
        head = block_at(self.w3, "latest")
        if head is None:
            return
        self._scan_to(head)
        # The next block's clock: a chain that mines only on demand (anvil, the embedded devnet) stamps it with
        # the wall clock, so a schedule must not wait for some other transaction to move the latest block.
        now = max(int(self.w3.eth.get_block(head.number)["timestamp"]), int(time.time()))
        phases = self.store.workflow_phases(self.chain)
        if self.metrics is not None:
            self.metrics.workflow_open_phases.set(self.chain, value=float(len(phases)))
        open_keys = {p.key for p in phases}
        for key in [k for k in self.watches if k not in open_keys]:
            self._forget(key)
        for record in phases:
            if self.stop.is_set():
                return
            watch = self.watches.setdefault(record.key, Watch())
            mono = time.monotonic()
            if mono < watch.next_try:
                continue
            due = watch.due_at is not None and now >= watch.due_at
            if not (watch.dirty or due or mono - watch.checked >= self.recheck):
                continue
            watch.checked = mono
            try:
                self._handle(record, watch, head.number, now)
                watch.failures = 0
            except Exception as exc:  # noqa: BLE001 - one bad phase must not stop the others
                watch.failures += 1
                backoff = min(BACKOFF_FIRST * 2 ** (watch.failures - 1), BACKOFF_MAX)
                watch.next_try = time.monotonic() + backoff
                watch.dirty = True
                self._error("phase")
                log.warning("workflow phase failed chain=%s execution=%s phase=%d failures=%d retry_in=%.1fs "
                            "error=%r", self.chain, record.execution_id, record.phase_index, watch.failures, backoff,
                            f"{type(exc).__name__}: {str(exc)[:300]}")

    def _forget(self, key: tuple[str, int]) -> None:
        watch = self.watches.pop(key, None)
        for task in watch.tasks if watch else ():
            self.by_task.pop(task, None)

    def _error(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.workflow_errors.inc(self.chain, kind)

    # -- events --

    def _scan_to(self, head: Any) -> None:
        checkpoints = self.store.workflow_checkpoints(self.chain)
        if checkpoints:
            last = checkpoints[0]
            current = head.hash if last.number == head.number else (
                self._hash_at(last.number) if last.number < head.number else None)
            if current != last.hash:
                self._handle_reorg(checkpoints, head)
                checkpoints = self.store.workflow_checkpoints(self.chain)
        start = checkpoints[0].number + 1 if checkpoints else self.section.start_block
        safe = head.number - self.section.confirmations
        while start <= safe and not self.stop.is_set():
            end = min(safe, start + self.section.max_block_range - 1)
            started = self._scan(start, end)
            tip = head if end == head.number else block_at(self.w3, end)
            if tip is None:
                return
            self.store.workflow_record_scan(self.chain, tip, started, keep=self.section.reorg_depth)
            if self.metrics is not None:
                self.metrics.workflow_blocks.set(self.chain, value=float(end))
            for execution_id, index, block in started:
                log.info("workflow phase started chain=%s execution=%s phase=%d block=%d", self.chain, execution_id,
                         index, block)
            start = end + 1

    def _hash_at(self, number: int) -> str | None:
        found = block_at(self.w3, number)
        return found.hash if found else None

    def _scan(self, start: int, end: int) -> list[tuple[str, int, int]]:
        """Phases started in [start, end] (execution, index, block); marks touched phases to be looked at."""
        span: dict[str, Any] = {"fromBlock": start, "toBlock": end}
        own = self.w3.eth.get_logs({"address": self.wsm.address, **span})  # type: ignore[arg-type]
        avs_topic = "0x" + "00" * 12 + self.avs[2:].lower()
        verified = self.w3.eth.get_logs({"address": self.mailbox.address, **span,  # type: ignore[arg-type]
                                         "topics": [self.verified_topic, None, None, avs_topic]})
        started: list[tuple[str, int, int]] = []
        for entry in own:
            if entry.get("removed"):
                continue
            topics = [_hex(t) for t in entry["topics"]]
            name = self.topics.get(topics[0]) if topics else None
            try:
                if name == "PhaseStarted":
                    key = (topics[1], _int(topics[2]))
                    started.append((*key, _int(entry["blockNumber"])))
                    self._touch(key)
                    (task,) = decode(["uint8", "bytes32"], _bytes(entry["data"]))[1:]
                    if any(task):
                        self.by_task["0x" + bytes(task).hex()] = key
                elif name == "PhaseTaskCreated":
                    key = (topics[1], _int(topics[2]))
                    _update, task = decode(["uint32", "bytes32"], _bytes(entry["data"]))
                    self.by_task["0x" + bytes(task).hex()] = key
                    self._touch(key)
                elif name in ("PhaseTaskDeferred", "PhaseUpdateRecorded", "PhaseCompleted", "PhaseFailed",
                              "PhaseTimedOut", "ConditionalTriggerActivated"):
                    self._touch((topics[1], _int(topics[2])))
                elif name in ("WorkflowCompleted", "WorkflowFailed", "WorkflowCancelled"):
                    for key in [k for k in self.watches if k[0] == topics[2]]:
                        self._touch(key)
                elif name == "PhasePushFailed":
                    key = self.by_task.get(topics[1])
                    if key is not None:
                        self._touch(key)
                    log.warning("workflow push failed chain=%s task=%s", self.chain, topics[1])
            except Exception:  # noqa: BLE001 - not our event layout: skip it, loudly
                log.warning("undecodable workflow event chain=%s block=%s event=%s", self.chain,
                            entry.get("blockNumber"), name)
                self._error("event")
        for entry in verified:
            if not entry.get("removed") and len(entry["topics"]) > 2:
                key = self.by_task.get(_hex(entry["topics"][2]))
                if key is not None:
                    self._touch(key)
        return started

    def _touch(self, key: tuple[str, int]) -> None:
        self.watches.setdefault(key, Watch()).dirty = True

    def _handle_reorg(self, checkpoints: list[st.Checkpoint], head: Any) -> None:
        fork: st.Checkpoint | None = None
        for cp in checkpoints:
            if cp.number <= head.number and (head.hash if cp.number == head.number else self._hash_at(cp.number)) \
                    == cp.hash:
                fork = cp
                break
        base = fork.number if fork is not None else self.section.start_block - 1
        log.warning("workflow reorg detected chain=%s stored_head=%d chain_head=%d fork_point=%d", self.chain,
                    checkpoints[0].number, head.number, base)
        self.store.workflow_rewind(self.chain, fork)
        for watch in self.watches.values():
            watch.dirty = True

    # -- one phase --

    def definition(self, workflow_id: bytes, index: int) -> PhaseDef:
        """The phase's type (and a CONTINUOUS phase's interval and updates), from getWorkflow (read once)."""
        if workflow_id not in self._definitions:
            info = self.wsm.functions.getWorkflow(workflow_id).call()
            phases = []
            for p in info[3]:
                kind, metadata = int(p[1]), bytes(p[6])
                if kind == CONTINUOUS:
                    interval, required = decode(["uint256", "uint256"], metadata)
                    phases.append(PhaseDef(kind, int(interval), int(required)))
                elif kind == CONDITIONAL:
                    phases.append(PhaseDef(kind, trigger_from=trigger_from_metadata(metadata)))
                else:
                    phases.append(PhaseDef(kind))
            if not phases:
                raise ChainError(f"workflow 0x{workflow_id.hex()} has no phases (unknown to the contract?)")
            self._definitions[workflow_id] = phases
        phases = self._definitions[workflow_id]
        if index >= len(phases):
            raise ChainError(f"workflow 0x{workflow_id.hex()} has {len(phases)} phases, not phase {index}")
        return phases[index]

    def snapshot(self, execution_id: str, index: int, block: int, now: int) -> Snapshot | None:
        """The phase's state at `block`; None when the contract knows no such execution or phase."""
        from hourglass_cli.chain.sender import call

        eid = bytes.fromhex(execution_id[2:])
        try:
            execution = call(self.wsm.functions.getExecution(eid), block=block)
            state = call(self.wsm.functions.getPhaseState(eid, index), block=block)
        except RevertError as exc:
            if exc.error_name in ("UnknownExecution", "InvalidPhaseIndex"):
                return None
            raise
        tasks = [bytes(t) for t in state[6]]
        statuses = [int(self.mailbox.functions.getTaskStatus(t).call(block_identifier=block)) for t in tasks]
        return Snapshot(block, now, int(execution[2]), bytes(execution[0]), int(state[0]), int(state[3]),
                        int(state[4]), int(state[5]), tasks, statuses)

    def _handle(self, record: st.PhaseRecord, watch: Watch, block: int, now: int) -> None:
        eid, index = record.execution_id, record.phase_index
        earlier = self.settle(eid, index)
        if earlier != "none":  # pending: nothing new until it is settled; settled: this round's reading is stale
            watch.dirty = True
            return
        snap = self.snapshot(eid, index, block, now)
        if snap is None:  # not a phase of this contract (a reorg took its execution away, or bad input)
            self._close(record, block, "unknown execution")
            return
        watch.dirty, watch.due_at = False, None
        for task in snap.tasks:
            watch.tasks += ("0x" + task.hex(),) if "0x" + task.hex() not in watch.tasks else ()
            self.by_task["0x" + task.hex()] = record.key
        if snap.execution_status != EX_RUNNING:
            self._close(record, block, f"execution {EXECUTION_STATUS[snap.execution_status]}"
                        if snap.execution_status < len(EXECUTION_STATUS) else "execution ended")
            return
        if snap.status not in (ACTIVE, CONDITIONAL_WAITING):
            self._close(record, block, f"phase {PHASE_STATUS[snap.status]}" if snap.status < len(PHASE_STATUS)
                        else "phase ended")
            return
        # Past the deadline only the timeout is left (the contract refuses everything else).
        if now >= snap.deadline:
            self.act(record, watch, "timeout", 0)
            return
        watch.due_at = snap.deadline
        phase = self.definition(snap.workflow_id, index)
        if snap.status == CONDITIONAL_WAITING:
            # A trigger opens it (or, with trigger_from, the driver does with that phase's certified task);
            # until then only its timeout can be due.
            self._trigger_from(record, watch, phase, block, now)
            return
        verified = sum(1 for s in snap.task_statuses if s == TaskStatus.VERIFIED)
        if phase.phase_type == CONTINUOUS:
            if verified > snap.verified_updates:
                self.act(record, watch, "complete", snap.verified_updates)
                return
            created = len(snap.tasks)
            if created < phase.required_updates:
                due_at = snap.last_task_at + phase.interval if created else now
                if now >= due_at:
                    self.act(record, watch, "update", created)
                    return
                watch.due_at = min(snap.deadline, due_at)
            return
        if snap.tasks and snap.task_statuses[0] == TaskStatus.VERIFIED:
            self.act(record, watch, "complete", 0)
        elif not snap.tasks:
            self.act(record, watch, "task", 0)

    def _trigger_from(self, record: st.PhaseRecord, watch: Watch, phase: PhaseDef, block: int, now: int) -> None:
        if phase.trigger_from is None:
            return
        eid, index = record.execution_id, record.phase_index
        if any(r.action == "trigger" for r in self.store.workflow_actions(self.chain, eid, index)
               if r.outcome in ("ok", "done_elsewhere", "refused")):
            return  # done once: a refused trigger leaves the phase to its other trigger sources
        source = self.snapshot(eid, phase.trigger_from, block, now)
        if source is None or source.status != COMPLETED or not source.tasks:
            return
        if source.task_statuses[-1] != TaskStatus.VERIFIED:
            return
        self.act(record, watch, "trigger", 0, source.tasks[-1])

    def _close(self, record: st.PhaseRecord, block: int, reason: str) -> None:
        self.store.workflow_close(self.chain, record.execution_id, record.phase_index, block, reason)
        self._forget(record.key)
        log.info("workflow phase closed chain=%s execution=%s phase=%d block=%d reason=%r", self.chain,
                 record.execution_id, record.phase_index, block, reason)

    # -- transactions --

    def _log_action(self, action: str, eid: str, index: int, slot: int, outcome: str, tx: str | None = None,
                    gas: int | None = None, detail: str = "") -> None:
        if self.metrics is not None:
            self.metrics.workflow_actions.inc(self.chain, action, outcome)
        level = logging.WARNING if outcome in ("failed", "dropped") else logging.INFO
        log.log(level, "workflow action=%s chain=%s execution=%s phase=%d slot=%d outcome=%s tx=%s gas=%s detail=%r",
                action, self.chain, eid, index, slot, outcome, tx or "-", gas if gas is not None else "-", detail)

    def act(self, record: st.PhaseRecord, watch: Watch, action: str, slot: int, *extra: Any) -> None:
        """Send `action` for `slot` of the phase: recorded signed before it is sent, settled before the next."""
        eid, index = record.execution_id, record.phase_index
        fn = getattr(self.wsm.functions, ACTIONS[action])(bytes.fromhex(eid[2:]), index, *extra)
        rows = self.store.workflow_actions(self.chain, eid, index)
        attempt = max((r.attempt for r in rows if r.action == action and r.slot == slot), default=0) + 1
        sent_at = time.time()
        signed: list[tuple[str, bytes]] = []

        def record_signed(raw_hash: bytes, raw: bytes, nonce: int) -> None:
            # Written before the node sees it: after a crash the restart finds (or re-sends) this very
            # transaction instead of sending a second one for the slot.
            tx_hash = "0x" + raw_hash.hex()
            signed.append((tx_hash, raw))
            self.store.add_workflow_action(self.chain, st.ActionRecord(
                eid, index, action, slot, attempt, tx_hash, "signed", None, None, sent_at, raw, nonce))
            failpoints.hit(f"workflow.{action}.signed")

        watch.dirty = True  # whatever happens, look again next round
        try:
            pending = self.sender.send(fn, on_signed=record_signed, estimate_block="pending")
        except RevertError as exc:  # the dry run (gas estimation) reverted: nothing was sent
            self._reverted(action, eid, index, slot, exc, watch, attempt=None, sent_at=sent_at)
            return
        except ChainError as exc:
            if signed:  # it may have reached the node: the open row is settled before anything new
                self._log_action(action, eid, index, slot, "unknown", signed[-1][0], detail=exc.message[:300])
                return
            raise
        failpoints.hit(f"workflow.{action}.sent")
        tx_hash, raw = signed[-1]
        self.store.add_workflow_action(self.chain, st.ActionRecord(  # raw kept: a node that lost it gets it again
            eid, index, action, slot, attempt, tx_hash, "sent", None, None, sent_at, raw, pending.nonce))
        failpoints.hit(f"workflow.{action}.recorded")
        self._wait(action, eid, index, slot, attempt, tx_hash, sent_at, pending, watch)

    def _wait(self, action: str, eid: str, index: int, slot: int, attempt: int, tx_hash: str, sent_at: float,
              pending: Any, watch: Watch | None) -> bool:
        """Wait a little for the receipt; True once settled (ok, done elsewhere or failed), False if pending."""
        try:
            receipt = pending.wait(self.receipt_wait)
        except RevertError as exc:
            self._reverted(action, eid, index, slot, exc, watch, attempt=attempt, sent_at=sent_at, tx_hash=tx_hash)
            return True
        except ChainError as exc:
            if "no receipt" in exc.message:
                return False  # still pending: settled next round
            self.store.add_workflow_action(self.chain, st.ActionRecord(
                eid, index, action, slot, attempt, tx_hash, "failed", exc.message[:500], None, sent_at))
            self._log_action(action, eid, index, slot, "failed", tx_hash, detail=exc.message[:300])
            return True
        used = int(receipt["gasUsed"])
        self.store.add_workflow_action(self.chain, st.ActionRecord(
            eid, index, action, slot, attempt, tx_hash, "ok", None, used, sent_at))
        self._log_action(action, eid, index, slot, "ok", tx_hash, used)
        return True

    def _reverted(self, action: str, eid: str, index: int, slot: int, exc: RevertError, watch: Watch | None, *,
                  attempt: int | None, sent_at: float, tx_hash: str | None = None) -> None:
        name = exc.error_name or ""
        if name in DONE_ELSEWHERE[action]:
            outcome = "done_elsewhere"
        elif name in REFUSED.get(action, ()):
            outcome = "refused"
            if attempt is None:  # a refused dry run sent nothing: remember it anyway, so it is not tried again
                self.store.add_workflow_action(self.chain, st.ActionRecord(
                    eid, index, action, slot, 1, None, "refused", f"{name} {exc.message}"[:500], None, sent_at))
        elif name in NOT_YET:
            outcome = "not_yet"
        else:
            outcome = "failed"
        if attempt is not None:  # a mined transaction: settle its row
            self.store.add_workflow_action(self.chain, st.ActionRecord(
                eid, index, action, slot, attempt, tx_hash, "failed" if outcome == "not_yet" else outcome,
                f"{name} {exc.message}"[:500], None, sent_at))
        self._log_action(action, eid, index, slot, outcome, tx_hash, detail=f"{name} {exc.message}"[:300])
        if outcome == "failed":
            raise exc  # backoff for this phase
        if outcome == "not_yet" and watch is not None:  # the clock of the next block decides: look again shortly
            watch.dirty, watch.next_try = False, time.monotonic() + NOT_YET_DELAY

    def settle(self, eid: str, index: int) -> str:
        """Settle the phase's unsettled transactions (from before a restart, or a receipt wait that gave up):
        "none" if there were none, "pending" if one is still waiting to be mined, else "settled"."""
        found = "none"
        for row in self.store.workflow_actions(self.chain, eid, index):
            if row.outcome not in st.UNSETTLED or not row.tx_hash:
                continue
            pending = self.sender.adopt(bytes.fromhex(row.tx_hash[2:]), row.raw_tx, row.nonce,
                                        f"WorkflowStateMachine.{ACTIONS[row.action]}")
            found = "settled" if found == "none" else found
            if pending is None:
                self.store.add_workflow_action(self.chain, st.ActionRecord(
                    eid, index, row.action, row.slot, row.attempt, row.tx_hash, "dropped",
                    "never mined: its nonce went to another transaction", None, row.sent_at))
                self._log_action(row.action, eid, index, row.slot, "dropped", row.tx_hash)
                continue
            log.info("workflow waiting for an earlier transaction chain=%s execution=%s phase=%d action=%s slot=%d "
                     "tx=%s", self.chain, eid, index, row.action, row.slot, row.tx_hash)
            if not self._wait(row.action, eid, index, row.slot, row.attempt, row.tx_hash, row.sent_at, pending, None):
                found = "pending"
        return found

