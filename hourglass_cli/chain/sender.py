"""Nonce-safe transaction sending with locally held keys (works on any chain, no unlocked accounts).

One `TxSender` per account key. Senders for the same account on the same `Web3` share one nonce counter
under one lock, so concurrent callers never reuse a nonce; the counter is re-read from
`eth_getTransactionCount(pending)` after a nonce error. `send` returns at once with a `PendingTx`
(contract addresses are known in advance from the nonce); `transact` = `send` + `wait`.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from eth_utils import to_checksum_address

from hourglass_cli.chain.contracts import contract_name_at, create_address
from hourglass_cli.chain.reverts import RevertError, is_revert, revert_data, revert_error
from hourglass_cli.errors import ChainError

if TYPE_CHECKING:
    from web3 import Web3
    from web3.types import TxReceipt

DEFAULT_GAS_MARGIN = 1.25
DEFAULT_RECEIPT_TIMEOUT = 60.0
_FEE_TTL = 2.0  # seconds a fetched base fee is reused before asking the node again
_SEND_ATTEMPTS = 4
_NONCE_MESSAGES = ("nonce", "replacement transaction underpriced", "already known",
                   "transaction already imported")  # anvil's -32003 for a byte-identical resend
_FEE_MESSAGES = ("base fee", "fee per gas", "underpriced", "fee cap")


@dataclass
class _AccountState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_nonce: int | None = None


@dataclass
class _ChainState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    accounts: dict[str, _AccountState] = field(default_factory=dict)
    chain_id: int | None = None
    fees: dict[str, int] | None = None
    fees_at: float = 0.0
    gas_cap: int = 30_000_000


_chains: weakref.WeakKeyDictionary[Any, _ChainState] = weakref.WeakKeyDictionary()
_chains_lock = threading.Lock()


def _chain_state(w3: Web3) -> _ChainState:
    with _chains_lock:
        state = _chains.get(w3)
        if state is None:
            state = _chains[w3] = _ChainState()
        return state


@dataclass(frozen=True)
class Call:
    """A raw call: `to` (None = contract creation), calldata and a label for messages."""

    to: str | None
    data: bytes = b""
    label: str = "transaction"


def describe(call: Any, data: bytes | None = None) -> str:
    """"Contract.function" for a bound web3 function, "deploy Name" for a constructor."""
    if isinstance(call, Call):
        return call.label
    if hasattr(call, "fn_name"):
        name = contract_name_at(call.address, (data if data is not None else _calldata(call))[:4])
        return f"{name}.{call.fn_name}"
    return f"deploy {getattr(call, 'contract_name', 'contract')}"


def _calldata(call: Any) -> bytes:
    if isinstance(call, Call):
        return call.data
    if hasattr(call, "fn_name"):
        # web3 has no public encoder on a bound function; this one has existed since web3 v5.
        return bytes.fromhex(call._encode_transaction_data()[2:])
    return bytes.fromhex(call.data_in_transaction[2:])


def _target(call: Any) -> str | None:
    if isinstance(call, Call):
        return call.to
    return getattr(call, "address", None) if hasattr(call, "fn_name") else None


def local_account(private_key: bytes | str) -> Any:
    """The eth-account account of `private_key` (a ChainError that never echoes the key if it is not one)."""
    from eth_account import Account

    try:
        return Account.from_key(private_key)
    except Exception:  # noqa: BLE001 - never echo the key
        raise ChainError("invalid private key for a transaction sender",
                         hint="pass 32 bytes or 0x-prefixed hex of a secp256k1 key") from None


@dataclass
class PendingTx:
    """A sent transaction; `wait()` returns its successful receipt or raises ChainError."""

    sender: TxSender
    tx_hash: bytes
    nonce: int
    what: str
    request: dict[str, Any]
    contract_address: str | None = None  # for contract creations, known before mining

    def wait(self, timeout: float | None = None) -> TxReceipt:
        return self.sender.wait(self, timeout)


class TxSender:
    """Signs with a local private key, manages the account's nonce, sends and waits for receipts."""

    def __init__(
        self,
        w3: Web3,
        private_key: bytes | str,
        *,
        gas_margin: float = DEFAULT_GAS_MARGIN,
        receipt_timeout: float = DEFAULT_RECEIPT_TIMEOUT,
        label: str | None = None,
    ) -> None:
        account = local_account(private_key)
        self.w3 = w3
        self.address: str = account.address
        self.label = label
        self.gas_margin = gas_margin
        self.receipt_timeout = receipt_timeout
        self.__account = account  # name-mangled; never in reprs
        self._chain = _chain_state(w3)
        with self._chain.lock:
            self._state = self._chain.accounts.setdefault(self.address, _AccountState())

    def __repr__(self) -> str:
        return f"TxSender(address={self.address!r}, label={self.label!r})"

    # ---------------------------------------------------------------- chain facts (cached per Web3)

    @property
    def chain_id(self) -> int:
        if self._chain.chain_id is None:
            self._chain.chain_id = int(self.w3.eth.chain_id)
        return self._chain.chain_id

    def _fees(self, refresh: bool = False) -> dict[str, int]:
        chain = self._chain
        now = time.monotonic()
        with chain.lock:
            if not refresh and chain.fees is not None and now - chain.fees_at < _FEE_TTL:
                return chain.fees
        block = self.w3.eth.get_block("latest")
        base = block.get("baseFeePerGas")
        if base is None:
            fees = {"gasPrice": int(self.w3.eth.gas_price)}
        else:
            tip = min(10**9, max(1, int(base)))  # 1 gwei, but no more than the base fee on cheap chains
            fees = {"maxFeePerGas": 2 * int(base) + tip, "maxPriorityFeePerGas": tip}
        with chain.lock:
            chain.fees, chain.fees_at, chain.gas_cap = fees, now, int(block["gasLimit"])
        return fees

    def balance(self) -> int:
        return int(self.w3.eth.get_balance(self.address))

    # ---------------------------------------------------------------- sending

    def estimate(self, call: Any, value: int = 0, *, block: str | None = None,
                 _request: dict[str, Any] | None = None, _what: str | None = None) -> int:
        """Gas for `call` with the sender's margin; RevertError naming the custom error if it reverts.

        `block` "pending" runs the dry run in the next block's context (its timestamp), for calls gated by time:
        at "latest" (the default) a chain that mines only on demand keeps an old timestamp forever."""
        request = _request or self._request(call, value)
        if block:
            try:
                return self._with_margin(int(self.w3.eth.estimate_gas(request, block)))  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - classified below
                if is_revert(exc) or revert_data(exc):
                    raise revert_error(_what or describe(call), exc) from None
                # a node without block tags for estimates (eth-tester): the default block
        try:
            estimate = int(self.w3.eth.estimate_gas(request))
        except Exception as exc:  # noqa: BLE001 - classified below
            what = _what or describe(call)
            if is_revert(exc) or revert_data(exc):
                raise revert_error(what, exc) from None
            raise ChainError(f"{what}: gas estimation failed: {exc}",
                             hint="check the RPC URL and that the chain is running") from None
        return self._with_margin(estimate)

    def _with_margin(self, estimate: int) -> int:
        self._fees()
        return min(math.ceil(estimate * self.gas_margin), self._chain.gas_cap)

    def _request(self, call: Any, value: int, data: bytes | None = None) -> dict[str, Any]:
        data = _calldata(call) if data is None else data
        request: dict[str, Any] = {"from": self.address, "data": "0x" + data.hex(), "value": value}
        to = _target(call)
        if to:
            request["to"] = to_checksum_address(to)
        return request

    def send(self, call: Any, *, gas: int | None = None, value: int = 0,
             on_signed: Callable[[bytes, bytes, int], None] | None = None,
             estimate_block: str | None = None) -> PendingTx:
        """Sign and send `call` (bound function, constructor or `Call`); returns without waiting.

        `on_signed(tx_hash, raw_tx, nonce)` runs after signing and before sending (under the account's lock),
        so a caller can record the transaction first: a process killed after it can find or re-send exactly
        that transaction (:meth:`adopt`) instead of sending a second one.
        """
        data = _calldata(call)
        what = describe(call, data)
        request = self._request(call, value, data)
        if gas is None:
            gas = self.estimate(call, value, block=estimate_block, _request=request, _what=what)
        chain_id = self.chain_id
        fees = self._fees()
        last_error: Exception | None = None
        for _attempt in range(_SEND_ATTEMPTS):
            with self._state.lock:
                if self._state.next_nonce is None:
                    self._state.next_nonce = int(self.w3.eth.get_transaction_count(self.address, "pending"))
                nonce = self._state.next_nonce
                tx = {**request, "gas": int(gas), "nonce": nonce, "chainId": chain_id, **fees}
                tx.pop("from")
                signed = self.__account.sign_transaction(tx)
                if on_signed is not None:
                    on_signed(bytes(signed.hash), bytes(signed.raw_transaction), nonce)
                try:
                    tx_hash = bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction))
                except Exception as exc:  # noqa: BLE001 - classified below
                    text = str(exc).lower()
                    if any(m in text for m in _NONCE_MESSAGES):
                        self._state.next_nonce = None  # resync from the node
                        last_error = exc
                        continue
                    if any(m in text for m in _FEE_MESSAGES):
                        last_error = exc
                        fees = self._fees(refresh=True)
                        continue
                    self._state.next_nonce = None  # unknown whether the node kept it
                    if is_revert(exc) or revert_data(exc):
                        raise revert_error(what, exc) from None
                    raise ChainError(f"{what} from {self.address}: sending failed: {exc}",
                                     hint="check the sender's balance and the RPC URL") from None
                self._state.next_nonce = nonce + 1
            created = create_address(self.address, nonce) if "to" not in request else None
            return PendingTx(self, tx_hash, nonce, what, {**request, "gas": int(gas)}, created)
        raise ChainError(f"{what}: the node kept rejecting the transaction: {last_error}",
                         hint="another process may be sending from the same account; retry") from None

    def adopt(self, tx_hash: bytes, raw_tx: bytes | None, nonce: int | None, what: str) -> PendingTx | None:
        """A transaction of this account signed earlier (perhaps by a process that died since): a PendingTx to
        wait on if it is mined, pending, or could be re-sent as it is; None if it never can be mined (its nonce
        went to another transaction, or it was never sent and a nonce before it is missing).

        Re-sending the stored raw bytes is idempotent: it is the same transaction, with the same hash.
        """
        found = self._lookup(tx_hash)
        if found is not None:
            return PendingTx(self, tx_hash, found[1], what, found[0])
        if raw_tx is None or nonce is None:
            return None
        with self._state.lock:
            expected = int(self.w3.eth.get_transaction_count(self.address, "pending"))
            if nonce == expected:
                try:
                    self.w3.eth.send_raw_transaction(raw_tx)
                except Exception:  # noqa: BLE001 - whether it is known now decides, below
                    pass
                self._state.next_nonce = None  # resync: the node's pending count may have moved
        found = self._lookup(tx_hash)
        if found is None:
            return None
        return PendingTx(self, tx_hash, found[1], what, found[0])

    def _lookup(self, tx_hash: bytes) -> tuple[dict[str, Any], int] | None:
        """(the transaction as a replayable request, its nonce) if the node knows it (mined or pending)."""
        from web3.exceptions import TransactionNotFound

        try:
            tx = self.w3.eth.get_transaction(tx_hash)
        except TransactionNotFound:
            return None
        # eth-tester names the calldata "data", nodes "input"
        request: dict[str, Any] = {"from": self.address, "data": _hex(tx.get("input", tx.get("data", b""))),
                                   "value": int(tx.get("value", 0)), "gas": int(tx.get("gas", 0))}
        if tx.get("to"):
            request["to"] = to_checksum_address(tx["to"])
        return request, int(tx.get("nonce", 0))

    def transact(self, call: Any, *, gas: int | None = None, value: int = 0,
                 timeout: float | None = None) -> TxReceipt:
        """Send `call` and wait for its successful receipt."""
        return self.wait(self.send(call, gas=gas, value=value), timeout)

    def transfer(self, to: str, value: int, *, gas: int = 21_000) -> PendingTx:
        """Send `value` wei to `to` (returns without waiting)."""
        return self.send(Call(to_checksum_address(to), b"", f"transfer of {value} wei to {to}"), gas=gas, value=value)

    # ---------------------------------------------------------------- receipts

    def wait(self, pending: PendingTx, timeout: float | None = None) -> TxReceipt:
        """The receipt of `pending` (polled with a deadline); ChainError on timeout or failure."""
        receipt = wait_for_receipt(self.w3, pending.tx_hash, self.receipt_timeout if timeout is None else timeout,
                                   pending.what)
        if receipt["status"] != 1:
            raise self._failure(pending, receipt)
        return receipt

    def _failure(self, pending: PendingTx, receipt: TxReceipt) -> ChainError:
        """Replay the failed transaction as an eth_call in its block to get the revert reason."""
        request = dict(pending.request)
        if int(receipt["gasUsed"]) >= int(request["gas"]):
            # A revert hands back the unused gas; only an exceptional halt burns all of it.
            return ChainError(
                f"{pending.what} ran out of gas (limit {request['gas']:,}) in block {receipt['blockNumber']}",
                hint="give it a higher gas limit (`hourglass task submit --gas-limit N`), or leave the limit out to have it estimated",
            )
        replayed: Exception | None = None
        try:
            self.w3.eth.call(request, block_identifier=receipt["blockNumber"])
        except Exception as exc:  # noqa: BLE001 - we want the revert data out of it
            replayed = exc
        data = revert_data(replayed) if replayed is not None else None
        if data:
            return revert_error(pending.what, data=data)
        return RevertError(f"{pending.what} reverted in block {receipt['blockNumber']} "
                           "(replaying it did not reproduce the error)")


def _hex(data: Any) -> str:
    if isinstance(data, str):
        return data if data.startswith("0x") else "0x" + data
    return "0x" + bytes(data).hex()


def wait_for_receipt(w3: Web3, tx_hash: bytes, timeout: float, what: str = "transaction") -> TxReceipt:
    """Poll for a receipt until `timeout` seconds pass (short first polls: automining answers at once)."""
    from web3.exceptions import TransactionNotFound

    def fetch() -> TxReceipt | None:
        try:
            return w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None

    return poll_receipt(fetch, tx_hash, timeout, what)


def poll_receipt(fetch: Callable[[], Any], tx_hash: bytes, timeout: float, what: str = "transaction") -> Any:
    """Call `fetch` until it returns a mined receipt (one with a blockNumber); ChainError after `timeout` s.

    Shared by TxSender (web3) and the task commands' sender (`tasks.mailbox`, plain JSON-RPC).
    """
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        receipt = fetch()
        if receipt is not None and receipt.get("blockNumber") is not None:
            return receipt
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ChainError(f"{what}: no receipt for 0x{bytes(tx_hash).hex()} within {timeout:g} s",
                             hint="is the chain mining? (a stalled node, or anvil started with --no-mining)")
        time.sleep(min(delay, remaining))  # poll interval, bounded by the deadline
        delay = min(delay * 2, 0.1)


def wait_all(pending: list[PendingTx], timeout: float | None = None) -> list[TxReceipt]:
    """Receipts of several pending transactions, in order (the first failure raises)."""
    return [p.wait(timeout) for p in pending]


Sender = TxSender


def call(fn: Any, *, sender: str | None = None, block: Any = "latest") -> Any:
    """Run a bound function as eth_call; RevertError naming the custom error if it reverts."""
    try:
        return fn.call({"from": to_checksum_address(sender)} if sender else {}, block_identifier=block)
    except Exception as exc:  # noqa: BLE001 - classified below
        if is_revert(exc) or revert_data(exc):
            raise revert_error(describe(fn), exc) from None
        raise ChainError(f"{describe(fn)}: call failed: {exc}",
                         hint="check the RPC URL and that the chain is running") from None


def reset_nonces(w3: Web3) -> None:
    """Forget every cached nonce for `w3` (after a snapshot revert or a chain reset); the next send re-reads."""
    state = _chain_state(w3)
    with state.lock:
        accounts = list(state.accounts.values())
    for account in accounts:
        with account.lock:
            account.next_nonce = None
