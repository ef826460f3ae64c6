"""The AVS-side calls of the Hourglass contracts, with gas limits that need no estimation.

Each helper takes a `TxSender` and web3 contract objects and returns a `PendingTx` (call `.wait()`), so
independent transactions from different accounts can be sent back to back. Gas limits come from
measurements on anvil with ample room: py-evm estimates gas by re-running a call a dozen times, which
costs seconds when the call runs a BN254 pairing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from hourglass_cli.chain.structs import CurveType, OperatorSetConfig, TaskConfig, operator_set

if TYPE_CHECKING:
    from web3.contract import Contract

    from hourglass_cli.chain.sender import PendingTx, TxSender
    from hourglass_cli.crypto.bn254 import PrivateKey as Bn254Key

BN254_KEY_REGISTRATION_TYPE = "BN254KeyRegistration(address operator,address avs,uint32 operatorSetId,bytes keyData)"
ECDSA_KEY_REGISTRATION_TYPE = (
    "ECDSAKeyRegistration(address operator,address avs,uint32 operatorSetId,address keyAddress)"
)

# Measured on anvil: registerKey 397-403k (BN254, one pairing) / 133k (ECDSA); registerOperator 110-130k;
# allowlist 93k; task config 181k; BN254 table 320k + 75k per operator, ECDSA 210k + 146k per operator.
GAS_REGISTER_KEY = {CurveType.BN254: 600_000, CurveType.ECDSA: 250_000}
GAS_ALLOWLIST = 200_000
GAS_TASK_CONFIG = 400_000


def gas_register_operator(socket: str, set_count: int = 1) -> int:
    """registerOperator: membership per set plus one storage word per 32 bytes of socket."""
    return 200_000 + 50_000 * set_count + 25_000 * (len(socket.encode()) // 32)


def gas_push_table(operators: int) -> int:
    """pushOperatorTable for `operators` members (either curve)."""
    return 500_000 + 200_000 * operators


def registration_digest(domain_separator: bytes, curve: CurveType, operator: str, avs: str, set_id: int,
                        key_data: bytes) -> bytes:
    """KeyRegistrar's EIP-712 digest for registering `key_data` (= get{BN254,ECDSA}KeyRegistrationMessageHash)."""
    if curve == CurveType.BN254:
        struct = encode(["bytes32", "address", "address", "uint32", "bytes32"],
                        [keccak(text=BN254_KEY_REGISTRATION_TYPE), operator, avs, set_id, keccak(key_data)])
    else:
        struct = encode(["bytes32", "address", "address", "uint32", "address"],
                        [keccak(text=ECDSA_KEY_REGISTRATION_TYPE), operator, avs, set_id, "0x" + key_data.hex()])
    return keccak(b"\x19\x01" + bytes(domain_separator) + keccak(struct))


def _domain(key_registrar: Contract, domain_separator: bytes | None) -> bytes:
    if domain_separator is not None:
        return bytes(domain_separator)
    return bytes(key_registrar.functions.domainSeparator().call())


def register_bn254_key(sender: TxSender, key_registrar: Contract, avs: str, set_id: int, key: Bn254Key,
                       *, domain_separator: bytes | None = None) -> PendingTx:
    """Register `key` for `sender` in (avs, set_id) with its proof of possession."""
    from hourglass_cli.crypto import bn254

    key_data = bn254.key_registration_data(key)
    digest = registration_digest(_domain(key_registrar, domain_separator), CurveType.BN254, sender.address, avs,
                                 set_id, key_data)
    x, y = key.sign(digest)
    fn = key_registrar.functions.registerKey(sender.address, operator_set(avs, set_id), key_data,
                                             encode(["uint256", "uint256"], [x, y]))
    return sender.send(fn, gas=GAS_REGISTER_KEY[CurveType.BN254])


def register_ecdsa_key(sender: TxSender, key_registrar: Contract, avs: str, set_id: int, signing_key: bytes,
                       *, domain_separator: bytes | None = None) -> PendingTx:
    """Register the address of `signing_key` for `sender` in (avs, set_id), signed by that key."""
    from hourglass_cli.crypto import ecdsa

    key_data = bytes.fromhex(ecdsa.address_of(signing_key)[2:])
    digest = registration_digest(_domain(key_registrar, domain_separator), CurveType.ECDSA, sender.address, avs,
                                 set_id, key_data)
    fn = key_registrar.functions.registerKey(sender.address, operator_set(avs, set_id), key_data,
                                             ecdsa.sign_hash(signing_key, digest))
    return sender.send(fn, gas=GAS_REGISTER_KEY[CurveType.ECDSA])


def allowlist_operator(avs_sender: TxSender, registrar: Contract, set_id: int, operator: str) -> PendingTx:
    """Let `operator` register for the (allowlisted) aggregator operator set."""
    fn = registrar.functions.addOperatorToAllowlist(operator_set(avs_sender.address, set_id), operator)
    return avs_sender.send(fn, gas=GAS_ALLOWLIST)


def register_operator(sender: TxSender, registrar: Contract, avs: str, set_ids: Sequence[int],
                      socket: str) -> PendingTx:
    """Join `set_ids` of the AVS (keys must be registered) with `socket` ("host:port")."""
    fn = registrar.functions.registerOperator(sender.address, to_checksum_address(avs), [int(i) for i in set_ids],
                                              encode(["string"], [socket]))
    return sender.send(fn, gas=gas_register_operator(socket, len(set_ids)))


def push_operator_table(sender: TxSender, updater: Contract, avs: str, set_id: int, operators: Sequence[str],
                        weights: Sequence[int | Sequence[int]], *, owner: str | None = None,
                        max_staleness: int = 0, reference_timestamp: int = 0) -> PendingTx:
    """Push the table of (avs, set_id) through the devnet updater; `owner` (default: the AVS) may configure it."""
    rows = [[int(w)] if isinstance(w, int) else [int(x) for x in w] for w in weights]
    config = OperatorSetConfig(owner or avs, max_staleness).to_tuple()
    fn = updater.functions.pushOperatorTable(operator_set(avs, set_id), list(operators), rows, config,
                                             int(reference_timestamp))
    return sender.send(fn, gas=gas_push_table(len(operators)))


def pushed_reference_timestamp(updater: Contract, receipt: Any) -> int:
    """The reference timestamp of the table a pushOperatorTable receipt pushed."""
    from hourglass_cli.chain.events import decode_logs

    (event,) = decode_logs(updater, receipt, "OperatorTablePushed")
    return int(event["referenceTimestamp"])


def set_task_config(avs_sender: TxSender, mailbox: Contract, set_id: int,
                    config: TaskConfig | tuple[Any, ...]) -> PendingTx:
    """`setExecutorOperatorSetTaskConfig` for (avs, set_id); the sender must own the set's table."""
    value = config.to_tuple() if isinstance(config, TaskConfig) else config
    fn = mailbox.functions.setExecutorOperatorSetTaskConfig(operator_set(avs_sender.address, set_id), value)
    return avs_sender.send(fn, gas=GAS_TASK_CONFIG)


def create_task(sender: TxSender, mailbox: Contract, avs: str, set_id: int, payload: bytes,
                refund_collector: str | None = None, gas: int | None = None) -> tuple[bytes, Any]:
    """Create a task and return (taskHash from TaskCreated, receipt); gas is estimated unless given."""
    from hourglass_cli.chain.events import decode_logs

    params = (to_checksum_address(refund_collector or sender.address), operator_set(avs, set_id), bytes(payload))
    receipt = sender.transact(mailbox.functions.createTask(params), gas=gas)
    (event,) = decode_logs(mailbox, receipt, "TaskCreated")
    return bytes(event["taskHash"]), receipt
