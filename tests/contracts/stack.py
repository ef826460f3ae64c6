"""Deploy the Hourglass contracts, register operators with real keys, and build certificates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode
from eth_utils import keccak
from web3.logs import DISCARD

from hourglass_cli.crypto import bn254, digests, ecdsa, merkle
from tests.contracts.chains import Chain, deploy, send

VERSION = "1.0.0"
BN254_SET = 1
ECDSA_SET = 2
AGGREGATOR_SET = 0
CURVE_ECDSA, CURVE_BN254 = 1, 2
CONSENSUS_NONE, CONSENSUS_THRESHOLD = 0, 1
TASK_SLA = 120
MAX_TASK_SLA = 3600
ZERO = "0x" + "00" * 20

BN254_CERT_TYPE = "(uint32,bytes32,(uint256,uint256),(uint256[2],uint256[2]),(uint32,bytes,((uint256,uint256),uint256[]))[])"
ECDSA_CERT_TYPE = "(uint32,bytes32,bytes)"


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
    key_registrar = deploy(chain, "KeyRegistrar", VERSION)
    updater = deploy(chain, "DevnetOperatorTableUpdater", deployer, key_registrar.address)
    bn254_verifier = deploy(chain, "BN254CertificateVerifier", updater.address, VERSION)
    ecdsa_verifier = deploy(chain, "ECDSACertificateVerifier", updater.address, VERSION)
    send(chain, updater.functions.setCertificateVerifiers(bn254_verifier.address, ecdsa_verifier.address), deployer)
    mailbox = deploy(chain, "TaskMailbox", bn254_verifier.address, ecdsa_verifier.address, MAX_TASK_SLA, VERSION)
    send(chain, mailbox.functions.initialize(deployer, 0, deployer), deployer)
    hook = deploy(chain, "AVSTaskHook")
    registrar = deploy(
        chain, "TaskAVSRegistrar", avs, avs, key_registrar.address, ZERO, (AGGREGATOR_SET, [BN254_SET, ECDSA_SET])
    )
    for set_id, curve in ((BN254_SET, CURVE_BN254), (ECDSA_SET, CURVE_ECDSA), (AGGREGATOR_SET, CURVE_ECDSA)):
        send(chain, key_registrar.functions.configureOperatorSet((avs, set_id), curve), avs)
    return Stack(chain, key_registrar, updater, bn254_verifier, ecdsa_verifier, mailbox, hook, registrar,
                 deployer, avs, app)


def register_bn254_operator(stack: Stack, address: str, seed: bytes, weight: int) -> BN254Operator:
    """Register a BN254 key (with its proof of possession) and join the BN254 executor set."""
    key = bn254.PrivateKey.from_seed(seed)
    key_data = bn254.key_registration_data(key)
    digest = stack.key_registrar.functions.getBN254KeyRegistrationMessageHash(
        address, stack.op_set(BN254_SET), key_data
    ).call()
    x, y = key.sign(digest)
    proof = encode(["uint256", "uint256"], [x, y])
    send(stack.chain, stack.key_registrar.functions.registerKey(address, stack.op_set(BN254_SET), key_data, proof),
         address)
    send(stack.chain, stack.registrar.functions.registerOperator(
        address, stack.avs, [BN254_SET], encode(["string"], [f"localhost:{9000 + len(stack.bn254_operators)}"])
    ), address)
    operator = BN254Operator(address, key, weight)
    stack.bn254_operators.append(operator)
    return operator


def register_ecdsa_operator(stack: Stack, address: str, seed: bytes, weight: int) -> ECDSAOperator:
    """Register an ECDSA signing key (signed by itself) and join the ECDSA executor set."""
    signing_key = keccak(b"ecdsa-operator" + seed)
    operator = ECDSAOperator(address, signing_key, weight)
    digest = stack.key_registrar.functions.getECDSAKeyRegistrationMessageHash(
        address, stack.op_set(ECDSA_SET), operator.signer
    ).call()
    signature = ecdsa.sign_hash(signing_key, digest)
    key_data = bytes.fromhex(operator.signer[2:])
    send(stack.chain, stack.key_registrar.functions.registerKey(address, stack.op_set(ECDSA_SET), key_data, signature),
         address)
    send(stack.chain, stack.registrar.functions.registerOperator(
        address, stack.avs, [ECDSA_SET], encode(["string"], ["localhost:9100"])
    ), address)
    stack.ecdsa_operators.append(operator)
    return operator


def push_tables(stack: Stack, max_staleness: int = 0) -> None:
    """Push both executor tables (owner = the AVS) through the devnet table updater."""
    for set_id, operators in ((BN254_SET, stack.bn254_operators), (ECDSA_SET, stack.ecdsa_operators)):
        if not operators:
            continue
        send(stack.chain, stack.updater.functions.pushOperatorTable(
            stack.op_set(set_id),
            [op.address for op in operators],
            [[op.weight] for op in operators],
            (stack.avs, max_staleness),
            0,
        ), stack.deployer)
        verifier = stack.bn254_verifier if set_id == BN254_SET else stack.ecdsa_verifier
        stack.reference_timestamps[set_id] = verifier.functions.latestReferenceTimestamp(stack.op_set(set_id)).call()


def task_config(stack: Stack, curve: int, consensus: int = CONSENSUS_THRESHOLD, bips: int = 6667,
                hook: str | None = None, fee_token: str = ZERO, fee_collector: str = ZERO) -> tuple:
    value = encode(["uint16"], [bips]) if consensus == CONSENSUS_THRESHOLD else b""
    return (hook or stack.hook.address, TASK_SLA, fee_token, curve, fee_collector, (consensus, value), b"")


def configure_executor_set(stack: Stack, set_id: int, config: tuple) -> None:
    send(stack.chain, stack.mailbox.functions.setExecutorOperatorSetTaskConfig(stack.op_set(set_id), config),
         stack.avs)


def create_task(stack: Stack, set_id: int, payload: bytes = b"\x00" * 31 + b"\x05") -> bytes:
    """Create a task as the app and return its hash (from the TaskCreated event)."""
    receipt = send(stack.chain, stack.mailbox.functions.createTask((stack.app, stack.op_set(set_id), payload)),
                   stack.app)
    (event,) = stack.mailbox.events.TaskCreated().process_receipt(receipt, errors=DISCARD)
    return bytes(event["args"]["taskHash"])


def bn254_certificate(stack: Stack, task_hash: bytes, result: bytes, signers: list[BN254Operator],
                      reference_timestamp: int | None = None) -> tuple:
    """An aggregate BLS certificate by `signers`, with Merkle witnesses for everyone else."""
    ts = stack.reference_timestamps[BN254_SET] if reference_timestamp is None else reference_timestamp
    msg = digests.message_hash(task_hash, result)
    digest = digests.bn254_certificate_digest(ts, msg)
    signature = bn254.aggregate_g1([op.key.sign(digest) for op in signers])
    apk = bn254.aggregate_g2([op.key.public_g2() for op in signers])
    x0, x1, y0, y1 = bn254.g2_to_solidity(apk)
    leaves = [merkle.operator_info_leaf(op.key.public_g1(), [op.weight]) for op in stack.bn254_operators]
    witnesses = [
        (index, merkle.merkle_proof(leaves, index), (op.key.public_g1(), [op.weight]))
        for index, op in enumerate(stack.bn254_operators)
        if op not in signers
    ]
    return (ts, msg, signature, ([x0, x1], [y0, y1]), witnesses)


def ecdsa_certificate(stack: Stack, task_hash: bytes, result: bytes, signers: list[ECDSAOperator],
                      reference_timestamp: int | None = None) -> tuple:
    """Signatures by `signers` over the chain-agnostic EIP-712 digest, ordered by signer address."""
    ts = stack.reference_timestamps[ECDSA_SET] if reference_timestamp is None else reference_timestamp
    msg = digests.message_hash(task_hash, result)
    digest = digests.ecdsa_certificate_digest(ts, msg, stack.ecdsa_verifier.address)
    ordered = sorted(signers, key=lambda op: int(op.signer, 16))
    return (ts, msg, b"".join(ecdsa.sign_hash(op.signing_key, digest) for op in ordered))


def encode_bn254_certificate(cert: tuple) -> bytes:
    return encode([BN254_CERT_TYPE], [cert])


def encode_ecdsa_certificate(cert: tuple) -> bytes:
    return encode([ECDSA_CERT_TYPE], [cert])
