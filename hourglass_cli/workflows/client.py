"""WorkflowStateMachine as the `hourglass workflow` commands use it: register, list, start, read, trigger, cancel.

Everything read comes from chain state (views and events), so any client rebuilds the same picture; fees are read
from the contract and paid exactly. Reverts are named by the contract's custom errors (`chain.reverts`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from hourglass_cli.errors import HourglassError, UsageError
from hourglass_cli.workflows.definition import WorkflowDefinition

PHASE_TYPES = ("IMMEDIATE", "COORDINATION", "CONTINUOUS", "CONDITIONAL", "AGGREGATION")
PHASE_STATUSES = ("PENDING", "ACTIVE", "COMPLETED", "FAILED", "WAITING", "TIMED_OUT")
EXECUTION_STATUSES = ("NONE", "RUNNING", "COMPLETED", "FAILED", "CANCELLED")
FINAL = ("COMPLETED", "FAILED", "CANCELLED")
_ID = re.compile(r"0x[0-9a-fA-F]{64}")


class WorkflowError(HourglassError):
    """A workflow or execution that does not exist, or an action the contract refused."""


@dataclass(frozen=True)
class WorkflowSummary:
    workflow_id: str
    name: str
    creator: str
    phases: int
    block: int


@dataclass
class PhaseView:
    index: int
    name: str
    phase_type: str
    status: str
    dependencies: list[int]
    operator_set: int
    started_at: int
    ended_at: int
    deadline: int
    updates: int
    task_hashes: list[str]
    result: bytes = field(repr=False)
    failure: str = ""
    timeout: int = 0  # seconds from the phase's start (its definition)


@dataclass
class ExecutionView:
    execution_id: str
    workflow_id: str
    workflow_name: str
    creator: str
    status: str
    started_at: int
    ended_at: int
    payload: bytes = field(repr=False)
    phases: list[PhaseView] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status in FINAL

    def failure(self) -> str:
        """What ended a failed execution: the phase and its reason."""
        for p in self.phases:
            if p.status in ("FAILED", "TIMED_OUT"):
                why = p.failure or ("its timeout passed" if p.status == "TIMED_OUT" else "failed")
                return f"phase {p.index} ('{p.name}') {p.status.lower().replace('_', ' ')}: {why}"
        return ""


def parse_id(text: str, what: str) -> bytes:
    if not _ID.fullmatch(text or ""):
        article = "an" if what[:1] in "aeiou" else "a"
        raise UsageError(f"{text!r} is not {article} {what}", hint=f"{article} {what} is 0x followed by 64 hex digits")
    return bytes.fromhex(text[2:])


class WorkflowClient:
    """One WorkflowStateMachine at `address` on the chain at `rpc_url`, acting as the account of `key`."""

    def __init__(self, rpc_url: str, address: str, key: bytes | None = None, from_block: int = 0) -> None:
        from hourglass_cli.chain.connection import make_web3
        from hourglass_cli.chain.contracts import contract

        self.w3 = make_web3(rpc_url)
        if not bytes(self.w3.eth.get_code(address)):
            raise WorkflowError(f"no contract at {address} (the workflow state machine)",
                                hint="on a devnet run `hourglass devnet status` for its address; elsewhere give "
                                     "--workflow-contract")
        self.contract = contract(self.w3, "WorkflowStateMachine", address)
        self.key = key
        self.from_block = from_block
        self._sender: Any = None

    @property
    def sender(self) -> Any:
        from hourglass_cli.chain.sender import TxSender

        if self.key is None:
            raise UsageError("no account to send from", hint="give --key-env VAR with a private key in VAR")
        if self._sender is None:
            self._sender = TxSender(self.w3, self.key)
        return self._sender

    # -- writes --

    def register(self, definition: WorkflowDefinition) -> tuple[str, Any]:
        fee = int(self.contract.functions.creationFee().call())
        fn = self.contract.functions.registerWorkflow(definition.name, definition.phases_abi(),
                                                      list(definition.authorized_triggers))
        receipt = self._send(fn, value=fee)
        (event,) = self.contract.events.WorkflowRegistered().process_receipt(receipt, errors=_discard())
        return "0x" + bytes(event["args"]["workflowId"]).hex(), receipt

    def start(self, workflow: str, payload: bytes) -> tuple[str, Any]:
        workflow_id = self.resolve(workflow)
        fee = int(self.contract.functions.executionFee().call())
        receipt = self._send(self.contract.functions.executeWorkflow(bytes.fromhex(workflow_id[2:]), payload),
                             value=fee)
        (event,) = self.contract.events.WorkflowExecutionStarted().process_receipt(receipt, errors=_discard())
        return "0x" + bytes(event["args"]["executionId"]).hex(), receipt

    def trigger(self, execution: str, phase: int, data: bytes) -> Any:
        return self._send(self.contract.functions.triggerConditionalPhase(parse_id(execution, "execution id"),
                                                                          phase, data))

    def trigger_from_task(self, execution: str, phase: int, task_hash: str) -> Any:
        return self._send(self.contract.functions.triggerFromTask(parse_id(execution, "execution id"), phase,
                                                                  parse_id(task_hash, "task hash")))

    def cancel(self, execution: str) -> Any:
        return self._send(self.contract.functions.cancelExecution(parse_id(execution, "execution id")))

    def _send(self, fn: Any, value: int = 0) -> Any:
        return self.sender.transact(fn, value=value)

    # -- reads --

    def workflows(self) -> list[WorkflowSummary]:
        logs = self.contract.events.WorkflowRegistered().get_logs(from_block=self.from_block)
        return [WorkflowSummary("0x" + bytes(e["args"]["workflowId"]).hex(), e["args"]["name"], e["args"]["creator"],
                                int(e["args"]["phaseCount"]), int(e["blockNumber"])) for e in logs]

    def resolve(self, workflow: str) -> str:
        """A workflow id from an id or a registered name (the newest of that name)."""
        if _ID.fullmatch(workflow):
            try:
                info = self._view(self.contract.functions.getWorkflow(bytes.fromhex(workflow[2:])), "getWorkflow")
            except WorkflowError:
                info = None
            if info is None or int(info[1]) == 0:
                raise WorkflowError(f"no workflow {workflow} on this contract",
                                    hint="`hourglass workflow list` shows the registered ones")
            return workflow.lower()
        named = [w for w in self.workflows() if w.name == workflow]
        if not named:
            known = ", ".join(sorted({w.name for w in self.workflows()})) or "none yet"
            raise WorkflowError(f"no workflow named {workflow!r} (registered: {known})",
                                hint="register it with `hourglass workflow register FILE`")
        return named[-1].workflow_id

    def _view(self, fn: Any, what: str) -> Any:
        """A view call; the contract's custom errors (UnknownExecution, …) as WorkflowError naming them."""
        from hourglass_cli.chain.reverts import revert_data, revert_error

        try:
            return fn.call()
        except Exception as exc:  # noqa: BLE001 - web3 raises several kinds for a revert
            data = revert_data(exc)
            if data is None:
                raise
            error = revert_error(f"WorkflowStateMachine.{what}", data=data)
            name = getattr(error, "error_name", "")
            hint = ("`hourglass workflow list` shows the workflows and their executions"
                    if name in ("UnknownExecution", "UnknownWorkflow") else error.hint)
            raise WorkflowError(error.message, hint=hint) from None

    def execution(self, execution: str) -> ExecutionView:
        ex_id = parse_id(execution, "execution id")
        try:
            info = self._view(self.contract.functions.getExecution(ex_id), "getExecution")
        except WorkflowError as exc:
            if "UnknownExecution" in exc.message:
                raise WorkflowError(f"no execution {execution} on this contract",
                                    hint="`hourglass workflow list` shows workflows and their executions") from None
            raise
        status = EXECUTION_STATUSES[int(info[2])]
        if status == "NONE":
            raise WorkflowError(f"no execution {execution} on this contract",
                                hint="`hourglass workflow list` shows workflows and their executions")
        workflow = self._view(self.contract.functions.getWorkflow(bytes(info[0])), "getWorkflow")
        view = ExecutionView("0x" + ex_id.hex(), "0x" + bytes(info[0]).hex(), workflow[2], info[1], status,
                             int(info[3]), int(info[4]), bytes(info[7]))
        for index, definition in enumerate(workflow[3]):
            state = self._view(self.contract.functions.getPhaseState(ex_id, index), "getPhaseState")
            view.phases.append(PhaseView(
                index, definition[0], PHASE_TYPES[int(definition[1])], PHASE_STATUSES[int(state[0])],
                list(definition[3]), int(definition[5]), int(state[1]), int(state[2]), int(state[3]), int(state[5]),
                ["0x" + bytes(h).hex() for h in state[6]], bytes(state[7]), self.explain(bytes(state[9])),
                int(definition[2])))
        return view

    def executions(self, workflow: str) -> list[str]:
        workflow_id = self.resolve(workflow)
        return ["0x" + bytes(e).hex() for e in
                self.contract.functions.getWorkflowExecutions(bytes.fromhex(workflow_id[2:])).call()]

    def explain(self, failure: bytes) -> str:
        """A stored failure (an ABI-encoded custom error of the contract) as `Name(arg=value, …)`."""
        if not failure:
            return ""
        from hourglass_cli.chain.abi import decode_revert

        decoded = decode_revert(failure)
        return str(decoded) if decoded is not None else "0x" + failure.hex()

    def wait(self, execution: str, timeout: float, on_change: Any = None, poll: float = 0.25) -> ExecutionView:
        """Poll the execution until it ends (or `timeout` seconds pass); `on_change(view)` after each change."""
        import threading

        end = time.monotonic() + timeout
        pause = threading.Event()
        last: Any = None
        while True:
            view = self.execution(execution)
            shape = (view.status, [(p.status, len(p.task_hashes), p.updates) for p in view.phases])
            if shape != last and on_change is not None:
                on_change(view)
            last = shape
            if view.done:
                return view
            if time.monotonic() > end:
                raise WorkflowError(f"execution {execution} is still {view.status.lower()} after {timeout:g} s",
                                    hint=f"`hourglass workflow status {execution}` shows where it stands")
            pause.wait(poll)  # polling chain state for a condition, with a deadline


def _discard() -> Any:
    from web3.logs import DISCARD

    return DISCARD


@dataclass(frozen=True)
class ExecutionEvent:
    block: int
    name: str
    phase: int | None
    args: dict[str, Any]


def execution_events(client: WorkflowClient, execution: str) -> list[ExecutionEvent]:
    """Every event of the contract about `execution` (its id is the first indexed topic of each), in order."""
    from eth_utils import event_abi_to_log_topic

    ex_id = parse_id(execution, "execution id")
    by_topic = {event_abi_to_log_topic(e): e["name"] for e in client.contract.abi if e.get("type") == "event"}
    logs = client.w3.eth.get_logs({"address": client.contract.address, "fromBlock": client.from_block,
                                   "toBlock": "latest"})
    out = []
    for log in logs:
        topics = log["topics"]
        name = by_topic.get(bytes(topics[0])) if topics else None
        if name is None:
            continue
        decoded = getattr(client.contract.events, name)().process_log(log)
        args = dict(decoded["args"])
        if bytes(args.get("executionId", b"")) != ex_id:
            continue
        phase = args.get("phaseIndex")
        out.append(ExecutionEvent(int(log["blockNumber"]), name, int(phase) if phase is not None else None, args))
    return out
