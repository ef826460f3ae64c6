"""The client API's view of its chain: smart wallet addresses and nonces, contract reads, token metadata, blocks
and events — and writes from a smart wallet (UserOps through the EntryPoint, `wallets.py`)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, is_hex_address, to_checksum_address
from web3 import Web3

from hourglass_cli.api.engine import StepError, StepResult
from hourglass_cli.wire.gen import avs_pb2 as pb

_ERC20 = {"name": "string", "symbol": "string", "decimals": "uint8"}


def _selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def _type_of(entry: dict) -> str:
    kind = entry["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_type_of(c) for c in entry.get("components", [])) + ")" + kind[5:]
    return kind


def _coerce(kind: str, value: Any) -> Any:
    """A method parameter from its text (method_params are strings) to what eth-abi encodes."""
    if isinstance(value, str):
        text = value.strip()
        if kind.endswith("]") or kind.startswith("("):
            value = json.loads(text)
        elif kind.startswith(("uint", "int")):
            return int(text, 0)
        elif kind == "bool":
            return text.lower() in ("true", "1")
        elif kind == "address":
            return to_checksum_address(text)
        elif kind.startswith("bytes"):
            return bytes.fromhex(text.removeprefix("0x"))
        else:
            return text
    if kind.endswith("]") and isinstance(value, list):
        inner = kind[: kind.rindex("[")]
        return [_coerce(inner, v) for v in value]
    if kind.startswith("(") and isinstance(value, list):
        parts = _split_tuple(kind[1:-1])
        return tuple(_coerce(k, v) for k, v in zip(parts, value, strict=True))
    return value


def _split_tuple(inner: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    if current:
        parts.append(current)
    return parts


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def encode_call(abi: list[dict], method: str, params: list[str]) -> tuple[bytes, dict]:
    """Calldata of `method(params)` from a contract ABI, and the ABI entry."""
    entries = [e for e in abi if e.get("type", "function") == "function" and e.get("name") == method]
    if not entries:
        raise StepError(f"method {method!r} is not in the contract ABI", pb.INVALID_NODE_CONFIG)
    entry = next((e for e in entries if len(e.get("inputs", [])) == len(params)), None)
    if entry is None:
        raise StepError(f"method {method!r} takes {len(entries[0].get('inputs', []))} parameters, "
                        f"{len(params)} given", pb.INVALID_NODE_CONFIG)
    kinds = [_type_of(i) for i in entry.get("inputs", [])]
    try:
        args = [_coerce(k, p) for k, p in zip(kinds, params, strict=True)]
        data = _selector(f"{method}({','.join(kinds)})") + encode(kinds, args)
    except (ValueError, TypeError, OverflowError) as exc:
        raise StepError(f"method {method!r}: parameters do not fit ({', '.join(kinds)}): {exc}",
                        pb.INVALID_NODE_CONFIG) from None
    return data, entry


def _topic(text: str) -> str | None:
    """One entry of an event query's topics as eth_getLogs takes it."""
    text = text.strip()
    if text in ("", "null"):
        return None
    if is_hex_address(text):
        return "0x" + "00" * 12 + text[2:].lower()
    return text.lower()


class ApiChain:
    """One chain: reads for everyone, writes from smart wallets when the wallet contracts and a controller are set."""

    def __init__(self, rpc_url: str, *, entry_point: str = "", factory: str = "", controller_key: bytes | None = None,
                 bundler_url: str = "") -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        self.rpc_url = rpc_url
        self.entry_point = to_checksum_address(entry_point) if entry_point else ""
        self.factory = to_checksum_address(factory) if factory else ""
        self._controller_key = controller_key
        self.bundler_url = bundler_url
        self._tokens: dict[str, tuple[float, dict | None]] = {}
        self._lock = threading.Lock()
        self._wallets = None
        self.wallet_lookup = None  # (owner, wallet) → (factory, salt): set by the service (its wallet rows)

    @property
    def can_write(self) -> bool:
        return bool(self.entry_point and self.factory and self._controller_key)

    def _call(self, to: str, data: bytes) -> bytes:
        return bytes(self.w3.eth.call({"to": to, "data": "0x" + data.hex()}))

    def wallet_address(self, factory: str, owner: str, salt: int) -> str:
        data = _selector("getAddress(address,uint256)") + encode(["address", "uint256"], [owner, salt])
        out = self._call(factory, data)
        if len(out) < 32:
            raise ValueError(f"{factory} did not answer getAddress (is it a SimpleAccountFactory?)")
        return to_checksum_address(decode(["address"], out)[0])

    def has_code(self, address: str) -> bool:
        return len(self.w3.eth.get_code(to_checksum_address(address))) > 0

    def nonce(self, wallet: str) -> int:
        if not self.entry_point:
            raise ValueError("no EntryPoint is configured ([api].entry_point)")
        data = _selector("getNonce(address,uint192)") + encode(["address", "uint192"], [wallet, 0])
        return decode(["uint256"], self._call(self.entry_point, data))[0]

    def read(self, address: str, abi: list[dict], calls: list[tuple[str, list[str], str]]) -> StepResult:
        """eth_call each method, in upstream v2.12's shapes: the output is one object ``{methodName: value}`` (a
        single return value as is, several as ``{name: value}``, unnamed ones ``output_<i>``), the metadata one
        entry per call ``{methodName, success, error, methodABI, value}``; any failed call fails the step."""
        if not is_hex_address(address):
            raise StepError(f"contract_address {address!r} is not an address", pb.INVALID_NODE_CONFIG)
        if not calls:
            raise StepError("contract_read.config.method_calls is empty", pb.INVALID_NODE_CONFIG)
        data: dict[str, Any] = {}
        metadata = []
        for i, (method, params, call_data) in enumerate(calls):
            name = method or f"method_{i + 1}"
            entry: dict[str, Any] = {"methodName": name, "success": True, "error": "", "methodABI": None,
                                     "value": None}
            metadata.append(entry)
            data[name] = None
            try:
                if call_data and not method:
                    raw = self._call(to_checksum_address(address), bytes.fromhex(call_data.removeprefix("0x")))
                    entry["value"] = data[name] = "0x" + raw.hex()
                    continue
                calldata, abi_entry = encode_call(abi, method, params)
                entry["methodABI"] = abi_entry
                raw = self._call(to_checksum_address(address), calldata)
            except StepError:
                raise
            except Exception as exc:  # noqa: BLE001 - a revert or RPC error is the call's result
                entry.update(success=False, error=str(exc))
                continue
            outputs = abi_entry.get("outputs", [])
            try:
                values = decode([_type_of(o) for o in outputs], raw)
            except Exception as exc:  # noqa: BLE001
                entry.update(success=False, error=f"cannot decode the answer of {method}: {exc}")
                continue
            if len(values) == 1:
                entry["value"] = data[name] = _plain(values[0])
            elif values:
                entry["value"] = data[name] = {(o.get("name") or f"output_{j}"): _plain(v)
                                               for j, (o, v) in enumerate(zip(outputs, values, strict=True))}
        failed = next((m for m in metadata if not m["success"]), None)
        if failed is not None:
            raise StepError(failed["error"] or f"method {failed['methodName']} failed", pb.RPC_NODE_ERROR)
        return StepResult(output=data, metadata=metadata)

    def block_info(self) -> dict:
        block = self.w3.eth.get_block("latest")
        return {"blockNumber": block["number"], "blockHash": block["hash"].hex() if block.get("hash") else "",
                "timestamp": block["timestamp"], "parentHash": block["parentHash"].hex(),
                "gasLimit": block["gasLimit"], "gasUsed": block["gasUsed"]}

    def latest_event(self, config: pb.EventTrigger.Config) -> dict:
        head = self.w3.eth.block_number
        for query in config.queries:
            params: dict[str, Any] = {"fromBlock": max(0, head - 5000), "toBlock": head}
            if query.addresses:
                params["address"] = [to_checksum_address(a) for a in query.addresses]
            # v2.12's topics are flat: entry i is topic i, "" or "null" any value, an address padded to 32 bytes
            topics = [_topic(t) for t in query.topics]
            while topics and topics[-1] is None:
                topics.pop()
            if topics:
                params["topics"] = topics
            logs = self.w3.eth.get_logs(params)
            if logs:
                log = logs[-1]
                return {"blockNumber": log["blockNumber"], "transactionHash": "0x" + bytes(log["transactionHash"]).hex(),
                        "logIndex": log["logIndex"], "address": log["address"],
                        "topics": ["0x" + bytes(t).hex() for t in log["topics"]], "data": "0x" + bytes(log["data"]).hex()}
        return {"found": False, "message": "no matching event in the last 5000 blocks"}

    def token_metadata(self, address: str) -> dict | None:
        """name/symbol/decimals of an ERC-20 (None when it is not one), cached for 10 minutes."""
        now = time.monotonic()
        with self._lock:
            cached = self._tokens.get(address)
        if cached and now - cached[0] < 600:
            return cached[1]
        meta: dict | None = {"address": address, "source": "rpc"}
        try:
            for field, kind in _ERC20.items():
                meta[field] = decode([kind], self._call(address, _selector(f"{field}()")))[0]
        except Exception:  # noqa: BLE001 - not an ERC-20 (no code, reverts, garbage)
            meta = None
        with self._lock:
            self._tokens[address] = (now, meta)
        return meta

    def balance(self, holder: str, token: str = "ETH") -> int:
        """Wei of ETH, or an ERC-20's balanceOf(holder)."""
        holder = to_checksum_address(holder)
        if token.upper() == "ETH":
            return int(self.w3.eth.get_balance(holder))
        raw = self._call(to_checksum_address(token), _selector("balanceOf(address)") + encode(["address"], [holder]))
        return decode(["uint256"], raw)[0]

    def gas_price(self) -> int:
        return int(self.w3.eth.gas_price)

    # -- writes (smart wallets) ---------------------------------------------------------------------------

    def _bundler(self):
        from hourglass_cli.api.writer import WalletWriter

        with self._lock:
            if self._wallets is None:
                self._wallets = WalletWriter(self.w3, entry_point=self.entry_point, factory=self.factory,
                                             controller_key=self._controller_key, lookup=self.wallet_lookup)
            return self._wallets

    def write(self, owner: str, wallet: str, address: str, abi: list[dict], calls, value: int, *,
              simulate: bool = False) -> StepResult:
        if not is_hex_address(address):
            raise StepError(f"contract_address {address!r} is not an address", pb.INVALID_NODE_CONFIG)
        datas = []
        for method, params, call_data in calls:
            if call_data:
                datas.append((method, bytes.fromhex(call_data.removeprefix("0x"))))
            else:
                datas.append((method, encode_call(abi, method, params)[0]))
        if not datas:
            raise StepError("contract_write needs method_calls or call_data", pb.INVALID_NODE_CONFIG)
        return self._bundler().call(owner, wallet, to_checksum_address(address), datas, value, simulate=simulate,
                                    abi=abi)

    def transfer(self, owner: str, wallet: str, destination: str, amount: str) -> StepResult:
        if not is_hex_address(destination):
            raise StepError(f"eth_transfer.config.destination {destination!r} is not an address",
                            pb.INVALID_NODE_CONFIG)
        if not amount.isdigit():
            raise StepError(f"eth_transfer.config.amount {amount!r} is not a whole number of wei",
                            pb.INVALID_NODE_CONFIG)
        return self._bundler().transfer(owner, wallet, to_checksum_address(destination), int(amount))

    def withdraw(self, owner: str, wallet: str, recipient: str, amount: str, token: str) -> dict:
        return self._bundler().withdraw(owner, wallet, recipient, amount, token)
