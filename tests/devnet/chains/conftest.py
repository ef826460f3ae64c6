"""Fixtures for the chain-backend tests: real anvil and embedded processes on loopback."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hourglass_cli.devnet.chains import ChainHandle
from hourglass_cli.devnet.chains.anvil import AnvilBackend, find_anvil
from hourglass_cli.devnet.chains.embedded import EmbeddedBackend

CONTRACTS = Path(__file__).parent / "contracts"


class Rpc:
    """A raw JSON-RPC client (urllib POSTs): what a non-web3 client sees."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._id = 0

    def post(self, payload: Any) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def request(self, method: str, *params: Any) -> dict[str, Any]:
        """The whole answer object (result or error)."""
        self._id += 1
        return self.post({"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)})

    def __call__(self, method: str, *params: Any) -> Any:
        answer = self.request(method, *params)
        assert "error" not in answer, f"{method}{params}: {answer['error']}"
        return answer["result"]


@pytest.fixture(scope="session")
def probe_artifact() -> dict[str, Any]:
    """contracts/Probe.sol compiled with the project's pinned compiler and settings."""
    from hourglass_cli.compiler.discovery import find_solc
    from hourglass_cli.compiler.runner import compile_standard_json
    from hourglass_cli.compiler.settings import compiler_settings
    from hourglass_cli.errors import ToolNotFoundError

    try:
        solc = find_solc()
    except ToolNotFoundError as exc:
        pytest.skip(f"no pinned solc here ({exc.message}); run `npm install`")
    source = (CONTRACTS / "Probe.sol").read_text()
    output, _ = compile_standard_json(
        solc,
        {"language": "Solidity", "sources": {"Probe.sol": {"content": source}}, "settings": compiler_settings()},
    )
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    assert not errors, errors
    contract = output["contracts"]["Probe.sol"]["Probe"]
    return {"abi": contract["abi"], "bytecode": "0x" + contract["evm"]["bytecode"]["object"]}


@pytest.fixture(scope="session")
def anvil_binary() -> Path:
    binary = find_anvil()
    if binary is None:
        pytest.skip("anvil is not installed (run `npm install` for @foundry-rs/anvil)")
    return binary


@pytest.fixture(scope="module")
def embedded_chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainHandle]:
    handle = EmbeddedBackend().start(None, tmp_path_factory.mktemp("embedded") / "chain.log")
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def anvil_chain(anvil_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainHandle]:
    handle = AnvilBackend(anvil_binary).start(None, tmp_path_factory.mktemp("anvil") / "chain.log")
    yield handle
    handle.stop()


@pytest.fixture
def both(anvil_chain: ChainHandle, embedded_chain: ChainHandle) -> Iterator[dict[str, ChainHandle]]:
    """anvil and the embedded chain, each rolled back to its state before the test."""
    rpcs = {h.name: Rpc(h.rpc_url) for h in (anvil_chain, embedded_chain)}
    snaps = {name: rpc("evm_snapshot") for name, rpc in rpcs.items()}
    yield {"anvil": anvil_chain, "embedded": embedded_chain}
    for name, rpc in rpcs.items():
        assert rpc("evm_revert", snaps[name]) is True
