"""The executor's membership cache: a membership confirmed at one block carries to later blocks while the
registrar and the KeyRegistrar log nothing (one eth_getLogs, no eth_call), and any change there — here the
operator leaving the set — makes the next check a full one that refuses it. Earlier blocks keep their answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from hourglass_cli.executor.chain_view import ChainView, NotMember
from tests.executor.conftest import build_net


def test_membership_carries_forward_until_the_registrations_change(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    net = build_net("ecdsa", tmp_path)
    w3, core, operator = net.chain.w3, net.core, net.executor_address
    view = ChainView(w3, avs=core.avs, operator=operator, key_registrar=core.key_registrar,
                     task_avs_registrar=core.task_avs_registrar)
    own_key = net.executor_signer.public_key
    set_id = core.executor_operator_set_id
    reads: list[str] = []
    real_read = view._read
    monkeypatch.setattr(view, "_read", lambda what, fn, block="latest": (reads.append(what), real_read(what, fn,
                                                                                                          block))[1])

    first = net.create_task()
    view.check_membership(set_id, first.block, own_key)
    assert any("isOperatorRegistered" in r for r in reads)  # the first check is a full one

    reads.clear()
    later = [net.create_task() for _ in range(3)]  # blocks that touch neither contract
    for task in later:
        view.check_membership(set_id, task.block, own_key)
    assert reads == []  # carried forward: logs only, no eth_call

    # The operator leaves the executor set: the next block's check reads the chain again and refuses.
    receipt = net.contracts.task_avs_registrar.functions.deregisterOperator(operator, core.avs, [set_id]).transact(
        {"from": operator, "gas": 500_000})
    left_at = int(w3.eth.wait_for_transaction_receipt(receipt)["blockNumber"])
    after = net.create_task()
    assert after.block > left_at
    with pytest.raises(NotMember, match="not in operator set"):
        view.check_membership(set_id, after.block, own_key)
    assert any("isOperatorRegistered" in r for r in reads)
    # A block before it left still says member (answers for past blocks never change).
    view.check_membership(set_id, later[-1].block, own_key)
    with pytest.raises(NotMember):
        view.check_membership(set_id, after.block, own_key)  # and the refusal is not cached away
