"""Create a task on a mailbox and wait, on the chain, for its TaskVerified (or a reason it never comes).

The wait installs a log filter for TaskVerified of that task hash and polls `eth_getFilterChanges` every
50 ms until a deadline; between polls it reads the aggregator's store (when known) so a task the aggregator
gave up on (performer errors, threshold unreachable, SLA passed) ends at once with the aggregator's reason.

The client speaks JSON-RPC through `tasks.rpc` and `tasks.mailbox` and never imports web3 (half a second of a
task command's start-up); eth-account is imported only to sign a createTask. `TaskClient.w3` and
`TaskClient.mailbox` still hand out web3 objects, made on first use, for callers that want them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hourglass_cli.aggregator import store as st
from hourglass_cli.errors import ChainError, HourglassError
from hourglass_cli.tasks.progress import TIMING_KEYS, TIMINGS_FROM, status_word, timings
from hourglass_cli.tasks.rpc import quantity
from hourglass_cli.tasks.store_view import StoreView, TaskView, name_operators
from hourglass_cli.tasks.target import Target

if TYPE_CHECKING:
    from web3 import Web3
    from web3.contract import Contract

    from hourglass_cli.tasks.mailbox import Sender

POLL_INTERVAL = 0.05
RECORD_GRACE = 1.0  # seconds to wait, after TaskVerified, for the aggregator's own record of the task's end
RECORD_POLL = 0.005
STATUS_NAMES = {0: "NONE", 1: "CREATED", 2: "VERIFIED", 3: "EXPIRED"}


class TaskFailedError(HourglassError):
    """The task will not be verified (or was not within the timeout)."""

    exit_code = 1


@dataclass
class Submitted:
    """A created task: its hash, where it was mined, and when."""

    task_hash: str
    payload: bytes
    block_number: int
    tx_hash: str
    deadline: int  # chain time after which the mailbox reports EXPIRED
    block_time: int
    sent_at: float
    created_at: float  # wall time the receipt arrived


@dataclass
class Outcome:
    """How a task ended (or stands): on-chain status, result and where the time went."""

    task_hash: str
    status: str  # the mailbox's status name (NONE, CREATED, VERIFIED, EXPIRED)
    payload: bytes = b""
    result: bytes | None = None
    reason: str = ""
    # every key of progress.TIMING_KEYS: seconds since `timings_from` (None: not reached)
    timings: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(TIMING_KEYS))
    timings_from: str | None = None  # progress.TIMINGS_FROM, or "sent" when there is no aggregator's record
    responses_ok: int = 0
    operators: int = 0
    view: TaskView | None = None
    verified_seen_at: float | None = None  # wall time this client saw TaskVerified (`wait` only)

    @property
    def responses(self) -> str:
        """"k/n": good answers of the operators (empty without the aggregator's record)."""
        return f"{self.responses_ok}/{self.operators}" if self.view is not None else ""

    @property
    def word(self) -> str:
        """What happened, in one word (progress.status_word)."""
        return status_word(self.status, self.view.task.status if self.view is not None else None)


class TaskClient:
    """Talks to one mailbox for one target, over plain JSON-RPC (`tasks.rpc`; web3 is not imported)."""

    def __init__(self, target: Target, connect_timeout: float = 10.0) -> None:
        from hourglass_cli.tasks.mailbox import Mailbox
        from hourglass_cli.tasks.rpc import transport, wait_ready

        from hourglass_cli.chain.abi import add_project_of

        self.target = target
        # a revert from the project's own contracts (its task hook) is named like ours, from its contracts/out
        add_project_of(target.project_dir or Path.cwd())
        self.rpc = transport(target.rpc_url)
        self.chain_id = wait_ready(self.rpc, connect_timeout)
        self.task_mailbox = Mailbox(self.rpc, target.mailbox)
        self.store = StoreView(target.store_path, target.chain)
        self.verified_topic = "0x" + self.task_mailbox.topic("TaskVerified").hex()
        self._sender: Sender | None = None
        self._w3: Any = None
        self._contract: Any = None

    @property
    def w3(self) -> Web3:
        """A web3 connection to the target's chain, made on first use (the task commands never use it)."""
        if self._w3 is None:
            from hourglass_cli.chain.connection import make_web3

            self._w3 = make_web3(self.target.rpc_url)
        return self._w3

    @property
    def mailbox(self) -> Contract:
        """The TaskMailbox as a web3 contract, made on first use (for callers that want web3)."""
        if self._contract is None:
            from hourglass_cli.chain.contracts import contract

            self._contract = contract(self.w3, "TaskMailbox", self.target.mailbox)
        return self._contract

    # ---------------------------------------------------------------- create

    def submit(self, payload: bytes, operator_set: int = 1, gas_limit: int | None = None) -> Submitted:
        """createTask from the target's account; returns once the receipt is in (`gas_limit` None: estimated)."""
        from hourglass_cli.tasks.mailbox import Sender, create_task

        if not self.target.key:
            raise HourglassError("no account to create the task from",
                                 hint="give --key-env VAR with the private key in that environment variable")
        if self._sender is None:
            self._sender = Sender(self.rpc, self.target.key, self.chain_id)
        sent = time.time()
        event, receipt = create_task(self._sender, self.task_mailbox, self.target.avs, operator_set, payload,
                                     gas=gas_limit)
        created = time.time()
        block = self.rpc.request("eth_getBlockByNumber", [hex(receipt["blockNumber"]), False])
        return Submitted("0x" + bytes(event["taskHash"]).hex(), bytes(payload), int(receipt["blockNumber"]),
                         "0x" + bytes(receipt["transactionHash"]).hex(), int(event["taskDeadline"]),
                         quantity(block["timestamp"]), sent, created)

    # ---------------------------------------------------------------- read

    def chain_status(self, task_hash: str) -> int:
        return int(self.task_mailbox.call("getTaskStatus", bytes.fromhex(task_hash[2:])))

    def chain_result(self, task_hash: str) -> bytes:
        return bytes(self.task_mailbox.call("getTaskResult", bytes.fromhex(task_hash[2:])))

    def outcome(self, task_hash: str, sent_at: float | None = None, verified_at: float | None = None) -> Outcome:
        """The task as the chain and the aggregator's store see it now.

        Timings count from the aggregator's record of the task; without one (no store known) only `verified`
        is known, counted from `sent_at` (timings_from "sent").
        """
        status = self.chain_status(task_hash)
        view = self.store.task(task_hash)
        out = Outcome(task_hash, STATUS_NAMES.get(status, str(status)), view=view, verified_seen_at=verified_at)
        if status == 2:
            out.result = self.chain_result(task_hash)
        if status == 0 and view is None:
            out.reason = "no such task on this mailbox"
        if view is not None:
            out.payload = view.task.payload
            if view.task.status in st.FINAL and view.task.status != st.COMPLETED:
                out.reason = self.explain(view)
            out.timings, out.timings_from = timings(view, verified_at), TIMINGS_FROM
            out.responses_ok = len(view.ok_responses)
            out.operators = len(self.target.operators) or len(view.responses)
        elif verified_at is not None and sent_at is not None:
            out.timings = {**dict.fromkeys(TIMING_KEYS), "verified": verified_at - sent_at}
            out.timings_from = "sent"
        return out

    def explain(self, view: TaskView) -> str:
        """The aggregator's reason with operator addresses replaced by their devnet names."""
        return name_operators(view.task.reason or view.task.status, self.target.operators)

    def resolve(self, text: str) -> list[str]:
        """The task hashes a short hash (`0x1a2b3c4d…ef01`, or a prefix of 8+ hex digits) names in the store."""
        head, _, tail = text.lower().replace("...", "…").partition("…")
        return self.store.find(head, tail)

    # ---------------------------------------------------------------- wait

    def wait(self, sub: Submitted, timeout: float) -> Outcome:
        """Block until TaskVerified for `sub` (an Outcome), or raise TaskFailedError with the reason."""
        stop_at = time.monotonic() + timeout
        # chain time ≈ wall time + offset (devnet chains follow the wall clock); expiry is judged on chain time
        offset = sub.block_time - sub.created_at
        watcher = _VerifiedWatcher(self, sub.task_hash, sub.block_number)
        pause = threading.Event()
        try:
            while True:
                if watcher.seen():
                    return self._verified(sub, time.time())
                view = self.store.task(sub.task_hash)
                if view is not None and view.task.status in (st.FAILED, st.EXPIRED, st.CANCELLED):
                    if self.chain_status(sub.task_hash) == 2:  # verified after all (e.g. another aggregator)
                        return self._verified(sub, time.time())
                    raise self._failure(sub, f"the aggregator gave up ({view.task.status}): {self.explain(view)}")
                if time.time() + offset > sub.deadline + 1:
                    status = self.chain_status(sub.task_hash)
                    if status == 2:
                        return self._verified(sub, time.time())
                    raise self._failure(sub, f"the task expired (SLA deadline {sub.deadline} passed on chain) "
                                             "without a certificate" + self._progress(sub.task_hash))
                if time.monotonic() >= stop_at:
                    raise self._failure(sub, f"not verified within {timeout:g} s" + self._progress(sub.task_hash),
                                        hint="raise --timeout, or check `hourglass devnet logs aggregator`")
                pause.wait(POLL_INTERVAL)
        finally:
            watcher.close()

    def _verified(self, sub: Submitted, seen_at: float) -> Outcome:
        self._await_record(sub.task_hash)
        out = self.outcome(sub.task_hash, sub.sent_at, seen_at)
        out.payload = sub.payload
        return out

    def _await_record(self, task_hash: str) -> None:
        """Wait (at most RECORD_GRACE) for the aggregator to record how its task ended.

        The aggregator writes its submitResult to the store once the node has taken the transaction and its
        verdict once the receipt is in; on an automining devnet TaskVerified is on chain before either, and a
        client that sees it at once would report the task without its certificate stage, or still processing.
        """
        if self.target.store_path is None:
            return
        deadline = time.monotonic() + RECORD_GRACE
        pause = threading.Event()
        while True:
            view = self.store.task(task_hash)
            if view is None or view.task.status in st.FINAL or time.monotonic() >= deadline:
                return
            pause.wait(RECORD_POLL)

    def _progress(self, task_hash: str) -> str:
        view = self.store.task(task_hash)
        if view is None:
            return "; the aggregator has not seen the task" if self.target.store_path else ""
        n = len(self.target.operators) or len(view.responses)
        errors = [f"{self.target.name_of(r.operator)}: {r.detail}" for r in view.responses if r.outcome != "ok"]
        return f"; aggregator: {view.task.status}, {len(view.ok_responses)}/{n} responses" + \
            (f"; {'; '.join(errors)}" if errors else "")

    def _failure(self, sub: Submitted, reason: str, hint: str | None = None) -> TaskFailedError:
        err = TaskFailedError(f"task {sub.task_hash} failed: {reason}",
                              hint=hint or f"see `hourglass task status {sub.task_hash}` and "
                                           "`hourglass devnet logs aggregator`")
        err.outcome = self.outcome(sub.task_hash, sub.sent_at)  # type: ignore[attr-defined]
        return err


class _VerifiedWatcher:
    """TaskVerified logs of one task hash: a log filter (eth_newFilter), or eth_getLogs where filters fail."""

    def __init__(self, client: TaskClient, task_hash: str, from_block: int) -> None:
        self.client, self.task_hash = client, task_hash
        self.spec: dict[str, Any] = {"address": client.task_mailbox.address, "fromBlock": hex(from_block),
                                     "topics": [client.verified_topic, None, task_hash]}
        self.filter_id: str | None = None
        try:
            self.filter_id = self._rpc("eth_newFilter", [self.spec])
        except ChainError:
            self.filter_id = None
        self.first = True

    def _rpc(self, method: str, params: list[Any]) -> Any:
        return self.client.rpc.request(method, params)

    def seen(self) -> bool:
        """True once the task's TaskVerified is on chain."""
        if self.first:  # a filter reports only new logs: the task may already be verified
            self.first = False
            if self.client.chain_status(self.task_hash) == 2:
                return True
        if self.filter_id is not None:
            try:
                return bool(self._rpc("eth_getFilterChanges", [self.filter_id]))
            except ChainError:
                self.filter_id = None  # the node forgot the filter: fall back to getLogs from the creation block
        return bool(self._rpc("eth_getLogs", [{**self.spec, "toBlock": "latest"}]))

    def close(self) -> None:
        if self.filter_id is not None:
            try:
                self._rpc("eth_uninstallFilter", [self.filter_id])
            except Exception:  # noqa: BLE001 - best effort
                pass
