"""Event decoding: a contract's events from a receipt, and any raw log (eth_getLogs) by its topic0."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_abi import decode
from eth_utils import to_checksum_address

from hourglass_cli.chain.abi import AbiEntry, abi_index, abi_types, checksummed as _checksummed
from hourglass_cli.errors import ChainError

if TYPE_CHECKING:
    from web3.contract import Contract


@dataclass(frozen=True)
class DecodedEvent:
    """One decoded log. Indexed dynamic values (bytes, string, arrays, structs) are their 32-byte hash."""

    name: str
    args: dict[str, Any]
    address: str
    block_number: int | None
    transaction_hash: bytes | None
    log_index: int | None
    contracts: tuple[str, ...] = ()  # artifacts declaring this event

    def __getitem__(self, key: str) -> Any:
        return self.args[key]


def _bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def _is_dynamic(abi_type: str) -> bool:
    return abi_type in ("bytes", "string") or abi_type.endswith("]") or abi_type.startswith("(")


def _decode_with(entry: AbiEntry, log: Any) -> DecodedEvent:
    inputs = entry.entry["inputs"]
    topics = [_bytes(t) for t in log["topics"]][1:]
    indexed = [p for p in inputs if p.get("indexed")]
    plain = [p for p in inputs if not p.get("indexed")]
    if len(topics) != len(indexed):
        raise ValueError("topic count does not match the event's indexed inputs")
    values: dict[str, Any] = {}
    for param, topic in zip(indexed, topics):
        kind = abi_types([param])[0]
        values[param["name"]] = topic if _is_dynamic(kind) else _checksummed(param, decode([kind], topic)[0])
    for param, value in zip(plain, decode(abi_types(plain), _bytes(log.get("data") or b""))):
        values[param["name"]] = _checksummed(param, value)
    ordered = {p["name"]: values[p["name"]] for p in inputs}
    tx_hash = log.get("transactionHash")
    return DecodedEvent(
        entry.name,
        ordered,
        to_checksum_address(log["address"]),
        log.get("blockNumber"),
        _bytes(tx_hash) if tx_hash is not None else None,
        log.get("logIndex"),
        entry.contracts,
    )


def decode_log(log: Any, base: Path | None = None) -> DecodedEvent | None:
    """Decode a raw log against every event ABI in contracts/out; None for an unknown topic0."""
    topics = log.get("topics") or []
    if not topics:
        return None
    for entry in abi_index(base).events.get(_bytes(topics[0]), []):
        try:
            return _decode_with(entry, log)
        except Exception:  # noqa: BLE001 - another variant (indexed layout) may fit
            continue
    return None


def decode_logs(contract: Contract, receipt: Any, event_name: str) -> list[DecodedEvent]:
    """Events `event_name` emitted by `contract` (its address only) in `receipt`, in log order."""
    from eth_utils import event_abi_to_log_topic

    entries = [e for e in contract.abi if e.get("type") == "event" and e.get("name") == event_name]
    if not entries:
        raise ChainError(f"{event_name} is not an event of this contract",
                         hint="check the event name against the contract's ABI")
    wanted = {event_abi_to_log_topic(e): AbiEntry(e, ()) for e in entries}
    address = to_checksum_address(contract.address)
    out = []
    for log in receipt["logs"]:
        if to_checksum_address(log["address"]) != address or not log["topics"]:
            continue
        entry = wanted.get(_bytes(log["topics"][0]))
        if entry is not None:
            out.append(_decode_with(entry, log))
    return out


def decode_receipt(receipt: Any, base: Path | None = None) -> list[DecodedEvent]:
    """Every log of `receipt` that one of our ABIs knows, decoded (unknown logs are skipped)."""
    return [event for event in (decode_log(log, base) for log in receipt["logs"]) if event is not None]
