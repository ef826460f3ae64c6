"""eth_newFilter / eth_newBlockFilter polling state: a cursor per filter over the canonical chain."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from hourglass_cli.devnet.chains.embedded.logindex import LogFilter
from hourglass_cli.devnet.chains.embedded.params import SERVER_ERROR, RpcError


@dataclass
class _Filter:
    kind: str  # "logs" or "blocks"
    cursor: int  # next block number to report
    criteria: LogFilter | None = None
    from_block: int | None = None  # None: from the head at each poll
    to_block: int | None = None  # None: up to the head at each poll


class Filters:
    """Installed filters; each poll returns what was mined since the previous one."""

    def __init__(self) -> None:
        self._filters: dict[str, _Filter] = {}

    def new_log_filter(self, criteria: LogFilter, from_block: int | None, to_block: int | None, head: int) -> str:
        start = head + 1 if from_block is None else max(from_block, head + 1)
        return self._add(_Filter("logs", start, criteria, from_block, to_block))

    def new_block_filter(self, head: int) -> str:
        return self._add(_Filter("blocks", head + 1))

    def _add(self, flt: _Filter) -> str:
        filter_id = "0x" + os.urandom(16).hex()
        self._filters[filter_id] = flt
        return filter_id

    def uninstall(self, filter_id: str) -> bool:
        return self._filters.pop(filter_id, None) is not None

    def get(self, filter_id: str) -> _Filter:
        flt = self._filters.get(filter_id) if isinstance(filter_id, str) else None
        if flt is None:
            raise RpcError(SERVER_ERROR, "filter not found")
        return flt

    def changes(self, filter_id: str, node: Any) -> list[Any]:
        """What the filter has not reported yet: new block hashes, or new matching logs."""
        flt = self.get(filter_id)
        head = node.head.number
        start = flt.cursor
        flt.cursor = head + 1
        if flt.kind == "blocks":
            return ["0x" + record.hash.hex() for record in node.blocks[start : head + 1]]
        end = head if flt.to_block is None else min(head, flt.to_block)
        return node.logs.query(flt.criteria, start, end)

    def all_logs(self, filter_id: str, node: Any) -> list[Any]:
        """eth_getFilterLogs: every matching log in the filter's range."""
        flt = self.get(filter_id)
        if flt.kind != "logs":
            raise RpcError(SERVER_ERROR, "filter is not a log filter")
        head = node.head.number
        start = head if flt.from_block is None else flt.from_block
        end = head if flt.to_block is None else min(head, flt.to_block)
        return node.logs.query(flt.criteria, start, end)

    def rewind(self, head: int) -> None:
        """After evm_revert: blocks mined again at the same heights are reported again."""
        for flt in self._filters.values():
            flt.cursor = min(flt.cursor, head + 1)
