"""HOURGLASS_TASK steps: an automation step computed by the AVS's operator set and verified on chain.

The step renders its payload (hex, or text sent as UTF-8), creates a TaskMailbox task for the configured AVS and
executor operator set (`tasks.client.TaskClient`: createTask, then TaskVerified of that task hash), and outputs
``{taskHash, result, decoded, txHash, blockNumber, verified}`` — the result is the bytes the certificate verified,
read back from the mailbox, so a later step consumes only what a quorum of staked operators signed.
"""

from __future__ import annotations

import threading
from typing import Any

from hourglass_cli.api.engine import RunContext, StepError, StepResult
from hourglass_cli.api.templates import render
from hourglass_cli.wire.gen import avs_pb2 as pb


class HourglassTasks:
    """Creates tasks from one account (submissions serialised: one nonce sequence), waits for each in parallel."""

    def __init__(self, w3: Any, *, mailbox: str, avs: str, executor_set_id: int, key: bytes | None,
                 default_timeout: float = 120.0) -> None:
        if not key:
            raise StepError("HOURGLASS_TASK steps need an account to create tasks from ([api] controller key)",
                            pb.INVALID_NODE_CONFIG)
        self.rpc_url = w3.provider.endpoint_uri
        self.mailbox, self.avs, self.set_id = mailbox, avs, executor_set_id
        self._key = key
        self.default_timeout = default_timeout
        self._submit = threading.Lock()
        self._client = None

    def client(self, mailbox: str, avs: str):
        from hourglass_cli.tasks.client import TaskClient
        from hourglass_cli.tasks.target import Target

        if mailbox == self.mailbox and avs == self.avs:
            if self._client is None:
                self._client = TaskClient(Target(rpc_url=self.rpc_url, mailbox=mailbox, avs=avs, key=self._key))
            return self._client
        return TaskClient(Target(rpc_url=self.rpc_url, mailbox=mailbox, avs=avs, key=self._key))

    def run(self, config: pb.HourglassTaskNode.Config, ctx: RunContext) -> StepResult:
        from eth_utils import is_hex_address

        missing: list[str] = []
        text = render(config.payload, ctx.variables, missing)
        if missing:
            raise StepError(f"hourglass_task.config.payload: {missing[0]}", pb.INVALID_NODE_CONFIG)
        if text.startswith("0x"):
            try:
                payload = bytes.fromhex(text[2:])
            except ValueError:
                raise StepError("hourglass_task.config.payload starts with 0x but is not hex", pb.INVALID_NODE_CONFIG) \
                    from None
        else:
            payload = text.encode()
        mailbox, avs = config.mailbox or self.mailbox, config.avs or self.avs
        for name, value in (("mailbox", mailbox), ("avs", avs)):
            if not is_hex_address(value):
                raise StepError(f"hourglass_task.config.{name} {value!r} is not an address", pb.INVALID_NODE_CONFIG)
        set_id = int(config.executor_operator_set_id) if config.executor_operator_set_id.isdigit() else self.set_id
        timeout = float(config.timeout_seconds or self.default_timeout)
        from hourglass_cli.errors import HourglassError

        client = self.client(mailbox, avs)
        try:
            with self._submit:
                sub = client.submit(payload, set_id)
            outcome = client.wait(sub, timeout)
        except HourglassError as exc:
            raise StepError(f"the AVS task was not verified: {exc.message}", pb.EXECUTION_ENGINE_ERROR) from None
        result = outcome.result or b""
        decoded: Any = None
        if config.result_abi:
            from hourglass_cli.tasks.payload import decode_result

            try:
                decoded = decode_result(config.result_abi, result)
            except Exception as exc:  # noqa: BLE001 - a result that does not fit the ABI is the step's error
                raise StepError(f"the verified result does not decode as {config.result_abi}: {exc}",
                                pb.INVALID_NODE_CONFIG) from None
        return StepResult(output={"taskHash": sub.task_hash, "result": "0x" + result.hex(), "decoded": decoded,
                                  "txHash": sub.tx_hash, "blockNumber": sub.block_number, "verified": True},
                          log=f"task {sub.task_hash} verified on {mailbox} (operator set {set_id})")
