"""A deployed WorkflowStateMachine over the test stack, and helpers to certify its phase tasks for real.

Executor set 1 (BN254: weights 100, 100, 100, 50) and set 2 (ECDSA: 100, 100, 100) both accept results at
50 % in the mailbox, so a COORDINATION threshold above that is the workflow contract's own check. Both sets
start with the default AVSTaskHook (pull path); `use_push` makes the workflow contract a set's task hook.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from web3.logs import DISCARD

from hourglass_cli.chain.contracts import contract
from hourglass_cli.chain.contracts import deploy as deploy_artifact
from tests.contracts import stack as s
from tests.contracts.chains import Chain, eth_tester_chain, send

IMMEDIATE, COORDINATION, CONTINUOUS, CONDITIONAL, AGGREGATION = range(5)
PENDING, ACTIVE, COMPLETED, FAILED, WAITING, TIMED_OUT = range(6)
EX_NONE, EX_RUNNING, EX_COMPLETED, EX_FAILED, EX_CANCELLED = range(5)
C_NONE, C_PRICE, C_TIME, C_HASH, C_MULTISIG, C_ORACLE = range(6)
TASK_CREATED, TASK_VERIFIED = 1, 2
MAILBOX_BIPS = 5000
PAYLOAD_INDEX, CERT_INDEX = 11, 12


def phase(name: str, kind: int = IMMEDIATE, *, deps: tuple[int, ...] = (), timeout: int = 600,
          condition: bytes = b"", set_id: int = s.ECDSA_SET, metadata: bytes = b"", stake: int = 0,
          threshold: int = 0) -> tuple:
    """A PhaseDefinition tuple in the contract's field order."""
    return (name, kind, timeout, list(deps), condition, set_id, metadata, stake, threshold)


def condition(kind: int, types: list[str] | None = None, values: list[Any] | None = None) -> bytes:
    """triggerCondition = abi.encode(uint8 type, bytes conditionData)."""
    data = encode(types, values) if types else b""
    return encode(["uint8", "bytes"], [kind, data])


def continuous(interval: int, updates: int) -> bytes:
    return encode(["uint32", "uint32"], [interval, updates])


@dataclass
class Env:
    stack: s.Stack
    wsm: Any
    codec: Any
    owner: str
    fee_collector: str
    creator: str
    trigger: str
    stranger: str

    @property
    def chain(self) -> Chain:
        return self.stack.chain

    @property
    def mailbox(self) -> Any:
        return self.stack.mailbox

    def send(self, fn: Any, sender: str | None = None, value: int = 0, gas: int = 12_000_000) -> Any:
        if value:
            return self.chain.sender(sender or self.creator).transact(fn, gas=gas, value=value)
        return send(self.chain, fn, sender or self.creator, gas=gas)

    def register(self, phases: list[tuple], triggers: list[str] | None = None, name: str = "wf",
                 sender: str | None = None, value: int = 0) -> bytes:
        receipt = self.send(self.wsm.functions.registerWorkflow(name, phases, triggers or [self.trigger]),
                            sender, value)
        (event,) = self.wsm.events.WorkflowRegistered().process_receipt(receipt, errors=DISCARD)
        return bytes(event["args"]["workflowId"])

    def execute(self, workflow_id: bytes, payload: bytes = b"input", sender: str | None = None,
                value: int = 0) -> tuple[bytes, Any]:
        receipt = self.send(self.wsm.functions.executeWorkflow(workflow_id, payload), sender, value)
        (event,) = self.wsm.events.WorkflowExecutionStarted().process_receipt(receipt, errors=DISCARD)
        return bytes(event["args"]["executionId"]), receipt

    def state(self, execution_id: bytes, index: int) -> dict[str, Any]:
        fields = ("status", "startedAt", "endedAt", "deadline", "lastTaskAt", "verifiedUpdates", "taskHashes",
                  "result", "input", "failure")
        return dict(zip(fields, self.wsm.functions.getPhaseState(execution_id, index).call()))

    def execution(self, execution_id: bytes) -> dict[str, Any]:
        fields = ("workflowId", "creator", "status", "startedAt", "endedAt", "phaseCount", "completedPhases",
                  "payload")
        return dict(zip(fields, self.wsm.functions.getExecution(execution_id).call()))

    def statuses(self, execution_id: bytes) -> list[int]:
        return list(self.wsm.functions.getPhaseStatuses(execution_id).call())

    def task(self, execution_id: bytes, index: int, update: int = 0) -> bytes:
        return bytes(self.wsm.functions.getPhaseTaskHashes(execution_id, index).call()[update])

    def envelope(self, task_hash: bytes) -> dict[str, Any]:
        return json.loads(self.mailbox.functions.getTaskInfo(task_hash).call()[PAYLOAD_INDEX])

    def certify(self, task_hash: bytes, result: bytes, signers: list[int] | None = None,
                set_id: int | None = None) -> Any:
        """submitResult with a real certificate by the operators at `signers` (default: all)."""
        info = self.mailbox.functions.getTaskInfo(task_hash).call()
        set_id = info[5] if set_id is None else set_id
        if set_id == s.BN254_SET:
            ops = self.stack.bn254_operators
            chosen = [op for i, op in enumerate(ops) if signers is None or i in signers]
            cert = s.encode_bn254_certificate(s.bn254_certificate(self.stack, task_hash, result, chosen))
        else:
            ops = self.stack.ecdsa_operators
            chosen = [op for i, op in enumerate(ops) if signers is None or i in signers]
            cert = s.encode_ecdsa_certificate(s.ecdsa_certificate(self.stack, task_hash, result, chosen))
        if self.chain.now() <= info[1]:
            self.chain.advance(1)  # EigenLayer's timing: no result in the creation second
        return send(self.chain, self.mailbox.functions.submitResult(task_hash, cert, result), self.chain.accounts[9],
                    gas=8_000_000)

    def use_push(self, set_id: int) -> None:
        """Make the workflow contract the set's task hook (the devnet's push configuration)."""
        curve = s.CURVE_BN254 if set_id == s.BN254_SET else s.CURVE_ECDSA
        config = s.task_config(self.stack, curve, bips=MAILBOX_BIPS, hook=self.wsm.address)
        s.configure_executor_set(self.stack, set_id, config)

    def events(self, receipt: Any, name: str) -> list[dict[str, Any]]:
        return [dict(e["args"]) for e in getattr(self.wsm.events, name)().process_receipt(receipt, errors=DISCARD)]


def build_env(chain: Chain | None = None) -> Env:
    """The stack and a WorkflowStateMachine on `chain` (default: a new eth-tester chain)."""
    chain = chain or eth_tester_chain()
    a = chain.accounts
    stack = s.deploy_stack(chain)
    for i, weight in enumerate((100, 100, 100, 50)):
        s.register_bn254_operator(stack, a[3 + i], f"wf-bn-{i}".encode(), weight)
    for i in range(3):
        s.register_ecdsa_operator(stack, a[3 + i], f"wf-ec-{i}".encode(), 100)
    s.push_tables(stack)
    for set_id, curve in ((s.BN254_SET, s.CURVE_BN254), (s.ECDSA_SET, s.CURVE_ECDSA)):
        s.configure_executor_set(stack, set_id, s.task_config(stack, curve, bips=MAILBOX_BIPS))
    owner, fee_collector, creator, trigger, stranger = a[0], a[8], a[2], a[7], a[6]
    wsm = deploy_artifact(chain.sender(owner), "WorkflowStateMachine", stack.mailbox.address, stack.avs, owner,
                          fee_collector, 0, 0, True, gas=25_000_000)
    codec = contract(chain.w3, "WorkflowCodec", wsm.functions.codec().call())
    return Env(stack, wsm, codec, owner, fee_collector, creator, trigger, stranger)


def rolled_back(env: Env) -> Iterator[Env]:
    """Yield `env` and put the chain back as it was afterwards."""
    snapshot = env.chain.snapshot()
    try:
        yield env
    finally:
        env.chain.revert(snapshot)
