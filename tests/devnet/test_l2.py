"""`devnet start --l2`: a task created on the L2 mailbox is verified on L2. Executors recognise it on the L2 mailbox
and check their membership on L1 (where the operator sets live) at the L2 block's time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hourglass_cli.chain.connection import connect
from hourglass_cli.devnet.deploy import CoreDeployment
from tests.devnet._helpers import ok, run, state_of, wait_for


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    project = tmp_path_factory.mktemp("l2-project")
    ok(run(project, "devnet", "start", "--detach", "--chain", "embedded", "--operators", "2", "--l2"))
    yield project
    run(project, "devnet", "stop", timeout=60)


def test_a_task_on_the_l2_mailbox_is_verified_on_l2(devnet: Path) -> None:
    from eth_abi import decode, encode

    from hourglass_cli.chain import avs as calls
    from hourglass_cli.devnet.accounts import derive_account

    state = state_of(devnet)
    l2 = CoreDeployment.from_json(state.l2_deployment or {})
    l2_chain = state.chain("l2")
    assert l2_chain is not None
    w3 = connect(l2_chain.endpoint)
    # the two chains never share an id: the L2's is the L1's (default 31337) plus one, recorded as answered
    assert state.chains[0].chain_id == 31337 and l2_chain.chain_id == w3.eth.chain_id == 31338
    assert l2.chain_id == 31338
    mailbox = l2.bind(w3).task_mailbox
    app = derive_account(2).sender(w3)
    for _ in range(3):  # move L2's block numbers away from L1's: the task's block means nothing on L1
        app.transfer(app.address, 0).wait()
    task_hash, receipt = calls.create_task(app, mailbox, l2.avs, 1, encode(["uint256"], [17]), gas=3_000_000)
    assert receipt["blockNumber"] > connect(state.chains[0].endpoint).eth.block_number
    wait_for(lambda: mailbox.functions.getTaskStatus(task_hash).call() == 2, 60, "TaskVerified on L2")
    assert decode(["uint256"], mailbox.functions.getTaskResult(task_hash).call()) == (289,)
    # and L1 tasks still work
    deployment = CoreDeployment.from_json(state.deployment or {})
    w1 = connect(state.chains[0].endpoint)
    l1_mailbox = deployment.bind(w1).task_mailbox
    l1_hash, _ = calls.create_task(derive_account(2).sender(w1), l1_mailbox, deployment.avs, 1,
                                   encode(["uint256"], [5]), gas=3_000_000)
    wait_for(lambda: l1_mailbox.functions.getTaskStatus(l1_hash).call() == 2, 60, "TaskVerified on L1")
