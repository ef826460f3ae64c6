"""deploy_core + setup_operators on eth-tester and anvil: keys, sockets, tables, mailbox config, keystores."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pytest

from hourglass_cli.chain.avs import registration_digest
from hourglass_cli.chain.structs import (
    ZERO_ADDRESS,
    AvsConfig,
    ConsensusType,
    CurveType,
    TaskConfig,
    operator_set,
    operator_set_key,
)
from hourglass_cli.crypto import bn254, ecdsa, keystore, merkle
from hourglass_cli.devnet.accounts import DevnetAccounts, derive_account, devnet_accounts
from hourglass_cli.devnet.deploy import CoreContracts, CoreDeployment, deploy_core
from hourglass_cli.operator_sets import ExecutorSetSpec
from hourglass_cli.devnet.operators import (
    DEVNET_KEYSTORE_PASSWORD,
    DevnetOperators,
    operator_bn254_key,
    operator_ecdsa_key,
    setup_operators,
)
from hourglass_cli.errors import DevnetError, WrongPasswordError
from tests.chain.conftest import start_chain
from tests.contracts.chains import Chain

pytestmark = pytest.mark.slow

SEED = b"test-deploy-seed"


@dataclass
class Devnet:
    chain: Chain
    accounts: DevnetAccounts
    core: CoreDeployment
    operators: DevnetOperators
    contracts: CoreContracts
    keys_dir: Path


def _devnet(kind: str, curve: str, keys_dir: Path, executors: int = 4, seed: bytes = SEED) -> Devnet:
    chain = start_chain(kind)
    accounts = devnet_accounts(executors)
    core = deploy_core(chain.w3, accounts, curve=curve)
    operators = setup_operators(chain.w3, core, accounts, keys_dir, seed=seed)
    return Devnet(chain, accounts, core, operators, core.bind(chain.w3), keys_dir)


@pytest.fixture(scope="module", params=[("eth-tester", "bn254"), ("eth-tester", "ecdsa"),
                                        ("anvil", "bn254"), ("anvil", "ecdsa")], ids=lambda p: "-".join(p))
def devnet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """One devnet (1 aggregator + 4 executors) per chain and curve, shared by the read-only tests."""
    kind, curve = request.param
    net = _devnet(kind, curve, tmp_path_factory.mktemp(f"keys-{kind}-{curve}"))
    yield net
    net.chain.close()


# ------------------------------------------------------------------ what is on chain


def test_keys_are_registered(devnet: Devnet) -> None:
    c, core = devnet.contracts, devnet.core
    for op in devnet.operators.operators:
        opset = operator_set(core.avs, op.operator_set_id)
        assert c.key_registrar.functions.isRegistered(opset, op.address).call()
        if core.curve == "bn254":
            key = operator_bn254_key(SEED, op.index)
            g1, g2 = c.key_registrar.functions.getBN254Key(opset, op.address).call()
            assert tuple(g1) == key.public_g1() == bn254.g1_from_bytes(bytes.fromhex(op.bn254_g1 or ""))
            x0, x1, y0, y1 = bn254.g2_to_solidity(key.public_g2())
            assert [list(g2[0]), list(g2[1])] == [[x0, x1], [y0, y1]]
            assert op.bn254_g2 == key.public_g2_bytes().hex() and op.ecdsa_signer is None
        else:
            signer = ecdsa.address_of(operator_ecdsa_key(SEED, op.index))
            assert c.key_registrar.functions.getECDSAAddress(opset, op.address).call() == signer == op.ecdsa_signer
            assert signer != op.address  # the signing key is not the account key
            assert op.bn254_g1 is None


def test_roles_sockets_and_membership(devnet: Devnet) -> None:
    c, ops = devnet.contracts, devnet.operators
    assert [op.address for op in ops.operators] == [derive_account(3 + i).address for i in range(5)]
    assert ops.aggregator.name == "aggregator" and ops.aggregator.operator_set_id == 0
    assert [op.name for op in ops.executors] == [f"executor-{i}" for i in range(1, 5)]
    for op in ops.operators:
        assert c.task_avs_registrar.functions.getOperatorSocket(op.address).call() == op.socket
    assert [op.socket for op in ops.operators] == [f"127.0.0.1:{9000 + i}" for i in range(5)]
    registrar = c.task_avs_registrar.functions
    assert registrar.getRegisteredOperators(0).call() == [ops.aggregator.address]
    assert registrar.getRegisteredOperators(1).call() == [op.address for op in ops.executors]
    assert registrar.isOperatorAllowed(operator_set(devnet.core.avs, 0), ops.aggregator.address).call()


def test_avs_config_and_curves(devnet: Devnet) -> None:
    c, core = devnet.contracts, devnet.core
    assert AvsConfig.from_tuple(c.task_avs_registrar.functions.getAvsConfig().call()) == AvsConfig(0, (1,))
    assert c.task_avs_registrar.functions.avs().call() == core.avs == devnet.accounts.avs.address
    assert c.task_avs_registrar.functions.owner().call() == core.avs
    for set_id in (0, 1):
        curve = c.key_registrar.functions.getOperatorSetCurveType(operator_set(core.avs, set_id)).call()
        assert CurveType(curve) == core.curve_type


def test_operator_tables_match_the_python_computation(devnet: Devnet) -> None:
    c, core, ops = devnet.contracts, devnet.core, devnet.operators
    verifier = c.certificate_verifier(core.curve)
    for set_id, members in ((0, [ops.aggregator]), (1, list(ops.executors))):
        opset = operator_set(core.avs, set_id)
        ts = ops.reference_timestamps[set_id]
        assert verifier.functions.latestReferenceTimestamp(opset).call() == ts
        assert verifier.functions.getOperatorSetOwner(opset).call() == core.avs
        assert verifier.functions.getTotalStakeWeights(opset, ts).call() == [sum(m.weight for m in members)]
        assert c.operator_table_updater.functions.getOperators(opset).call() == [m.address for m in members]
        if core.curve == "bn254":
            keys = [bn254.g1_from_bytes(bytes.fromhex(m.bn254_g1 or "")) for m in members]
            root, count, aggregate, totals = verifier.functions.getOperatorSetInfo(opset, ts).call()
            leaves = [merkle.operator_info_leaf(k, [m.weight]) for k, m in zip(keys, members)]
            assert root == merkle.merkle_root(leaves) and count == len(members)
            assert tuple(aggregate) == bn254.aggregate_g1(keys)
            assert totals == [sum(m.weight for m in members)]
        else:
            infos = verifier.functions.getOperatorInfos(opset, ts).call()
            assert [(i[0], list(i[1])) for i in infos] == [(m.ecdsa_signer, [m.weight]) for m in members]


def test_mailbox_config_reads_back_exactly(devnet: Devnet) -> None:
    c, core = devnet.contracts, devnet.core
    raw = c.task_mailbox.functions.getExecutorOperatorSetTaskConfig(operator_set(core.avs, 1)).call()
    assert core.hook == core.workflow_state_machine != core.avs_task_hook  # no project hook: the push path
    expected = TaskConfig(task_hook=core.workflow_state_machine, task_sla=120, curve=core.curve_type,
                          consensus=ConsensusType.STAKE_PROPORTION_THRESHOLD, bips=6667,
                          fee_token=ZERO_ADDRESS, fee_collector=ZERO_ADDRESS)
    assert TaskConfig.from_tuple(raw) == expected == devnet.operators.task_config
    assert tuple(raw[:5]) == expected.to_tuple()[:5] and bytes(raw[5][1]) == expected.consensus_value()
    assert c.task_mailbox.functions.isExecutorOperatorSetRegistered(operator_set_key(core.avs, 1)).call()
    assert not c.task_mailbox.functions.isExecutorOperatorSetRegistered(operator_set_key(core.avs, 0)).call()
    assert c.task_mailbox.functions.owner().call() == core.deployer


def test_registration_digest_matches_the_contract_views(devnet: Devnet) -> None:
    c, core = devnet.contracts, devnet.core
    domain = c.key_registrar.functions.domainSeparator().call()
    operator, opset = devnet.operators.aggregator.address, operator_set(core.avs, 0)
    key_data = bn254.key_registration_data(operator_bn254_key(b"x", 1))
    assert registration_digest(domain, CurveType.BN254, operator, core.avs, 0, key_data) == \
        c.key_registrar.functions.getBN254KeyRegistrationMessageHash(operator, opset, key_data).call()
    signer = ecdsa.address_of(operator_ecdsa_key(b"x", 1))
    assert registration_digest(domain, CurveType.ECDSA, operator, core.avs, 0, bytes.fromhex(signer[2:])) == \
        c.key_registrar.functions.getECDSAKeyRegistrationMessageHash(operator, opset, signer).call()


# ------------------------------------------------------------------ keystores and state


def test_keystores_decrypt_to_the_registered_keys(devnet: Devnet) -> None:
    for op in devnet.operators.operators:
        path = Path(op.keystore)
        assert path.parent == devnet.keys_dir and path.name == f"{op.name}.{op.curve}.keystore.json"
        assert os.stat(path).st_mode & 0o777 == 0o600
        info = keystore.inspect_keystore(path)
        loaded = keystore.load_keystore(path, DEVNET_KEYSTORE_PASSWORD)
        if op.curve == "bn254":
            assert info.format == "eip2335"
            assert json.loads(path.read_text())["crypto"]["kdf"]["params"]["n"] == 2**12  # light preset
            assert loaded.bn254_private_key().public_g1_bytes().hex() == op.bn254_g1
        else:
            assert info.format == "web3-v3"
            assert json.loads(path.read_text())["crypto"]["kdfparams"]["n"] == 2**12
            assert ecdsa.address_of(loaded.ecdsa_private_key()) == op.ecdsa_signer
    with pytest.raises(WrongPasswordError):
        keystore.load_keystore(devnet.operators.aggregator.keystore, "not the devnet password")


def test_state_round_trips_through_json_without_secrets(devnet: Devnet) -> None:
    core_text = json.dumps(devnet.core.to_json())
    ops_text = json.dumps(devnet.operators.to_json())
    assert CoreDeployment.from_json(core_text) == devnet.core
    assert DevnetOperators.from_json(json.loads(ops_text)) == devnet.operators
    secrets = [DEVNET_KEYSTORE_PASSWORD, SEED.decode()]
    for op in devnet.operators.operators:
        secrets.append(derive_account(op.account_index).private_key.hex())
        secrets.append(operator_bn254_key(SEED, op.index).to_bytes().hex())
        secrets.append(operator_ecdsa_key(SEED, op.index).hex())
    for text in (core_text, ops_text, repr(devnet.operators), repr(devnet.accounts)):
        assert not any(secret in text for secret in secrets)
    with pytest.raises(DevnetError, match="another hourglass version"):
        DevnetOperators.from_json({**json.loads(ops_text), "format": 99})
    with pytest.raises(DevnetError, match="malformed"):
        DevnetOperators.from_json({"format": 1, "curve": "bn254"})


# ------------------------------------------------------------------ fresh devnets


@pytest.mark.parametrize(("kind", "curve"), [("anvil", "bn254"), ("eth-tester", "ecdsa")])
def test_the_same_seed_gives_the_same_devnet(kind: str, curve: str, tmp_path: Path) -> None:
    nets = [_devnet(kind, curve, tmp_path / "a"), _devnet(kind, curve, tmp_path / "b"),
            _devnet(kind, curve, tmp_path / "c", seed=b"another seed")]
    try:
        a, b, c = nets
        assert a.core == b.core == c.core  # same deployer nonces on a fresh chain -> same addresses
        def records(net: Devnet) -> list:
            return [replace(op, keystore=Path(op.keystore).name) for op in net.operators.operators]
        assert records(a) == records(b)
        assert [op.address for op in records(c)] == [op.address for op in records(a)]
        key = "bn254_g1" if curve == "bn254" else "ecdsa_signer"
        assert all(getattr(x, key) != getattr(y, key) for x, y in zip(records(a), records(c)))
    finally:
        for net in nets:
            net.chain.close()


@pytest.mark.parametrize("kind", ["eth-tester", "anvil"])
def test_more_than_seven_operators_are_funded_by_the_deployer(kind: str, tmp_path: Path) -> None:
    unfunded = [derive_account(10).address, derive_account(11).address]
    net = _devnet(kind, "ecdsa", tmp_path, executors=8)  # accounts 3..11; the chain funds 0..9
    try:
        w3 = net.chain.w3
        assert [op.account_index for op in net.operators.operators] == list(range(3, 12))
        assert all(w3.eth.get_balance(a) > 0 for a in unfunded)
        assert net.contracts.task_avs_registrar.functions.getRegisteredOperators(1).call() == \
            [op.address for op in net.operators.executors]
    finally:
        net.chain.close()


def test_bad_parameters_are_refused(tmp_path: Path) -> None:
    chain = start_chain("eth-tester")
    accounts = devnet_accounts(2)
    with pytest.raises(DevnetError, match="need a curve"):
        deploy_core(chain.w3, accounts, curve=CurveType.NONE)
    core = deploy_core(chain.w3, accounts, curve="ecdsa")
    with pytest.raises(DevnetError, match="need 3 weights and sockets"):
        setup_operators(chain.w3, core, accounts, tmp_path, weights=[1, 1])
    with pytest.raises(DevnetError, match="must be positive"):
        setup_operators(chain.w3, core, accounts, tmp_path, weights=[1, 0, 1])
    with pytest.raises(DevnetError, match="a task SLA of 86400 s is more than this TaskMailbox allows"):
        setup_operators(chain.w3, core, accounts, tmp_path, task_sla=86400)


def test_the_devnet_mailbox_takes_any_sla_the_config_accepts(tmp_path: Path) -> None:
    """Issue #12: [task].sla_seconds up to 86400 passed validation and the devnet's start reverted (cap 3600)."""
    from hourglass_cli.config import TaskSection
    from hourglass_cli.devnet import bringup

    most = {f.name: f for f in fields(TaskSection)}["sla_seconds"].metadata["max"]
    chain = start_chain("eth-tester")
    accounts = devnet_accounts(1)
    core = deploy_core(chain.w3, accounts, curve="bn254", max_task_sla=bringup.devnet_max_task_sla(most))
    ops = setup_operators(chain.w3, core, accounts, tmp_path, task_sla=most)
    raw = core.bind(chain.w3).task_mailbox.functions.getExecutorOperatorSetTaskConfig(operator_set(core.avs, 1)).call()
    assert TaskConfig.from_tuple(raw).task_sla == most == ops.task_config.task_sla


# ------------------------------------------------------------------ the workflow contract (issue #13)


def test_the_workflow_state_machine_is_deployed_wired_and_is_the_sets_hook(devnet: Devnet) -> None:
    """WorkflowStateMachine comes with the core contracts: its mailbox and AVS are the devnet's, the AVS owns it,
    anyone may register workflows, no fees, and (no project hook) it is the executor set's task hook: push."""
    w3, core = devnet.chain.w3, devnet.core
    wsm = devnet.contracts.workflow_state_machine
    assert wsm is not None and core.workflow_state_machine == wsm.address and len(w3.eth.get_code(wsm.address)) > 0
    assert core.workflow_contract == "WorkflowStateMachine" and core.workflow_path == "push"
    views = wsm.functions
    assert views.mailbox().call() == core.task_mailbox and views.avs().call() == core.avs
    assert views.owner().call() == core.avs == views.feeCollector().call()
    assert views.openRegistration().call() and views.creationFee().call() == views.executionFee().call() == 0
    assert len(w3.eth.get_code(views.codec().call())) > 0 and len(w3.eth.get_code(views.stake().call())) > 0
    raw = devnet.contracts.task_mailbox.functions.getExecutorOperatorSetTaskConfig(operator_set(core.avs, 1)).call()
    assert raw[0] == core.workflow_state_machine
    doc = core.to_json()
    assert doc["workflow_state_machine"] == wsm.address and doc["workflow_path"] == "push"
    assert CoreDeployment.from_json(doc) == core


def test_the_smart_wallet_contracts_come_with_the_core_contracts(devnet: Devnet) -> None:
    """EntryPoint, SimpleAccountFactory and VerifyingPaymaster (the controller: devnet account 4337, funded by the
    deployer, as is the paymaster's deposit) are deployed after every other contract and recorded in the deployment;
    the factory's wallets answer getAddress."""
    from hourglass_cli.api.wallets import predict_address, wallet_address
    from hourglass_cli.devnet.accounts import CONTROLLER_INDEX

    w3, core = devnet.chain.w3, devnet.core
    controller = derive_account(CONTROLLER_INDEX).address
    assert core.wallet_controller == controller == devnet.accounts.wallet_controller.address
    assert devnet.contracts.entry_point is not None and devnet.contracts.wallet_factory is not None
    factory = devnet.contracts.wallet_factory.functions
    assert factory.entryPoint().call() == core.entry_point and factory.controller().call() == controller
    assert len(w3.eth.get_code(core.entry_point)) > 0 and len(w3.eth.get_code(factory.accountImplementation().call()))
    assert w3.eth.get_balance(controller) >= 10 * 10**18
    owner = devnet.accounts.app.address
    assert wallet_address(w3, core.wallet_factory, owner, 1) == predict_address(core.wallet_factory, owner, 1)
    paymaster = devnet.contracts.wallet_paymaster
    assert paymaster is not None and paymaster.functions.verifyingSigner().call() == controller
    assert paymaster.functions.owner().call() == controller and paymaster.functions.getDeposit().call() == 10 * 10**18
    doc = core.to_json()
    assert [doc[k] for k in ("entry_point", "wallet_factory", "wallet_paymaster", "wallet_controller")] == \
        [core.entry_point, core.wallet_factory, core.wallet_paymaster, controller]
    assert CoreDeployment.from_json(doc) == core


def test_the_workflow_deployment_fits_its_gas_limit() -> None:
    """deploy_gas counts the helper contracts WorkflowStateMachine's constructor creates (8.3M measured)."""
    from hourglass_cli.devnet.deploy import deploy_gas

    chain = start_chain("eth-tester")
    try:
        core = deploy_core(chain.w3, devnet_accounts(1), curve="bn254")
        receipts = [chain.w3.eth.get_transaction_receipt(tx["hash"])
                    for n in range(chain.w3.eth.block_number + 1)
                    for tx in chain.w3.eth.get_block(n, full_transactions=True)["transactions"]]
        (made,) = [r for r in receipts if r["contractAddress"] == core.workflow_state_machine]
        assert made["status"] == 1 and made["gasUsed"] < deploy_gas("WorkflowStateMachine") < 2 * made["gasUsed"]
    finally:
        chain.close()


def test_without_our_workflow_contract_the_default_hook_is_configured(tmp_path: Path) -> None:
    chain = start_chain("eth-tester")
    try:
        accounts = devnet_accounts(1)
        core = deploy_core(chain.w3, accounts, curve="ecdsa", workflow=False, wallets=False)
        assert core.workflow_state_machine == "" and core.workflow_path == "" and core.hook == core.avs_task_hook
        assert core.entry_point == core.wallet_factory == core.wallet_paymaster == core.wallet_controller == ""
        ops = setup_operators(chain.w3, core, accounts, tmp_path)
        assert ops.task_config.task_hook == core.avs_task_hook
    finally:
        chain.close()


# ------------------------------------------------------------------ several executor sets (issue #13)

SETS = (ExecutorSetSpec(1, 4, "bn254"), ExecutorSetSpec(2, 3, "ecdsa"), ExecutorSetSpec(3, 2, "bn254", 5000))


@pytest.fixture(scope="module")
def sets_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    chain = start_chain("eth-tester")
    accounts = devnet_accounts(sum(s.operators for s in SETS))
    core = deploy_core(chain.w3, accounts, curve="bn254", executor_sets=[(s.id, s.curve) for s in SETS])
    keys = tmp_path_factory.mktemp("keys-sets")
    operators = setup_operators(chain.w3, core, accounts, keys, seed=SEED, executor_sets=SETS, threshold_bips=6000)
    yield Devnet(chain, accounts, core, operators, core.bind(chain.w3), keys)
    chain.close()


def test_every_executor_set_is_registered_with_its_own_operators(sets_devnet: Devnet) -> None:
    c, core, ops = sets_devnet.contracts, sets_devnet.core, sets_devnet.operators
    assert core.executor_sets == ((1, "bn254"), (2, "ecdsa"), (3, "bn254")) and core.executor_set_ids == (1, 2, 3)
    assert AvsConfig.from_tuple(c.task_avs_registrar.functions.getAvsConfig().call()) == AvsConfig(0, (1, 2, 3))
    assert [op.name for op in ops.executors] == [f"executor-{i}" for i in range(1, 10)]
    assert [op.operator_set_id for op in ops.executors] == [1] * 4 + [2] * 3 + [3] * 2
    assert [op.curve for op in ops.executors] == ["bn254"] * 4 + ["ecdsa"] * 3 + ["bn254"] * 2
    assert len({op.address for op in ops.operators}) == 10 and len({op.socket for op in ops.operators}) == 10
    registrar = c.task_avs_registrar.functions
    for spec in SETS:
        members = ops.executors_of(spec.id)
        assert len(members) == spec.operators
        assert registrar.getRegisteredOperators(spec.id).call() == [m.address for m in members]
        opset = operator_set(core.avs, spec.id)
        assert CurveType(c.key_registrar.functions.getOperatorSetCurveType(opset).call()) == CurveType.parse(spec.curve)
        for m in members:
            assert c.key_registrar.functions.isRegistered(opset, m.address).call()
            assert registrar.getOperatorSocket(m.address).call() == m.socket
            assert m.keystore.endswith(f"{m.name}.{spec.curve}.keystore.json")
        verifier = c.certificate_verifier(spec.curve)
        ts = ops.reference_timestamps[spec.id]
        assert verifier.functions.latestReferenceTimestamp(opset).call() == ts
        assert verifier.functions.getTotalStakeWeights(opset, ts).call() == [sum(m.weight for m in members)]


def test_every_executor_set_has_its_task_config(sets_devnet: Devnet) -> None:
    """Same SLA, hook and default threshold for every set, unless the set names its own threshold (set 3)."""
    c, core, ops = sets_devnet.contracts, sets_devnet.core, sets_devnet.operators
    assert list(ops.task_configs) == [1, 2, 3] and ops.executor_set_ids == (1, 2, 3)
    for spec in SETS:
        raw = c.task_mailbox.functions.getExecutorOperatorSetTaskConfig(operator_set(core.avs, spec.id)).call()
        config = TaskConfig.from_tuple(raw)
        assert config == ops.task_configs[spec.id]
        assert config.task_hook == core.workflow_state_machine and config.task_sla == 120
        assert config.curve == CurveType.parse(spec.curve) and config.bips == (spec.threshold_bips or 6000)
        assert c.task_mailbox.functions.isExecutorOperatorSetRegistered(operator_set_key(core.avs, spec.id)).call()
    assert DevnetOperators.from_json(json.loads(json.dumps(ops.to_json()))) == ops
    assert CoreDeployment.from_json(json.dumps(core.to_json())) == core


def test_a_task_of_a_later_set_can_be_created(sets_devnet: Devnet) -> None:
    from hourglass_cli.chain import avs as calls

    w3, core = sets_devnet.chain.w3, sets_devnet.core
    task_hash, _ = calls.create_task(sets_devnet.accounts.app.sender(w3), sets_devnet.contracts.task_mailbox,
                                     core.avs, 2, b"\x00" * 32, gas=3_000_000)
    info = sets_devnet.contracts.task_mailbox.functions.getTaskInfo(task_hash).call()
    assert info[5] == 2  # executorOperatorSetId


def test_executor_sets_that_do_not_fit_are_refused(tmp_path: Path) -> None:
    chain = start_chain("eth-tester")
    try:
        accounts = devnet_accounts(3)
        with pytest.raises(DevnetError, match="must be distinct"):
            deploy_core(chain.w3, accounts, executor_sets=[(1, "bn254"), (1, "ecdsa")])
        with pytest.raises(DevnetError, match="must be distinct"):
            deploy_core(chain.w3, accounts, executor_sets=[(0, "bn254")])
        core = deploy_core(chain.w3, accounts, executor_sets=[(1, "bn254"), (2, "ecdsa")])
        with pytest.raises(DevnetError, match="the executor sets have 2 operators"):
            setup_operators(chain.w3, core, accounts, tmp_path,
                            executor_sets=[ExecutorSetSpec(1, 1, "bn254"), ExecutorSetSpec(2, 1, "ecdsa")])
        with pytest.raises(DevnetError, match="set 2 was created on ecdsa"):
            setup_operators(chain.w3, core, accounts, tmp_path,
                            executor_sets=[ExecutorSetSpec(1, 1, "bn254"), ExecutorSetSpec(2, 2, "bn254")])
        with pytest.raises(DevnetError, match="set 5 is not one of"):
            setup_operators(chain.w3, core, accounts, tmp_path, executor_sets=[ExecutorSetSpec(5, 3, "bn254")])
    finally:
        chain.close()
