"""The ABI index: every custom error of every artifact decodes by name with its arguments."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak

from hourglass_cli.chain.abi import abi_index, abi_types, decode_revert, signature
from hourglass_cli.chain.reverts import revert_data
from hourglass_cli.compiler import artifact_names, load_artifact


def _sample(param: dict[str, Any], seed: int) -> Any:
    """A distinctive value of the param's ABI type (to check arguments survive decoding)."""
    kind: str = param["type"]
    if kind.endswith("]"):
        inner = {**param, "type": kind[: kind.rindex("[")]}
        size = kind[kind.rindex("[") + 1 : -1]
        return [_sample(inner, seed + i) for i in range(int(size) if size else 2)]
    if kind == "tuple":
        return tuple(_sample(c, seed + i) for i, c in enumerate(param["components"]))
    if kind.startswith(("uint", "int")):
        return seed + 1
    if kind == "address":
        return "0x" + f"{seed + 1:040x}"
    if kind == "bool":
        return True
    if kind == "string":
        return f"s{seed}"
    if kind == "bytes":
        return bytes([seed % 256]) * 3
    if kind.startswith("bytes"):
        return bytes([seed % 256]) * int(kind[5:])
    raise AssertionError(f"no sample for {kind}")


def _all_errors() -> list[tuple[str, dict[str, Any]]]:
    return [(name, e) for name in artifact_names() for e in load_artifact(name)["abi"] if e["type"] == "error"]


def test_every_custom_error_of_every_artifact_decodes_with_its_arguments() -> None:
    errors = _all_errors()
    assert len(errors) > 50
    for contract, entry in errors:
        inputs = entry["inputs"]
        values = [_sample(p, i) for i, p in enumerate(inputs)]
        data = keccak(text=signature(entry))[:4] + (encode(abi_types(inputs), values) if inputs else b"")
        decoded = decode_revert(data)
        assert decoded is not None and decoded.name == entry["name"], (contract, entry["name"])
        assert contract in decoded.contracts
        assert [name for name, _ in decoded.args] == [p["name"] for p in inputs]
        assert len(decoded.args) == len(values)


def test_error_with_arguments_renders_names_and_values() -> None:
    data = keccak(text="InvalidTaskStatus(uint8,uint8)")[:4] + encode(["uint8", "uint8"], [1, 2])
    assert str(decode_revert(data)) == "InvalidTaskStatus(expected=1, actual=2)"
    address = "0xAb5801a7D398351b8bE11C439e05C5B3259aeC9B"  # checksummed in the message
    data = keccak(text="OperatorKeyNotRegistered(address)")[:4] + encode(["address"], [address])
    assert str(decode_revert(data)) == f"OperatorKeyNotRegistered(operator={address})"


def test_concrete_contracts_are_named_before_interfaces() -> None:
    decoded = decode_revert(keccak(text="InvalidOperatorSetOwner()")[:4])
    assert decoded is not None and decoded.contracts[0] == "TaskMailbox"
    assert "ITaskMailbox" in decoded.contracts


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (bytes.fromhex("08c379a0") + encode(["string"], ["boom"]), "Error('boom')"),
        (bytes.fromhex("4e487b71") + encode(["uint256"], [0x11]), "Panic(0x11: arithmetic overflow or underflow)"),
        (bytes.fromhex("deadbeef"), "unknown error 0xdeadbeef()"),
        (bytes.fromhex("deadbeef") + b"\x01", "unknown error 0xdeadbeef(data=0x01)"),
    ],
)
def test_standard_and_unknown_reverts(data: bytes, text: str) -> None:
    assert str(decode_revert(data)) == text


def test_empty_revert_data_is_none() -> None:
    assert decode_revert(b"") is None


def test_events_are_indexed_by_topic() -> None:
    index = abi_index()
    topic = keccak(text="TaskCreated(address,bytes32,address,uint32,uint32,address,uint96,uint256,bytes)")
    (entry,) = index.events[topic]
    assert entry.name == "TaskCreated" and entry.contracts[0] == "TaskMailbox"


def test_revert_data_from_provider_exceptions() -> None:
    from eth_tester.exceptions import TransactionFailed
    from web3.exceptions import ContractCustomError

    assert revert_data(ContractCustomError("0x932d94f7", data="0x932d94f7")) == bytes.fromhex("932d94f7")
    assert revert_data(TransactionFailed("execution reverted: b'\\x93-\\x94\\xf7'")) == bytes.fromhex("932d94f7")
    reason = revert_data(TransactionFailed("execution reverted: not allowed"))
    assert str(decode_revert(reason or b"")) == "Error('not allowed')"
    assert revert_data(ValueError("connection refused")) is None


# ------------------------------------------------------------------ an AVS project's own contracts/out


@pytest.fixture
def project_outs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The registry of project artifact folders, emptied for the test and restored after it."""
    from hourglass_cli.chain import abi

    registered: list[str] = []
    monkeypatch.setattr(abi, "_project_outs", registered)
    return registered


def _project_out(out: Any, errors: dict[str, list[str]]) -> Any:
    """A contracts/out as `avs build` writes it: one artifact per contract, listed in manifest.json."""
    import json
    import os

    out.mkdir(parents=True, exist_ok=True)
    for name, types in errors.items():
        abi = [{"type": "error", "name": f"{name}Error", "inputs": [{"type": t, "name": f"a{i}"}
                                                                   for i, t in enumerate(types)]}]
        (out / f"{name}.json").write_text(json.dumps({"contractName": name, "abi": abi}))
    manifest = out / "manifest.json"
    before = manifest.stat().st_mtime_ns if manifest.exists() else 0
    manifest.write_text(json.dumps({"artifacts": {n: {} for n in errors}}))
    os.utime(manifest, ns=(before + 10**9, before + 10**9))  # a rebuild within the clock's resolution
    return out


def test_a_projects_errors_are_named_with_their_contract(tmp_path: Any, project_outs: list[str]) -> None:
    from hourglass_cli.chain.abi import add_project_artifacts

    data = keccak(text="MyHookError(uint256)")[:4] + encode(["uint256"], [96])
    assert str(decode_revert(data)).startswith("unknown error 0x")
    add_project_artifacts(_project_out(tmp_path / "out", {"MyHook": ["uint256"]}))
    decoded = decode_revert(data)
    assert str(decoded) == "MyHook.MyHookError(a0=96)" and decoded.name == "MyHookError"
    # ours are looked up first and keep their plain names; what nobody declares stays unknown
    assert str(decode_revert(keccak(text="InvalidOperatorSetOwner()")[:4])) == "InvalidOperatorSetOwner()"
    assert str(decode_revert(bytes.fromhex("deadbeef"))) == "unknown error 0xdeadbeef()"


def test_a_rebuilt_project_is_read_again(tmp_path: Any, project_outs: list[str]) -> None:
    from hourglass_cli.chain.abi import add_project_artifacts

    out = _project_out(tmp_path / "out", {"Old": []})
    add_project_artifacts(out)
    assert str(decode_revert(keccak(text="OldError()")[:4])) == "Old.OldError()"
    _project_out(out, {"New": ["address"]})
    data = keccak(text="NewError(address)")[:4] + encode(["address"], ["0x" + "ab" * 20])
    assert str(decode_revert(data)).lower() == f"new.newerror(a0=0x{'ab' * 20})"


def test_a_broken_project_out_does_not_break_decoding(tmp_path: Any, project_outs: list[str]) -> None:
    from hourglass_cli.chain.abi import add_project_artifacts

    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text('{"artifacts": {"Gone": {}, "Bad": {}}}')
    (out / "Bad.json").write_text("{not json")
    add_project_artifacts(out)
    add_project_artifacts(tmp_path / "missing")
    assert str(decode_revert(bytes.fromhex("deadbeef"))) == "unknown error 0xdeadbeef()"


def test_the_task_client_adds_the_project_it_runs_in(tmp_path: Any, project_outs: list[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from hourglass_cli.chain.abi import add_project_of, project_artifacts

    (tmp_path / "hourglass.toml").write_text("")
    (tmp_path / "sub").mkdir()
    assert add_project_of(tmp_path / "sub") == tmp_path / "contracts" / "out"
    assert project_artifacts() == [(tmp_path / "contracts" / "out").resolve()]
    assert add_project_of("/") is None
