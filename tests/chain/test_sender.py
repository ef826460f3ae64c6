"""TxSender on eth-tester and anvil: local signing, decoded custom errors, nonce safety under threads."""

from __future__ import annotations

import threading

import pytest
from web3 import Web3

from hourglass_cli.chain import Call, RevertError, TxSender, call, contract, deploy, reset_nonces
from hourglass_cli.chain.contracts import contract_name_at
from hourglass_cli.chain.sender import wait_for_receipt
from hourglass_cli.chain.structs import CurveType, TaskConfig, operator_set
from hourglass_cli.devnet.accounts import derive_account, devnet_accounts
from hourglass_cli.devnet.deploy import CoreDeployment, deploy_core
from hourglass_cli.errors import ChainError
from tests.contracts.chains import Chain


@pytest.fixture
def core(chain: Chain) -> CoreDeployment:
    return deploy_core(chain.w3, devnet_accounts(2), curve="ecdsa")


def _non_owner_config_call(chain: Chain, core: CoreDeployment):  # noqa: ANN202 - a web3 ContractFunction
    mailbox = contract(chain.w3, "TaskMailbox", core.task_mailbox)
    config = TaskConfig(core.avs_task_hook, 120, CurveType.ECDSA)
    return mailbox.functions.setExecutorOperatorSetTaskConfig(operator_set(core.avs, 1), config.to_tuple())


def test_revert_at_estimation_names_contract_function_and_custom_error(chain: Chain, core: CoreDeployment) -> None:
    app = derive_account(2).sender(chain.w3)
    with pytest.raises(RevertError) as info:
        app.transact(_non_owner_config_call(chain, core))
    assert str(info.value) == "TaskMailbox.setExecutorOperatorSetTaskConfig reverted: InvalidOperatorSetOwner()"
    assert info.value.error_name == "InvalidOperatorSetOwner" and info.value.hint
    assert isinstance(info.value, ChainError)


def test_failed_receipt_is_replayed_for_its_custom_error(chain: Chain, core: CoreDeployment) -> None:
    app = derive_account(2).sender(chain.w3)
    nonce = chain.w3.eth.get_transaction_count(app.address)
    with pytest.raises(RevertError, match=r"TaskMailbox\.setExecutorOperatorSetTaskConfig reverted: "
                                          r"InvalidOperatorSetOwner\(\)"):
        app.transact(_non_owner_config_call(chain, core), gas=500_000)  # no estimate: mined, then status 0
    assert chain.w3.eth.get_transaction_count(app.address) == nonce + 1
    assert app.transact(_transfer(), gas=21_000)["status"] == 1  # the sender's nonce is still in step


def _transfer() -> Call:
    return Call(derive_account(9).address, b"", "a transfer")


def test_call_decodes_custom_errors_with_arguments(chain: Chain, core: CoreDeployment) -> None:
    contracts = core.bind(chain.w3)
    stranger = derive_account(8).address
    push = contracts.operator_table_updater.functions.pushOperatorTable(
        operator_set(core.avs, 1), [stranger], [[1]], (core.avs, 0), 0
    )
    expected = (f"DevnetOperatorTableUpdater.pushOperatorTable reverted: "
                f"OperatorKeyNotRegistered(operator={stranger})")
    with pytest.raises(RevertError) as info:
        call(push, sender=core.deployer)
    assert str(info.value) == expected
    deployer = derive_account(0).sender(chain.w3)
    with pytest.raises(RevertError) as info:
        deployer.transact(push, gas=1_000_000)
    assert str(info.value) == expected
    assert info.value.decoded is not None and info.value.decoded.args == (("operator", stranger),)


def test_out_of_gas_is_reported_as_such(chain: Chain, core: CoreDeployment) -> None:
    avs = derive_account(1).sender(chain.w3)
    registrar = contract(chain.w3, "TaskAVSRegistrar", core.task_avs_registrar)
    fn = registrar.functions.addOperatorToAllowlist(operator_set(core.avs, 0), derive_account(5).address)
    with pytest.raises(ChainError, match=r"TaskAVSRegistrar\.addOperatorToAllowlist ran out of gas \(limit 30,000\)"):
        avs.transact(fn, gas=30_000)
    avs.transact(fn)  # estimated: enough


def test_deploy_binds_and_names_the_contract(chain: Chain) -> None:
    sender = derive_account(0).sender(chain.w3)
    hook = deploy(sender, "AVSTaskHook")
    assert chain.w3.eth.get_code(hook.address)
    assert contract_name_at(hook.address) == "AVSTaskHook"
    with pytest.raises(ChainError, match="no bytecode"):
        deploy(sender, "IAVSTaskHook")


def test_twenty_concurrent_sends_from_threads(chain: Chain) -> None:
    key = derive_account(5).private_key
    senders = [TxSender(chain.w3, key), TxSender(chain.w3, key)]  # two handles, one nonce counter
    other = derive_account(6).sender(chain.w3)
    start = chain.w3.eth.get_transaction_count(senders[0].address)
    receipts: list = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(25)

    def work(i: int) -> None:
        sender = other if i >= 20 else senders[i % 2]
        try:
            barrier.wait()
            receipts.append(sender.wait(sender.transfer(derive_account(7).address, i + 1)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(25)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(receipts) == 25 and all(r["status"] == 1 for r in receipts)
    mine = [chain.w3.eth.get_transaction(r["transactionHash"]) for r in receipts]
    nonces = sorted(int(tx["nonce"]) for tx in mine if tx["from"] == senders[0].address)
    assert nonces == list(range(start, start + 20))
    assert chain.w3.eth.get_transaction_count(senders[0].address) == start + 20


def test_nonce_resyncs_after_someone_else_sent(chain: Chain) -> None:
    sender = derive_account(4).sender(chain.w3)
    sender.transact(_transfer(), gas=21_000)
    # The node's own signer (an unlocked account) moves the nonce behind the sender's back.
    tx = chain.w3.eth.send_transaction({"from": sender.address, "to": derive_account(9).address, "value": 1})
    chain.w3.eth.wait_for_transaction_receipt(tx)
    receipt = sender.transact(_transfer(), gas=21_000)
    assert receipt["status"] == 1


def test_snapshot_revert_then_send(chain: Chain) -> None:
    sender = chain.sender(chain.accounts[3])
    snap = chain.snapshot()
    for _ in range(2):
        sender.transact(_transfer(), gas=21_000)
    chain.revert(snap)  # resets the cached nonces (anvil would queue a too-high nonce forever)
    assert sender.transact(_transfer(), gas=21_000)["status"] == 1
    reset_nonces(chain.w3)


def test_receipt_wait_has_a_deadline(chain: Chain) -> None:
    with pytest.raises(ChainError, match="no receipt .* within 0.2 s"):
        wait_for_receipt(chain.w3, b"\x01" * 32, 0.2, "a made-up transaction")


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    account = derive_account(0)
    w3 = Web3()
    sender = TxSender(w3, account.private_key)
    assert account.private_key.hex() not in repr(sender) and account.private_key.hex() not in repr(account)
    bad = "0x" + "ff" * 32  # above the curve order
    with pytest.raises(ChainError) as info:
        TxSender(w3, bad)
    assert "ff" * 32 not in str(info.value) and "ff" * 32 not in repr(info.value.__cause__)
