"""Real chains for contract tests: eth-tester (py-evm in process) and anvil (a subprocess).

Both fund DevKit's accounts (the "test … junk" mnemonic), so the package's devnet code runs on them
unchanged. `deploy` and `send` sign locally through `hourglass_cli.chain.TxSender` (a failure raises a
ChainError naming the contract, the function and the decoded custom error); the accounts are also
unlocked on the node, so tests may still call `fn.transact({"from": ...})` directly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from web3 import Web3

from hourglass_cli.devnet.accounts import DEFAULT_MNEMONIC, PREFUNDED_ACCOUNTS, derive_account

if TYPE_CHECKING:
    from hourglass_cli.chain.sender import TxSender

HD_PREFIX = "m/44'/60'/0'/0"


@dataclass
class Chain:
    """A web3 connection, its funded accounts (with their keys) and a way to move time forward."""

    name: str
    w3: Web3
    accounts: list[str]
    _advance: Callable[[int], None]
    _snapshot: Callable[[], Any]
    _revert: Callable[[Any], None]
    _close: Callable[[], None] = field(default=lambda: None)
    keys: dict[str, bytes] = field(default_factory=dict, repr=False)  # address -> private key
    _senders: dict[str, TxSender] = field(default_factory=dict, repr=False)

    def snapshot(self) -> Any:
        """Remember the chain state; `revert(id)` goes back to it (once)."""
        return self._snapshot()

    def revert(self, snapshot_id: Any) -> None:
        from hourglass_cli.chain.sender import reset_nonces

        self._revert(snapshot_id)
        reset_nonces(self.w3)  # nonces went back with the state

    def advance(self, seconds: int) -> None:
        """Mine a block at least `seconds` after the latest one."""
        self._advance(seconds)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def close(self) -> None:
        self._close()

    def sender(self, address: str) -> TxSender:
        """The package's nonce-safe sender for one of this chain's accounts."""
        from hourglass_cli.chain.sender import TxSender

        address = Web3.to_checksum_address(address)
        if address not in self._senders:
            if address not in self.keys:
                raise KeyError(f"{address} is not one of this chain's accounts (no key to sign with)")
            self._senders[address] = TxSender(self.w3, self.keys[address], label=f"{self.name} account")
        return self._senders[address]


def _dev_keys(count: int = PREFUNDED_ACCOUNTS) -> dict[str, bytes]:
    accounts = [derive_account(i) for i in range(count)]
    return {a.address: a.private_key for a in accounts}


class _SerializedTesterProvider(Web3.EthereumTesterProvider):
    """eth-tester is not thread-safe (concurrent sends corrupt its pending block): one request at a time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.RLock()

    def make_request(self, method: Any, params: Any) -> Any:
        with self._lock:
            return super().make_request(method, params)


def eth_tester_chain() -> Chain:
    from eth_tester import EthereumTester, PyEVMBackend

    backend = PyEVMBackend.from_mnemonic(DEFAULT_MNEMONIC, num_accounts=PREFUNDED_ACCOUNTS, hd_path=HD_PREFIX)
    w3 = Web3(_SerializedTesterProvider(EthereumTester(backend)))
    tester = w3.provider.ethereum_tester

    def advance(seconds: int) -> None:
        # time_travel(t) mines the current block at t - 1 and opens the next one at t.
        tester.time_travel(int(w3.eth.get_block("latest")["timestamp"]) + seconds + 1)

    return Chain("eth-tester", w3, list(w3.eth.accounts), advance, tester.take_snapshot, tester.revert_to_snapshot,
                 keys=_dev_keys())


def anvil_binary() -> str | None:
    """The anvil the devnet would use (node_modules, PATH or the tools folder), if any."""
    from hourglass_cli.devnet.chains.anvil import find_anvil

    found = find_anvil()
    return str(found) if found else None


def anvil_chain(binary: str, deadline_s: float = 30.0) -> Chain:
    """Start anvil through the devnet's AnvilBackend (same flags as `hourglass devnet start`)."""
    from hourglass_cli.chain.connection import make_web3
    from hourglass_cli.devnet.chains.anvil import AnvilBackend

    backend = AnvilBackend(binary)
    backend.ready_deadline_s = deadline_s
    handle = backend.start()
    w3 = make_web3(handle.rpc_url)

    def advance(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])

    def snapshot() -> Any:
        return w3.provider.make_request("evm_snapshot", [])["result"]

    def revert(snapshot_id: Any) -> None:
        w3.provider.make_request("evm_revert", [snapshot_id])

    return Chain("anvil", w3, list(w3.eth.accounts), advance, snapshot, revert, handle.stop, keys=_dev_keys())


def deploy(chain: Chain, name: str, *args: Any, sender: str | None = None) -> Any:
    """Deploy artifact `name` and return the web3 contract object."""
    from hourglass_cli.chain.contracts import deploy as deploy_artifact

    return deploy_artifact(chain.sender(sender or chain.accounts[0]), name, *args, gas=10_000_000)


def send(chain: Chain, fn: Any, sender: str, gas: int = 5_000_000) -> Any:
    """Send a transaction and return its successful receipt (ChainError with the decoded error if not)."""
    return chain.sender(sender).transact(fn, gas=gas)
