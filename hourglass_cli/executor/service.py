"""``ExecutorService.SubmitTask``: check a task submission, run the performer, sign the result (WIRE.md §2).

Checks run in this order; the first that fails answers with its status code and a message:

=========================================================== ======================
check                                                       status code
=========================================================== ======================
version is 1                                                INVALID_ARGUMENT
task_id is 0x + 64 hex; addresses are 0x + 40 hex (EIP-55   INVALID_ARGUMENT
if mixed case); payload non-empty; task_block_number > 0
avs_address is the AVS this executor serves                 NOT_FOUND
executor_address is this operator                           PERMISSION_DENIED
signature present                                           UNAUTHENTICATED
aggregator registered in the AVS's aggregator set with a    UNAUTHENTICATED
key; signature over the 224-byte message rebuilt with this
executor's address verifies against that key
the task's block is on our chain (waits ``block_wait``)     UNAVAILABLE
this executor has a key of the operator set's curve         FAILED_PRECONDITION
operator in the executor set at the task's block, with the  PERMISSION_DENIED
key this executor signs with
the task id was not claimed by a different submission     ALREADY_EXISTS
(other aggregator or signed fields; SQLite, atomic)
performer answers within the task's time                    DEADLINE_EXCEEDED
performer succeeds                                          INTERNAL (its message)
performer reachable                                         UNAVAILABLE
result < 1.5 MiB                                            RESOURCE_EXHAUSTED
result small enough to fit in a block of the chain (its     RESOURCE_EXHAUSTED
storage alone would exceed the block gas limit: chain/gas)
aggregator still waiting (a cancelled call cancels the      CANCELLED (recorded;
performer call too)                                         the caller is gone)
chain readable                                              UNAVAILABLE
executor ready (started, not shutting down)                 UNAVAILABLE
the same submission is not running in another process     UNAVAILABLE (retry)
that shares this store
anything unexpected                                         INTERNAL
=========================================================== ======================

Re-sent submissions are idempotent. A submission is identified by the aggregator's address and the 224 bytes it
signed (`store.submission_digest`): one already answered gets the stored signed answer (the performer does not
run again, nothing is signed again); one running now waits for that run and gets its answer (one performer run
and one signature per task, whatever the number of callers; the performer call is cancelled only when every
caller has gone); one whose earlier run ended without a signature (failed, cancelled, interrupted by a restart)
runs again. The signed answer is stored before the reply is sent.

Undecodable protobuf bytes are refused by gRPC itself (INTERNAL, "Exception deserializing request!").
On success the reply is ``TaskResult`` version 1: ``result_signature`` = the certificate-digest signature
(BN254: Solidity hash-to-G1; ECDSA: EIP-712 digest bound to the ECDSACertificateVerifier), ``auth_signature``
= the off-chain signature of the 160-byte auth message. One log line per submission.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import grpc

from hourglass_cli.chain.structs import CurveType
from hourglass_cli.errors import ChainError
from hourglass_cli.executor.chain_view import BlockNotReached, ChainView, NotAuthorized, NotMember
from hourglass_cli.executor.runtimes.base import (
    PerformerCancelled,
    PerformerError,
    PerformerResultTooLarge,
    PerformerRuntime,
    PerformerTimeout,
    PerformerUnavailable,
)
from hourglass_cli import failpoints
from hourglass_cli.executor.flights import Flight, Flights
from hourglass_cli.executor.store import Claim, ExecutorStore, SignedAnswer, submission_digest
from hourglass_cli.wire import messages
from hourglass_cli.wire.messages import WireFormatError
from hourglass_cli.wire.services import executor_pb2
from hourglass_cli.wire.signing import Signer, verifier_for

log = logging.getLogger("hourglass.executor")

DEADLINE_MARGIN_S = 0.05  # leave the reply time to travel back before the aggregator's deadline
_MAX_MESSAGE = 1000
Code = grpc.StatusCode


def _show(value: str, limit: int = 80) -> str:
    """A client-supplied string safe for a log line (no spaces, newlines or control characters)."""
    if value and len(value) <= limit and value.isascii() and value.isprintable() and " " not in value:
        return value
    return repr(value[:limit]) + ("…" if len(value) > limit else "")


class Rejection(Exception):
    """A submission refused with a gRPC status code and a message for the aggregator."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message[:_MAX_MESSAGE]


def _address(value: str, what: str) -> str:
    """The checksummed form of a wire address; INVALID_ARGUMENT if malformed."""
    from eth_utils import to_checksum_address

    if not value:
        raise Rejection(Code.INVALID_ARGUMENT, f"{what} is missing")
    try:
        return to_checksum_address(messages.address_bytes(value, what))
    except WireFormatError as exc:
        raise Rejection(Code.INVALID_ARGUMENT, exc.message) from None


def _task_id(value: str) -> str:
    if not value:
        raise Rejection(Code.INVALID_ARGUMENT, "task_id is missing")
    if not isinstance(value, str) or len(value) != 66:
        raise Rejection(Code.INVALID_ARGUMENT, f"task_id must be 0x followed by 64 hex digits, got {len(value)} "
                                               "characters")
    try:
        return messages.normalize_task_id(value)
    except WireFormatError as exc:
        raise Rejection(Code.INVALID_ARGUMENT, exc.message) from None


class ExecutorService:
    """The servicer: ``SubmitTask(TaskSubmission, context) -> TaskResult``. Never raises on bad input."""

    def __init__(
        self,
        *,
        operator: str,
        avs: str,
        signers: Mapping[CurveType, Signer],
        chain: ChainView,
        runtime: PerformerRuntime,
        store: ExecutorStore,
        task_timeout: float = 30.0,
        block_wait: float = 5.0,
    ) -> None:
        from eth_utils import to_checksum_address

        if not signers:
            raise ValueError("an executor needs at least one signing key")
        self.operator = to_checksum_address(operator)
        self.avs = to_checksum_address(avs)
        self.signers = dict(signers)
        self.chain = chain
        self.runtime = runtime
        self.store = store
        self.task_timeout = task_timeout
        self.block_wait = block_wait
        self._flights = Flights()
        self.ready = threading.Event()
        """Set once started; a performer being restarted does not clear it (calls wait for it, within the
        task's time)."""
        self.stopping = threading.Event()

    # -- the rpc --

    def SubmitTask(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        started = time.monotonic()
        task_id, aggregator = _show(request.task_id), _show(request.aggregator_address, 50)
        try:
            reply = self._submit(request, context)
        except Rejection as rejection:
            failure = rejection
        except Exception as exc:  # never let bad input (or a bug) take the server down
            log.exception("task task_id=%s unexpected error", task_id)
            failure = Rejection(Code.INTERNAL, f"internal executor error ({type(exc).__name__})")
        else:
            log.info("task task_id=%s aggregator=%s outcome=ok code=OK duration_ms=%.1f result_bytes=%d",
                     task_id, aggregator, (time.monotonic() - started) * 1000, len(reply.output))
            return reply
        log.warning("task task_id=%s aggregator=%s outcome=rejected code=%s duration_ms=%.1f reason=%r",
                    task_id, aggregator, failure.code.name,
                    (time.monotonic() - started) * 1000, failure.message)
        context.abort(failure.code, failure.message)

    # -- the steps --

    def _check_format(self, request: Any) -> tuple[str, str, str, str]:
        try:
            messages.check_version(request.version)
        except WireFormatError as exc:
            raise Rejection(Code.INVALID_ARGUMENT, exc.message) from None
        task_id = _task_id(request.task_id)
        aggregator = _address(request.aggregator_address, "aggregator_address")
        avs = _address(request.avs_address, "avs_address")
        executor = _address(request.executor_address, "executor_address")
        if not request.payload:
            raise Rejection(Code.INVALID_ARGUMENT, "payload is empty (TaskMailbox never creates such a task)")
        if request.task_block_number == 0:
            raise Rejection(Code.INVALID_ARGUMENT, "task_block_number is missing")
        return task_id, aggregator, avs, executor

    def _check_aggregator(self, request: Any, task_id: str, aggregator: str) -> bytes:
        """The 224 signed bytes, once the aggregator's signature over them verifies."""
        if not request.signature:
            raise Rejection(Code.UNAUTHENTICATED, "the aggregator's signature is missing")
        try:
            key = self.chain.aggregator_key(aggregator)
        except NotAuthorized as exc:
            raise Rejection(Code.UNAUTHENTICATED, exc.message) from None
        # Rebuilt with OUR address: a signature made for another executor does not verify here.
        message = messages.aggregator_task_message(task_id, self.avs, self.operator, request.operator_set_id,
                                                   request.reference_timestamp, request.task_block_number,
                                                   bytes(request.payload))
        verifier = verifier_for(key.curve.label)
        if not verifier.verify_offchain(message, bytes(request.signature), key.public_key):
            raise Rejection(Code.UNAUTHENTICATED,
                            f"the aggregator signature does not verify against {aggregator}'s {key.curve.name} key "
                            "for this executor")
        return message

    def _remaining(self, context: grpc.ServicerContext) -> float | None:
        left = context.time_remaining()
        return None if left is None or left > 1e9 else max(0.0, left - DEADLINE_MARGIN_S)

    def _check_membership(self, request: Any, context: grpc.ServicerContext) -> Signer:
        block = int(request.task_block_number)
        set_id = int(request.operator_set_id)
        remaining = self._remaining(context)
        wait = self.block_wait if remaining is None else min(self.block_wait, remaining)
        try:
            block = self.chain.reference_block(request.task_id, block, wait, self.stopping)
        except BlockNotReached as exc:
            raise Rejection(Code.UNAVAILABLE, exc.message) from None
        curve = self.chain.curve_of(set_id)
        signer = self.signers.get(curve)
        if signer is None:
            if curve == CurveType.NONE:
                raise Rejection(Code.PERMISSION_DENIED, f"operator set {set_id} of AVS {self.avs} has no curve: "
                                                        "it is not an operator set of this AVS")
            raise Rejection(Code.FAILED_PRECONDITION, f"operator set {set_id} uses {curve.name} keys and this "
                                                      f"executor has no {curve.name} key")
        try:
            self.chain.check_membership(set_id, block, signer.public_key)
        except NotMember as exc:
            raise Rejection(Code.PERMISSION_DENIED, exc.message) from None
        return signer

    def _run(self, request: Any, remaining: float | None, cancel_on: Any) -> bytes:
        timeout = self.task_timeout if remaining is None else min(self.task_timeout, remaining)
        try:
            # The performer gets the id exactly as the aggregator sent it (ASCII of the 0x-hex form, WIRE.md §1).
            return self.runtime.execute(request.task_id.encode("ascii"), bytes(request.payload), timeout,
                                        cancel_on=cancel_on)
        except PerformerCancelled:
            raise Rejection(Code.CANCELLED, "the aggregator cancelled the task") from None
        except PerformerTimeout:
            raise Rejection(Code.DEADLINE_EXCEEDED, f"the performer did not answer within {timeout:.3g} s") from None
        except PerformerResultTooLarge as exc:
            raise Rejection(Code.RESOURCE_EXHAUSTED, exc.message) from None
        except PerformerUnavailable as exc:
            raise Rejection(Code.UNAVAILABLE, exc.message) from None
        except PerformerError as exc:
            raise Rejection(Code.INTERNAL, f"performer error: {exc.message}") from None

    def _check_fits(self, output: bytes) -> None:
        """A result no block of the chain can hold is not signed: the aggregator could never submit it."""
        from hourglass_cli.chain.gas import too_large_for_chain

        try:
            problem = too_large_for_chain(output, self.chain.block_gas_limit())
        except ChainError as exc:
            raise Rejection(Code.UNAVAILABLE, f"cannot read the chain: {exc.message}") from None
        if problem:
            raise Rejection(Code.RESOURCE_EXHAUSTED, problem)

    def _submit(self, request: Any, context: grpc.ServicerContext) -> Any:
        if self.stopping.is_set() or not self.ready.is_set():
            raise Rejection(Code.UNAVAILABLE, "the executor is not ready (starting or shutting down)")
        task_id, aggregator, avs, executor = self._check_format(request)
        if avs != self.avs:
            raise Rejection(Code.NOT_FOUND, f"this executor serves AVS {self.avs}, not {avs}")
        if executor != self.operator:
            raise Rejection(Code.PERMISSION_DENIED, f"the task is addressed to executor {executor}; this is "
                                                    f"{self.operator}")
        try:
            signed = self._check_aggregator(request, task_id, aggregator)
            signer = self._check_membership(request, context)
        except ChainError as exc:
            raise Rejection(Code.UNAVAILABLE, f"cannot read the chain: {exc.message}") from None
        digest = submission_digest(bytes.fromhex(aggregator[2:]), signed)
        for _round in range(3):  # a run every caller had abandoned is claimed again once it has ended
            found, role = self._flight(request, task_id, digest, aggregator)
            if isinstance(found, SignedAnswer):
                log.info("task task_id=%s answered from the store (a re-sent submission)", _show(task_id))
                return self._reply(request, found)
            if role == "own":
                return self._reply(request, self._own(request, context, found, task_id, signer))
            answer = self._join(context, found, joined=role == "join")
            if answer is not None:
                return self._reply(request, answer)
        raise Rejection(Code.UNAVAILABLE, f"task {task_id} is being cancelled and run again; retry")

    def _flight(self, request: Any, task_id: str, digest: bytes, aggregator: str) -> tuple[Any, str]:
        """(the run, "own" | "join" | "wait" (abandoned: wait for its end)), or (the stored SignedAnswer, "");
        Rejection on a conflict."""
        with self._flights.lock:
            flight = self._flights.get(task_id)
            if flight is not None and not flight.done:  # a finished run has updated the store: claim from it
                if flight.digest != digest:
                    raise self._conflict(task_id)
                return flight, "join" if flight.join() else "wait"
            claim = self.store.claim(task_id, digest=digest, avs=self.avs, aggregator=aggregator,
                                     operator_set_id=request.operator_set_id, task_block=request.task_block_number)
            if claim.kind is Claim.ANSWERED:
                return claim.answer, ""
            if claim.kind is Claim.CONFLICT:
                raise self._conflict(task_id)
            if claim.kind is Claim.RUNNING:  # another executor process on the same store file is running it
                raise Rejection(Code.UNAVAILABLE, f"task {task_id} is running in another executor process that "
                                                  "shares this store; retry")
            flight = Flight(digest)
            self._flights.add(task_id, flight)
            return flight, "own"

    @staticmethod
    def _conflict(task_id: str) -> Rejection:
        return Rejection(Code.ALREADY_EXISTS, f"task {task_id} was already submitted to this executor with other "
                                              "signed fields (aggregator, payload, block or reference timestamp)")

    def _own(self, request: Any, context: grpc.ServicerContext, flight: Flight, task_id: str,
             signer: Signer) -> SignedAnswer:
        """Run the performer, sign, store the answer, then hand it to every caller of this run."""
        if context.add_callback(flight.leave) is False:
            flight.leave()
        try:
            failpoints.hit("executor.claimed")
            output = self._run(request, self._remaining(context), flight.cancel_on)
            self._check_fits(output)
            result_signature = signer.sign_result(task_id, output, request.reference_timestamp)
            auth_signature = signer.sign_offchain(messages.auth_message(
                task_id, self.avs, self.operator, request.operator_set_id, result_signature))
            answer = SignedAnswer(output, bytes(result_signature), bytes(auth_signature))
            self.store.answer(task_id, answer)  # before anyone is answered: a re-send gets exactly this
            failpoints.hit("executor.answer.stored")
        except Rejection as rejection:
            self.store.fail(task_id, f"{rejection.code.name}: {rejection.message}")
            flight.finish(rejection=rejection)
            raise
        except Exception as exc:
            self.store.fail(task_id, f"INTERNAL: {type(exc).__name__}")
            flight.finish(rejection=Rejection(Code.INTERNAL, f"internal executor error ({type(exc).__name__})"))
            raise
        finally:
            self._flights.remove(task_id, flight)
        flight.finish(answer=answer)
        return answer

    def _join(self, context: grpc.ServicerContext, flight: Flight, joined: bool) -> SignedAnswer | None:
        """Wait for the run another call owns; its answer, its refusal raised, or None to claim again."""
        gone = threading.Event()

        def ended() -> None:
            gone.set()
            if joined:
                flight.leave()

        if context.add_callback(ended) is False:
            ended()
        if not flight.wait(self._remaining(context), gone.is_set):
            if gone.is_set():
                raise Rejection(Code.CANCELLED, "the aggregator cancelled the task")
            raise Rejection(Code.DEADLINE_EXCEEDED, "the first submission of this task is still running")
        if flight.answer is not None:
            return flight.answer
        if not joined:
            return None  # that run was abandoned by its callers before we came: claim it again
        raise flight.rejection or Rejection(Code.INTERNAL, "the first submission of this task failed")

    def _reply(self, request: Any, answer: SignedAnswer) -> Any:
        return executor_pb2.TaskResult(
            task_id=request.task_id, operator_address=self.operator, output=answer.output,
            result_signature=answer.result_signature, avs_address=self.avs, operator_set_id=request.operator_set_id,
            auth_signature=answer.auth_signature, version=messages.TASK_MESSAGE_VERSION,
        )
