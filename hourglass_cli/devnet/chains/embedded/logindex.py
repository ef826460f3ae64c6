"""eth_getLogs from an index kept as blocks are mined, so a query costs O(matching logs).

eth-tester answers a log query by re-reading every block's receipts (1.2 s over 91 blocks).
Here every log is appended once, in chain order, to one list (its position is its global id),
with per-block offsets and posting lists by address and by topic0. A query bisects the block
range into an id range, walks the shortest posting list in that range and checks the rest of
the filter on each candidate. evm_revert truncates everything back to a block boundary.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LogEntry:
    """One log: raw fields for matching, and its JSON form built once when it was mined."""

    address: bytes
    topics: tuple[bytes, ...]
    json: dict[str, Any]


@dataclass(frozen=True)
class LogFilter:
    """A decoded eth_getLogs filter: None = any; a position of None in `topics` = any."""

    addresses: frozenset[bytes] | None = None
    topics: tuple[frozenset[bytes] | None, ...] = ()

    def matches(self, entry: LogEntry) -> bool:
        if self.addresses is not None and entry.address not in self.addresses:
            return False
        # as anvil: a wildcard position matches even where the log has no topic (geth: no match)
        topics = entry.topics
        for i, wanted in enumerate(self.topics):
            if wanted is not None and (i >= len(topics) or topics[i] not in wanted):
                return False
        return True


class LogIndex:
    """Append-only (per block) log store with posting lists; truncatable to a block boundary."""

    def __init__(self) -> None:
        self._logs: list[LogEntry] = []
        self._block_start: list[int] = [0]  # _block_start[n] = id of block n's first log
        self._by_address: dict[bytes, list[int]] = {}
        self._by_topic0: dict[bytes, list[int]] = {}

    @property
    def block_count(self) -> int:
        return len(self._block_start) - 1

    def append_block(self, entries: list[LogEntry]) -> None:
        """Record the logs of the next block (block number == block_count)."""
        for entry in entries:
            log_id = len(self._logs)
            self._logs.append(entry)
            self._by_address.setdefault(entry.address, []).append(log_id)
            if entry.topics:
                self._by_topic0.setdefault(entry.topics[0], []).append(log_id)
        self._block_start.append(len(self._logs))

    def truncate(self, block_count: int) -> None:
        """Forget every block from `block_count` on (evm_revert)."""
        if block_count >= self.block_count:
            return
        cut = self._block_start[block_count]
        del self._logs[cut:]
        del self._block_start[block_count + 1 :]
        for index in (self._by_address, self._by_topic0):
            for key in list(index):
                ids = index[key]
                if ids and ids[-1] >= cut:
                    del ids[bisect_left(ids, cut) :]
                    if not ids:
                        del index[key]

    def block_logs(self, number: int) -> list[LogEntry]:
        return self._logs[self._block_start[number] : self._block_start[number + 1]]

    def query(self, flt: LogFilter, from_block: int, to_block: int) -> list[dict[str, Any]]:
        """JSON logs of blocks from_block..to_block (inclusive, clamped) matching `flt`."""
        to_block = min(to_block, self.block_count - 1)
        if from_block > to_block or from_block < 0:
            return []
        lo, hi = self._block_start[from_block], self._block_start[to_block + 1]
        if lo == hi:
            return []
        postings = []
        if flt.addresses is not None:
            postings.append([self._by_address.get(a, []) for a in flt.addresses])
        if flt.topics and flt.topics[0] is not None:
            postings.append([self._by_topic0.get(t, []) for t in flt.topics[0]])
        logs = self._logs
        if not postings:
            return [e.json for e in logs[lo:hi] if flt.matches(e)]
        # walk the candidate set that is smallest inside [lo, hi)
        best: list[tuple[list[int], int, int]] | None = None
        best_size = hi - lo + 1
        for lists in postings:
            ranges = [(ids, bisect_left(ids, lo), bisect_left(ids, hi)) for ids in lists]
            size = sum(end - start for _, start, end in ranges)
            if size < best_size:
                best, best_size = ranges, size
        if best is None:
            return [e.json for e in logs[lo:hi] if flt.matches(e)]
        if len(best) == 1:
            ids, start, end = best[0]
            candidates: Any = ids[start:end]
        else:
            candidates = heapq.merge(*(ids[start:end] for ids, start, end in best))
        return [logs[i].json for i in candidates if flt.matches(logs[i])]
