"""ERC-4337 v0.6 smart wallets: our EntryPoint, SimpleAccountFactory and SimpleAccount with the Python helpers
(hourglass_cli.api.wallets) and the Bundler, on eth-tester and anvil.

One chain per backend for the module; every test runs from a snapshot and reverts to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address

from hourglass_cli.api import wallets as w
from hourglass_cli.api.bundler import Bundler, UserOpRejected, pre_verification_gas
from hourglass_cli.chain.contracts import contract, create_address
from hourglass_cli.chain.events import decode_logs
from hourglass_cli.chain.reverts import RevertError
from hourglass_cli.chain.sender import Call, call
from hourglass_cli.compiler import load_artifact
from hourglass_cli.crypto import ecdsa
from hourglass_cli.devnet.accounts import CONTROLLER_INDEX, derive_account
from tests.contracts.chains import Chain, deploy, send
from tests.contracts.reverts import assert_reverts, revert_data
from tests.chain.conftest import start_chain

ETH = 10**18
OWNER_KEY = keccak(b"wallet owner")
STRANGER_KEY = keccak(b"not the owner")


@dataclass
class Env:
    chain: Chain
    entry_point: Any
    factory: Any
    token: Any
    bundler: Bundler
    controller_key: bytes
    paymaster: Any

    @property
    def w3(self) -> Any:
        return self.chain.w3

    @property
    def deployer(self) -> str:
        return self.chain.accounts[0]

    def wallet(self, salt: int = 0, owner_key: bytes = OWNER_KEY) -> str:
        return w.predict_address(self.factory.address, ecdsa.address_of(owner_key), salt)

    def op(self, call_data: bytes, key: bytes = OWNER_KEY, salt: int = 0, owner_key: bytes = OWNER_KEY,
           **kwargs: Any) -> w.UserOp:
        """A signed operation of (owner_key, salt)'s wallet, with initCode while it is not deployed."""
        op = self.bundler.prepare_wallet(self.factory.address, ecdsa.address_of(owner_key), salt, call_data, **kwargs)
        return self.bundler.sign(op, key)

    def fund(self, address: str, wei: int) -> None:
        # estimated: a deployed wallet's receive() runs behind a delegatecall, more than a plain 21,000-gas transfer
        self.chain.sender(self.deployer).send(Call(address, b"", "funding a wallet"), value=wei).wait()

    def balance(self, address: str) -> int:
        return int(self.w3.eth.get_balance(address))

    def deploy_wallet(self, salt: int = 0, owner_key: bytes = OWNER_KEY) -> str:
        result = self.bundler.submit(self.op(b"", owner_key, salt, owner_key))
        assert result.success and result.deployed
        return result.sender


@pytest.fixture(scope="module", params=["eth-tester", "anvil"])
def env_base(request: pytest.FixtureRequest) -> Iterator[Env]:
    chain = start_chain(request.param)
    try:
        controller = derive_account(CONTROLLER_INDEX)
        chain.keys[controller.address] = controller.private_key
        chain.sender(chain.accounts[0]).transfer(controller.address, 100 * ETH).wait()
        entry_point = deploy(chain, "EntryPoint")
        factory = deploy(chain, "SimpleAccountFactory", entry_point.address, controller.address)
        token = deploy(chain, "DevnetERC20", "Token", "TOK")
        bundler = Bundler(chain.w3, entry_point.address, chain.sender(controller.address))
        paymaster = deploy(chain, "VerifyingPaymaster", entry_point.address, controller.address, chain.accounts[0])
        chain.sender(chain.accounts[0]).transact(paymaster.functions.deposit(), value=ETH)
        yield Env(chain, entry_point, factory, token, bundler, controller.private_key, paymaster)
    finally:
        chain.close()


@pytest.fixture
def env(env_base: Env) -> Iterator[Env]:
    snapshot = env_base.chain.snapshot()
    try:
        yield env_base
    finally:
        env_base.chain.revert(snapshot)


def rejected(env: Env, op: w.UserOp | list[w.UserOp], bundler: Bundler | None = None) -> UserOpRejected:
    with pytest.raises(UserOpRejected) as info:
        (bundler or env.bundler).submit_bundle(op if isinstance(op, list) else [op])
    return info.value


def sender_address_result(env: Env, init: bytes) -> str:
    with pytest.raises(RevertError) as info:
        call(env.entry_point.functions.getSenderAddress(init))
    assert info.value.error_name == "SenderAddressResult"
    return str(dict(info.value.decoded.args)["sender"])


# ------------------------------------------------------------------ addresses and hashes


def test_every_way_to_a_wallet_address_agrees(env: Env) -> None:
    """getAddress == Python's CREATE2 prediction == getSenderAddress(initCode) == what createAccount deploys."""
    factory = env.factory
    assert factory.functions.accountImplementation().call() == create_address(factory.address, 1)
    assert factory.functions.entryPoint().call() == env.entry_point.address
    owners = [ecdsa.address_of(OWNER_KEY), ecdsa.address_of(STRANGER_KEY)]
    seen = set()
    for owner in owners:
        for salt in (0, 1, 2**256 - 1):
            predicted = w.predict_address(factory.address, owner, salt)
            assert w.wallet_address(env.w3, factory.address, owner, salt) == predicted
            assert sender_address_result(env, w.init_code(factory.address, owner, salt)) == predicted
            seen.add(predicted)
    assert len(seen) == 6  # the address depends on the owner and the salt

    owner = owners[0]
    predicted = w.predict_address(factory.address, owner, 5)
    assert env.w3.eth.get_code(predicted) == b""
    receipt = send(env.chain, factory.functions.createAccount(owner, 5), env.deployer)
    (created,) = decode_logs(factory, receipt, "AccountCreated")
    assert created["account"] == predicted and created["owner"] == owner and created["salt"] == 5
    wallet = contract(env.w3, "SimpleAccount", predicted)
    assert wallet.functions.owner().call() == owner
    assert wallet.functions.controller().call() == env.bundler.sender.address
    assert wallet.functions.entryPoint().call() == env.entry_point.address
    # again: the same wallet, nothing created (and getSenderAddress still answers for a deployed wallet)
    assert factory.functions.createAccount(owner, 5).call() == predicted
    again = send(env.chain, factory.functions.createAccount(owner, 5), env.deployer)
    assert decode_logs(factory, again, "AccountCreated") == []
    assert sender_address_result(env, w.init_code(factory.address, owner, 5)) == predicted
    assert w.predict_address(factory.address, owner, 5, factory.functions.accountImplementation().call()) == predicted


def test_the_python_user_op_hash_is_the_contracts(env: Env) -> None:
    base = w.UserOp(sender=env.wallet(), nonce=3, call_data=w.build_execute(env.deployer, 1, b"\x01\x02"),
                    call_gas_limit=100_000, verification_gas_limit=200_000, pre_verification_gas=50_000,
                    max_fee_per_gas=3 * 10**9, max_priority_fee_per_gas=10**9)
    ops = [base, base.replace(init_code=w.init_code(env.factory.address, ecdsa.address_of(OWNER_KEY), 0)),
           base.replace(nonce=(7 << 64) | 9, paymaster_and_data=bytes(20) + b"\x05" * 33),
           base.replace(call_data=b"", max_fee_per_gas=2**120 - 1), w.UserOp(sender=env.deployer)]
    chain_id = env.w3.eth.chain_id
    for op in ops:
        expected = bytes(env.entry_point.functions.getUserOpHash(op.to_tuple()).call())
        assert w.user_op_hash(op, env.entry_point.address, chain_id) == expected == env.bundler.op_hash(op)
        signed = w.sign_user_op(op, OWNER_KEY, env.entry_point.address, chain_id)
        assert bytes(env.entry_point.functions.getUserOpHash(signed.to_tuple()).call()) == expected  # no signature
        assert ecdsa.recover_hash(w.signed_digest(expected), signed.signature) == ecdsa.address_of(OWNER_KEY)
        assert w.UserOp.from_rpc(signed.to_rpc()) == signed == w.UserOp.from_tuple(signed.to_tuple())
    assert w.user_op_hash(base, env.entry_point.address, chain_id + 1) != w.user_op_hash(base, env.entry_point.address,
                                                                                         chain_id)


# ------------------------------------------------------------------ executing


def test_the_first_operation_deploys_the_wallet_and_moves_eth(env: Env) -> None:
    wallet, recipient = env.wallet(), env.chain.accounts[7]
    env.fund(wallet, ETH)
    before = env.balance(recipient)
    op = env.op(w.build_execute(recipient, ETH // 4))
    assert op.init_code and op.sender == wallet and op.nonce == 0
    result = env.bundler.submit(op)
    assert result.success and result.deployed and result.revert_reason is None
    assert result.sender == wallet and result.nonce == 0 and result.user_op_hash == env.bundler.op_hash(op)
    assert env.balance(recipient) == before + ETH // 4
    assert env.balance(wallet) == ETH - ETH // 4  # gas came out of the deposit the bundler topped up
    account = contract(env.w3, "SimpleAccount", wallet)
    assert account.functions.owner().call() == ecdsa.address_of(OWNER_KEY)
    assert account.functions.getNonce().call() == 1 == env.bundler.get_nonce(wallet)
    receipt = env.w3.eth.get_transaction_receipt(result.tx_hash)
    (deployed,) = decode_logs(env.entry_point, receipt, "AccountDeployed")
    assert deployed["sender"] == wallet and deployed["factory"] == env.factory.address
    assert account.functions.getDeposit().call() == env.bundler.deposit_of(wallet) > 0
    assert result.actual_gas_cost > 0 and 0 < result.actual_gas_used <= result.tx_gas_used + 10_000

    # the next one carries no initCode and takes the next nonce
    second = env.op(w.build_execute(recipient, 1))
    assert second.init_code == b"" and second.nonce == 1
    assert env.bundler.submit(second).success and env.bundler.get_nonce(wallet) == 2


def test_owner_and_controller_signed_operations_move_tokens_and_change_state(env: Env) -> None:
    wallet, recipient, spender = env.wallet(), env.chain.accounts[7], env.chain.accounts[8]
    token = env.token
    send(env.chain, token.functions.mint(wallet, 1000), env.deployer)
    transfer = token.functions.transfer(recipient, 300)._encode_transaction_data()
    result = env.bundler.submit(env.op(w.build_execute(token.address, 0, bytes.fromhex(transfer[2:]))))
    assert result.success
    assert token.functions.balanceOf(wallet).call() == 700 and token.functions.balanceOf(recipient).call() == 300

    # signed by the controller: a batch that mints (totalSupply changes) and approves (allowance changes)
    supply = token.functions.totalSupply().call()
    calls = [token.functions.mint(recipient, 5)._encode_transaction_data(),
             token.functions.approve(spender, 42)._encode_transaction_data()]
    batch = w.build_execute_batch([token.address, token.address], [bytes.fromhex(c[2:]) for c in calls])
    result = env.bundler.submit(env.op(batch, key=env.controller_key))
    assert result.success
    assert token.functions.totalSupply().call() == supply + 5
    assert token.functions.allowance(wallet, spender).call() == 42

    # executeBatchWithValues: ETH to two addresses and a token call, in one operation
    env.fund(wallet, ETH)
    before = [env.balance(a) for a in (recipient, spender)]
    batch = w.build_execute_batch([recipient, spender, token.address], [b"", b"", bytes.fromhex(calls[0][2:])],
                                  [10, 20, 0])
    assert batch[:4] == keccak(text="executeBatchWithValues(address[],uint256[],bytes[])")[:4]
    assert env.bundler.submit(env.op(batch, key=env.controller_key)).success
    assert [env.balance(a) for a in (recipient, spender)] == [before[0] + 10, before[1] + 20]
    assert env.bundler.get_nonce(wallet) == 3


def test_a_strangers_signature_is_refused_and_changes_nothing(env: Env) -> None:
    wallet, recipient = env.wallet(), env.chain.accounts[7]
    env.fund(wallet, ETH)
    undeployed = env.op(w.build_execute(recipient, 1), key=STRANGER_KEY)
    error = rejected(env, undeployed)
    assert error.reason == "AA24 signature error" and error.code == "AA24" and error.op_index == 0
    assert "owner or the controller" in (error.hint or "")
    assert env.w3.eth.get_code(wallet) == b""  # the bundle was refused whole: no deployment either

    env.deploy_wallet()
    state = (env.balance(wallet), env.balance(recipient), env.bundler.get_nonce(wallet),
             env.bundler.deposit_of(wallet), env.w3.eth.get_transaction_count(env.bundler.sender.address))
    op = env.op(w.build_execute(recipient, ETH // 2), key=STRANGER_KEY)
    assert rejected(env, op).reason == "AA24 signature error"
    # a malformed signature (too short, high s, bad v) is a signature failure too, never a revert of the account
    good = env.op(w.build_execute(recipient, ETH // 2))
    r, s, v = ecdsa.split_signature(good.signature)
    high_s = r.to_bytes(32, "big") + (ecdsa.SECP256K1_N - s).to_bytes(32, "big") + bytes([(v ^ 1) + 27])
    for signature in (b"", good.signature[:64], high_s, good.signature[:64] + b"\x05"):
        assert rejected(env, good.replace(signature=signature)).reason == "AA24 signature error"
    assert (env.balance(wallet), env.balance(recipient), env.bundler.get_nonce(wallet),
            env.bundler.deposit_of(wallet),
            env.w3.eth.get_transaction_count(env.bundler.sender.address)) == state  # nothing was even sent
    assert env.bundler.submit(good).success  # the owner's is still taken


def test_a_used_nonce_is_refused(env: Env) -> None:
    recipient = env.chain.accounts[7]
    env.deploy_wallet()
    env.fund(env.wallet(), ETH)
    op = env.op(w.build_execute(recipient, 1))
    assert env.bundler.submit(op).success
    error = rejected(env, op)  # replayed as it was
    assert error.reason == "AA25 invalid account nonce" and "getNonce" in (error.hint or "")
    ahead = env.op(w.build_execute(recipient, 1), nonce=5)
    assert rejected(env, ahead).code == "AA25"
    assert env.bundler.get_nonce(op.sender) == 2


def test_nonce_keys_are_separate_sequences(env: Env) -> None:
    wallet = env.deploy_wallet()
    key = 7
    assert env.bundler.get_nonce(wallet, key) == key << 64
    assert env.bundler.submit(env.op(w.build_execute(wallet, 0), key=OWNER_KEY, nonce=key << 64)).success
    assert env.bundler.get_nonce(wallet, key) == (key << 64) | 1
    assert env.bundler.get_nonce(wallet) == 1  # key 0 had only the deployment
    assert env.entry_point.functions.nonceSequenceNumber(wallet, key).call() == 1


def test_a_reverting_call_reports_its_reason_and_still_uses_the_nonce(env: Env) -> None:
    wallet = env.deploy_wallet()
    env.chain.sender(env.deployer).transact(env.entry_point.functions.depositTo(wallet), value=ETH)  # no top-up
    token = env.token
    transfer = token.functions.transfer(env.chain.accounts[7], 1)._encode_transaction_data()
    deposit, beneficiary = env.bundler.deposit_of(wallet), env.balance(env.bundler.beneficiary)
    op = env.op(w.build_execute(token.address, 0, bytes.fromhex(transfer[2:])))
    assert op.call_gas_limit == 1_000_000  # a reverting call cannot be estimated: the default limit
    result = env.bundler.submit(op)
    assert not result.success and result.revert_reason == "DevnetERC20: balance"
    assert result.revert_data[:4] == bytes.fromhex("08c379a0")
    assert env.bundler.get_nonce(wallet) == 2
    assert env.bundler.deposit_of(wallet) == deposit - result.actual_gas_cost  # the gas is still paid
    receipt = env.w3.eth.get_transaction_receipt(result.tx_hash)
    paid = int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])
    assert env.balance(env.bundler.beneficiary) == beneficiary - paid + result.actual_gas_cost

    # a custom error is named (the wallet cannot be initialized twice); re-entering handleOps is refused
    again = w.build_execute(wallet, 0, bytes.fromhex(contract(env.w3, "SimpleAccount", wallet).functions.initialize(
        env.deployer)._encode_transaction_data()[2:]))
    assert env.bundler.submit(env.op(again)).revert_reason == "AlreadyInitialized()"
    handle = env.entry_point.functions.handleOps([], env.deployer)._encode_transaction_data()
    result = env.bundler.submit(env.op(w.build_execute(env.entry_point.address, 0, bytes.fromhex(handle[2:]))))
    assert not result.success and result.revert_reason == "ReentrancyGuard: reentrant call"
    assert env.bundler.get_nonce(wallet) == 4


def test_a_wallet_pays_its_own_prefund_when_the_bundler_does_not_top_up(env: Env) -> None:
    wallet = env.wallet()
    bundler = Bundler(env.w3, env.entry_point.address, env.bundler.sender, top_up=False)
    op = bundler.sign(bundler.prepare_wallet(env.factory.address, ecdsa.address_of(OWNER_KEY), 0, b""), OWNER_KEY)
    error = rejected(env, op, bundler)
    assert error.reason == "AA21 didn't pay prefund" and "depositTo" in (error.hint or "")
    env.fund(wallet, ETH)
    result = bundler.submit(op)
    assert result.success
    prefund = op.required_prefund()
    assert env.balance(wallet) == ETH - prefund  # missingAccountFunds went from the wallet to its deposit
    assert bundler.deposit_of(wallet) == prefund - result.actual_gas_cost


def test_init_code_rules(env: Env) -> None:
    wallet, other = env.wallet(), env.wallet(salt=1)
    plain = env.bundler.sign(env.bundler.prepare(wallet, b""), OWNER_KEY)
    assert rejected(env, plain).reason == "AA20 account not deployed"
    wrong = env.op(b"", salt=1).replace(sender=wallet)  # initCode of another wallet
    assert rejected(env, env.bundler.sign(wrong, OWNER_KEY)).reason == "AA14 initCode must return sender"
    bad_factory = env.bundler.sign(env.bundler.prepare(wallet, b"", init=env.token.address.encode()[:20]), OWNER_KEY)
    assert rejected(env, bad_factory).code in ("AA13", "AA14")
    env.deploy_wallet()
    again = env.bundler.sign(env.bundler.prepare(wallet, b"", init=w.init_code(env.factory.address,
                                                                              ecdsa.address_of(OWNER_KEY), 0)),
                             OWNER_KEY)
    assert rejected(env, again).reason == "AA10 sender already constructed"
    assert env.w3.eth.get_code(other) == b""


def test_a_bundle_runs_every_operation_or_none(env: Env) -> None:
    recipient = env.chain.accounts[7]
    first, second = env.wallet(0), env.wallet(1)
    env.fund(first, ETH)
    env.fund(second, ETH)
    before = env.balance(recipient)
    ops = [env.op(w.build_execute(recipient, 1), salt=0), env.op(w.build_execute(recipient, 2), salt=1)]
    bad = [ops[0], env.op(w.build_execute(recipient, 2), salt=1, key=STRANGER_KEY)]
    error = rejected(env, bad)
    assert error.op_index == 1 and error.code == "AA24" and env.balance(recipient) == before
    results = env.bundler.submit_bundle(ops)
    assert [r.success for r in results] == [True, True] and [r.sender for r in results] == [first, second]
    assert len({r.tx_hash for r in results}) == 1 and env.balance(recipient) == before + 3


def test_who_may_call_the_wallet_directly(env: Env) -> None:
    owner = env.chain.accounts[3]  # an owner with ETH for its own transactions
    owner_key = env.chain.keys[owner]
    wallet = env.deploy_wallet(owner_key=owner_key)
    env.fund(wallet, ETH)
    account = contract(env.w3, "SimpleAccount", wallet)
    recipient, stranger = env.chain.accounts[7], env.chain.accounts[8]
    before = env.balance(recipient)
    send(env.chain, account.functions.execute(recipient, 5, b""), owner)
    send(env.chain, account.functions.executeBatch([recipient], [b""]), env.bundler.sender.address)  # controller
    assert env.balance(recipient) == before + 5
    assert_reverts(account.functions.execute(recipient, 5, b""), stranger, "NotAuthorized(address)", "address")
    op = env.op(b"", owner_key=owner_key)
    assert_reverts(account.functions.validateUserOp(op.to_tuple(), bytes(32), 0), stranger, "NotAuthorized(address)",
                   "address")
    assert_reverts(account.functions.initialize(stranger), stranger, "AlreadyInitialized()")
    implementation = contract(env.w3, "SimpleAccount", env.factory.functions.accountImplementation().call())
    assert_reverts(implementation.functions.initialize(stranger), stranger, "AlreadyInitialized()")
    assert_reverts(account.functions.executeBatch([recipient], []), owner, "WrongArrayLengths()")
    # deposits: the owner adds and withdraws, a stranger cannot withdraw
    env.chain.sender(owner).transact(account.functions.addDeposit(), value=1000)
    deposit = account.functions.getDeposit().call()
    send(env.chain, account.functions.withdrawDepositTo(stranger, 400), owner)
    assert account.functions.getDeposit().call() == deposit - 400
    assert_reverts(account.functions.withdrawDepositTo(stranger, 1), stranger, "NotAuthorized(address)", "address")


def test_the_gas_of_a_simple_execute(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    """One ETH transfer through a deployed wallet: the handleOps transaction's gas, and the EntryPoint's count
    (measured + preVerificationGas) within a few thousand gas of it, so the beneficiary is paid what it spent."""
    wallet = env.deploy_wallet()
    env.fund(wallet, ETH)
    op = env.op(w.build_execute(env.chain.accounts[7], 1))
    assert abs(op.pre_verification_gas - pre_verification_gas(op)) < 100  # computed before it was signed
    result = env.bundler.submit(op)
    assert result.success
    with capsys.disabled():
        print(f"\n[{env.chain.name}] handleOps(1 × execute ETH transfer): {result.tx_gas_used:,} gas; "
              f"EntryPoint counted {result.actual_gas_used:,}")
    assert result.tx_gas_used < 100_000
    assert abs(result.actual_gas_used - result.tx_gas_used) < 5_000


# ------------------------------------------------------------------ the paymaster


def test_the_python_paymaster_hash_is_the_contracts(env: Env) -> None:
    op = env.bundler.prepare_wallet(env.factory.address, ecdsa.address_of(OWNER_KEY), 0, w.build_execute(env.deployer))
    chain_id = env.w3.eth.chain_id
    for until, after in ((0, 0), (2**48 - 1, 12345)):
        expected = bytes(env.paymaster.functions.getHash(op.to_tuple(), until, after).call())
        assert w.paymaster_hash(op, env.paymaster.address, chain_id, 0, until, after) == expected
        data = w.paymaster_and_data(env.paymaster.address, until, after, b"\x01" * 65)
        assert len(data) == w.PAYMASTER_DATA_LENGTH
        assert env.paymaster.functions.parsePaymasterAndData(data).call() == [until, after, b"\x01" * 65]
    assert w.paymaster_hash(op, env.paymaster.address, chain_id, 1) != w.paymaster_hash(op, env.paymaster.address,
                                                                                         chain_id, 0)


def test_a_sponsored_operation_is_paid_by_the_paymaster(env: Env) -> None:
    """A wallet with no ETH and no deposit is deployed and runs its call at the paymaster's expense; postOp records
    the cost."""
    wallet, paymaster = env.wallet(), env.paymaster
    deposit = paymaster.functions.getDeposit().call()
    op = env.bundler.prepare_wallet(env.factory.address, ecdsa.address_of(OWNER_KEY), 0,
                                    w.build_execute(env.token.address, 0, bytes.fromhex(
                                        env.token.functions.mint(wallet, 9)._encode_transaction_data()[2:])))
    op = env.bundler.sign(env.bundler.sponsor(op, paymaster.address, env.controller_key), OWNER_KEY)
    assert w.UserOp(wallet, paymaster_and_data=op.paymaster_and_data).paymaster == paymaster.address
    result = env.bundler.submit(op)
    assert result.success and result.deployed and env.token.functions.balanceOf(wallet).call() == 9
    assert env.balance(wallet) == 0 and env.bundler.deposit_of(wallet) == 0  # the wallet paid nothing
    assert paymaster.functions.getDeposit().call() == deposit - result.actual_gas_cost
    assert paymaster.functions.senderNonce(wallet).call() == 1
    receipt = env.w3.eth.get_transaction_receipt(result.tx_hash)
    (sponsored,) = decode_logs(paymaster, receipt, "Sponsored")
    assert sponsored["sender"] == wallet and sponsored["succeeded"]
    # postOp is told the cost so far (its own gas is charged after it)
    assert 0 < paymaster.functions.sponsoredGasCost(wallet).call() == sponsored["actualGasCost"] \
        < result.actual_gas_cost

    # a sponsored call that reverts: still paid for, postOp hears opReverted
    transfer = env.token.functions.transfer(env.deployer, 10**6)._encode_transaction_data()
    op = env.bundler.prepare(wallet, w.build_execute(env.token.address, 0, bytes.fromhex(transfer[2:])))
    result = env.bundler.submit(env.bundler.sign(env.bundler.sponsor(op, paymaster.address, env.controller_key),
                                                 OWNER_KEY))
    assert not result.success and result.revert_reason == "DevnetERC20: balance"
    receipt = env.w3.eth.get_transaction_receipt(result.tx_hash)
    assert [e["succeeded"] for e in decode_logs(paymaster, receipt, "Sponsored")] == [False]


def test_paymaster_refusals(env: Env) -> None:
    paymaster = env.paymaster
    op = env.bundler.prepare_wallet(env.factory.address, ecdsa.address_of(OWNER_KEY), 0, b"")
    now = env.chain.now()

    def attempt(prepared: w.UserOp) -> str:
        return rejected(env, env.bundler.sign(prepared, OWNER_KEY)).reason

    assert attempt(env.bundler.sponsor(op, paymaster.address, STRANGER_KEY)) == "AA34 signature error"
    assert attempt(env.bundler.sponsor(op, paymaster.address, env.controller_key, valid_until=now - 10)) == \
        "AA32 paymaster expired or not due"
    assert attempt(env.bundler.sponsor(op, paymaster.address, env.controller_key, valid_after=now + 3600)) == \
        "AA32 paymaster expired or not due"
    assert attempt(op.replace(paymaster_and_data=b"\x01" * 19)) == "AA93 invalid paymasterAndData"
    assert attempt(op.replace(paymaster_and_data=bytes.fromhex(env.deployer[2:]))) == "AA30 paymaster not deployed"
    short = op.replace(paymaster_and_data=bytes.fromhex(paymaster.address[2:]))
    assert attempt(short) == "AA33 reverted (or OOG)"  # InvalidPaymasterData: a custom error, no reason string
    approved = env.bundler.sponsor(op, paymaster.address, env.controller_key)
    send(env.chain, paymaster.functions.withdrawTo(env.deployer, paymaster.functions.getDeposit().call()),
         env.deployer)
    error = rejected(env, env.bundler.sign(approved, OWNER_KEY))
    assert error.reason == "AA31 paymaster deposit too low" and "depositTo the paymaster" in (error.hint or "")
    assert b"caller is not the owner" in revert_data(paymaster.functions.withdrawTo(env.deployer, 0),
                                                     env.chain.accounts[5])
    assert env.w3.eth.get_code(op.sender) == b""


# ------------------------------------------------------------------ the v0.6 ABI


def _selectors(name: str) -> set[str]:
    return {entry["name"] + "(" + ",".join(_type(i) for i in entry["inputs"]) + ")"
            for entry in load_artifact(name)["abi"] if entry["type"] in ("function", "event", "error")}


def _type(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        return "(" + ",".join(_type(c) for c in param["components"]) + ")" + param["type"][5:]
    return str(param["type"])


def test_the_v06_abi() -> None:
    """Selectors and topics as eth-infinitism's v0.6 contracts (and the SDKs reading their logs) have them."""
    op = w.USER_OP_TYPE
    entry_point = _selectors("EntryPoint")
    for signature, selector in {f"handleOps({op}[],address)": "1fad948c", f"getUserOpHash({op})": "a6193531",
                                "getNonce(address,uint192)": "35567e1a", "depositTo(address)": "b760faf9",
                                "balanceOf(address)": "70a08231", "getSenderAddress(bytes)": "9b249f69",
                                "FailedOp(uint256,string)": "220266b6", "SenderAddressResult(address)": "6ca7b806"}.items():
        assert signature in entry_point and keccak(text=signature)[:4].hex() == selector, signature
    event = "UserOperationEvent(bytes32,address,address,uint256,bool,uint256,uint256)"
    assert event in entry_point
    assert keccak(text=event).hex() == "49628fd1471006c1482da88028e9ce4dbb080b815c9b0344d39e5a8e6ec1419f"
    assert {"UserOperationRevertReason(bytes32,address,uint256,bytes)",
            "AccountDeployed(bytes32,address,address,address)"} <= entry_point
    account = _selectors("SimpleAccount")
    for signature, selector in {"execute(address,uint256,bytes)": "b61d27f6",
                                "executeBatch(address[],bytes[])": "18dfb3c7",
                                f"validateUserOp({op},bytes32,uint256)": "3a871cdd"}.items():
        assert signature in account and keccak(text=signature)[:4].hex() == selector, signature
    assert {"owner()", "entryPoint()", "getNonce()", "addDeposit()", "getDeposit()",
            "executeBatchWithValues(address[],uint256[],bytes[])"} <= account
    factory = _selectors("SimpleAccountFactory")
    for signature, selector in {"createAccount(address,uint256)": "5fbfb9cf",
                                "getAddress(address,uint256)": "8cb84e18"}.items():
        assert signature in factory and keccak(text=signature)[:4].hex() == selector, signature
    assert "accountImplementation()" in factory
    for name in ("EntryPoint", "SimpleAccount", "SimpleAccountFactory"):
        assert len(load_artifact(name)["deployedBytecode"]) // 2 - 1 < 24 * 1024


def test_batch_calldata_needs_matching_lengths() -> None:
    with pytest.raises(w.WalletError, match="2 targets, 1 calls"):
        w.build_execute_batch([to_checksum_address("0x" + "11" * 20)] * 2, [b""])
    with pytest.raises(w.WalletError, match="field nonce"):
        w.UserOp.from_rpc({"sender": "0x" + "11" * 20, "nonce": "seven"})
