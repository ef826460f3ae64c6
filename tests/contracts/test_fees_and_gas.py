"""Task fees through the example fee hook, and the gas each step of the task flow costs."""

from __future__ import annotations

import pytest
from web3.logs import DISCARD

from tests.contracts import stack as s
from tests.contracts.chains import Chain, deploy, send
from tests.contracts.reverts import assert_reverts, revert_data

pytestmark = pytest.mark.slow

RESULT = b"\x07"


def test_fee_is_pulled_split_and_paid(chain: Chain) -> None:
    stack = s.deploy_stack(chain)
    for i in range(2):
        s.register_ecdsa_operator(stack, chain.accounts[3 + i], f"fee-{i}".encode(), 50)
    s.push_tables(stack)
    token = deploy(chain, "DevnetERC20", "Fee", "FEE")
    hook = deploy(chain, "FeeAVSTaskHook", stack.mailbox.address, stack.avs, 1_000, 10)
    collector, split_collector = chain.accounts[8], chain.accounts[9]
    send(chain, stack.mailbox.functions.setFeeSplit(2_000), stack.deployer)
    send(chain, stack.mailbox.functions.setFeeSplitCollector(split_collector), stack.deployer)
    config = s.task_config(stack, s.CURVE_ECDSA, hook=hook.address, fee_token=token.address, fee_collector=collector)
    s.configure_executor_set(stack, s.ECDSA_SET, config)

    payload = b"\x01" * 20
    fee = 1_000 + 10 * len(payload)
    params = (stack.app, stack.op_set(s.ECDSA_SET), payload)
    assert hook.functions.calculateTaskFee(params).call() == fee
    send(chain, token.functions.mint(stack.app, 10 * fee), stack.app)
    assert b"transfer failed" in revert_data(stack.mailbox.functions.createTask(params), stack.app)  # no allowance
    send(chain, token.functions.approve(stack.mailbox.address, fee), stack.app)
    task_hash = s.create_task(stack, s.ECDSA_SET, payload)
    assert token.functions.balanceOf(stack.mailbox.address).call() == fee
    assert hook.functions.tasksCreated().call() == 1

    chain.advance(1)
    cert = s.encode_ecdsa_certificate(s.ecdsa_certificate(stack, task_hash, RESULT, stack.ecdsa_operators))
    send(chain, stack.mailbox.functions.submitResult(task_hash, cert, RESULT), chain.accounts[7])
    assert token.functions.balanceOf(split_collector).call() == fee * 2_000 // 10_000
    assert token.functions.balanceOf(collector).call() == fee - fee * 2_000 // 10_000
    assert hook.functions.tasksVerified().call() == 1
    assert_reverts(hook.functions.handlePostTaskCreation(task_hash), stack.app, "OnlyMailbox()")


def test_gas_of_the_task_flow(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    """Measures createTask and submitResult; the bounds catch regressions, the numbers are printed.

    Most of the cost is storage: like EigenLayer's, the mailbox keeps the task config, payload,
    certificate and result of every task, and the verifier caches each proven non-signer.
    """
    stack = s.deploy_stack(chain)
    for i in range(4):
        s.register_bn254_operator(stack, chain.accounts[3 + i], f"gas-bn-{i}".encode(), 100)
    for i in range(3):
        s.register_ecdsa_operator(stack, chain.accounts[7 + i], f"gas-ec-{i}".encode(), 100)
    s.push_tables(stack)
    s.configure_executor_set(stack, s.BN254_SET, s.task_config(stack, s.CURVE_BN254))
    s.configure_executor_set(stack, s.ECDSA_SET, s.task_config(stack, s.CURVE_ECDSA))
    gas: dict[str, int] = {}

    def submit(label: str, set_id: int, signers: list) -> None:
        receipt = send(chain, stack.mailbox.functions.createTask((stack.app, stack.op_set(set_id), b"\x05" * 32)),
                       stack.app)
        gas[f"createTask ({label})"] = receipt["gasUsed"]
        (event,) = stack.mailbox.events.TaskCreated().process_receipt(receipt, errors=DISCARD)
        task_hash = bytes(event["args"]["taskHash"])
        chain.advance(1)
        if set_id == s.BN254_SET:
            cert = s.encode_bn254_certificate(s.bn254_certificate(stack, task_hash, RESULT, signers))
        else:
            cert = s.encode_ecdsa_certificate(s.ecdsa_certificate(stack, task_hash, RESULT, signers))
        receipt = send(chain, stack.mailbox.functions.submitResult(task_hash, cert, RESULT), stack.app)
        gas[f"submitResult ({label})"] = receipt["gasUsed"]

    submit("BN254, 4/4 signers", s.BN254_SET, stack.bn254_operators)
    submit("BN254, 3/4 signers, 1 witness", s.BN254_SET, stack.bn254_operators[:3])
    submit("BN254, 3/4 signers, cached witness", s.BN254_SET, stack.bn254_operators[:3])
    submit("ECDSA, 3/3 signers", s.ECDSA_SET, stack.ecdsa_operators)
    submit("ECDSA, 2/3 signers", s.ECDSA_SET, stack.ecdsa_operators[:2])
    with capsys.disabled():
        print(f"\ngas on {chain.name}:")
        for label, used in gas.items():
            print(f"  {label:45s} {used:>9,}")
    assert gas["createTask (BN254, 4/4 signers)"] < 400_000
    assert gas["submitResult (BN254, 4/4 signers)"] < 700_000
    assert gas["submitResult (BN254, 3/4 signers, 1 witness)"] < 1_100_000
    assert gas["submitResult (BN254, 3/4 signers, cached witness)"] < gas["submitResult (BN254, 3/4 signers, 1 witness)"]
    assert gas["submitResult (ECDSA, 3/3 signers)"] < 600_000
