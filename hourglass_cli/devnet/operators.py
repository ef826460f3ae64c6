"""The devnet's operators: derived keys, keystores, on-chain registration, operator tables, mailbox config.

Operator 0 is the aggregator (operator set 0), operators 1..N the executors: the first set's (by default the only
one, set 1) first, then each further executor set's in order (`operator_sets.ExecutorSetSpec`). Signing keys
derive from a devnet seed (`bn254.PrivateKey.from_seed(seed ‖ index)`, ECDSA likewise), so the same seed
always gives the same keys; they are distinct from the operators' account keys (the mnemonic's).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_utils import keccak

from hourglass_cli.chain.structs import ConsensusType, CurveType, TaskConfig
from hourglass_cli.crypto import bn254, ecdsa
from hourglass_cli.operator_sets import ExecutorSetSpec
from hourglass_cli.errors import DevnetError

if TYPE_CHECKING:
    from web3 import Web3

    from hourglass_cli.chain.sender import PendingTx, TxSender
    from hourglass_cli.crypto.keystore import KdfParams
    from hourglass_cli.devnet.accounts import DevAccount, DevnetAccounts
    from hourglass_cli.devnet.deploy import CoreDeployment

DEFAULT_EXECUTORS = 4
DEFAULT_WEIGHT = 10**18  # one unit of stake per operator: equal weights unless told otherwise
DEFAULT_SEED = b"hourglass-devnet"
DEVNET_KEYSTORE_PASSWORD = "hourglass-devnet"  # devnet keys only, like the public mnemonic
DEFAULT_TASK_SLA = 120
DEFAULT_THRESHOLD_BIPS = 6667
DEFAULT_HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 9000  # aggregator 9000, executor i at 9000 + i
STATE_FORMAT = 1

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_ECDSA_TAG = b"hourglass/devnet/ecdsa-signing-key/v1"

# ------------------------------------------------------------------ keys


def _seed_bytes(seed: bytes | str) -> bytes:
    return seed.encode() if isinstance(seed, str) else bytes(seed)


def operator_bn254_key(seed: bytes | str, index: int) -> bn254.PrivateKey:
    """Operator `index`'s BN254 signing key on the devnet with `seed`."""
    return bn254.PrivateKey.from_seed(_seed_bytes(seed) + index.to_bytes(4, "big"))


def operator_ecdsa_key(seed: bytes | str, index: int) -> bytes:
    """Operator `index`'s ECDSA signing key (not its account key) on the devnet with `seed`."""
    for counter in range(256):
        key = keccak(_ECDSA_TAG + _seed_bytes(seed) + index.to_bytes(4, "big") + bytes([counter]))
        if 0 < int.from_bytes(key, "big") < _SECP256K1_N:
            return key
    raise AssertionError("unreachable: 256 keccak outputs outside the secp256k1 range")


# ------------------------------------------------------------------ the state's description


@dataclass(frozen=True)
class OperatorRecord:
    """One registered operator, as the devnet state file records it (no secrets)."""

    name: str  # "aggregator", "executor-1", …
    role: str  # "aggregator" | "executor"
    index: int  # key-derivation index: 0 aggregator, 1.. executors
    address: str
    account_index: int  # HD index of the operator's account key (m/44'/60'/0'/0/<account_index>)
    account_path: str
    operator_set_id: int
    curve: str  # "bn254" | "ecdsa"
    socket: str
    weight: int
    keystore: str  # the signing key's keystore (EIP-2335 for bn254, Web3 v3 for ecdsa)
    bn254_g1: str | None = None  # hex of the 64-byte G1 public key
    bn254_g2: str | None = None  # hex of the 128-byte G2 public key (imaginary parts first)
    ecdsa_signer: str | None = None  # the ECDSA signing key's address


def _config_json(config: TaskConfig) -> dict[str, Any]:
    return {
        "taskHook": config.task_hook,
        "taskSLA": config.task_sla,
        "curve": config.curve.label,
        "consensus": config.consensus.name,
        "bips": config.bips,
        "feeToken": config.fee_token,
        "feeCollector": config.fee_collector,
        "taskMetadata": "0x" + config.task_metadata.hex(),
    }


def _config_from_json(cfg: dict[str, Any]) -> TaskConfig:
    return TaskConfig(
        task_hook=cfg["taskHook"],
        task_sla=int(cfg["taskSLA"]),
        curve=CurveType.parse(cfg["curve"]),
        consensus=ConsensusType[cfg["consensus"]],
        bips=cfg["bips"],
        fee_token=cfg["feeToken"],
        fee_collector=cfg["feeCollector"],
        task_metadata=bytes.fromhex(cfg["taskMetadata"].removeprefix("0x")),
    )


@dataclass(frozen=True)
class DevnetOperators:
    """The devnet's operators, their tables' reference timestamps and each executor set's task config."""

    curve: str  # the aggregator set's
    operators: tuple[OperatorRecord, ...]
    reference_timestamps: dict[int, int]  # operator set id -> latest operator table timestamp
    task_configs: dict[int, TaskConfig]  # executor set id -> its task config on the mailbox (registration order)
    keys_dir: str

    @property
    def aggregator(self) -> OperatorRecord:
        return next(op for op in self.operators if op.role == "aggregator")

    @property
    def executors(self) -> tuple[OperatorRecord, ...]:
        return tuple(op for op in self.operators if op.role == "executor")

    @property
    def executor_set_ids(self) -> tuple[int, ...]:
        return tuple(self.task_configs)

    def executors_of(self, set_id: int) -> tuple[OperatorRecord, ...]:
        return tuple(op for op in self.executors if op.operator_set_id == set_id)

    @property
    def task_config(self) -> TaskConfig:
        """The first executor set's task config (the only one's, on a devnet with one set)."""
        return next(iter(self.task_configs.values()))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "curve": self.curve,
            "keysDir": self.keys_dir,
            "referenceTimestamps": {str(k): v for k, v in self.reference_timestamps.items()},
            "taskConfig": _config_json(self.task_config),  # the first set's, as before there were several
            "taskConfigs": {str(k): _config_json(v) for k, v in self.task_configs.items()},
            "operators": [asdict(op) for op in self.operators],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> DevnetOperators:
        doc = json.loads(data) if isinstance(data, str) else data
        if doc.get("format") != STATE_FORMAT:
            raise DevnetError("the devnet operators were written by another hourglass version",
                              hint="stop the devnet and start it again to rewrite its state")
        try:
            operators = tuple(OperatorRecord(**op) for op in doc["operators"])
            if "taskConfigs" in doc:
                configs = {int(k): _config_from_json(v) for k, v in doc["taskConfigs"].items()}
            else:  # written before several sets: the one executor set's
                first = next(op.operator_set_id for op in operators if op.role == "executor")
                configs = {first: _config_from_json(doc["taskConfig"])}
            return cls(
                curve=doc["curve"],
                operators=operators,
                reference_timestamps={int(k): int(v) for k, v in doc["referenceTimestamps"].items()},
                task_configs=configs,
                keys_dir=doc["keysDir"],
            )
        except (KeyError, TypeError, ValueError, StopIteration) as exc:
            raise DevnetError(f"the devnet operators' state is malformed ({type(exc).__name__}: {exc})",
                              hint="stop the devnet and start it again to rewrite its state") from None


# ------------------------------------------------------------------ setting them up


@dataclass
class _Plan:
    record: OperatorRecord
    account: DevAccount
    bn254_key: bn254.PrivateKey | None = field(default=None, repr=False)
    ecdsa_key: bytes | None = field(default=None, repr=False)


def _plan(deployment: CoreDeployment, accounts: DevnetAccounts, keys_dir: Path, seed: bytes | str,
          weights: Sequence[int], sockets: Sequence[str], sets: Sequence[ExecutorSetSpec]) -> list[_Plan]:
    # the aggregator, then each executor set's operators in order
    members = [(deployment.aggregator_operator_set_id, deployment.curve_type)]
    members += [(spec.id, CurveType.parse(spec.curve)) for spec in sets for _ in range(spec.operators)]
    plans = []
    for index, (account, (set_id, curve)) in enumerate(zip(accounts.operators, members)):
        role = "aggregator" if index == 0 else "executor"
        name = "aggregator" if index == 0 else f"executor-{index}"
        keystore = keys_dir / f"{name}.{curve.label}.keystore.json"
        bn_key = operator_bn254_key(seed, index) if curve == CurveType.BN254 else None
        ec_key = operator_ecdsa_key(seed, index) if curve == CurveType.ECDSA else None
        record = OperatorRecord(
            name=name, role=role, index=index, address=account.address, account_index=account.index,
            account_path=account.path, operator_set_id=set_id, curve=curve.label, socket=sockets[index],
            weight=int(weights[index]), keystore=str(keystore),
            bn254_g1=bn_key.public_g1_bytes().hex() if bn_key else None,
            bn254_g2=bn_key.public_g2_bytes().hex() if bn_key else None,
            ecdsa_signer=ecdsa.address_of(ec_key) if ec_key else None,
        )
        plans.append(_Plan(record, account, bn_key, ec_key))
    return plans


def _write_keystores(plans: list[_Plan], password: str, kdf: KdfParams) -> None:
    from hourglass_cli.crypto import keystore

    for plan in plans:
        if plan.bn254_key is not None:
            keystore.save_bn254_keystore(plan.record.keystore, plan.bn254_key, password, kdf=kdf,
                                         description=f"hourglass devnet {plan.record.name}", overwrite=True)
        else:
            keystore.save_ecdsa_keystore(plan.record.keystore, plan.ecdsa_key or b"", password, kdf=kdf,
                                         overwrite=True)


def _register_key(sender: TxSender, plan: _Plan, deployment: CoreDeployment, domain: bytes,
                  key_registrar: Any) -> PendingTx:
    from hourglass_cli.chain import avs as calls

    set_id = plan.record.operator_set_id
    if plan.bn254_key is not None:
        return calls.register_bn254_key(sender, key_registrar, deployment.avs, set_id, plan.bn254_key,
                                        domain_separator=domain)
    return calls.register_ecdsa_key(sender, key_registrar, deployment.avs, set_id, plan.ecdsa_key or b"",
                                    domain_separator=domain)


def default_sockets(count: int, host: str = DEFAULT_HOST, base_port: int = DEFAULT_BASE_PORT) -> list[str]:
    """"host:port" for the aggregator (base_port) and each executor (base_port + i)."""
    return [f"{host}:{base_port + i}" for i in range(count)]


def setup_operators(
    w3: Web3,
    deployment: CoreDeployment,
    accounts: DevnetAccounts,
    keys_dir: str | Path,
    *,
    seed: bytes | str = DEFAULT_SEED,
    password: str = DEVNET_KEYSTORE_PASSWORD,
    weights: Sequence[int] | None = None,
    sockets: Sequence[str] | None = None,
    task_sla: int = DEFAULT_TASK_SLA,
    consensus: ConsensusType = ConsensusType.STAKE_PROPORTION_THRESHOLD,
    threshold_bips: int = DEFAULT_THRESHOLD_BIPS,
    max_staleness: int = 0,
    kdf: KdfParams | None = None,
    fund: bool = True,
    executor_sets: Sequence[ExecutorSetSpec] | None = None,
) -> DevnetOperators:
    """Register the aggregator and executors of `accounts`, push every operator table, configure the mailbox.

    `executor_sets` say how many of the executors go into which set (in order; default: all of them into the
    deployment's executor set); each set's task config has `threshold_bips` unless its spec names another, and
    the deployment's task hook. `weights` and `sockets` are per operator, aggregator first (default: equal
    weights, 127.0.0.1:9000+i). Keystores go to `keys_dir` under the light KDF preset (devnet keys only).
    """
    from hourglass_cli.chain import avs as calls
    from hourglass_cli.chain.sender import wait_all
    from hourglass_cli.crypto.keystore import LIGHT_SCRYPT
    from hourglass_cli.devnet.accounts import ensure_funded

    count = len(accounts.operators)
    if executor_sets is None:
        executor_sets = [ExecutorSetSpec(deployment.executor_operator_set_id, count - 1, deployment.curve)]
    sets = list(executor_sets)
    for spec in sets:
        if spec.id not in deployment.executor_set_ids:
            raise DevnetError(f"executor set {spec.id} is not one of the deployment's "
                              f"({', '.join(map(str, deployment.executor_set_ids))})")
        if CurveType.parse(spec.curve) != deployment.curve_of(spec.id):
            raise DevnetError(f"executor set {spec.id} was created on {deployment.curve_of(spec.id).label}, "
                              f"not {spec.curve}")
    if 1 + sum(spec.operators for spec in sets) != count:
        raise DevnetError(f"{count} operator accounts (aggregator first) but the executor sets have "
                          f"{sum(spec.operators for spec in sets)} operators",
                          hint="give devnet_accounts() the total of the sets' operators")
    weights = list(weights) if weights is not None else [DEFAULT_WEIGHT] * count
    sockets = list(sockets) if sockets is not None else default_sockets(count)
    if len(weights) != count or len(sockets) != count:
        raise DevnetError(f"{count} operators (aggregator first) need {count} weights and sockets, "
                          f"got {len(weights)} and {len(sockets)}")
    if any(int(w) <= 0 for w in weights):
        raise DevnetError("operator weights must be positive", hint="give every operator a stake weight ≥ 1")
    if not 0 < task_sla <= deployment.max_task_sla:  # the mailbox would revert setTaskConfig
        raise DevnetError(f"a task SLA of {task_sla} s is more than this TaskMailbox allows "
                          f"({deployment.max_task_sla} s)",
                          hint="lower [task].sla_seconds, or deploy the mailbox with a larger maximum SLA")

    contracts = deployment.bind(w3)
    deployer = accounts.deployer.sender(w3)
    avs = accounts.avs.sender(w3)
    senders = [acct.sender(w3) for acct in accounts.operators]
    if fund:
        ensure_funded(deployer, [s.address for s in senders])

    plans = _plan(deployment, accounts, Path(keys_dir), seed, weights, sockets, sets)
    _write_keystores(plans, password, kdf or LIGHT_SCRYPT)
    domain = bytes(contracts.key_registrar.functions.domainSeparator().call())
    registrar, avs_address = contracts.task_avs_registrar, deployment.avs

    # Phase 1: keys and the aggregator's allowlist entry (independent of each other).
    first = [calls.allowlist_operator(avs, registrar, deployment.aggregator_operator_set_id, plans[0].record.address)]
    first += [_register_key(s, p, deployment, domain, contracts.key_registrar) for s, p in zip(senders, plans)]
    wait_all(first)

    # Phase 2: join the operator sets and push every table (both need the keys registered).
    second = [calls.register_operator(s, registrar, avs_address, [p.record.operator_set_id], p.record.socket)
              for s, p in zip(senders, plans)]
    set_ids = [deployment.aggregator_operator_set_id, *(spec.id for spec in sets)]
    pushes = []
    for set_id in set_ids:
        members = [p.record for p in plans if p.record.operator_set_id == set_id]
        pushes.append(calls.push_operator_table(deployer, contracts.operator_table_updater, avs_address, set_id,
                                                [m.address for m in members], [m.weight for m in members],
                                                max_staleness=max_staleness))
    receipts = wait_all(second + pushes)
    timestamps = {
        set_id: calls.pushed_reference_timestamp(contracts.operator_table_updater, receipt)
        for set_id, receipt in zip(set_ids, receipts[len(second):])
    }

    # Phase 3: each executor set's task config (the AVS owns the tables pushed above).
    configs: dict[int, TaskConfig] = {}
    for spec in sets:
        bips = threshold_bips if spec.threshold_bips is None else spec.threshold_bips
        configs[spec.id] = TaskConfig(
            task_hook=deployment.hook, task_sla=task_sla, curve=CurveType.parse(spec.curve), consensus=consensus,
            bips=bips if consensus == ConsensusType.STAKE_PROPORTION_THRESHOLD else None,
        )
    wait_all([calls.set_task_config(avs, contracts.task_mailbox, set_id, config)
              for set_id, config in configs.items()])
    return DevnetOperators(deployment.curve, tuple(p.record for p in plans), timestamps, configs, str(keys_dir))
