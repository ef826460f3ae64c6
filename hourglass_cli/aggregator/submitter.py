"""From verified answers to `TaskMailbox.submitResult`: certificate, local check, nonce-safe sending, retries.

- The certificate is built from the group's answers (`certificates`); BN254 non-signers the verifier has cached
  for this reference timestamp get index-only witnesses (known from earlier submissions or
  ``isNonsignerCached``). It is checked locally first, so a certificate that would revert is never sent.
- Right before sending: the session must not be cancelled and the task's block must still be the chain's
  block at that height — a task from an orphaned block is never submitted. On EigenLayer's mailbox, sending
  waits for the chain's clock to pass the creation second (it refuses a result in the creation block's second);
  our devnet mailbox (``SAME_SECOND_RESULTS``) takes it from the next block on, so nothing waits.
- The gas limit comes from the certificate's size (generous; unused gas is refunded), so no estimation run
  is needed on the happy path. Transient failures are retried with backoff (a retry estimates gas, which
  doubles as a dry run): TimestampAtCreation, out of gas, node errors. ``InvalidTaskStatus`` means the task
  is already verified (completed: idempotent) or expired; a rejected index-only witness is rebuilt in full.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from hourglass_cli import failpoints
from hourglass_cli.aggregator import certificates as certs
from hourglass_cli.aggregator import store as st
from hourglass_cli.chain import certificates as encoding
from hourglass_cli.chain.gas import TOO_MUCH_GAS_MESSAGES, too_large_for_chain
from hourglass_cli.chain.reverts import RevertError
from hourglass_cli.chain.structs import CurveType, TaskStatus, operator_set
from hourglass_cli.crypto import bn254
from hourglass_cli.errors import ChainError

if TYPE_CHECKING:
    from hourglass_cli.aggregator.metrics import Metrics
    from hourglass_cli.aggregator.operators import ChainContracts, OperatorSet
    from hourglass_cli.aggregator.session import TaskFacts, TaskSession
    from hourglass_cli.aggregator.verify import Answer
    from hourglass_cli.chain.sender import TxSender

log = logging.getLogger("hourglass.aggregator.submitter")
GAS_LIMIT_TTL = 30.0  # seconds a block gas limit read is reused (it changes slowly, if ever)


def submit_gas(curve: CurveType, cert: bytes, result: bytes, cold: int = 0, cached: int = 0, signers: int = 0) -> int:
    """A gas limit for submitResult with room to spare (measured: 0.52M for 8/8 BN254, +0.41M per cold non-signer)."""
    words = (len(cert) + len(result) + 31) // 32
    gas = 300_000 + 25_000 * words + 16 * (len(cert) + len(result))
    if curve == CurveType.BN254:
        return gas + 250_000 + 500_000 * cold + 60_000 * cached
    return gas + 15_000 * signers


class NonSignerCache:
    """Which (operator set, reference timestamp, index) the BN254 verifier has cached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[tuple[str, str, int, int], set[int]] = {}

    def cached(self, contracts: ChainContracts, opset: OperatorSet, indices: list[int]) -> set[int]:
        key = (opset.chain, opset.avs, opset.set_id, opset.reference_timestamp)
        with self._lock:
            known = set(self._known.get(key, set()))
        out = {i for i in indices if i in known}
        for index in (i for i in indices if i not in known):
            fn = contracts.bn254_verifier.functions.isNonsignerCached(operator_set(opset.avs, opset.set_id),
                                                                      opset.reference_timestamp, index)
            if fn.call():
                out.add(index)
        self.remember(opset, out)
        return out

    def remember(self, opset: OperatorSet, indices: set[int]) -> None:
        key = (opset.chain, opset.avs, opset.set_id, opset.reference_timestamp)
        with self._lock:
            self._known.setdefault(key, set()).update(indices)

    def forget(self, opset: OperatorSet) -> None:
        with self._lock:
            self._known.pop((opset.chain, opset.avs, opset.set_id, opset.reference_timestamp), None)


class Submitter:
    """Builds, checks and submits certificates; one TxSender (nonce-safe) per chain."""

    def __init__(self, chains: dict[str, ChainContracts], senders: dict[str, TxSender], store: st.Store,
                 metrics: Metrics, attempts: int = 5) -> None:
        self.chains, self.senders, self.store, self.metrics = chains, senders, store, metrics
        self.attempts = attempts
        self.nonsigners = NonSignerCache()
        self._versions: dict[str, str] = {}
        self._gas_limits: dict[str, tuple[float, int]] = {}  # chain → (monotonic time read, block gas limit)

    # -- certificates --

    def certificate(self, task_id: str, opset: OperatorSet, facts: TaskFacts, group: list[Answer],
                    full_witnesses: bool = False) -> tuple[bytes, int]:
        """(abi-encoded certificate, gas limit) after the local checks (CertificateError if it would fail)."""
        contracts = self.chains[opset.chain]
        first = group[0]
        if facts.curve == CurveType.BN254:
            members = [certs.Member(op.g1, op.weights) for op in opset.operators]
            signer_indices = {a.operator.index for a in group}
            non_signers = [i for i in range(len(members)) if i not in signer_indices]
            cached = set() if full_witnesses or not non_signers else \
                self.nonsigners.cached(contracts, opset, non_signers)
            cert = certs.build_bn254_certificate(opset.reference_timestamp, first.message_hash,
                                                 [a.sigma for a in group], [a.operator.g2 for a in group], members,
                                                 signer_indices, cached)
            certs.check_bn254_certificate(cert, members=members, root=opset.root or b"",
                                          aggregate_g1=opset.aggregate_g1 or bn254.G1_INFINITY,
                                          totals=opset.total_weights, bips=facts.bips,
                                          signer_g1=[a.operator.g1 for a in group], cached=cached)
            data = encoding.encode_bn254_certificate(cert)
            return data, submit_gas(facts.curve, data, first.output, len(non_signers) - len(cached), len(cached))
        from hourglass_cli.wire import messages

        digest = messages.ecdsa_result_digest(task_id, first.output,
                                              opset.reference_timestamp, contracts.ecdsa_verifier.address,
                                              domain_version=self.ecdsa_version(contracts.name))
        cert = certs.build_ecdsa_certificate(opset.reference_timestamp, first.message_hash, digest,
                                             [a.result_signature for a in group])
        certs.check_ecdsa_certificate(cert, digest=digest, totals=opset.total_weights, bips=facts.bips,
                                      weights={str(op.signer): op.weights for op in opset.operators})
        data = encoding.encode_ecdsa_certificate(cert)
        return data, submit_gas(facts.curve, data, first.output, signers=len(group))

    def ecdsa_version(self, chain: str) -> str:
        """The EIP-712 version of `chain`'s ECDSA verifier domain (read once; sessions use it too)."""
        from hourglass_cli.crypto.digests import major_version

        if chain not in self._versions:
            self._versions[chain] = major_version(self.chains[chain].ecdsa_verifier.functions.version().call())
        return self._versions[chain]

    # -- sending --

    def submit(self, session: TaskSession, opset: OperatorSet, facts: TaskFacts, group: list[Answer],
               submit_at: float, deadline: float) -> str:
        """Submit the group's certificate; returns the task's final status (recorded by the session)."""
        task = session.task
        started = time.monotonic()
        data, gas = self.certificate(task.task_hash, opset, facts, group)
        session._stage("certificate")
        full = False
        result = group[0].output
        contracts, sender = self.chains[task.chain], self.senders[task.chain]
        attempt = max((r.attempt for r in self.store.submissions(task.chain, task.task_hash)), default=0)
        limit = self._block_gas_limit(contracts)
        if limit is not None:
            problem = too_large_for_chain(result, limit)
            if problem:  # no gas limit can make it fit: never sent, never retried
                return session._finish(st.FAILED, problem)
            gas = min(gas, limit) if gas is not None else None
        delay, failures, last_error = 0.1, 0, ""
        while failures < self.attempts:
            settled = self.settle(session, deadline)  # an earlier transaction of this task comes first
            if settled is not None:
                return settled
            if session.cancelled.wait(max(0.0, submit_at - time.time())):
                return session.finish_cancelled()
            if time.time() > deadline:  # never early: the offset is a lower bound, so this deadline is late
                return session._finish(st.EXPIRED, "the deadline passed before the certificate could be submitted")
            problem = self._orphaned(contracts, task)
            if problem:
                return session._finish(st.CANCELLED, problem)
            session._stage("wait_timestamp")
            session.submitting = True
            sent_at = time.time()
            fn = contracts.mailbox.functions.submitResult(bytes.fromhex(task.task_hash[2:]), data, result)
            tx_hash = None
            signed: list[tuple[int, str]] = []
            base = attempt

            def record_signed(raw_hash: bytes, raw: bytes, nonce: int) -> None:
                # Written before the node sees it: after a crash the restart finds (or re-sends) this very
                # transaction instead of sending a second submitResult.
                signed.append((base + len(signed) + 1, "0x" + raw_hash.hex()))
                self.store.add_submission(task.chain, task.task_hash, st.SubmissionRecord(
                    signed[-1][0], signed[-1][1], st.SIGNED, None, None, sent_at, raw, nonce))
                failpoints.hit("aggregator.submit.signed")

            try:
                pending = sender.send(fn, gas=gas, on_signed=record_signed)
                failpoints.hit("aggregator.submit.sent")
                attempt, tx_hash = signed[-1]
                self.store.add_submission(task.chain, task.task_hash, st.SubmissionRecord(
                    attempt, tx_hash, st.SENT, None, None, sent_at, None, pending.nonce))
                failpoints.hit("aggregator.submit.recorded")
                receipt = pending.wait()
            except ChainError as exc:
                last_error = exc.message
                attempt = signed[-1][0] if signed else base + 1
                # Signed, and the node may have it (a send error after it was taken, a receipt wait that gave up):
                # the row stays open and the next round settles it before anything new is sent.
                maybe_live = bool(signed) and not isinstance(exc, RevertError) and (
                    tx_hash is None or "no receipt" in exc.message)
                outcome = self._failed(session, opset, exc, attempt, tx_hash, sent_at, record=not maybe_live,
                                       result=result, block_gas_limit=limit)
                if outcome == "full_witnesses" and not full:
                    full = True
                    self.nonsigners.forget(opset)
                    data, gas = self.certificate(task.task_hash, opset, facts, group, full_witnesses=True)
                    continue
                if outcome == "clock":
                    # The chain's clock is still in the creation second: estimate from now on (a dry run that
                    # sends nothing while it fails) and look again shortly; this does not use up attempts.
                    gas = None
                    submit_at = time.time() + 0.1
                    continue
                if outcome in ("retry", "estimate", "full_witnesses"):
                    failures += 1
                    if outcome == "estimate":
                        gas = None
                    if session.cancelled.wait(delay):
                        return session.finish_cancelled()
                    delay = min(delay * 2, 2.0)
                    continue
                return outcome
            return self._verified(session, opset, facts, group, attempt, tx_hash, receipt, sent_at, started)
        return session._finish(st.FAILED, f"submitResult failed {self.attempts} times; the last error: "
                                          f"{last_error[:300]}")

    def _verified(self, session: TaskSession, opset: OperatorSet, facts: TaskFacts, group: list[Answer],
                  attempt: int, tx_hash: str, receipt: Any, sent_at: float, started: float) -> str:
        task = session.task
        used = int(receipt["gasUsed"])
        self.store.add_submission(task.chain, task.task_hash, st.SubmissionRecord(
            attempt, tx_hash, "ok", None, used, sent_at))
        self.metrics.submissions.inc(task.chain, "ok")
        if facts.curve == CurveType.BN254:
            signers = {a.operator.index for a in group}
            self.nonsigners.remember(opset, {i for i in range(len(opset.operators)) if i not in signers})
        self.metrics.stage_seconds.observe(time.monotonic() - started, "submit_total")
        session._stage("submit")
        return session._finish(st.COMPLETED, f"verified on chain with {len(group)}/{len(opset.operators)} "
                                             f"signers, gas {used}", tx_hash)

    def settle(self, session: TaskSession, deadline: float) -> str | None:
        """Earlier submitResult transactions of this task not known to have failed (from before a restart, or a
        receipt wait that gave up): wait for each one the node has or can still take; a final status if one
        was mined successfully, None to go on submitting."""
        task = session.task
        open_rows = [r for r in self.store.submissions(task.chain, task.task_hash) if r.outcome in st.UNSETTLED]
        if not open_rows:
            return None
        sender = self.senders[task.chain]
        for row in open_rows:
            if not row.tx_hash:
                continue
            tx_hash = bytes.fromhex(row.tx_hash[2:])
            try:
                pending = sender.adopt(tx_hash, row.raw_tx, row.nonce, f"TaskMailbox.submitResult {task.task_hash}")
            except Exception as exc:  # noqa: BLE001 - the node is unreachable: decide on the next round
                log.warning("cannot look up an earlier submission chain=%s task=%s tx=%s error=%r", task.chain,
                            task.task_hash, row.tx_hash, str(exc)[:200])
                return None if time.time() < deadline else session._finish(
                    st.EXPIRED, "the deadline passed while an earlier submission could not be looked up")
            if pending is None:
                self.store.add_submission(task.chain, task.task_hash, st.SubmissionRecord(
                    row.attempt, row.tx_hash, "dropped", "never mined: its nonce went to another transaction", None,
                    row.sent_at))
                continue
            log.info("waiting for an earlier submission chain=%s task=%s tx=%s", task.chain, task.task_hash,
                     row.tx_hash)
            session.submitting = True
            try:
                receipt = pending.wait(max(1.0, deadline - time.time()))
            except ChainError as exc:
                if "no receipt" in exc.message:
                    return session._finish(st.EXPIRED, "the deadline passed while an earlier submission was pending")
                self.store.add_submission(task.chain, task.task_hash, st.SubmissionRecord(
                    row.attempt, row.tx_hash, "failed", exc.message[:500], None, row.sent_at))
                continue
            used = int(receipt["gasUsed"])
            self.store.add_submission(task.chain, task.task_hash, st.SubmissionRecord(
                row.attempt, row.tx_hash, "ok", None, used, row.sent_at))
            self.metrics.submissions.inc(task.chain, "ok")
            return session._finish(st.COMPLETED, f"verified on chain by an earlier submission, gas {used}",
                                   row.tx_hash)
        return None

    def _orphaned(self, contracts: ChainContracts, task: st.TaskRecord) -> str | None:
        """Why the task must not be submitted (its block is no longer canonical), or None."""
        from hourglass_cli.aggregator.poller import block_at

        block = block_at(contracts.w3, task.block_number)
        if block is None:
            return f"its block {task.block_number} is gone (reorg)"
        if block.hash != task.block_hash:
            return f"its block {task.block_number} was replaced by a reorg"
        return None

    def _block_gas_limit(self, contracts: ChainContracts) -> int | None:
        """The chain's block gas limit, read at most every GAS_LIMIT_TTL seconds (not an RPC per submission)."""
        now = time.monotonic()
        hit = self._gas_limits.get(contracts.name)
        if hit is not None and now - hit[0] < GAS_LIMIT_TTL:
            return hit[1]
        try:
            limit = int(contracts.w3.eth.get_block("latest")["gasLimit"])
        except Exception:  # noqa: BLE001 - unreadable now: the send decides (and its error is classified)
            return None
        self._gas_limits[contracts.name] = (now, limit)
        return limit

    def _failed(self, session: TaskSession, opset: OperatorSet, exc: ChainError, attempt: int, tx_hash: str | None,
                sent_at: float, record: bool = True, result: bytes = b"", block_gas_limit: int | None = None) -> str:
        """What to do after a failed attempt: retry | estimate | full_witnesses, or a final status."""
        task = session.task
        name = getattr(exc, "error_name", None)
        # a failed dry run sent nothing: not recorded; a transaction that may still be mined keeps its open row
        if record and (tx_hash is not None or name != "TimestampAtCreation"):
            self.store.add_submission(task.chain, task.task_hash, st.SubmissionRecord(
                attempt, tx_hash, "failed", f"{name or ''} {exc.message}"[:500], None, sent_at))
        self.metrics.submissions.inc(task.chain, name or "error")
        log.warning("submit failed chain=%s task=%s attempt=%d error=%r", task.chain, task.task_hash, attempt,
                    exc.message[:300])
        if name == "InvalidTaskStatus":
            status = TaskStatus(int(self.chains[task.chain].mailbox.functions.getTaskStatus(
                bytes.fromhex(task.task_hash[2:])).call()))
            if status == TaskStatus.VERIFIED:
                return session._finish(st.COMPLETED, "already verified on chain (submitted before, or by another "
                                                     "aggregator)")
            if status == TaskStatus.EXPIRED:
                return session._finish(st.EXPIRED, "the task's SLA passed before the certificate was accepted")
            return session._finish(st.CANCELLED, f"the task is {status.name} on chain (orphaned by a reorg?)")
        if name == "TimestampAtCreation":
            return "clock"
        if name in ("VerificationFailed",) and opset.curve == CurveType.BN254:
            return "full_witnesses"
        if name is not None:
            # exc.message already says "TaskMailbox.submitResult reverted: <error>"
            text = exc.message if "submitResult" in exc.message else f"submitResult reverted: {exc.message}"
            return session._finish(st.FAILED, text[:300])
        if any(m in exc.message.lower() for m in TOO_MUCH_GAS_MESSAGES):  # more than a block holds: retrying cannot help
            limit = f"{block_gas_limit:,}" if block_gas_limit else "unknown"
            return session._finish(st.FAILED, f"the result ({len(result):,} bytes) is too large to submit on chain: "
                                              f"the node says {exc.message[:200]!r} (block gas limit {limit})")
        if "out of gas" in exc.message:
            return "estimate"
        return "retry"
