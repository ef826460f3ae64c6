"""What the executor reads from chain, cached: AVS config, curves, the aggregator's key, this operator's membership.

- The aggregator: the ``aggregator_address`` of a submission must be registered in the AVS's aggregator
  operator set (``TaskAVSRegistrar.isOperatorRegistered(AvsConfig.aggregatorOperatorSetId, …)``) with a key in
  the KeyRegistrar (``getBN254Key`` G2 / ``getECDSAAddress``); read at the latest block, cached for
  ``cache_seconds``.
- This operator: registered in the task's executor operator set **at the task's block**
  (``isOperatorRegistered`` + ``KeyRegistrar`` key at ``task_block_number``), with the key this executor signs
  with. If the chain is behind the aggregator, :meth:`ChainView.wait_for_block` waits (with a deadline).
  Answers for a past block never change, so they are kept (a bounded LRU). A membership confirmed at block B
  holds at a later block N when neither contract logged anything in (B, N] — every change to registrations,
  keys or the AVS config emits an event — so a task at a new block costs one ``eth_getLogs`` over the blocks
  since the last check instead of two ``eth_call``s; any log there means a full check at N.
- L2 tasks: operator sets live on L1, tasks may come from an L2 TaskMailbox, and a TaskSubmission names the
  task's block but not its chain. With an L2 configured (:meth:`ChainView.set_l2`) a task is an L2 task when the
  L2 mailbox holds it at ``task_block_number`` with a ``creationTime`` equal to that L2 block's timestamp; its
  membership is then checked on L1 at the last L1 block at or before that time (:meth:`l1_block_at`). Any other
  task is an L1 task, checked at its block as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from hourglass_cli.chain.structs import AvsConfig, CurveType, operator_set
from hourglass_cli.errors import ChainError, ConfigError, HourglassError

if TYPE_CHECKING:
    from web3 import Web3

log = logging.getLogger("hourglass.executor.chain")
T = TypeVar("T")

_MEMBERSHIP_CACHE = 4096


class NotAuthorized(HourglassError):
    """The submission's aggregator is not a registered member of the AVS's aggregator operator set."""


class NotMember(HourglassError):
    """This operator is not in the task's executor operator set at the task's block (or with another key)."""


class BlockNotReached(HourglassError):
    """The task's block is not on our chain yet, and did not arrive within the wait."""


@dataclass(frozen=True)
class AggregatorKey:
    """The aggregator operator's registered key: BN254 128-byte G2, or the ECDSA signing address (20 bytes)."""

    address: str
    curve: CurveType
    public_key: bytes
    operator_set_id: int


def g2_bytes_from_solidity(g2: Any) -> bytes:
    """``getBN254Key``'s G2 (X[0], X[1]), (Y[0], Y[1]) — imaginary parts first — as the 128-byte key."""
    (x0, x1), (y0, y1) = g2
    return b"".join(int(w).to_bytes(32, "big") for w in (x0, x1, y0, y1))


class ChainView:
    """Cached, thread-safe reads of the AVS's registrar and the KeyRegistrar."""

    def __init__(
        self,
        w3: Web3,
        *,
        avs: str,
        operator: str,
        key_registrar: str,
        task_avs_registrar: str,
        ecdsa_certificate_verifier: str | None = None,
        cache_seconds: float = 10.0,
    ) -> None:
        from eth_utils import to_checksum_address

        from hourglass_cli.chain.contracts import contract

        self.w3 = w3
        self.avs = to_checksum_address(avs)
        self.operator = to_checksum_address(operator)
        self.key_registrar = contract(w3, "KeyRegistrar", key_registrar)
        self.registrar = contract(w3, "TaskAVSRegistrar", task_avs_registrar)
        self.ecdsa_verifier = (contract(w3, "ECDSACertificateVerifier", ecdsa_certificate_verifier)
                               if ecdsa_certificate_verifier else None)
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._timed: dict[Any, tuple[float, Any]] = {}
        self._curves: dict[int, CurveType] = {}
        self._members: OrderedDict[tuple[int, int], bool] = OrderedDict()
        self._member_since: dict[tuple[int, bytes], tuple[int, int]] = {}  # (set, key) → member at [lo, hi]
        self._latest_seen = 0
        self.l2_w3: Web3 | None = None
        self.l2_mailbox: Any = None
        self._l1_at: OrderedDict[int, int] = OrderedDict()

    def set_l2(self, l2_w3: Web3, task_mailbox: str) -> None:
        """Also accept tasks created on this L2 TaskMailbox (membership still read on L1)."""
        from hourglass_cli.chain.contracts import contract

        self.l2_w3, self.l2_mailbox = l2_w3, contract(l2_w3, "TaskMailbox", task_mailbox)

    # -- plumbing --

    def _read(self, what: str, fn: Any, block: Any = "latest") -> Any:
        """One eth_call; ChainError with ``what`` on failure (reverts and missing code included)."""
        try:
            return fn.call(block_identifier=block)
        except Exception as exc:  # noqa: BLE001 - web3 raises many kinds; the message is what matters here
            raise ChainError(f"reading {what} failed: {type(exc).__name__}: {str(exc)[:200]}") from None

    def _cached(self, key: Any, load: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._timed.get(key)
            if hit is not None and now - hit[0] < self.cache_seconds:
                return hit[1]
        value = load()
        with self._lock:
            self._timed[key] = (now, value)
        return value

    # -- setup checks --

    def check_setup(self) -> None:
        """The registrar serves our AVS and the contracts have code; ConfigError otherwise."""
        for name, bound in (("KeyRegistrar", self.key_registrar), ("TaskAVSRegistrar", self.registrar),
                            ("ECDSACertificateVerifier", self.ecdsa_verifier)):
            if bound is not None and not bytes(self.w3.eth.get_code(bound.address)):
                raise ConfigError(f"no contract at {bound.address} ({name}) on the configured chain",
                                  hint="check [contracts] and [chain].rpc_url")
        served = self._read("TaskAVSRegistrar.avs()", self.registrar.functions.avs())
        if served != self.avs:
            raise ConfigError(f"the TaskAVSRegistrar at {self.registrar.address} serves AVS {served}, "
                              f"not {self.avs}", hint="check [executor].avs_address and [contracts].task_avs_registrar")

    def ecdsa_domain_version(self) -> str:
        """The EIP-712 ``version`` of the ECDSA verifier's domain (the major part of its ``version()``)."""
        from hourglass_cli.crypto.digests import major_version

        if self.ecdsa_verifier is None:
            raise ConfigError("[contracts].ecdsa_certificate_verifier is required for ECDSA operator sets")
        return major_version(self._read("ECDSACertificateVerifier.version()", self.ecdsa_verifier.functions.version()))

    # -- reads --

    def avs_config(self) -> AvsConfig:
        """``TaskAVSRegistrar.getAvsConfig()`` (cached)."""
        return self._cached("avs_config", lambda: AvsConfig.from_tuple(
            self._read("TaskAVSRegistrar.getAvsConfig()", self.registrar.functions.getAvsConfig())))

    def curve_of(self, set_id: int) -> CurveType:
        """The curve of the AVS's operator set ``set_id`` (NONE if it is not configured)."""
        with self._lock:
            known = self._curves.get(set_id)
        if known is not None:
            return known
        curve = CurveType(int(self._read(f"KeyRegistrar.getOperatorSetCurveType({set_id})",
                                         self.key_registrar.functions.getOperatorSetCurveType(
                                             operator_set(self.avs, set_id)))))
        if curve != CurveType.NONE:  # a set's curve cannot change once configured
            with self._lock:
                self._curves[set_id] = curve
        return curve

    def _key(self, set_id: int, operator: str, curve: CurveType, block: Any) -> bytes | None:
        """The key registered for ``operator`` in ``set_id`` at ``block`` (None if none)."""
        opset = operator_set(self.avs, set_id)
        if curve == CurveType.BN254:
            _g1, g2 = self._read(f"KeyRegistrar.getBN254Key({set_id}, {operator})",
                                 self.key_registrar.functions.getBN254Key(opset, operator), block)
            key = g2_bytes_from_solidity(g2)
            return None if not any(key) else key
        if curve == CurveType.ECDSA:
            address = self._read(f"KeyRegistrar.getECDSAAddress({set_id}, {operator})",
                                 self.key_registrar.functions.getECDSAAddress(opset, operator), block)
            raw = bytes.fromhex(str(address)[2:])
            return None if not any(raw) else raw
        return None

    def aggregator_key(self, aggregator: str) -> AggregatorKey:
        """The key of ``aggregator`` in the AVS's aggregator set; NotAuthorized if it is not a member."""
        from eth_utils import to_checksum_address

        address = to_checksum_address(aggregator)

        def load() -> AggregatorKey | str:
            set_id = self.avs_config().aggregator_operator_set_id
            if not self._read("TaskAVSRegistrar.isOperatorRegistered",
                              self.registrar.functions.isOperatorRegistered(set_id, address)):
                return f"{address} is not registered in the AVS's aggregator operator set {set_id}"
            curve = self.curve_of(set_id)
            key = self._key(set_id, address, curve, "latest")
            if key is None:
                return f"{address} has no {curve.name} key in the aggregator operator set {set_id}"
            return AggregatorKey(address, curve, key, set_id)

        found = self._cached(("aggregator", address), load)
        if isinstance(found, str):
            raise NotAuthorized(found)
        return found

    def block_gas_limit(self) -> int:
        """The largest block gas limit of the chains tasks come from (read at most every cache_seconds)."""
        def load() -> int:
            try:
                limits = [int(w3.eth.get_block("latest")["gasLimit"]) for w3 in (self.w3, self.l2_w3) if w3]
            except Exception as exc:  # noqa: BLE001 - web3 raises many kinds
                raise ChainError(f"reading the block gas limit failed: {type(exc).__name__}") from None
            return max(limits)

        return self._cached("block_gas_limit", load)

    def latest_block(self) -> int:
        try:
            latest = int(self.w3.eth.block_number)
        except Exception as exc:  # noqa: BLE001
            raise ChainError(f"reading the block number failed: {type(exc).__name__}") from None
        with self._lock:
            self._latest_seen = max(self._latest_seen, latest)
        return latest

    def wait_for_block(self, number: int, timeout: float, stop: threading.Event | None = None) -> None:
        """Return once the chain has block ``number``; BlockNotReached after ``timeout`` seconds."""
        if number <= self._latest_seen:  # seen before: no request
            return
        end = time.monotonic() + timeout
        pause = stop or threading.Event()
        delay = 0.02
        while True:
            latest = self.latest_block()
            if latest >= number:
                return
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise BlockNotReached(f"the task's block {number} is not on our chain yet (latest {latest})")
            if pause.wait(min(delay, remaining)):
                raise BlockNotReached("the executor is shutting down")
            delay = min(delay * 2, 0.25)

    def reference_block(self, task_id: str, block: int, timeout: float, stop: threading.Event | None = None) -> int:
        """The L1 block to check membership at: ``block`` for an L1 task (waited for), the L1 block at the L2
        block's time for an L2 task. BlockNotReached if an L1 task's block does not arrive in ``timeout``."""
        if self.l2_mailbox is not None:
            stamp = self._l2_task_time(task_id, block)
            if stamp is not None:
                return self.l1_block_at(stamp)
        self.wait_for_block(block, timeout, stop)
        return block

    def _l2_task_time(self, task_id: str, block: int) -> int | None:
        """The timestamp of L2 block ``block`` if the L2 mailbox created ``task_id`` there, else None."""
        assert self.l2_w3 is not None
        try:
            if int(self.l2_w3.eth.block_number) < block:
                return None
            info = self.l2_mailbox.functions.getTaskInfo(bytes.fromhex(task_id[2:])).call(block_identifier=block)
            stamp = int(self.l2_w3.eth.get_block(block)["timestamp"])
        except Exception as exc:  # noqa: BLE001 - unreadable L2: treat the task as an L1 task
            log.debug("L2 task lookup failed task=%s block=%d: %s", task_id, block, exc)
            return None
        creator, created = str(info[0]), int(info[1])
        return stamp if int(creator, 16) and created == stamp else None

    def l1_block_at(self, timestamp: int) -> int:
        """The last L1 block with a timestamp at or before ``timestamp`` (the latest one if L1 has none after)."""
        with self._lock:
            if timestamp in self._l1_at:
                return self._l1_at[timestamp]
        try:
            latest = self.w3.eth.get_block("latest")
            if int(latest["timestamp"]) <= timestamp:
                return int(latest["number"])  # nothing newer on L1 yet: not cached, a later block may still come
            lo, hi = 0, int(latest["number"])  # invariant: ts(lo) <= timestamp < ts(hi), or lo is block 0
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if int(self.w3.eth.get_block(mid)["timestamp"]) <= timestamp:
                    lo = mid
                else:
                    hi = mid
        except Exception as exc:  # noqa: BLE001
            raise ChainError(f"reading L1 blocks failed: {type(exc).__name__}: {str(exc)[:200]}") from None
        with self._lock:
            self._l1_at[timestamp] = lo
            while len(self._l1_at) > _MEMBERSHIP_CACHE:
                self._l1_at.popitem(last=False)
        return lo

    def _unchanged_since(self, set_id: int, own_key: bytes, block: int) -> bool:
        """Whether a membership confirmed earlier still holds at ``block`` (see the module's docstring)."""
        with self._lock:
            span = self._member_since.get((set_id, own_key))
        if span is None or block < span[0]:
            return False
        if block <= span[1]:
            return True
        try:
            logs = self.w3.eth.get_logs({"fromBlock": span[1] + 1, "toBlock": block,
                                         "address": [self.registrar.address, self.key_registrar.address]})
        except Exception as exc:  # noqa: BLE001
            raise ChainError(f"reading registration logs failed: {type(exc).__name__}: {str(exc)[:200]}") from None
        if logs:
            return False
        with self._lock:
            if self._member_since.get((set_id, own_key)) == span:
                self._member_since[(set_id, own_key)] = (span[0], block)
        return True

    def check_membership(self, set_id: int, block: int, own_key: bytes) -> None:
        """NotMember unless this operator is in executor set ``set_id`` at ``block`` with ``own_key``."""
        own_key = bytes(own_key)
        with self._lock:
            if self._members.get((set_id, block)):
                self._members.move_to_end((set_id, block))
                return
        if self._unchanged_since(set_id, own_key, block):
            return
        config = self.avs_config()
        if set_id not in config.executor_operator_set_ids:
            raise NotMember(f"operator set {set_id} is not an executor operator set of AVS {self.avs} "
                            f"(executor sets: {list(config.executor_operator_set_ids)})")
        registered = self._at_block(block, lambda: self._read(
            "TaskAVSRegistrar.isOperatorRegistered", self.registrar.functions.isOperatorRegistered(set_id,
                                                                                                   self.operator),
            block))
        if not registered:
            raise NotMember(f"operator {self.operator} is not in operator set {set_id} at block {block}")
        curve = self.curve_of(set_id)
        key = self._at_block(block, lambda: self._key(set_id, self.operator, curve, block))
        if key is None:
            raise NotMember(f"operator {self.operator} has no {curve.name} key in operator set {set_id} "
                            f"at block {block}")
        if key != own_key:
            raise NotMember(f"the key registered for {self.operator} in operator set {set_id} at block {block} "
                            "is not this executor's key")
        with self._lock:
            span = self._member_since.get((set_id, own_key))
            if span is None or block > span[1]:
                self._member_since[(set_id, own_key)] = (block, block)
            self._members[(set_id, block)] = True
            while len(self._members) > _MEMBERSHIP_CACHE:
                self._members.popitem(last=False)

    @staticmethod
    def _at_block(block: int, read: Callable[[], T]) -> T | None:
        """A read at a past block, None where the contract did not exist yet (empty return data)."""
        try:
            return read()
        except ChainError as exc:
            if "BadFunctionCallOutput" in exc.message or "InsufficientDataBytes" in exc.message:
                log.debug("no contract state at block %d: %s", block, exc.message)
                return None
            raise
