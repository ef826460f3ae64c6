"""Real chains for contract tests: eth-tester (py-evm in process) and anvil (a subprocess)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from web3 import Web3

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Chain:
    """A web3 connection, its funded unlocked accounts and a way to move time forward."""

    name: str
    w3: Web3
    accounts: list[str]
    _advance: Callable[[int], None]
    _snapshot: Callable[[], Any]
    _revert: Callable[[Any], None]
    _close: Callable[[], None] = field(default=lambda: None)

    def snapshot(self) -> Any:
        """Remember the chain state; `revert(id)` goes back to it (once)."""
        return self._snapshot()

    def revert(self, snapshot_id: Any) -> None:
        self._revert(snapshot_id)

    def advance(self, seconds: int) -> None:
        """Mine a block at least `seconds` after the latest one."""
        self._advance(seconds)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def close(self) -> None:
        self._close()


def eth_tester_chain() -> Chain:
    w3 = Web3(Web3.EthereumTesterProvider())
    tester = w3.provider.ethereum_tester

    def advance(seconds: int) -> None:
        # time_travel(t) mines the current block at t - 1 and opens the next one at t.
        tester.time_travel(int(w3.eth.get_block("latest")["timestamp"]) + seconds + 1)

    return Chain("eth-tester", w3, list(w3.eth.accounts), advance, tester.take_snapshot, tester.revert_to_snapshot)


def anvil_binary() -> str | None:
    local = REPO_ROOT / "node_modules" / ".bin" / "anvil"
    if local.exists():
        return str(local)
    return shutil.which("anvil")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def anvil_chain(binary: str, deadline_s: float = 30.0) -> Chain:
    """Start anvil on a free port and wait until it answers JSON-RPC."""
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--silent", "--hardfork", "cancun"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}", request_kwargs={"timeout": 60}))
    stop_at = time.monotonic() + deadline_s
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"anvil exited: {proc.stderr.read().decode(errors='replace')[:500]}")
        try:
            if w3.is_connected() and w3.eth.chain_id:
                break
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if time.monotonic() > stop_at:
            proc.kill()
            raise RuntimeError("anvil did not answer within the deadline")
        time.sleep(0.05)  # polling interval while waiting for the port, not a fixed wait

    def advance(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])

    def snapshot() -> Any:
        return w3.provider.make_request("evm_snapshot", [])["result"]

    def revert(snapshot_id: Any) -> None:
        w3.provider.make_request("evm_revert", [snapshot_id])

    def close() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()

    return Chain("anvil", w3, list(w3.eth.accounts), advance, snapshot, revert, close)


def deploy(chain: Chain, name: str, *args: Any, sender: str | None = None) -> Any:
    """Deploy artifact `name` and return the web3 contract object."""
    from hourglass_cli.compiler import load_artifact

    artifact = load_artifact(name)
    w3 = chain.w3
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(*args).transact({"from": sender or chain.accounts[0], "gas": 10_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1, f"deploying {name} failed"
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def send(chain: Chain, fn: Any, sender: str, gas: int = 5_000_000) -> Any:
    """Send a transaction and return its successful receipt."""
    tx = fn.transact({"from": sender, "gas": gas})
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1, f"transaction {fn.fn_name} reverted"
    return receipt
