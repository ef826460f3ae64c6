"""Deploy the Hourglass contracts, register operators with real keys, and build certificates.

A thin layer over the package (`hourglass_cli.devnet.deploy`, `hourglass_cli.chain.avs`) with the test
layout: executor sets 1 (BN254) and 2 (ECDSA) beside the aggregator set 0. Certificates are built with the
aggregator's builders (`hourglass_cli.aggregator.certificates`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

from hourglass_cli.chain import avs as calls
from hourglass_cli.chain import certificates
from hourglass_cli.chain.contracts import contract
from hourglass_cli.chain.structs import AvsConfig, ConsensusType, CurveType, TaskConfig
from hourglass_cli.aggregator import certificates as aggregator_certs
from hourglass_cli.crypto import bn254, digests, ecdsa
from hourglass_cli.devnet.deploy import configure_operator_sets, deploy_contracts
from tests.contracts.chains import Chain

VERSION = "1.0.0"
BN254_SET = 1
ECDSA_SET = 2
AGGREGATOR_SET = 0
CURVE_ECDSA, CURVE_BN254 = 1, 2
CONSENSUS_NONE, CONSENSUS_THRESHOLD = 0, 1
TASK_SLA = 120
MAX_TASK_SLA = 3600
ZERO = "0x" + "00" * 20

BN254_CERT_TYPE = certificates.BN254_CERT_TYPE
ECDSA_CERT_TYPE = certificates.ECDSA_CERT_TYPE


@dataclass
class BN254Operator:
    address: str
    key: bn254.PrivateKey
    weight: int


@dataclass
class ECDSAOperator:
    address: str
    signing_key: bytes
    weight: int

    @property
    def signer(self) -> str:
        return ecdsa.address_of(self.signing_key)


@dataclass
class Stack:
    """Every contract of one devnet plus the roles the tests act as."""

    chain: Chain
    key_registrar: Any
    updater: Any
    bn254_verifier: Any
    ecdsa_verifier: Any
    mailbox: Any
    hook: Any
    registrar: Any
    deployer: str
    avs: str
    app: str
    bn254_operators: list[BN254Operator] = field(default_factory=list)
    ecdsa_operators: list[ECDSAOperator] = field(default_factory=list)
    reference_timestamps: dict[int, int] = field(default_factory=dict)

    def op_set(self, set_id: int) -> tuple[str, int]:
        return (self.avs, set_id)


def deploy_stack(chain: Chain) -> Stack:
    """KeyRegistrar, table updater, both verifiers, TaskMailbox, a no-op hook and the AVS registrar."""
    deployer, avs, app = chain.accounts[0], chain.accounts[1], chain.accounts[2]
    avs_sender = chain.sender(avs)
    addresses = deploy_contracts(chain.sender(deployer), avs, avs_config=AvsConfig(AGGREGATOR_SET, (BN254_SET, ECDSA_SET)),
                                 max_task_sla=MAX_TASK_SLA, version=VERSION,
                                 same_second_results=False)  # EigenLayer's timing (test_task_events checks both)
    curves = {BN254_SET: CurveType.BN254, ECDSA_SET: CurveType.ECDSA, AGGREGATOR_SET: CurveType.ECDSA}
    for pending in configure_operator_sets(avs_sender, addresses.key_registrar, curves):
        pending.wait()
    w3 = chain.w3
    return Stack(
        chain,
        contract(w3, "KeyRegistrar", addresses.key_registrar),
        contract(w3, "DevnetOperatorTableUpdater", addresses.operator_table_updater),
        contract(w3, "BN254CertificateVerifier", addresses.bn254_certificate_verifier),
        contract(w3, "ECDSACertificateVerifier", addresses.ecdsa_certificate_verifier),
        contract(w3, "TaskMailbox", addresses.task_mailbox),
        contract(w3, "AVSTaskHook", addresses.avs_task_hook),
        contract(w3, "TaskAVSRegistrar", addresses.task_avs_registrar),
        deployer, avs, app,
    )


def register_bn254_operator(stack: Stack, address: str, seed: bytes, weight: int) -> BN254Operator:
    """Register a BN254 key (with its proof of possession) and join the BN254 executor set."""
    key = bn254.PrivateKey.from_seed(seed)
    sender = stack.chain.sender(address)
    calls.register_bn254_key(sender, stack.key_registrar, stack.avs, BN254_SET, key).wait()
    socket = f"localhost:{9000 + len(stack.bn254_operators)}"
    calls.register_operator(sender, stack.registrar, stack.avs, [BN254_SET], socket).wait()
    operator = BN254Operator(address, key, weight)
    stack.bn254_operators.append(operator)
    return operator


def register_ecdsa_operator(stack: Stack, address: str, seed: bytes, weight: int) -> ECDSAOperator:
    """Register an ECDSA signing key (signed by itself) and join the ECDSA executor set."""
    operator = ECDSAOperator(address, keccak(b"ecdsa-operator" + seed), weight)
    sender = stack.chain.sender(address)
    calls.register_ecdsa_key(sender, stack.key_registrar, stack.avs, ECDSA_SET, operator.signing_key).wait()
    calls.register_operator(sender, stack.registrar, stack.avs, [ECDSA_SET], "localhost:9100").wait()
    stack.ecdsa_operators.append(operator)
    return operator


def push_tables(stack: Stack, max_staleness: int = 0) -> None:
    """Push both executor tables (owner = the AVS) through the devnet table updater."""
    for set_id, operators in ((BN254_SET, stack.bn254_operators), (ECDSA_SET, stack.ecdsa_operators)):
        if not operators:
            continue
        receipt = calls.push_operator_table(
            stack.chain.sender(stack.deployer), stack.updater, stack.avs, set_id,
            [op.address for op in operators], [op.weight for op in operators], max_staleness=max_staleness,
        ).wait()
        stack.reference_timestamps[set_id] = calls.pushed_reference_timestamp(stack.updater, receipt)


def task_config(stack: Stack, curve: int, consensus: int = CONSENSUS_THRESHOLD, bips: int = 6667,
                hook: str | None = None, fee_token: str = ZERO, fee_collector: str = ZERO) -> tuple:
    kind = ConsensusType(consensus)
    return TaskConfig(
        task_hook=hook or stack.hook.address, task_sla=TASK_SLA, curve=CurveType(curve), consensus=kind,
        bips=bips if kind == ConsensusType.STAKE_PROPORTION_THRESHOLD else None,
        fee_token=fee_token, fee_collector=fee_collector,
    ).to_tuple()


def configure_executor_set(stack: Stack, set_id: int, config: tuple) -> None:
    calls.set_task_config(stack.chain.sender(stack.avs), stack.mailbox, set_id, config).wait()


def create_task(stack: Stack, set_id: int, payload: bytes = b"\x00" * 31 + b"\x05") -> bytes:
    """Create a task as the app and return its hash (from the TaskCreated event)."""
    task_hash, _receipt = calls.create_task(stack.chain.sender(stack.app), stack.mailbox, stack.avs, set_id, payload,
                                            refund_collector=stack.app, gas=5_000_000)
    return task_hash


def bn254_certificate(stack: Stack, task_hash: bytes, result: bytes, signers: list[BN254Operator],
                      reference_timestamp: int | None = None) -> tuple:
    """An aggregate BLS certificate by `signers`, with Merkle witnesses for everyone else."""
    ts = stack.reference_timestamps[BN254_SET] if reference_timestamp is None else reference_timestamp
    msg = digests.message_hash(task_hash, result)
    digest = digests.bn254_certificate_digest(ts, msg)
    members = [aggregator_certs.Member(op.key.public_g1(), (op.weight,)) for op in stack.bn254_operators]
    indices = [i for i, op in enumerate(stack.bn254_operators) if op in signers]
    return aggregator_certs.build_bn254_certificate(
        ts, msg, [op.key.sign(digest) for op in signers], [op.key.public_g2() for op in signers], members, indices)


def ecdsa_certificate(stack: Stack, task_hash: bytes, result: bytes, signers: list[ECDSAOperator],
                      reference_timestamp: int | None = None) -> tuple:
    """Signatures by `signers` over the chain-agnostic EIP-712 digest, ordered by signer address."""
    ts = stack.reference_timestamps[ECDSA_SET] if reference_timestamp is None else reference_timestamp
    msg = digests.message_hash(task_hash, result)
    digest = digests.ecdsa_certificate_digest(ts, msg, stack.ecdsa_verifier.address)
    return aggregator_certs.build_ecdsa_certificate(ts, msg, digest,
                                                    [ecdsa.sign_hash(op.signing_key, digest) for op in signers])


def encode_bn254_certificate(cert: tuple) -> bytes:
    return certificates.encode_bn254_certificate(cert)


def encode_ecdsa_certificate(cert: tuple) -> bytes:
    return certificates.encode_ecdsa_certificate(cert)
