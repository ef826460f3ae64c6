"""Executor operator sets as hourglass.toml declares them and the devnet creates them: ids, operators, curve, threshold.

`[devnet].executor_sets` in hourglass.toml lists them (``[{ id = 1, operators = 4, curve = "bn254" }, …]``);
without it the devnet has one set, id 1, of `[devnet].operators` operators on `[devnet].curve` — what it always
had. Operators are numbered across sets in this order (executor-1 … executor-N), each set's right after the
previous one's, so the first set's operators keep the names and keys they had with a single set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_SET_ID = 1
AGGREGATOR_SET_ID = 0
MAX_SET_ID = 2**32 - 1  # OperatorSet.id is a uint32
MAX_EXECUTORS = 64  # across every set


@dataclass(frozen=True)
class ExecutorSetSpec:
    """One executor operator set as the devnet creates it."""

    id: int
    operators: int
    curve: str  # "bn254" | "ecdsa"
    threshold_bips: int | None = None  # None: [task].threshold_bips

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "operators": self.operators, "curve": self.curve,
                "threshold_bips": self.threshold_bips}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ExecutorSetSpec:
        bips = doc.get("threshold_bips")
        return cls(int(doc["id"]), int(doc["operators"]), str(doc["curve"]), None if bips is None else int(bips))


def default_sets(operators: int, curve: str) -> tuple[ExecutorSetSpec, ...]:
    """Today's single set: id 1, `operators` operators on `curve`."""
    return (ExecutorSetSpec(DEFAULT_SET_ID, operators, curve),)


def total_operators(sets: Sequence[ExecutorSetSpec]) -> int:
    return sum(s.operators for s in sets)


_ENTRY_KEYS = ("id", "operators", "curve", "threshold")


def parse_executor_sets(raw: Any, where: str, *, default_operators: int, default_curve: str) -> tuple[
        ExecutorSetSpec, ...]:
    """`[devnet].executor_sets` → specs; ValueError naming the entry and the rule (the caller adds the file).

    Each entry is a table with `id` (1 … 2^32-1, unique; 0 is the aggregator's set), `operators` (1-64; default
    `[devnet].operators`), `curve` ("bn254" | "ecdsa"; default `[devnet].curve`) and `threshold` (basis points,
    1-10000; default `[task].threshold_bips`). At most 64 executor operators in all.
    """
    import difflib

    if not isinstance(raw, list):
        raise ValueError(f"{where} must be a list of tables such as {{ id = 1, operators = 4 }}, got {raw!r}")
    specs: list[ExecutorSetSpec] = []
    for n, entry in enumerate(raw, 1):
        at = f"{where} entry {n}"
        if not isinstance(entry, dict):
            raise ValueError(f"{at} must be a table such as {{ id = {n}, operators = 4 }}, got {entry!r}")
        for key in entry:
            if key not in _ENTRY_KEYS:
                close = difflib.get_close_matches(key, _ENTRY_KEYS, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ValueError(f"{at}: unknown key '{key}'{hint}; allowed keys: {', '.join(_ENTRY_KEYS)}")
        if "id" not in entry:
            raise ValueError(f"{at}: id is required (the operator set's id, 1 or more)")
        set_id = _whole(entry["id"], f"{at}: id")
        if set_id == AGGREGATOR_SET_ID:
            raise ValueError(f"{at}: id 0 is the aggregator's operator set; executor sets need another id")
        if not 1 <= set_id <= MAX_SET_ID:
            raise ValueError(f"{at}: id must be from 1 to {MAX_SET_ID}, got {set_id}")
        count = _whole(entry.get("operators", default_operators), f"{at}: operators")
        if not 1 <= count <= MAX_EXECUTORS:
            raise ValueError(f"{at}: operators must be from 1 to {MAX_EXECUTORS}, got {count}")
        curve = entry.get("curve", default_curve)
        if curve not in ("bn254", "ecdsa"):
            raise ValueError(f"{at}: curve must be one of 'bn254', 'ecdsa', got {curve!r}")
        bips = entry.get("threshold")
        if bips is not None:
            bips = _whole(bips, f"{at}: threshold")
            if not 1 <= bips <= 10000:
                raise ValueError(f"{at}: threshold must be from 1 to 10000 (basis points), got {bips}")
        specs.append(ExecutorSetSpec(set_id, count, curve, bips))
    ids = [s.id for s in specs]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise ValueError(f"{where}: two entries have id {duplicate}; operator set ids must be unique")
    if total_operators(specs) > MAX_EXECUTORS:
        raise ValueError(f"{where}: {total_operators(specs)} executor operators in all; the devnet runs at most "
                         f"{MAX_EXECUTORS}")
    return tuple(specs)


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    return value
