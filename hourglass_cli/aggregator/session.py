"""One task from pending to a final status: read it, fan out, collect, verify, certify, submit.

Per task: the mailbox's task record (creation time, SLA, curve, consensus) → the executor operator set at the
task's reference timestamp (keys, weights, sockets) → one signed `TaskSubmission` per executor, all in
parallel with the task's deadline → replies grouped by message hash. Once a group's weight meets the
threshold *and* the chain's clock allows a result (EigenLayer: ``block.timestamp > creationTime``), or no call is left,
its not-yet-checked answers are verified in one batch (`verify`), the rest of the calls are cancelled and
the certificate goes to the submitter. Until then, and for a short grace (`signer_grace`) after the threshold
is first met, late answers still join: more signers, fewer non-signer witnesses, less gas. On a mailbox that
takes a result in the creation second (our devnet's, ``SAME_SECOND_RESULTS``) there is no clock to wait for.

Every reply is stored as it arrives, so after a restart the certificate is rebuilt from the store; executors
without a stored answer are asked again (an executor answers a re-sent submission with the answer it signed,
so an answer lost with the aggregator is not lost). Final statuses carry a reason.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth_abi import decode

from hourglass_cli import failpoints
from hourglass_cli.aggregator import store as st
from hourglass_cli.aggregator.certificates import threshold_met
from hourglass_cli.aggregator.fanout import Channels, FanOut, Reply, record_of
from hourglass_cli.aggregator.operators import ChainContracts, OperatorSet, OperatorSetReader
from hourglass_cli.aggregator.verify import Answer, check_bn254_group, check_ecdsa, parse_bn254
from hourglass_cli.chain.structs import ConsensusType, CurveType, TaskStatus

if TYPE_CHECKING:
    from hourglass_cli.aggregator.metrics import Metrics
    from hourglass_cli.aggregator.submitter import Submitter

log = logging.getLogger("hourglass.aggregator.session")


@dataclass
class SessionDeps:
    """What every session shares."""

    store: st.Store
    reader: OperatorSetReader
    chains: dict[str, ChainContracts]
    submitter: Submitter
    channels: Channels
    metrics: Metrics
    sign: Callable[[bytes], bytes]
    aggregator: str
    call_timeout: float = 0.0
    retry_interval: float = 0.5
    signer_grace: float = 0.03  # after the threshold is met, how long late answers may still join the certificate
    _same_second: dict[str, bool] = field(default_factory=dict, repr=False)

    def same_second_results(self, chain: str) -> bool:
        """Whether the chain's mailbox takes a result in the creation second (our devnet mailbox's
        ``SAME_SECOND_RESULTS``); EigenLayer's has no such view and wants a later second."""
        if chain not in self._same_second:
            try:
                value = bool(self.chains[chain].mailbox.functions.SAME_SECOND_RESULTS().call())
            except Exception:  # noqa: BLE001 - no such function (EigenLayer's mailbox): its rule
                value = False
            self._same_second[chain] = value
        return self._same_second[chain]

    def ecdsa_version(self, chain: str) -> str:
        """The EIP-712 version of `chain`'s ECDSA verifier domain (the submitter reads it once per chain)."""
        return self.submitter.ecdsa_version(chain)


@dataclass(frozen=True)
class TaskFacts:
    """What the mailbox says about a task."""

    status: TaskStatus
    creation_time: int
    sla: int
    curve: CurveType
    bips: int | None  # None: consensus NONE (any valid certificate)


def read_task(contracts: ChainContracts, task_hash: str) -> TaskFacts:
    """`TaskMailbox.getTaskInfo` reduced to what a session needs."""
    info = contracts.mailbox.functions.getTaskInfo(bytes.fromhex(task_hash[2:])).call()
    config = info[10]
    kind, value = ConsensusType(int(config[5][0])), bytes(config[5][1])
    bips = int(decode(["uint256"], value)[0]) if kind == ConsensusType.STAKE_PROPORTION_THRESHOLD else None
    return TaskFacts(TaskStatus(int(info[7])), int(info[1]), int(config[1]), CurveType(int(config[3])), bips)


def clock_offset(creation_time: int, seen_at: float) -> int:
    """Seconds the chain's clock runs ahead of the wall clock (negative: behind), as a lower bound.

    Devnet chains stamp blocks with the wall clock plus an offset (evm_increaseTime moves it ahead; anvil's
    evm_revert leaves it behind). A task seen promptly tells it: creation_time − floor(seen). Underestimating
    only makes the session wait longer, never submit early. A task seen long after its creation (catch-up)
    says nothing: assume no offset.
    """
    offset = creation_time - math.floor(seen_at)
    return 0 if offset < -5 else offset


class TaskSession:
    """Runs one task; `cancel(reason)` stops it before it submits (reorg, verified elsewhere, shutdown)."""

    def __init__(self, deps: SessionDeps, task: st.TaskRecord) -> None:
        self.deps = deps
        self.task = task
        self.cancelled = threading.Event()
        self.cancel_reason = ""
        self.cancel_status = st.CANCELLED
        self.submitting = False  # set once a submitResult may have been sent
        self.stage_started = time.monotonic()
        self._fan: FanOut | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.task.key

    def cancel(self, reason: str, status: str = st.CANCELLED) -> None:
        """Stop before submitting; the task ends in `status` (PENDING: left for the next start)."""
        self.cancel_reason, self.cancel_status = reason, status
        self.cancelled.set()
        if self._fan is not None:
            self._fan.close()

    def _stage(self, name: str) -> None:
        now = time.monotonic()
        self.deps.metrics.stage_seconds.observe(now - self.stage_started, name)
        self.stage_started = now

    def finish_cancelled(self) -> str:
        return self._finish(self.cancel_status, self.cancel_reason)

    def _finish(self, status: str, reason: str, tx_hash: str | None = None) -> str:
        t = self.task
        if status == st.PENDING:
            self.deps.store.transition(t.chain, t.task_hash, st.PENDING, only_from=st.IN_FLIGHT)
            return status
        if self.deps.store.transition(t.chain, t.task_hash, status, only_from=st.IN_FLIGHT, reason=reason,
                                      tx_hash=tx_hash):
            self.deps.metrics.task_outcomes.inc(t.chain, status)
            if status == st.COMPLETED:
                self.deps.metrics.stage_seconds.observe(time.time() - t.seen_at, "total")
        level = logging.INFO if status == st.COMPLETED else logging.WARNING
        log.log(level, "task %s chain=%s task=%s reason=%r%s", status, t.chain, t.task_hash, reason,
                f" tx={tx_hash}" if tx_hash else "")
        return status

    def run(self) -> str:
        """Drive the task to a final status (never raises)."""
        try:
            return self._run()
        except Exception as exc:  # noqa: BLE001 - one task's bug must not end the aggregator
            log.exception("task session error chain=%s task=%s", self.task.chain, self.task.task_hash)
            return self._finish(st.FAILED, f"internal error: {type(exc).__name__}: {str(exc)[:200]}")
        finally:
            if self._fan is not None:
                self._fan.close()

    # -- the steps --

    def _run(self) -> str:
        t, deps = self.task, self.deps
        self._stage("queue")
        if self.cancelled.is_set():
            return self.finish_cancelled()
        if not deps.store.transition(t.chain, t.task_hash, st.PROCESSING, only_from=st.IN_FLIGHT):
            return (deps.store.get(t.chain, t.task_hash) or t).status
        contracts = deps.chains[t.chain]
        facts = read_task(contracts, t.task_hash)
        if facts.status == TaskStatus.VERIFIED:
            return self._finish(st.COMPLETED, "already verified on chain")
        if facts.status == TaskStatus.EXPIRED:
            return self._finish(st.EXPIRED, "the task's SLA passed before a certificate was ready")
        if facts.status == TaskStatus.NONE:
            return self._finish(st.CANCELLED, "the task is not on the chain (orphaned by a reorg?)")
        offset = clock_offset(facts.creation_time, t.seen_at)
        # EigenLayer's mailbox takes a result once block.timestamp > creationTime; ours on a devnet from the next
        # block on, and any transaction sent now lands in a block after the one the task was seen in.
        submit_at = 0.0 if deps.same_second_results(t.chain) else facts.creation_time + 1 - offset
        deadline = facts.creation_time + facts.sla - offset
        if time.time() > deadline:  # resumed or caught up after its SLA: the chain just has no block since
            return self._finish(st.EXPIRED, "the task's SLA passed before a certificate was ready")
        if any(r.outcome in st.UNSETTLED for r in deps.store.submissions(t.chain, t.task_hash)):
            # resumed after a crash while submitting: that transaction (pending, or re-sent as it was) first
            settled = deps.submitter.settle(self, deadline)
            if settled is not None:
                return settled
        opset = deps.reader.operator_set(t.chain, t.avs, t.operator_set_id, t.reference_timestamp, t.block_number,
                                         facts.curve)
        self._stage("setup")
        group = self._collect(opset, facts, submit_at, deadline)
        if isinstance(group, str):
            return group
        self._stage("collect")
        return deps.submitter.submit(self, opset, facts, group, submit_at, deadline)

    def _collect(self, opset: OperatorSet, facts: TaskFacts, submit_at: float, deadline: float) -> list[Answer] | str:
        """The verified answers of the result that met the threshold, or a final status."""
        t, deps = self.task, self.deps
        answers: dict[str, Answer] = {}
        verified: set[str] = set()
        failures: dict[str, str] = {}
        fan = self._fan = FanOut(
            task_id=t.task_hash, avs=t.avs, aggregator=deps.aggregator, set_id=t.operator_set_id,
            reference_timestamp=t.reference_timestamp, block=t.block_number, payload=t.payload, curve=facts.curve,
            sign=deps.sign, channels=deps.channels, deadline=deadline, call_timeout=deps.call_timeout,
            retry_interval=deps.retry_interval)
        to_call = self._resume(opset, facts, answers, failures)
        sockets = deps.reader.sockets(to_call)
        for op in to_call:
            fan.call(op, sockets.get(op.address, ""))
        ready_at = submit_at  # when to decide while calls are outstanding: chain clock, then a short grace
        graced = False
        while True:
            if self.cancelled.is_set():
                fan.close()
                return self.finish_cancelled()
            if not graced and self._leading_meets(opset, facts, answers):
                graced, ready_at = True, max(submit_at, time.time() + deps.signer_grace)
            group = self._ready_group(opset, facts, answers, verified, ready_at, fan.outstanding())
            if group is not None:
                good = self._verify(opset, facts, group, verified, answers, failures)
                if self._meets(opset, facts, good):
                    fan.close()
                    return good
                continue
            now = time.time()
            if now >= deadline:
                fan.close()
                return self._finish(st.EXPIRED, "threshold not met by the deadline: " +
                                    self._summary(opset, facts, answers, failures))
            if fan.outstanding() == 0 and not (fan.transient - set(answers)):
                fan.close()
                return self._finish(st.FAILED, self._common_cause(answers, failures) +
                                    "threshold cannot be met (every executor has answered): " +
                                    self._summary(opset, facts, answers, failures))
            wake = [deadline]
            if graced:
                wake.append(ready_at)
            retry = fan.next_retry()
            if retry is not None:
                wake.append(retry)
            try:
                reply = fan.replies.get(timeout=max(0.0, min(wake) - time.time()))
            except queue.Empty:
                fan.run_due_retries()
                continue
            self._take(reply, opset, facts, answers, verified, failures)
            fan.run_due_retries()

    def _resume(self, opset: OperatorSet, facts: TaskFacts, answers: dict[str, Answer],
                failures: dict[str, str]) -> list[Any]:
        """Re-read stored replies (after a restart); returns the operators still to call."""
        t = self.task
        for r in self.deps.store.responses(t.chain, t.task_hash):
            op = opset.by_address.get(r.operator)
            if op is None:
                continue
            if r.outcome == "ok" and r.output is not None:
                try:
                    if facts.curve == CurveType.BN254:
                        answers[op.address] = parse_bn254(op, r.output, r.result_signature or b"",
                                                          r.auth_signature or b"", t.task_hash)
                    else:
                        from hourglass_cli.wire import messages

                        answers[op.address] = Answer(op, r.output, messages.result_message_hash(t.task_hash, r.output),
                                                     r.result_signature or b"", r.auth_signature or b"")
                except Exception:  # noqa: BLE001
                    failures[op.address] = "stored reply unreadable"
            elif r.outcome == "invalid":
                failures[op.address] = r.detail or r.outcome
            # An error is asked again: the executor answers a re-sent submission with what it signed, or runs a
            # task it never signed for again (its refusal, a lost call, a restart of either side).
        return [op for op in opset.operators if op.address not in answers and op.address not in failures]

    def _take(self, reply: Reply, opset: OperatorSet, facts: TaskFacts, answers: dict[str, Answer],
              verified: set[str], failures: dict[str, str]) -> None:
        t, deps = self.task, self.deps
        address = reply.operator.address
        outcome, detail = reply.outcome, reply.detail
        if reply.answer is not None and facts.curve == CurveType.ECDSA:
            problem = check_ecdsa(t.task_hash, t.avs, t.operator_set_id, t.reference_timestamp,
                                  deps.chains[t.chain].ecdsa_verifier.address, deps.ecdsa_version(t.chain),
                                  reply.answer)
            if problem:
                outcome, detail = "invalid", problem
            else:
                verified.add(address)
        deps.metrics.responses.inc(address, outcome if not reply.retry else "retrying")
        if outcome == "ok":
            deps.metrics.response_seconds.observe(max(0.0, time.time() - t.seen_at), address)
        failpoints.hit("aggregator.reply.received")
        deps.store.add_response(t.chain, t.task_hash, record_of(Reply(reply.operator, reply.answer, outcome, detail)))
        if outcome == "ok" and reply.answer is not None:
            answers[address] = reply.answer
            failures.pop(address, None)
        else:
            failures[address] = detail or outcome
            log.info("executor reply chain=%s task=%s operator=%s outcome=%s detail=%r", t.chain, t.task_hash,
                     address, outcome, detail)

    # -- grouping and thresholds --

    @staticmethod
    def _weights(opset: OperatorSet, members: list[Answer]) -> list[int]:
        signed = [0] * len(opset.total_weights)
        for a in members:
            for j, w in enumerate(a.operator.weights[: len(signed)]):
                signed[j] += w
        return signed

    def _meets(self, opset: OperatorSet, facts: TaskFacts, members: list[Answer]) -> bool:
        if not members:
            return False
        return threshold_met(self._weights(opset, members), opset.total_weights, facts.bips)

    @staticmethod
    def _groups(answers: dict[str, Answer]) -> dict[bytes, list[Answer]]:
        groups: dict[bytes, list[Answer]] = {}
        for a in answers.values():
            groups.setdefault(a.message_hash, []).append(a)
        return groups

    def _leading_meets(self, opset: OperatorSet, facts: TaskFacts, answers: dict[str, Answer]) -> bool:
        return any(self._meets(opset, facts, g) for g in self._groups(answers).values())

    def _ready_group(self, opset: OperatorSet, facts: TaskFacts, answers: dict[str, Answer], verified: set[str],
                     submit_at: float, outstanding: int) -> list[Answer] | None:
        """A group to decide on now: it meets the threshold, and the chain's clock is ready or no call is left."""
        if outstanding and time.time() < submit_at:
            return None
        candidates = [g for g in self._groups(answers).values() if self._meets(opset, facts, g)]
        if not candidates:
            return None
        return max(candidates, key=lambda g: self._weights(opset, g))

    def _verify(self, opset: OperatorSet, facts: TaskFacts, group: list[Answer], verified: set[str],
                answers: dict[str, Answer], failures: dict[str, str]) -> list[Answer]:
        """The group's answers that verify (unchecked ones in one batch); bad ones are dropped and stored."""
        t = self.task
        unchecked = [a for a in group if a.operator.address not in verified]
        if unchecked and facts.curve == CurveType.BN254:
            started = time.monotonic()
            good, bad = check_bn254_group(t.task_hash, t.avs, t.operator_set_id, t.reference_timestamp, unchecked)
            self.deps.metrics.stage_seconds.observe(time.monotonic() - started, "verify")
            verified.update(a.operator.address for a in good)
            for a in bad:
                answers.pop(a.operator.address, None)
                failures[a.operator.address] = "invalid: result or auth signature does not verify"
                self.deps.metrics.responses.inc(a.operator.address, "bad_signature")
                self.deps.store.add_response(t.chain, t.task_hash, record_of(Reply(
                    a.operator, a, "invalid", "result or auth signature does not verify")))
                log.warning("bad signature chain=%s task=%s operator=%s", t.chain, t.task_hash, a.operator.address)
        return [a for a in group if a.operator.address in verified]

    @staticmethod
    def _common_cause(answers: dict[str, Answer], failures: dict[str, str]) -> str:
        """"<why>: " when every executor failed for the same reason (what happened, before the tally)."""
        causes = {why.split(": ", 1)[1] if why[:1].isupper() and ": " in why else why for why in failures.values()}
        if answers or len(failures) < 2 or len(causes) != 1:
            return ""
        return f"every executor: {causes.pop()}; "

    def _summary(self, opset: OperatorSet, facts: TaskFacts, answers: dict[str, Answer],
                 failures: dict[str, str]) -> str:
        total = opset.total_weights[0] if opset.total_weights else 0
        best = max(self._groups(answers).values(), key=lambda g: self._weights(opset, g), default=[])
        share = 100.0 * (self._weights(opset, best)[0] if best and total else 0) / (total or 1)
        need = "any valid signer" if facts.bips is None else f"{facts.bips / 100:.2f}%"
        parts = [f"{len(best)}/{len(opset.operators)} operators agree on one result ({share:.2f}% of the weight, "
                 f"{need} needed)"]
        parts += [f"{addr}: {why}" for addr, why in sorted(failures.items())]
        missing = [op.address for op in opset.operators if op.address not in answers and op.address not in failures]
        if missing:
            parts.append("no answer from " + ", ".join(missing))
        return "; ".join(parts)
