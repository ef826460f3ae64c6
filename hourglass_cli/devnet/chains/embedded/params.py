"""JSON-RPC errors and the parsing of wire-format parameters (hex quantities, data, tags)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000  # geth's code for a rejected transaction, unknown block, ...
EXECUTION_REVERTED = 3  # geth/anvil: eth_call / eth_estimateGas reverted; data = revert bytes

BLOCK_TAGS = ("latest", "pending", "earliest", "safe", "finalized")
_MAX_UINT256 = 2**256 - 1


class RpcError(Exception):
    """An error answered to the client as a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


def invalid(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)


def quantity(value: Any, what: str = "quantity") -> int:
    """A hex quantity ("0x1a"); plain non-negative ints are accepted too (some clients send them)."""
    if isinstance(value, bool):
        raise invalid(f"{what}: expected a hex quantity, got {value!r}")
    if isinstance(value, int):
        if 0 <= value <= _MAX_UINT256:
            return value
        raise invalid(f"{what}: out of range")
    if not isinstance(value, str) or not value[:2] in ("0x", "0X") or len(value) < 3 or len(value) > 66:
        raise invalid(f"{what}: expected a hex quantity, got {_short(value)}")
    try:
        return int(value[2:], 16)
    except ValueError:
        raise invalid(f"{what}: expected a hex quantity, got {_short(value)}") from None


def data(value: Any, what: str = "data", size: int | None = None) -> bytes:
    """Hex bytes ("0x..."), optionally of an exact size."""
    if not isinstance(value, str) or value[:2] not in ("0x", "0X"):
        raise invalid(f"{what}: expected 0x-prefixed hex, got {_short(value)}")
    body = value[2:]
    if len(body) % 2:
        body = "0" + body if size is None else body
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise invalid(f"{what}: invalid hex {_short(value)}") from None
    if size is not None and len(raw) != size:
        raise invalid(f"{what}: expected {size} bytes, got {len(raw)}")
    return raw


def address(value: Any, what: str = "address") -> bytes:
    return data(value, what, 20)


def hash32(value: Any, what: str = "hash") -> bytes:
    return data(value, what, 32)


@dataclass(frozen=True)
class BlockRef:
    """A block named by tag, number or hash (EIP-1898 objects included)."""

    tag: str | None = None
    number: int | None = None
    hash: bytes | None = None


def block_ref(value: Any, default: str = "latest") -> BlockRef:
    if value is None:
        return BlockRef(tag=default)
    if isinstance(value, str) and value in BLOCK_TAGS:
        return BlockRef(tag=value)
    if isinstance(value, dict):
        if "blockHash" in value:
            return BlockRef(hash=hash32(value["blockHash"], "blockHash"))
        if "blockNumber" in value:
            return block_ref(value["blockNumber"], default)
        raise invalid("block: expected blockHash or blockNumber")
    return BlockRef(number=quantity(value, "block number"))


def params_list(params: Any, minimum: int, maximum: int) -> list[Any]:
    """The positional params padded with None up to `maximum`; checks the count."""
    if params is None:
        params = []
    if not isinstance(params, list):
        raise invalid("params must be an array")
    if not minimum <= len(params) <= maximum:
        expected = str(minimum) if minimum == maximum else f"{minimum} to {maximum}"
        raise invalid(f"expected {expected} params, got {len(params)}")
    return params + [None] * (maximum - len(params))


@dataclass
class TxParams:
    """An eth_call / eth_estimateGas / eth_sendTransaction object, decoded."""

    sender: bytes | None = None
    to: bytes | None = None
    gas: int | None = None
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    value: int = 0
    data: bytes = b""
    nonce: int | None = None
    type: int | None = None
    chain_id: int | None = None
    access_list: tuple[tuple[bytes, tuple[int, ...]], ...] = ()


def tx_params(value: Any) -> TxParams:
    if not isinstance(value, dict):
        raise invalid("transaction: expected an object")
    out = TxParams()
    if value.get("from") is not None:
        out.sender = address(value["from"], "from")
    if value.get("to") not in (None, "", "0x"):
        out.to = address(value["to"], "to")
    for key, attr in (
        ("gas", "gas"),
        ("gasPrice", "gas_price"),
        ("maxFeePerGas", "max_fee_per_gas"),
        ("maxPriorityFeePerGas", "max_priority_fee_per_gas"),
        ("nonce", "nonce"),
        ("type", "type"),
        ("chainId", "chain_id"),
    ):
        if value.get(key) is not None:
            setattr(out, attr, quantity(value[key], key))
    if value.get("value") is not None:
        out.value = quantity(value["value"], "value")
    payload = value.get("input", value.get("data"))
    if payload is not None:
        out.data = data(payload, "input")
    if value.get("accessList") is not None:
        out.access_list = _access_list(value["accessList"])
    return out


def _access_list(value: Any) -> tuple[tuple[bytes, tuple[int, ...]], ...]:
    if not isinstance(value, list):
        raise invalid("accessList: expected an array")
    out = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("storageKeys", []), list):
            raise invalid("accessList: expected {address, storageKeys} objects")
        keys = tuple(int.from_bytes(hash32(k, "storage key"), "big") for k in item.get("storageKeys", []))
        out.append((address(item.get("address"), "accessList address"), keys))
    return tuple(out)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
