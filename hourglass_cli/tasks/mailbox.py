"""The TaskMailbox as the task commands use it, over plain JSON-RPC (see `tasks.rpc` for why not web3).

Calls are encoded and decoded with eth-abi from the contract's artifact; `createTask` is signed with
eth-account (`Account.sign_transaction`, the library's own transaction encoding) and sent raw. The sending
policy is `chain.sender.TxSender`'s, for the one transaction the task commands send: fees from the latest
block (reused for a few seconds), the nonce counted locally and re-read after a nonce error, receipts
polled with a deadline, and a failed transaction replayed as an eth_call so the revert is named
("TaskMailbox.createTask reverted: PayloadIsEmpty()"). Views that revert are named the same way
("TaskMailbox.getTaskResult reverted: InvalidTaskStatus(expected=2, actual=0)"), and an address without code
is called that rather than left to fail decoding.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from eth_abi import decode, encode
from eth_utils import event_abi_to_log_topic, function_abi_to_4byte_selector, to_checksum_address

from hourglass_cli.chain.abi import abi_types, checksummed
from hourglass_cli.chain.gas import TOO_MUCH_GAS_MESSAGES
from hourglass_cli.errors import ChainError
from hourglass_cli.tasks.rpc import RpcError, Transport, quantity, shown_url

if TYPE_CHECKING:
    from hourglass_cli.chain.events import DecodedEvent

NAME = "TaskMailbox"
# anvil's answer to a transaction it has already mined ("already known" is for one still in its pool)
_NONCE_MESSAGES = ("already imported",)


def too_much_gas(what: str, block_gas_limit: int, size: str = "") -> ChainError:
    """The error for a transaction that needs more gas than a block holds."""
    return ChainError(f"{what}{' with ' + size if size else ''} needs more gas than a block of this chain holds "
                      f"(block gas limit {block_gas_limit:,}; storing 32 bytes on chain costs ~22,000 gas)",
                      hint="on the devnet raise [devnet].block_gas_limit in hourglass.toml and restart it; on "
                           "another chain send less (keep large data elsewhere and pass its hash or URL)")


def _hex(data: bytes) -> str:
    return "0x" + bytes(data).hex()


def _unhex(value: str | None) -> bytes:
    text = value or "0x"
    return bytes.fromhex(text[2:] if text.startswith(("0x", "0X")) else text)


def _reverted(exc: RpcError) -> bytes | None:
    """The revert bytes of a node's error (b"" for a revert without data), None if it is not a revert.

    Not `chain.reverts.revert_data`: without data it reads the exception's text as eth-tester's, and the text
    of an RpcError is our own message."""
    data = exc.data.get("data") if isinstance(exc.data, dict) else exc.data  # some nodes nest it
    if isinstance(data, str) and data[:2] in ("0x", "0X"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            pass
    return b"" if "revert" in exc.rpc_message.lower() else None


class Mailbox:
    """A TaskMailbox at `address`: `call` for views, `calldata` for transactions, event topics; `abi`/`address`
    as a web3 contract has them (so `chain.events.decode_logs` takes it)."""

    def __init__(self, rpc: Transport, address: str) -> None:
        from hourglass_cli.compiler.artifacts import load_artifact

        self.rpc = rpc
        self.address = to_checksum_address(address)
        self.abi: list[dict[str, Any]] = load_artifact(NAME)["abi"]

    def _entry(self, kind: str, name: str) -> dict[str, Any]:
        found = [e for e in self.abi if e.get("type") == kind and e.get("name") == name]
        if len(found) != 1:
            raise ChainError(f"{NAME} has {len(found) or 'no'} {kind}s named {name}",
                             hint="the contract artifacts do not match this client; reinstall hourglass")
        return found[0]

    def calldata(self, function: str, *args: Any) -> bytes:
        entry = self._entry("function", function)
        return function_abi_to_4byte_selector(entry) + encode(abi_types(entry["inputs"]), args)

    def call(self, function: str, *args: Any, block: str | int = "latest") -> Any:
        """eth_call of a view; one output is returned as itself, several as a tuple.

        RevertError naming the custom error if it reverts (as `chain.sender.call`); ChainError if no contract
        is at the address."""
        from eth_abi.exceptions import DecodingError

        from hourglass_cli.chain.reverts import revert_error

        what = f"{NAME}.{function}"
        entry = self._entry("function", function)
        data = function_abi_to_4byte_selector(entry) + encode(abi_types(entry["inputs"]), args)
        tag = block if isinstance(block, str) else hex(block)
        try:
            raw = _unhex(self.rpc.request("eth_call", [{"to": self.address, "data": _hex(data)}, tag]))
        except RpcError as exc:
            reverted = _reverted(exc)
            if reverted is None:
                raise
            raise revert_error(what, data=reverted) from None
        outputs = entry.get("outputs", [])
        if outputs and not raw:
            raise self.not_a_mailbox(what, "returned no data", tag)
        try:
            decoded = decode(abi_types(outputs), raw)
        except DecodingError as exc:
            raise self.not_a_mailbox(what, f"returned data that is not its answer ({exc})", tag) from None
        values = tuple(checksummed(p, v) for p, v in zip(outputs, decoded))
        return values[0] if len(values) == 1 else values

    def not_a_mailbox(self, what: str, symptom: str, block: str = "latest") -> ChainError:
        """The error for `what` failing as only a wrong address makes it fail: no contract there, or another one."""
        where = f"on the chain at {shown_url(self.rpc.url)}"
        hint = ("check --mailbox; on a devnet, its recorded state may not match the chain (e.g. the chain was "
                "restarted without its state): see `hourglass devnet status`, or restart the devnet to redeploy")
        try:
            code = _unhex(self.rpc.request("eth_getCode", [self.address, block]))
        except ChainError:
            code = None
        if code == b"":
            return ChainError(f"no contract at {self.address} {where}: {what} needs the {NAME} there", hint=hint)
        return ChainError(f"{what} at {self.address} {where} {symptom}: is it a {NAME}?", hint=hint)

    def topic(self, event: str) -> bytes:
        return event_abi_to_log_topic(self._entry("event", event))


def receipt_of(raw: dict[str, Any]) -> dict[str, Any]:
    """A JSON-RPC receipt with the fields callers read as ints/bytes (as web3 formats them)."""
    receipt = dict(raw)
    for key in ("status", "blockNumber", "gasUsed", "cumulativeGasUsed", "transactionIndex", "effectiveGasPrice"):
        if receipt.get(key) is not None:
            receipt[key] = quantity(receipt[key])
    receipt["transactionHash"] = _unhex(receipt.get("transactionHash"))
    logs = []
    for log in receipt.get("logs") or []:
        log = dict(log)
        for key in ("blockNumber", "logIndex", "transactionIndex"):
            if log.get(key) is not None:
                log[key] = quantity(log[key])
        logs.append(log)
    receipt["logs"] = logs
    return receipt


class Sender:
    """Signs with a local key and sends raw transactions over `rpc` (TxSender's policy, see the module doc)."""

    def __init__(self, rpc: Transport, private_key: bytes | str, chain_id: int) -> None:
        from hourglass_cli.chain import sender as policy  # TxSender's fee TTL, retries and error classes

        account = policy.local_account(private_key)  # eth-account: the one heavy import of `task submit`
        self.rpc = rpc
        self.chain_id = chain_id
        self.policy = policy
        self.address: str = account.address
        self.__account = account  # name-mangled; never in reprs
        self._nonce: int | None = None
        self._sent: set[bytes] = set()  # transactions this sender sent that the node took (or may have)
        self._fees: dict[str, int] | None = None
        self._fees_at = 0.0

    def __repr__(self) -> str:
        return f"Sender(address={self.address!r})"

    def fees(self, refresh: bool = False) -> dict[str, int]:
        now = time.monotonic()
        if not refresh and self._fees is not None and now - self._fees_at < self.policy._FEE_TTL:
            return self._fees
        block = self.rpc.request("eth_getBlockByNumber", ["latest", False])
        base = block.get("baseFeePerGas")
        if base is None:
            fees = {"gasPrice": quantity(self.rpc.request("eth_gasPrice", []))}
        else:
            tip = min(10**9, max(1, quantity(base)))  # 1 gwei, but no more than the base fee on cheap chains
            fees = {"maxFeePerGas": 2 * quantity(base) + tip, "maxPriorityFeePerGas": tip}
        self._fees, self._fees_at = fees, now
        return fees

    def send(self, to: str, data: bytes, gas: int, what: str) -> tuple[bytes, dict[str, Any]]:
        """Sign and send; (transaction hash, the request as an eth_call would replay it).

        The same key signing the same call with the same nonce and fees gives a byte-identical transaction: two
        `task submit`s at once do. A node turning ours away as already known means another process sent it
        (its task, not ours), unless we had sent this very transaction before (or the transport resent it)."""
        from hourglass_cli.chain.reverts import revert_error

        request: dict[str, Any] = {"from": self.address, "to": to_checksum_address(to), "data": _hex(data),
                                   "value": 0, "gas": int(gas)}
        fees = self.fees()
        last_error: Exception | None = None
        for _attempt in range(self.policy._SEND_ATTEMPTS):
            if self._nonce is None:
                self._nonce = quantity(self.rpc.request("eth_getTransactionCount", [self.address, "pending"]))
            tx = {"to": request["to"], "data": request["data"], "value": 0, "gas": int(gas), "nonce": self._nonce,
                  "chainId": self.chain_id, **fees}
            signed = self.__account.sign_transaction(tx)
            signed_hash = bytes(signed.hash)
            try:
                tx_hash = _unhex(self.rpc.request("eth_sendRawTransaction", [_hex(signed.raw_transaction)]))
            except RpcError as exc:
                text = exc.rpc_message.lower()
                if any(m in text for m in self.policy._NONCE_MESSAGES + _NONCE_MESSAGES):
                    if (signed_hash in self._sent or exc.resent) and self._known(signed_hash):  # a copy of ours
                        self._nonce += 1
                        return signed_hash, request
                    self._nonce = None  # resync from the node
                    last_error = exc
                    continue
                if any(m in text for m in self.policy._FEE_MESSAGES):
                    last_error = exc
                    fees = self.fees(refresh=True)
                    continue
                self._nonce = None  # unknown whether the node kept it
                reverted = _reverted(exc)
                if reverted is not None:
                    raise revert_error(what, data=reverted) from None
                raise ChainError(f"{what} from {self.address}: sending failed: {exc.error}",
                                 hint="check the sender's balance and the RPC URL") from None
            except ChainError as exc:
                self._nonce = None
                self._sent.add(signed_hash)  # no answer: the node may have taken it
                raise ChainError(f"{what} from {self.address}: sending failed: {exc}",
                                 hint="check the sender's balance and the RPC URL") from None
            self._sent.add(signed_hash)
            self._nonce += 1
            return tx_hash, request
        raise ChainError(f"{what}: the node kept rejecting the transaction: {last_error}",
                         hint="another process may be sending from the same account; retry") from None

    def block_gas_limit(self) -> int:
        return quantity(self.rpc.request("eth_getBlockByNumber", ["latest", False])["gasLimit"])

    def estimate(self, to: str, data: bytes, what: str, size: str = "") -> int:
        """A gas limit for this call: the node's estimate plus headroom (state can move between estimate and
        mining), never above the block gas limit. A revert is named (nothing is sent); a call that needs more
        gas than a block holds says so."""
        from hourglass_cli.chain.reverts import revert_error

        request = {"from": self.address, "to": to_checksum_address(to), "data": _hex(data), "value": "0x0"}
        try:
            estimate = quantity(self.rpc.request("eth_estimateGas", [request]))
        except RpcError as exc:
            reverted = _reverted(exc)
            if reverted is not None and "gas required exceeds" not in exc.rpc_message.lower():
                raise revert_error(what, data=reverted) from None
            if any(m in exc.rpc_message.lower() for m in TOO_MUCH_GAS_MESSAGES):
                raise too_much_gas(what, self.block_gas_limit(), size) from None
            raise ChainError(f"{what}: the node could not estimate its gas: {exc.error}",
                             hint="check the RPC URL; give --gas-limit N to send it without an estimate") from None
        limit = self.block_gas_limit()
        return min(limit, estimate + estimate // 4 + 25_000)

    def _known(self, tx_hash: bytes) -> bool:
        try:
            return self.rpc.request("eth_getTransactionByHash", [_hex(tx_hash)]) is not None
        except ChainError:
            return False

    def wait(self, tx_hash: bytes, request: dict[str, Any], what: str,
             timeout: float | None = None) -> dict[str, Any]:
        """The successful receipt (polled with a deadline; short first polls: automining answers at once)."""
        raw = self.policy.poll_receipt(lambda: self.rpc.request("eth_getTransactionReceipt", [_hex(tx_hash)]),
                                       tx_hash, self.policy.DEFAULT_RECEIPT_TIMEOUT if timeout is None else timeout,
                                       what)
        receipt = receipt_of(raw)
        if receipt["status"] != 1:
            raise self._failure(request, receipt, what)
        return receipt

    def _failure(self, request: dict[str, Any], receipt: dict[str, Any], what: str) -> ChainError:
        """Replay the failed transaction as an eth_call in its block to get the revert reason."""
        from hourglass_cli.chain.reverts import RevertError, revert_data, revert_error

        block = receipt["blockNumber"]
        if receipt["gasUsed"] >= request["gas"]:
            # A revert hands back the unused gas; only an exceptional halt burns all of it.
            return ChainError(f"{what} ran out of gas (limit {request['gas']:,}) in block {block}",
                              hint="give it a higher gas limit (`hourglass task submit --gas-limit N`), or leave the limit out to have it estimated")
        call = {**request, "gas": hex(request["gas"]), "value": hex(request["value"])}
        data = None
        try:
            self.rpc.request("eth_call", [call, hex(block)])
        except RpcError as exc:
            data = _reverted(exc)
        except ChainError as exc:
            data = revert_data(exc)
        if data:
            return revert_error(what, data=data)
        return RevertError(f"{what} reverted in block {block} (replaying it did not reproduce the error)")


def create_task(sender: Sender, mailbox: Mailbox, avs: str, set_id: int, payload: bytes, *,
                gas: int | None = None, timeout: float | None = None) -> tuple[DecodedEvent, dict[str, Any]]:
    """createTask((refundCollector = the sender, (avs, set_id), payload)); (its TaskCreated event, receipt).

    `gas` None: estimated (the payload is stored on chain, ~22,000 gas per 32 bytes, so no fixed limit fits)."""
    from hourglass_cli.chain.events import decode_logs
    from hourglass_cli.chain.structs import operator_set

    what = f"{NAME}.createTask"
    data = mailbox.calldata("createTask", (sender.address, operator_set(avs, set_id), bytes(payload)))
    if gas is None:
        gas = sender.estimate(mailbox.address, data, what, f"a {len(payload):,}-byte payload")
    tx_hash, request = sender.send(mailbox.address, data, gas, what)
    receipt = sender.wait(tx_hash, request, what, timeout)
    events = decode_logs(mailbox, receipt, "TaskCreated")  # type: ignore[arg-type]
    if len(events) != 1:  # e.g. no code at the address: the "call" was a plain transfer, and succeeded
        raise mailbox.not_a_mailbox(what, f"emitted {len(events)} TaskCreated events", hex(receipt["blockNumber"]))
    return events[0], receipt

