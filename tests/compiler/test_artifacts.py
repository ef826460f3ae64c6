"""Reading artifacts, and proving every compiled artifact deploys and runs on py-evm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hourglass_cli.compiler import artifact_names, contracts_dir, load_artifact
from hourglass_cli.compiler.artifacts import ArtifactNotFoundError


def test_artifact_shape() -> None:
    artifact = load_artifact("TaskMailbox")
    assert artifact["contractName"] == "TaskMailbox"
    assert artifact["sourceName"] == "core/TaskMailbox.sol"
    code = bytes.fromhex(artifact["bytecode"][2:])
    assert 0x60 <= code[0] <= 0x7F and len(artifact["deployedBytecode"]) > 1000  # starts with a PUSH (free memory ptr)
    assert artifact["methodIdentifiers"]["createTask((address,(address,uint32),bytes))"]
    assert any(item.get("name") == "TaskCreated" for item in artifact["abi"])


def test_interfaces_ship_abi_only() -> None:
    artifact = load_artifact("ITaskMailbox")
    assert artifact["bytecode"] == "0x" and artifact["abi"]


def test_unknown_artifact_and_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ArtifactNotFoundError) as info:
        load_artifact("NoSuchContract")
    assert "hourglass contracts build" in info.value.hint
    monkeypatch.setenv("HOURGLASS_CONTRACTS_DIR", str(tmp_path))
    assert contracts_dir() == tmp_path


def _default_args(inputs: list[dict[str, Any]], account: str) -> list[Any]:
    """Plausible constructor arguments from the ABI alone (addresses, zeros, "1.0.0", [1])."""

    def value(param: dict[str, Any]) -> Any:
        kind = param["type"]
        if kind.endswith("[]"):
            return [1]
        if kind == "tuple":
            return tuple(value(c) for c in param["components"])
        if kind == "address":
            return account
        if kind == "string":
            return "1.0.0"
        if kind.startswith(("uint", "int")):
            return 0
        if kind == "bool":
            return False
        raise AssertionError(f"no default for constructor argument type {kind}")

    return [value(p) for p in inputs]


@pytest.mark.slow
def test_every_artifact_deploys_on_py_evm() -> None:
    """Proves the bytecode (cancun target) runs on eth-tester's py-evm, not only on anvil."""
    from web3 import Web3

    w3 = Web3(Web3.EthereumTesterProvider())
    account = w3.eth.accounts[0]
    deployed = []
    for name in artifact_names():
        artifact = load_artifact(name)
        if artifact["bytecode"] == "0x":
            continue
        factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        ctor = next((item for item in artifact["abi"] if item["type"] == "constructor"), {"inputs": []})
        tx = factory.constructor(*_default_args(ctor["inputs"], account)).transact({"from": account})
        receipt = w3.eth.wait_for_transaction_receipt(tx)
        assert receipt["status"] == 1, name
        code = w3.eth.get_code(receipt["contractAddress"])
        assert len(code) > 0, name
        deployed.append(name)
        if any(item.get("name") == "version" for item in artifact["abi"]):
            contract = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
            assert contract.functions.version().call() == "1.0.0"

    for name in ("TaskMailbox", "KeyRegistrar", "TaskAVSRegistrar", "BN254CertificateVerifier",
                 "ECDSACertificateVerifier", "DevnetOperatorTableUpdater", "AVSTaskHook", "FeeAVSTaskHook"):
        assert name in deployed
