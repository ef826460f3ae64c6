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
task id not seen before (SQLite, atomic)                    ALREADY_EXISTS
performer answers within the task's time                    DEADLINE_EXCEEDED
performer succeeds                                          INTERNAL (its message)
performer reachable                                         UNAVAILABLE
result < 1.5 MiB                                            RESOURCE_EXHAUSTED
aggregator still waiting (a cancelled call cancels the      CANCELLED (recorded;
performer call too)                                         the caller is gone)
chain readable                                              UNAVAILABLE
executor ready (started, not shutting down)                 UNAVAILABLE
anything unexpected                                         INTERNAL
=========================================================== ======================

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
from hourglass_cli.executor.store import ExecutorStore
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

    def _check_aggregator(self, request: Any, task_id: str, aggregator: str) -> None:
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

    def _run(self, request: Any, context: grpc.ServicerContext) -> bytes:
        remaining = self._remaining(context)
        timeout = self.task_timeout if remaining is None else min(self.task_timeout, remaining)
        try:
            # The performer gets the id exactly as the aggregator sent it (ASCII of the 0x-hex form, WIRE.md §1).
            return self.runtime.execute(request.task_id.encode("ascii"), bytes(request.payload), timeout,
                                        cancel_on=context.add_callback)
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
            self._check_aggregator(request, task_id, aggregator)
            signer = self._check_membership(request, context)
        except ChainError as exc:
            raise Rejection(Code.UNAVAILABLE, f"cannot read the chain: {exc.message}") from None
        if not self.store.claim(task_id, avs=avs, aggregator=aggregator, operator_set_id=request.operator_set_id,
                                task_block=request.task_block_number):
            raise Rejection(Code.ALREADY_EXISTS, f"task {task_id} was already submitted to this executor")
        try:
            output = self._run(request, context)
            result_signature = signer.sign_result(task_id, output, request.reference_timestamp)
            auth_signature = signer.sign_offchain(messages.auth_message(
                task_id, self.avs, self.operator, request.operator_set_id, result_signature))
        except Rejection as rejection:
            self.store.finish(task_id, ok=False, error=f"{rejection.code.name}: {rejection.message}")
            raise
        except Exception as exc:
            self.store.finish(task_id, ok=False, error=f"INTERNAL: {type(exc).__name__}")
            raise
        self.store.finish(task_id, ok=True, result_bytes=len(output))
        return executor_pb2.TaskResult(
            task_id=request.task_id, operator_address=self.operator, output=output, result_signature=result_signature,
            avs_address=self.avs, operator_set_id=request.operator_set_id, auth_signature=auth_signature,
            version=messages.TASK_MESSAGE_VERSION,
        )
