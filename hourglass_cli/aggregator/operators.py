"""The executor operator set of a task as the certificate verifier sees it at the task's reference timestamp.

- Contracts are discovered from each chain's TaskMailbox: ``BN254_CERTIFICATE_VERIFIER`` /
  ``ECDSA_CERTIFICATE_VERIFIER`` → their ``operatorTableUpdater`` → its ``keyRegistrar``.
- BN254: the verifier keeps only the table's Merkle root, size, aggregate G1 key and total weights. The leaves
  (operators in index order with G1 keys and weights) are rebuilt from the table updater's
  ``getOperators``/``getOperatorWeights`` and the KeyRegistrar's keys, read at the task's block (the table in
  force when the task was created), and checked against the root; if they do not match, the block that pushed
  this reference timestamp (``OperatorTablePushed``) is read instead.
- ECDSA: ``getOperatorInfos(opSet, ts)`` gives signing keys and weights in index order; each operator comes
  from ``KeyRegistrar.getOperatorFromSigningKey``.
- Sockets come from the AVS's TaskAVSRegistrar (L1), cached for a while. Sets are cached per
  (chain, AVS, set id, reference timestamp): a table at a reference timestamp never changes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hourglass_cli.chain.structs import CurveType, operator_set
from hourglass_cli.errors import ChainError, HourglassError

if TYPE_CHECKING:
    from web3 import Web3
    from web3.contract import Contract

    from hourglass_cli.crypto.bn254 import G1Point, G2Point


class OperatorSetError(HourglassError):
    """The operator table of a task cannot be read or rebuilt."""


@dataclass(frozen=True)
class Operator:
    """One member of an operator table, at its index."""

    index: int
    address: str
    weights: tuple[int, ...]
    g1: G1Point | None = None  # BN254 keys
    g2: G2Point | None = None
    g2_bytes: bytes | None = None
    signer: str | None = None  # ECDSA signing-key address (checksummed)

    @property
    def public_key(self) -> bytes:
        """What `wire.signing` verifiers take: the 128-byte G2 key or the 20-byte signer address."""
        if self.g2_bytes is not None:
            return self.g2_bytes
        return bytes.fromhex(str(self.signer)[2:])


@dataclass(frozen=True)
class OperatorSet:
    """An executor operator set's table at one reference timestamp."""

    chain: str
    avs: str
    set_id: int
    reference_timestamp: int
    curve: CurveType
    operators: tuple[Operator, ...]
    total_weights: tuple[int, ...]
    root: bytes | None = None  # BN254 operator-info tree
    aggregate_g1: G1Point | None = None
    leaves: tuple[bytes, ...] = ()
    by_address: dict[str, Operator] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_address.update({op.address: op for op in self.operators})


@dataclass
class ChainContracts:
    """The contracts of one chain the aggregator talks to."""

    name: str
    w3: Web3
    mailbox: Contract
    bn254_verifier: Contract
    ecdsa_verifier: Contract
    updater: Contract
    key_registrar: Contract

    @classmethod
    def discover(cls, name: str, w3: Web3, mailbox_address: str) -> ChainContracts:
        """Bind the mailbox and find the verifiers, table updater and KeyRegistrar from it."""
        from hourglass_cli.chain.contracts import contract

        if not bytes(w3.eth.get_code(mailbox_address)):
            from hourglass_cli.errors import ConfigError

            raise ConfigError(f"no contract at {mailbox_address} (TaskMailbox) on chain {name!r}",
                              hint="check [[chains]].task_mailbox and rpc_url")
        mailbox = contract(w3, "TaskMailbox", mailbox_address)
        bn254 = contract(w3, "BN254CertificateVerifier", mailbox.functions.BN254_CERTIFICATE_VERIFIER().call())
        ecdsa = contract(w3, "ECDSACertificateVerifier", mailbox.functions.ECDSA_CERTIFICATE_VERIFIER().call())
        updater = contract(w3, "DevnetOperatorTableUpdater", bn254.functions.operatorTableUpdater().call())
        registrar = contract(w3, "KeyRegistrar", updater.functions.keyRegistrar().call())
        return cls(name, w3, mailbox, bn254, ecdsa, updater, registrar)

    def verifier(self, curve: CurveType) -> Contract:
        return self.bn254_verifier if curve == CurveType.BN254 else self.ecdsa_verifier


def _call(what: str, fn: Any, block: Any = "latest") -> Any:
    try:
        return fn.call(block_identifier=block)
    except Exception as exc:  # noqa: BLE001 - web3 raises many kinds; the message is what matters
        raise ChainError(f"reading {what} failed: {type(exc).__name__}: {str(exc)[:200]}") from None


class OperatorSetReader:
    """Cached, thread-safe reads of operator tables and sockets."""

    def __init__(self, chains: dict[str, ChainContracts], registrar: Contract, socket_ttl: float = 10.0) -> None:
        self.chains = chains
        self.registrar = registrar
        self.socket_ttl = socket_ttl
        self._lock = threading.Lock()
        self._sets: dict[tuple[str, str, int, int], OperatorSet] = {}
        self._loading: dict[tuple[str, str, int, int], threading.Lock] = {}
        self._sockets: dict[str, tuple[float, str]] = {}

    def operator_set(self, chain: str, avs: str, set_id: int, reference_timestamp: int, block: int,
                     curve: CurveType) -> OperatorSet:
        """The table of (avs, set_id) at `reference_timestamp`; `block` is the task's block."""
        key = (chain, avs, set_id, reference_timestamp)
        with self._lock:
            found = self._sets.get(key)
            if found is not None:
                return found
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:  # one load per key; others wait for it
            with self._lock:
                found = self._sets.get(key)
            if found is None:
                contracts = self.chains[chain]
                found = (_read_bn254 if curve == CurveType.BN254 else _read_ecdsa)(
                    contracts, avs, set_id, reference_timestamp, block)
                with self._lock:
                    self._sets[key] = found
                    self._loading.pop(key, None)
        return found

    def sockets(self, operators: list[Operator]) -> dict[str, str]:
        """address → "host:port" from the TaskAVSRegistrar ('' where none is set)."""
        now = time.monotonic()
        out: dict[str, str] = {}
        for op in operators:
            with self._lock:
                hit = self._sockets.get(op.address)
            if hit is not None and now - hit[0] < self.socket_ttl:
                out[op.address] = hit[1]
                continue
            socket = str(_call(f"TaskAVSRegistrar.getOperatorSocket({op.address})",
                               self.registrar.functions.getOperatorSocket(op.address)))
            with self._lock:
                self._sockets[op.address] = (now, socket)
            out[op.address] = socket
        return out

    def forget_socket(self, address: str) -> None:
        """Re-read `address`'s socket next time (after its executor was unreachable)."""
        with self._lock:
            self._sockets.pop(address, None)


def _g2_from_solidity(g2: Any) -> G2Point:
    from hourglass_cli.crypto import bn254

    (x0, x1), (y0, y1) = g2
    return bn254.g2_from_solidity(int(x0), int(x1), int(y0), int(y1))


def _bn254_members(c: ChainContracts, opset: tuple[str, int], block: Any) -> tuple[list[str], list[list[int]]]:
    operators = list(_call("DevnetOperatorTableUpdater.getOperators", c.updater.functions.getOperators(opset), block))
    weights = [[int(w) for w in row] for row in
               _call("DevnetOperatorTableUpdater.getOperatorWeights", c.updater.functions.getOperatorWeights(opset),
                     block)]
    return operators, weights


def _pushed_block(c: ChainContracts, opset: tuple[str, int], reference_timestamp: int, upto: int) -> int | None:
    """The block whose OperatorTablePushed event pushed (opset, reference_timestamp)."""
    from eth_utils import event_abi_to_log_topic

    from hourglass_cli.chain.events import decode_log

    abi = next(e for e in c.updater.abi if e.get("type") == "event" and e.get("name") == "OperatorTablePushed")
    logs = c.w3.eth.get_logs({"address": c.updater.address, "fromBlock": 0, "toBlock": upto,
                              "topics": ["0x" + event_abi_to_log_topic(abi).hex()]})
    for log in reversed(logs):
        event = decode_log(log)
        if event is None:
            continue
        pushed_set = tuple(event["operatorSet"])
        if (pushed_set[0].lower(), int(pushed_set[1])) == (opset[0].lower(), opset[1]) and \
                int(event["referenceTimestamp"]) == reference_timestamp:
            return int(log["blockNumber"])
    return None


def _read_bn254(c: ChainContracts, avs: str, set_id: int, reference_timestamp: int, block: int) -> OperatorSet:
    from hourglass_cli.crypto import bn254, merkle

    opset = operator_set(avs, set_id)
    root, count, apk, totals = _call("BN254CertificateVerifier.getOperatorSetInfo",
                                     c.bn254_verifier.functions.getOperatorSetInfo(opset, reference_timestamp))
    root, count = bytes(root), int(count)
    if count == 0:
        raise OperatorSetError(f"operator set {set_id} of {avs} has no table at reference timestamp "
                               f"{reference_timestamp} on chain {c.name}")
    for at in (block, None):
        if at is None:
            at = _pushed_block(c, opset, reference_timestamp, block)
            if at is None:
                break
        addresses, weights = _bn254_members(c, opset, at)
        if len(addresses) != count or len(weights) != count:
            continue
        operators = []
        for index, (address, row) in enumerate(zip(addresses, weights)):
            g1, g2 = _call(f"KeyRegistrar.getBN254Key({address})", c.key_registrar.functions.getBN254Key(opset, address),
                           at)
            g2_point = _g2_from_solidity(g2)
            operators.append(Operator(index, address, tuple(row), (int(g1[0]), int(g1[1])), g2_point,
                                      bn254.g2_to_bytes(g2_point)))
        leaves = tuple(merkle.operator_info_leaf(op.g1, list(op.weights)) for op in operators)
        if merkle.merkle_root(list(leaves)) == root:
            return OperatorSet(c.name, avs, set_id, reference_timestamp, CurveType.BN254, tuple(operators),
                               tuple(int(w) for w in totals), root, (int(apk[0]), int(apk[1])), leaves)
    raise OperatorSetError(f"cannot rebuild the BN254 operator table of set {set_id} at reference timestamp "
                           f"{reference_timestamp} on chain {c.name}: the updater's operators and keys do not hash "
                           "to the verifier's root", hint="the table was pushed by another updater or keys changed")


def _read_ecdsa(c: ChainContracts, avs: str, set_id: int, reference_timestamp: int, block: int) -> OperatorSet:
    from eth_utils import to_checksum_address

    opset = operator_set(avs, set_id)
    infos = _call("ECDSACertificateVerifier.getOperatorInfos",
                  c.ecdsa_verifier.functions.getOperatorInfos(opset, reference_timestamp))
    if not infos:
        raise OperatorSetError(f"operator set {set_id} of {avs} has no table at reference timestamp "
                               f"{reference_timestamp} on chain {c.name}")
    operators = []
    totals = [0] * len(infos[0][1])
    for index, (signer, weights) in enumerate(infos):
        signer = to_checksum_address(signer)
        operator, registered = _call(f"KeyRegistrar.getOperatorFromSigningKey({signer})",
                                     c.key_registrar.functions.getOperatorFromSigningKey(
                                         opset, bytes.fromhex(signer[2:])), block)
        if not registered:
            raise OperatorSetError(f"the signing key {signer} of table index {index} (set {set_id}) has no "
                                   f"registered operator at block {block} on chain {c.name}")
        row = tuple(int(w) for w in weights)
        for j, w in enumerate(row[: len(totals)]):
            totals[j] += w
        operators.append(Operator(index, to_checksum_address(operator), row, signer=signer))
    return OperatorSet(c.name, avs, set_id, reference_timestamp, CurveType.ECDSA, tuple(operators), tuple(totals))
