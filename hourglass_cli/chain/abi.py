"""An index over every ABI in contracts/out: custom errors by selector, events by topic0, functions by selector.

Built once per artifacts folder (lazily, ~20 ms) and used to name a revert (`decode_revert`) or a raw log
(`events.decode_log`) without knowing which contract produced it. An AVS project's own artifacts
(``<project>/contracts/out``) are added with `add_project_artifacts`: a revert none of ours declares is then
looked up there and shown with its contract's name (``MyAvsTaskHook.InvalidPayloadLength(length=64)``); that
index is rebuilt when the project's manifest changes (a long-running aggregator sees `avs build`'s new errors).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from eth_abi import decode
from eth_utils import keccak, to_checksum_address
from eth_utils.abi import collapse_if_tuple

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

# Solidity panic codes (docs: "Panic via assert and other errors").
PANIC_REASONS = {
    0x00: "generic compiler panic",
    0x01: "assert failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "corrupt storage byte array",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised internal function",
}


def abi_types(params: list[dict[str, Any]]) -> list[str]:
    """Canonical eth-abi type strings of ABI inputs/outputs (tuples collapsed to `(...)`)."""
    return [collapse_if_tuple(p) for p in params]


def signature(entry: dict[str, Any]) -> str:
    """`Name(type1,type2)` of an ABI function, event or error."""
    return f"{entry['name']}({','.join(abi_types(entry.get('inputs', [])))})"


def checksummed(param: dict[str, Any], value: Any) -> Any:
    """`value` with its addresses in checksum form (eth-abi decodes them lowercase), through arrays and structs."""
    kind: str = param["type"]
    if kind.endswith("]"):
        inner = {**param, "type": kind[: kind.rindex("[")]}
        return [checksummed(inner, v) for v in value]
    if kind == "tuple":
        return tuple(checksummed(c, v) for c, v in zip(param["components"], value))
    if kind == "address":
        return to_checksum_address(value)
    return value


@dataclass(frozen=True)
class AbiEntry:
    """One ABI element and the artifacts that declare it (concrete contracts first)."""

    entry: dict[str, Any]
    contracts: tuple[str, ...]

    @property
    def name(self) -> str:
        return str(self.entry["name"])

    @property
    def signature(self) -> str:
        return signature(self.entry)


UNKNOWN_ERROR = "unknown error 0x"


@dataclass(frozen=True)
class DecodedError:
    """A revert reason: a custom error with its arguments, `Error(string)`, `Panic(code)` or raw data.

    `project` is the AVS project's contract declaring the error when it is none of ours (shown as its prefix)."""

    name: str
    args: tuple[tuple[str, Any], ...] = ()
    contracts: tuple[str, ...] = ()
    data: bytes = b""
    project: str = ""

    @property
    def known(self) -> bool:
        """Whether an ABI named the error (not `unknown error 0x…`)."""
        return not self.name.startswith(UNKNOWN_ERROR)

    def __str__(self) -> str:
        parts = ", ".join(f"{k}={_show(v)}" if k else _show(v) for k, v in self.args)
        return f"{self.project + '.' if self.project else ''}{self.name}({parts})"


def _show(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, str):
        return repr(value) if not value.startswith("0x") else value
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_show(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return str(value)


class AbiIndex:
    """Selectors and topics of every artifact in one `contracts/out` folder."""

    def __init__(self, artifacts: dict[str, list[dict[str, Any]]]) -> None:
        self.abis = artifacts
        self.errors: dict[bytes, AbiEntry] = {}
        self.events: dict[bytes, list[AbiEntry]] = {}
        self.functions: dict[bytes, AbiEntry] = {}
        # Concrete contracts (those with bytecode) sort before interfaces, so names prefer them.
        for name in sorted(artifacts, key=lambda n: (n.startswith("I") and n[1:2].isupper(), n)):
            for entry in artifacts[name]:
                kind = entry.get("type")
                if kind == "error":
                    self._add(self.errors, keccak(text=signature(entry))[:4], entry, name)
                elif kind == "function":
                    self._add(self.functions, keccak(text=signature(entry))[:4], entry, name)
                elif kind == "event" and not entry.get("anonymous"):
                    self._add_event(keccak(text=signature(entry)), entry, name)

    @staticmethod
    def _add(table: dict[bytes, AbiEntry], key: bytes, entry: dict[str, Any], contract: str) -> None:
        known = table.get(key)
        table[key] = AbiEntry(known.entry, known.contracts + (contract,)) if known else AbiEntry(entry, (contract,))

    def _add_event(self, topic: bytes, entry: dict[str, Any], contract: str) -> None:
        # Same signature, different `indexed` layout: keep both, decoding tries each.
        layout = tuple(bool(i.get("indexed")) for i in entry["inputs"])
        variants = self.events.setdefault(topic, [])
        for i, known in enumerate(variants):
            if tuple(bool(x.get("indexed")) for x in known.entry["inputs"]) == layout:
                variants[i] = AbiEntry(known.entry, known.contracts + (contract,))
                return
        variants.append(AbiEntry(entry, (contract,)))

    def decode_revert(self, data: bytes) -> DecodedError | None:
        """Name the revert `data` (custom error, Error(string), Panic); None for empty data."""
        data = bytes(data)
        if not data:
            return None
        selector, body = data[:4], data[4:]
        try:
            if selector == ERROR_STRING_SELECTOR:
                (reason,) = decode(["string"], body)
                return DecodedError("Error", (("", reason),), data=data)
            if selector == PANIC_SELECTOR:
                (code,) = decode(["uint256"], body)
                return DecodedError("Panic", (("", f"0x{code:02x}: {PANIC_REASONS.get(code, 'unknown')}"),), data=data)
            known = self.errors.get(selector)
            if known is not None:
                inputs = known.entry.get("inputs", [])
                values = decode(abi_types(inputs), body) if inputs else ()
                args = tuple((p.get("name") or "", checksummed(p, v)) for p, v in zip(inputs, values))
                return DecodedError(known.name, args, known.contracts, data)
        except Exception:  # noqa: BLE001 - malformed revert data: fall through to the raw form
            pass
        return DecodedError(f"{UNKNOWN_ERROR}{selector.hex()}", (("data", data[4:]),) if len(data) > 4 else (), data=data)

    def function_contracts(self, selector: bytes) -> tuple[str, ...]:
        """Artifacts declaring a function with this selector (concrete contracts first)."""
        known = self.functions.get(bytes(selector))
        return known.contracts if known else ()


@lru_cache(maxsize=4)
def _index_for(out: str) -> AbiIndex:
    from hourglass_cli.compiler.artifacts import artifact_names, load_artifact

    base = Path(out).parent
    return AbiIndex({name: load_artifact(name, base)["abi"] for name in artifact_names(base)})


def abi_index(base: Path | None = None) -> AbiIndex:
    """The index of the artifacts under `base` (default: the package's contracts folder)."""
    from hourglass_cli.compiler.artifacts import out_dir

    return _index_for(str(out_dir(base)))


_project_outs: list[str] = []  # AVS projects' contracts/out folders, in the order they were added
_project_lock = threading.Lock()


def add_project_artifacts(out: str | Path) -> None:
    """Also name the custom errors declared by the artifacts in `out` (an AVS project's contracts/out)."""
    path = str(Path(out).resolve())
    with _project_lock:
        if path not in _project_outs:
            _project_outs.append(path)


def project_artifacts() -> list[Path]:
    """The project artifact folders added with `add_project_artifacts`."""
    with _project_lock:
        return [Path(p) for p in _project_outs]


def _project_index(out: str) -> AbiIndex | None:
    """The index of a project's artifacts as its manifest lists them now; None when there are none."""
    try:
        stat = os.stat(os.path.join(out, "manifest.json"))
    except OSError:
        return None
    return _project_index_at(out, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _project_index_at(out: str, _mtime_ns: int, _size: int) -> AbiIndex | None:
    # Read here, not through compiler.artifacts' cache: a rebuild rewrites these files in place.
    try:
        with open(os.path.join(out, "manifest.json"), encoding="utf-8") as fh:
            names = sorted(json.load(fh).get("artifacts") or {})
    except (OSError, ValueError, AttributeError):
        return None
    abis: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        try:
            with open(os.path.join(out, f"{name}.json"), encoding="utf-8") as fh:
                abi = json.load(fh).get("abi")
        except (OSError, ValueError, AttributeError):
            continue  # a broken artifact must not break reporting the error
        if isinstance(abi, list):
            abis[name] = [e for e in abi if isinstance(e, dict)]
    return AbiIndex(abis) if abis else None


def decode_revert(data: bytes, base: Path | None = None) -> DecodedError | None:
    """Decode revert data against every ABI in contracts/out (ours, then the added projects' by default)."""
    decoded = abi_index(base).decode_revert(data)
    if base is not None or decoded is None or decoded.known:
        return decoded
    for out in project_artifacts():
        index = _project_index(str(out))
        found = index.decode_revert(data) if index is not None else None
        if found is not None and found.known:
            return DecodedError(found.name, found.args, found.contracts, found.data, project=found.contracts[0])
    return decoded


def add_project_of(start: str | Path) -> Path | None:
    """`add_project_artifacts` for the AVS project at or above `start` (its hourglass.toml); its contracts/out."""
    from hourglass_cli.config import find_config

    found = find_config(start)
    if found is None:
        return None
    out = found.parent / "contracts" / "out"
    add_project_artifacts(out)
    return out
