"""Events: a contract's events from a receipt, and raw eth_getLogs logs decoded by topic0 across our ABIs."""

from __future__ import annotations

from pathlib import Path

import pytest

from hourglass_cli.chain import contract, decode_log, decode_logs, decode_receipt
from hourglass_cli.chain.avs import create_task
from hourglass_cli.devnet.accounts import devnet_accounts
from hourglass_cli.devnet.deploy import deploy_core
from hourglass_cli.devnet.operators import setup_operators
from hourglass_cli.errors import ChainError
from tests.contracts.chains import Chain

PAYLOAD = b"\x00" * 31 + b"\x05"


def test_task_created_from_receipt_and_from_get_logs(chain: Chain, tmp_path: Path) -> None:
    accounts = devnet_accounts(2)
    core = deploy_core(chain.w3, accounts, curve="ecdsa")
    setup_operators(chain.w3, core, accounts, tmp_path)
    mailbox = contract(chain.w3, "TaskMailbox", core.task_mailbox)
    task_hash, receipt = create_task(accounts.app.sender(chain.w3), mailbox, core.avs, 1, PAYLOAD)

    (event,) = decode_logs(mailbox, receipt, "TaskCreated")
    assert event.name == "TaskCreated" and event["taskHash"] == task_hash
    assert event["creator"] == accounts.app.address and event["avs"] == core.avs
    assert event["executorOperatorSetId"] == 1 and event["payload"] == PAYLOAD
    assert event.address == core.task_mailbox and event.block_number == receipt["blockNumber"]
    assert list(event.args)[:3] == ["creator", "taskHash", "avs"]  # ABI order

    # The same log fetched with eth_getLogs and decoded knowing nothing but our ABIs.
    logs = chain.w3.eth.get_logs({"fromBlock": core.deployed_at_block, "address": core.task_mailbox})
    decoded = [decode_log(log) for log in logs]
    names = [d.name for d in decoded if d is not None]
    assert "ExecutorOperatorSetTaskConfigSet" in names and names[-1] == "TaskCreated"
    raw = decoded[-1]
    assert raw is not None and raw.args == event.args and raw.contracts[0] == "TaskMailbox"
    assert [e.name for e in decode_receipt(receipt)] == ["TaskCreated"]

    # Only the bound contract's own logs count; unknown names are an error, unknown topics are None.
    elsewhere = contract(chain.w3, "TaskMailbox", core.key_registrar)
    assert decode_logs(elsewhere, receipt, "TaskCreated") == []
    with pytest.raises(ChainError, match="not an event"):
        decode_logs(mailbox, receipt, "NoSuchEvent")
    assert decode_log({"address": core.task_mailbox, "topics": [b"\x01" * 32], "data": b""}) is None
