"""One poller per chain: the AVS's TaskCreated and TaskVerified logs, by block range, with reorg detection.

Each look at the chain costs one ``eth_getBlockByNumber(latest)``; when there are new blocks (minus the chain's
confirmations) one ``eth_getLogs`` per ``max_block_range`` blocks covers them (mailbox address, both event
topics, the AVS in topic 3) — never block by block — and the scanned head is stored with its hash, together
with the tasks found, in one transaction. Catch-up after downtime is the same scan from the stored head.

Reorgs: before scanning on, the stored head's hash is compared with the chain's block at that height. If it
differs (or the chain is now shorter), the stored checkpoints are walked back to the newest one still on the
chain (the fork point, or ``start_block`` if none is), the logs after it are fetched again, and every
in-flight task whose (hash, block hash) is no longer among them is handed to ``on_orphaned`` — cancelled,
never submitted. The scan then resumes from the fork point (a task recreated in a new block is a new task).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_abi import decode
from eth_utils import to_checksum_address

from hourglass_cli.aggregator.store import IN_FLIGHT, Checkpoint, NewTask, Store, TaskRecord

if TYPE_CHECKING:
    from web3 import Web3
    from web3.contract import Contract

    from hourglass_cli.aggregator.config import ChainSection
    from hourglass_cli.aggregator.metrics import Metrics

log = logging.getLogger("hourglass.aggregator.poller")

_CREATED_DATA = ["uint32", "uint32", "address", "uint96", "uint256", "bytes"]


def _hex(value: Any) -> str:
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else "0x" + value.lower()
    return "0x" + bytes(value).hex()


def _bytes(value: Any) -> bytes:
    return bytes.fromhex(value[2:]) if isinstance(value, str) else bytes(value)


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    """A raw JSON-RPC call (no web3 formatters: the hot loop stays cheap); ChainError on an error answer."""
    from hourglass_cli.errors import ChainError

    answer = w3.provider.make_request(method, params)  # type: ignore[arg-type]
    if answer.get("error"):
        raise ChainError(f"{method} failed: {str(answer['error'])[:200]}")
    return answer.get("result")


def block_at(w3: Web3, at: int | str) -> Checkpoint | None:
    """(number, hash) of a block by number or tag; None where the chain has no such block."""
    found = rpc(w3, "eth_getBlockByNumber", [hex(at) if isinstance(at, int) else at, False])
    return Checkpoint(_int(found["number"]), _hex(found["hash"])) if found else None


@dataclass(frozen=True)
class Scan:
    """What one range of logs held."""

    created: list[NewTask]
    verified: list[str]  # task hashes


class ChainPoller:
    """Watches one chain's mailbox for one AVS; runs in its own thread until `stop` is set."""

    def __init__(self, section: ChainSection, w3: Web3, mailbox: Contract, avs: str, store: Store, *,
                 on_tasks: Callable[[list[TaskRecord]], None], on_verified: Callable[[str, str], None],
                 on_orphaned: Callable[[TaskRecord, str], None], metrics: Metrics | None = None) -> None:
        from eth_utils import event_abi_to_log_topic

        self.section = section
        self.chain = section.name
        self.w3 = w3
        self.mailbox = mailbox
        self.avs = to_checksum_address(avs)
        self.store = store
        self.on_tasks, self.on_verified, self.on_orphaned = on_tasks, on_verified, on_orphaned
        self.metrics = metrics
        topics = {e["name"]: "0x" + event_abi_to_log_topic(e).hex() for e in mailbox.abi if e.get("type") == "event"}
        self.created_topic, self.verified_topic = topics["TaskCreated"], topics["TaskVerified"]
        self.stop = threading.Event()
        self.last_ok = 0.0  # monotonic time of the last successful poll
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"poller-{self.chain}", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self.stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def healthy(self, max_age: float) -> bool:
        return time.monotonic() - self.last_ok <= max_age

    def run(self) -> None:
        delay = self.section.poll_interval
        while not self.stop.is_set():
            try:
                self.poll_once()
                self.last_ok, self.last_error = time.monotonic(), None
                delay = self.section.poll_interval
            except Exception as exc:  # noqa: BLE001 - a chain hiccup must not end the poller
                message = f"{type(exc).__name__}: {str(exc)[:200]}"
                if message != self.last_error:
                    log.warning("poll failed chain=%s error=%r", self.chain, message)
                self.last_error = message
                delay = min(max(delay * 2, 0.1), 5.0)
            self.stop.wait(delay)

    # -- one look at the chain --

    def _block(self, at: int | str) -> Checkpoint | None:
        return block_at(self.w3, at)

    def _hash_at(self, number: int) -> str | None:
        found = self._block(number)
        return found.hash if found else None

    def poll_once(self) -> None:
        """Check for a reorg, then scan every new block up to head - confirmations."""
        head = self._block("latest")
        if head is None:
            return
        checkpoints = self.store.checkpoints(self.chain)
        if checkpoints:
            last = checkpoints[0]
            current = head.hash if last.number == head.number else (
                self._hash_at(last.number) if last.number < head.number else None)
            if current != last.hash:
                self._handle_reorg(checkpoints, head)
                checkpoints = self.store.checkpoints(self.chain)
        start = checkpoints[0].number + 1 if checkpoints else self.section.start_block
        safe = head.number - self.section.confirmations
        while start <= safe and not self.stop.is_set():
            end = min(safe, start + self.section.max_block_range - 1)
            scan = self._scan(start, end)
            tip = head if end == head.number else self._block(end)
            if tip is None:
                return
            fresh = self.store.record_scan(self.chain, tip, scan.created, keep=self.section.reorg_depth)
            if self.metrics is not None:
                self.metrics.blocks.set(self.chain, value=float(end))
            if fresh:
                log.info("tasks found chain=%s blocks=%d-%d count=%d", self.chain, start, end, len(fresh))
                self.on_tasks(fresh)
            for task_hash in scan.verified:
                self.on_verified(self.chain, task_hash)
            start = end + 1

    def _scan(self, start: int, end: int) -> Scan:
        avs_topic = "0x" + "00" * 12 + self.avs[2:].lower()
        logs = rpc(self.w3, "eth_getLogs", [{"address": self.mailbox.address, "fromBlock": hex(start),
                                             "toBlock": hex(end), "topics": [[self.created_topic, self.verified_topic],
                                                                             None, None, avs_topic]}]) or []
        created, verified = [], []
        for entry in logs:
            if entry.get("removed"):
                continue
            topics = [_hex(t) for t in entry["topics"]]
            task_hash = topics[2]
            if topics[0] == self.verified_topic:
                verified.append(task_hash)
                continue
            try:
                set_id, ref_ts, _refund, _fee, deadline, payload = decode(_CREATED_DATA, _bytes(entry["data"]))
            except Exception:  # noqa: BLE001 - not our event layout: skip it, loudly
                log.warning("undecodable TaskCreated chain=%s block=%s", self.chain, entry.get("blockNumber"))
                continue
            created.append(NewTask(
                task_hash=task_hash, block_number=_int(entry["blockNumber"]), block_hash=_hex(entry["blockHash"]),
                log_index=_int(entry["logIndex"]), avs=self.avs, operator_set_id=int(set_id),
                reference_timestamp=int(ref_ts), creation_time=_int(entry.get("blockTimestamp") or 0),
                deadline=int(deadline), payload=bytes(payload)))
        return Scan(created, verified)

    def _handle_reorg(self, checkpoints: list[Checkpoint], head: Checkpoint) -> None:
        fork: Checkpoint | None = None
        for cp in checkpoints:
            if cp.number <= head.number and (head.hash if cp.number == head.number else self._hash_at(cp.number)) \
                    == cp.hash:
                fork = cp
                break
        base = fork.number if fork is not None else self.section.start_block - 1
        log.warning("reorg detected chain=%s stored_head=%d stored_hash=%s chain_head=%d fork_point=%d",
                    self.chain, checkpoints[0].number, checkpoints[0].hash[:18], head.number, base)
        if self.metrics is not None:
            self.metrics.reorgs.inc(self.chain)
        still: set[tuple[str, str]] = set()
        safe = head.number - self.section.confirmations
        start = base + 1
        while start <= safe:
            end = min(safe, start + self.section.max_block_range - 1)
            still |= {(t.task_hash, t.block_hash) for t in self._scan(start, end).created}
            start = end + 1
        for task in self.store.tasks_above(self.chain, base):
            if task.status in IN_FLIGHT and (task.task_hash, task.block_hash) not in still:
                self.on_orphaned(task, f"its block {task.block_number} ({task.block_hash[:18]}…) was orphaned by a "
                                       f"reorg (fork point {base})")
        self.store.rewind(self.chain, fork)
