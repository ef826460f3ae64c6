"""Deploying the Hourglass core contracts and one AVS's contracts onto a devnet chain.

Order (each constructor names contracts deployed before it): KeyRegistrar → DevnetOperatorTableUpdater →
BN254 and ECDSA CertificateVerifiers → updater.setCertificateVerifiers → TaskMailbox → initialize →
AVSTaskHook → TaskAVSRegistrar (AvsConfig: aggregator set 0, the executor sets: 1 unless told otherwise) →
WorkflowStateMachine (owned by the AVS, open registration, no fees; its constructor deploys WorkflowCodec and
WorkflowStake) → the ERC-4337 v0.6 EntryPoint, SimpleAccountFactory (wallets accept the controller's signature) and a
VerifyingPaymaster (the controller approves, owns it; the deployer funds its deposit and the controller) → KeyRegistrar.configureOperatorSet for every set (by the AVS). Addresses follow from the deployer's
nonces, so every transaction is sent back to back with a computed gas limit (no estimation: py-evm estimates by
re-running a call a dozen times) and the receipts are collected at the end.

The executor sets' task hook is the workflow contract (push: it completes a phase inside submitResult) unless the
project brings its own hook (then the driver completes phases with completePhase: pull); `task_hook` says which.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from hourglass_cli.chain.structs import ZERO_ADDRESS, AvsConfig, CurveType, operator_set
from hourglass_cli.errors import DevnetError

if TYPE_CHECKING:
    from web3 import Web3
    from web3.contract import Contract

    from hourglass_cli.chain.sender import PendingTx, TxSender
    from hourglass_cli.devnet.accounts import DevnetAccounts

CONTRACTS_VERSION = "1.0.0"
AGGREGATOR_SET_ID = 0
EXECUTOR_SET_ID = 1
DEFAULT_MAX_TASK_SLA = 3600  # the mailbox's cap on a task's SLA (seconds)
STATE_FORMAT = 1

WORKFLOW_CONTRACT = "WorkflowStateMachine"
ENTRY_POINT_CONTRACT = "EntryPoint"
WALLET_FACTORY_CONTRACT = "SimpleAccountFactory"
PAYMASTER_CONTRACT = "VerifyingPaymaster"
PAYMASTER_DEPOSIT = 10 * 10**18  # the devnet paymaster's EntryPoint deposit (what sponsored operations are paid from)
CONTROLLER_FUNDING = 100 * 10**18  # the wallet controller bundles UserOps and tops up wallets' gas deposits
MIN_CONTROLLER_BALANCE = 10 * 10**18
# Gas of the small calls (measured ~47-75k); the limit only has to be high enough, unused gas is refunded.
CALL_GAS = 200_000
# Contracts whose constructor deploys others (`new X()`): their code deposits are part of the deployment's gas.
_CREATES = {WORKFLOW_CONTRACT: ("WorkflowCodec", "WorkflowStake"), ENTRY_POINT_CONTRACT: ("SenderCreator",),
            WALLET_FACTORY_CONTRACT: ("SimpleAccount",)}


def deploy_gas(name: str, args_size: int = 0) -> int:
    """A deployment's gas limit from its code size: CREATE + init-code calldata + 200/byte of runtime code (and a
    CREATE + 200/byte for each contract its constructor deploys).

    Measured constructors add 0-80k on top of the formula; 300k leaves room for that to grow.
    """
    from hourglass_cli.compiler.artifacts import load_artifact

    art = load_artifact(name)
    init = len(art["bytecode"].removeprefix("0x")) // 2 + args_size
    runtime = len(art["deployedBytecode"].removeprefix("0x")) // 2
    inner = sum(32_000 + 200 * (len(load_artifact(n)["deployedBytecode"].removeprefix("0x")) // 2) + 100_000
                for n in _CREATES.get(name, ()))
    return 53_000 + 16 * init + 2 * ((init + 31) // 32) + 200 * runtime + inner + 300_000


def workflow_constructor_args(mailbox: str, avs: str) -> tuple[Any, ...]:
    """WorkflowStateMachine(mailbox, avs, owner, feeCollector, creationFee, executionFee, openRegistration) as the
    devnet deploys it (ours or a project's subclass): owned by the AVS, fees 0 to the AVS, open registration."""
    return (mailbox, avs, avs, avs, 0, 0, True)


@dataclass(frozen=True)
class CoreDeployment:
    """Addresses of one devnet's contracts and the AVS's operator-set layout (JSON round-trips)."""

    chain_id: int
    deployer: str
    avs: str
    key_registrar: str
    operator_table_updater: str
    bn254_certificate_verifier: str
    ecdsa_certificate_verifier: str
    task_mailbox: str
    task_avs_registrar: str
    avs_task_hook: str  # the default AVSTaskHook, or the project's hook when it has one
    curve: str  # "bn254" | "ecdsa": the aggregator set's curve (and the executor sets' unless they name another)
    aggregator_operator_set_id: int = AGGREGATOR_SET_ID
    executor_operator_set_id: int = EXECUTOR_SET_ID  # the first executor set
    max_task_sla: int = DEFAULT_MAX_TASK_SLA
    deployed_at_block: int = 0  # the first block a poller has to look at
    # every executor set as ((id, curve), …) in registration order; () = the one set above on `curve`
    executor_sets: tuple[tuple[int, str], ...] = ()
    workflow_state_machine: str = ""  # "" = none deployed
    workflow_contract: str = ""  # its contract name: WorkflowStateMachine, or the project's subclass
    task_hook: str = ""  # the executor sets' task hook ("" = avs_task_hook)
    entry_point: str = ""  # the ERC-4337 v0.6 EntryPoint ("" = no smart wallets on this chain)
    wallet_factory: str = ""  # SimpleAccountFactory: wallets of (owner, salt) that also accept wallet_controller
    wallet_controller: str = ""  # the client API's key that signs and bundles UserOps (devnet account 4337)
    wallet_paymaster: str = ""  # a VerifyingPaymaster whose signer and owner is wallet_controller

    @property
    def curve_type(self) -> CurveType:
        return CurveType.parse(self.curve)

    @property
    def sets(self) -> tuple[tuple[int, str], ...]:
        """(id, curve) of every executor set."""
        return self.executor_sets or ((self.executor_operator_set_id, self.curve),)

    @property
    def executor_set_ids(self) -> tuple[int, ...]:
        return tuple(set_id for set_id, _ in self.sets)

    def curve_of(self, set_id: int) -> CurveType:
        """The curve of operator set `set_id` (the aggregator's or an executor set's)."""
        return CurveType.parse(dict(self.sets).get(set_id, self.curve))

    @property
    def hook(self) -> str:
        """The task hook every executor set is configured with."""
        return self.task_hook or self.avs_task_hook

    @property
    def workflow_path(self) -> str:
        """How verified phase results reach the workflow contract: "push" (it is the sets' task hook), "pull" (the
        driver calls completePhase), "" (no workflow contract)."""
        if not self.workflow_state_machine:
            return ""
        return "push" if self.hook.lower() == self.workflow_state_machine.lower() else "pull"

    @property
    def certificate_verifier(self) -> str:
        """The verifier of the (first) executor set's curve."""
        curve = self.curve_of(self.executor_operator_set_id)
        return self.bn254_certificate_verifier if curve == CurveType.BN254 else self.ecdsa_certificate_verifier

    def operator_set(self, set_id: int) -> tuple[str, int]:
        return operator_set(self.avs, set_id)

    def to_json(self) -> dict[str, Any]:
        doc = {"format": STATE_FORMAT, **asdict(self)}
        doc["executor_sets"] = [{"id": set_id, "curve": curve} for set_id, curve in self.sets]
        doc["workflow_path"] = self.workflow_path  # for readers of state.json / `devnet status --json`
        return doc

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> CoreDeployment:
        doc = json.loads(data) if isinstance(data, str) else dict(data)
        if doc.pop("format", STATE_FORMAT) != STATE_FORMAT:
            raise DevnetError("the devnet state was written by another hourglass version",
                              hint="stop the devnet and start it again (`hourglass devnet stop && hourglass devnet start`)")
        names = {f.name for f in fields(cls)}
        optional = {f.name for f in fields(cls) if f.default is not MISSING}
        missing = names - set(doc) - optional
        if missing:
            raise DevnetError(f"the devnet state lacks {', '.join(sorted(missing))}",
                              hint="stop the devnet and start it again to rewrite it")
        values = {k: v for k, v in doc.items() if k in names}
        try:
            values["executor_sets"] = tuple((int(e["id"]), str(e["curve"])) if isinstance(e, dict)
                                            else (int(e[0]), str(e[1])) for e in values.get("executor_sets", ()))
        except (KeyError, TypeError, ValueError, IndexError):
            raise DevnetError("the devnet state's executor_sets are malformed",
                              hint="stop the devnet and start it again to rewrite it") from None
        return cls(**values)

    def bind(self, w3: Web3) -> CoreContracts:
        """web3 contract objects for every address."""
        from hourglass_cli.chain.contracts import contract

        return CoreContracts(
            key_registrar=contract(w3, "KeyRegistrar", self.key_registrar),
            operator_table_updater=contract(w3, "DevnetOperatorTableUpdater", self.operator_table_updater),
            bn254_certificate_verifier=contract(w3, "BN254CertificateVerifier", self.bn254_certificate_verifier),
            ecdsa_certificate_verifier=contract(w3, "ECDSACertificateVerifier", self.ecdsa_certificate_verifier),
            task_mailbox=contract(w3, "TaskMailbox", self.task_mailbox),
            task_avs_registrar=contract(w3, "TaskAVSRegistrar", self.task_avs_registrar),
            avs_task_hook=contract(w3, "AVSTaskHook", self.avs_task_hook),
            workflow_state_machine=(contract(w3, WORKFLOW_CONTRACT, self.workflow_state_machine)
                                    if self.workflow_state_machine else None),
            entry_point=contract(w3, ENTRY_POINT_CONTRACT, self.entry_point) if self.entry_point else None,
            wallet_factory=(contract(w3, WALLET_FACTORY_CONTRACT, self.wallet_factory)
                            if self.wallet_factory else None),
            wallet_paymaster=(contract(w3, PAYMASTER_CONTRACT, self.wallet_paymaster)
                              if self.wallet_paymaster else None),
        )


@dataclass(frozen=True)
class CoreContracts:
    """The deployment's contracts bound to one Web3."""

    key_registrar: Contract
    operator_table_updater: Contract
    bn254_certificate_verifier: Contract
    ecdsa_certificate_verifier: Contract
    task_mailbox: Contract
    task_avs_registrar: Contract
    avs_task_hook: Contract
    workflow_state_machine: Contract | None = None  # bound with our ABI (a project's subclass has at least it)
    entry_point: Contract | None = None
    wallet_factory: Contract | None = None
    wallet_paymaster: Contract | None = None

    def certificate_verifier(self, curve: CurveType | str) -> Contract:
        return self.bn254_certificate_verifier if CurveType.parse(curve) == CurveType.BN254 \
            else self.ecdsa_certificate_verifier


def _deploy(sender: TxSender, name: str, *args: Any) -> PendingTx:
    from hourglass_cli.chain.contracts import constructor, remember

    ctor = constructor(sender.w3, name, *args)
    args_size = max(0, (len(ctor.data_in_transaction) - len(_hex(ctor.bytecode))) // 2)
    pending = sender.send(ctor, gas=deploy_gas(name, args_size))
    remember(str(pending.contract_address), name)
    return pending


def _hex(value: Any) -> str:
    text = value if isinstance(value, str) else "0x" + bytes(value).hex()
    return text if text.startswith("0x") else "0x" + text


@dataclass(frozen=True)
class ContractAddresses:
    """What `deploy_contracts` deployed (the AVS's registrar and hook included)."""

    key_registrar: str
    operator_table_updater: str
    bn254_certificate_verifier: str
    ecdsa_certificate_verifier: str
    task_mailbox: str
    task_avs_registrar: str
    avs_task_hook: str
    deployed_at_block: int
    workflow_state_machine: str = ""
    entry_point: str = ""
    wallet_factory: str = ""
    wallet_paymaster: str = ""


def _send_contracts(deployer: TxSender, avs: str, avs_config: AvsConfig, max_task_sla: int, fee_split: int,
                    version: str, same_second_results: bool, workflow: bool = True,
                    wallet_controller: str | None = None) -> tuple[dict[str, str], list[PendingTx], list[PendingTx]]:
    """Send every deployment (and the two wiring calls) without waiting; addresses come from the nonces.

    `workflow`: also deploy WorkflowStateMachine; `wallet_controller`: also the EntryPoint, the wallet factory and
    the paymaster with that controller, and fund the paymaster's deposit (after the others, so their addresses do not
    depend on these)."""
    from hourglass_cli.chain.contracts import contract

    w3, d = deployer.w3, deployer.address
    deploys: list[PendingTx] = []

    def new(name: str, *args: Any) -> str:
        deploys.append(_deploy(deployer, name, *args))
        return str(deploys[-1].contract_address)

    kr = new("KeyRegistrar", version)
    updater = new("DevnetOperatorTableUpdater", d, kr)
    bn254 = new("BN254CertificateVerifier", updater, version)
    ecdsa = new("ECDSACertificateVerifier", updater, version)
    wire = contract(w3, "DevnetOperatorTableUpdater", updater).functions.setCertificateVerifiers(bn254, ecdsa)
    calls = [deployer.send(wire, gas=CALL_GAS)]
    mailbox = new("TaskMailbox", bn254, ecdsa, max_task_sla, same_second_results, version)
    calls.append(deployer.send(contract(w3, "TaskMailbox", mailbox).functions.initialize(d, fee_split, d), gas=CALL_GAS))
    hook = new("AVSTaskHook")
    registrar = new("TaskAVSRegistrar", avs, avs, kr, ZERO_ADDRESS, avs_config.to_tuple())
    addresses = {"key_registrar": kr, "operator_table_updater": updater, "bn254_certificate_verifier": bn254,
                 "ecdsa_certificate_verifier": ecdsa, "task_mailbox": mailbox, "task_avs_registrar": registrar,
                 "avs_task_hook": hook}
    if workflow:
        addresses["workflow_state_machine"] = new(WORKFLOW_CONTRACT, *workflow_constructor_args(mailbox, avs))
    if wallet_controller:
        addresses["entry_point"] = new(ENTRY_POINT_CONTRACT)
        addresses["wallet_factory"] = new(WALLET_FACTORY_CONTRACT, addresses["entry_point"], wallet_controller)
        paymaster = new(PAYMASTER_CONTRACT, addresses["entry_point"], wallet_controller, wallet_controller)
        addresses["wallet_paymaster"] = paymaster
        calls.append(deployer.send(contract(w3, PAYMASTER_CONTRACT, paymaster).functions.deposit(),
                                   value=PAYMASTER_DEPOSIT, gas=CALL_GAS))
    return addresses, deploys, calls


def _check_created(deploys: list[PendingTx], receipts: list[Any]) -> None:
    for pending, receipt in zip(deploys, receipts):
        if receipt["contractAddress"] != pending.contract_address:
            raise DevnetError(
                f"{pending.what} landed at {receipt['contractAddress']}, not at {pending.contract_address}",
                hint="another process sent from the deployer account; restart the devnet",
            )


def deploy_contracts(
    deployer: TxSender,
    avs: str,
    *,
    avs_config: AvsConfig = AvsConfig(AGGREGATOR_SET_ID, (EXECUTOR_SET_ID,)),
    max_task_sla: int = DEFAULT_MAX_TASK_SLA,
    fee_split: int = 0,
    version: str = CONTRACTS_VERSION,
    same_second_results: bool = True,
    workflow: bool = False,
    wallet_controller: str | None = None,
) -> ContractAddresses:
    """Deploy the core contracts, the AVS's registrar (owned by `avs`) and hook, (`workflow`) the
    WorkflowStateMachine and (`wallet_controller`) the EntryPoint and wallet factory; wait for all of them. (The
    contract tests' stack deploys its own workflow contract; `deploy_core`, the devnet's, deploys ours by default.)"""
    from hourglass_cli.chain.sender import wait_all

    addresses, deploys, calls = _send_contracts(deployer, avs, avs_config, max_task_sla, fee_split, version,
                                                same_second_results, workflow, wallet_controller)
    receipts = wait_all(deploys + calls)
    _check_created(deploys, receipts)
    return ContractAddresses(**addresses, deployed_at_block=int(receipts[0]["blockNumber"]))


def configure_operator_sets(avs: TxSender, key_registrar: str, curves: dict[int, CurveType | str]) -> list[PendingTx]:
    """Give each of the AVS's operator sets its curve in the KeyRegistrar (sent, not awaited)."""
    from hourglass_cli.chain.contracts import contract

    registrar = contract(avs.w3, "KeyRegistrar", key_registrar)
    return [
        avs.send(registrar.functions.configureOperatorSet(operator_set(avs.address, set_id),
                                                           int(CurveType.parse(curve))), gas=CALL_GAS)
        for set_id, curve in curves.items()
    ]


def deploy_core(
    w3: Web3,
    accounts: DevnetAccounts,
    *,
    curve: str | CurveType = CurveType.BN254,
    max_task_sla: int = DEFAULT_MAX_TASK_SLA,
    fee_split: int = 0,
    aggregator_set_id: int = AGGREGATOR_SET_ID,
    executor_set_id: int = EXECUTOR_SET_ID,
    executor_sets: Sequence[tuple[int, str | CurveType]] | None = None,
    version: str = CONTRACTS_VERSION,
    deployer: TxSender | None = None,
    avs: TxSender | None = None,
    same_second_results: bool = True,
    workflow: bool = True,
    wallets: bool = True,
) -> CoreDeployment:
    """Deploy every contract, create the AVS's operator sets, return the addresses.

    The aggregator set is on `curve`; the executor sets are `executor_sets` ((id, curve) pairs, in order), by
    default the one set `executor_set_id` on `curve`. `workflow`: deploy our WorkflowStateMachine, which becomes
    the executor sets' task hook (False: the caller deploys a project's workflow contract, or none). `wallets`:
    deploy the EntryPoint, the wallet factory and the paymaster for `accounts.wallet_controller`, fund that account.
    """
    from hourglass_cli.chain.sender import wait_all

    curve_type = CurveType.parse(curve)
    if curve_type == CurveType.NONE:
        raise DevnetError("the operator sets need a curve", hint="use --curve bn254 or --curve ecdsa")
    sets = [(int(i), CurveType.parse(c)) for i, c in (executor_sets or [(executor_set_id, curve_type)])]
    ids = [i for i, _ in sets]
    if not sets or len(set(ids)) != len(ids) or aggregator_set_id in ids or any(c == CurveType.NONE for _, c in sets):
        raise DevnetError(f"executor sets {ids} must be distinct, each with a curve, none the aggregator's set "
                          f"{aggregator_set_id}")
    deployer = deployer or accounts.deployer.sender(w3)
    avs = avs or accounts.avs.sender(w3)
    avs_config = AvsConfig(aggregator_set_id, tuple(ids))
    controller = accounts.wallet_controller.address if wallets else None
    addresses, deploys, calls = _send_contracts(deployer, avs.address, avs_config, max_task_sla, fee_split, version,
                                                same_second_results, workflow, controller)
    if controller and int(w3.eth.get_balance(controller)) < MIN_CONTROLLER_BALANCE:
        calls.append(deployer.transfer(controller, CONTROLLER_FUNDING))  # after the deployments: nonces unchanged
    calls += configure_operator_sets(avs, addresses["key_registrar"],
                                     {aggregator_set_id: curve_type, **dict(sets)})
    receipts = wait_all(deploys + calls)
    _check_created(deploys, receipts)
    wsm = addresses.get("workflow_state_machine", "")
    return CoreDeployment(
        chain_id=deployer.chain_id,
        deployer=deployer.address,
        avs=avs.address,
        curve=curve_type.label,
        aggregator_operator_set_id=aggregator_set_id,
        executor_operator_set_id=ids[0],
        max_task_sla=max_task_sla,
        deployed_at_block=int(receipts[0]["blockNumber"]),
        executor_sets=tuple((i, c.label) for i, c in sets),
        workflow_contract=WORKFLOW_CONTRACT if wsm else "",
        task_hook=wsm or addresses["avs_task_hook"],
        wallet_controller=controller or "",
        **addresses,
    )
