"""The devnet deploys only project contracts whose Solidity source exists: deleting the hook's file goes back to
the default hook (the template's comment and README promise it), and what an old build left is removed, saying so."""

from __future__ import annotations

from pathlib import Path

from hourglass_cli.devnet.project_contracts import load_project_contracts
from hourglass_cli.scaffold.init import init_project

OTHER = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.27;
contract Registry { uint256 public limit = 7; }
"""


def test_deleting_the_hook_source_goes_back_to_the_default_hook(tmp_path: Path) -> None:
    project = init_project("gone-avs", tmp_path / "gone-avs")
    out = project / "contracts" / "out"
    found = load_project_contracts(project)  # compiles the template's hook (what `avs build` does)
    assert found is not None and found.hook is not None and found.hook.name == "GoneAvsTaskHook"
    assert (out / "GoneAvsTaskHook.json").is_file()

    (project / "contracts" / "src" / "GoneAvsTaskHook.sol").unlink()
    found = load_project_contracts(project)
    assert found is not None and found.hook is None and found.all == ()
    (note,) = found.skipped
    assert "removed GoneAvsTaskHook" in note and "default AVSTaskHook" in note, note
    assert not (out / "GoneAvsTaskHook.json").exists() and not (out / "manifest.json").exists()
    assert load_project_contracts(project) is None  # nothing left to deploy or to say


def test_deleting_the_hook_but_keeping_another_contract(tmp_path: Path) -> None:
    project = init_project("half-avs", tmp_path / "half-avs")
    src = project / "contracts" / "src"
    (src / "Registry.sol").write_text(OTHER)
    found = load_project_contracts(project)
    assert found is not None and found.hook is not None and [c.name for c in found.others] == ["Registry"]

    (src / "HalfAvsTaskHook.sol").unlink()
    found = load_project_contracts(project)
    assert found is not None and found.hook is None and [c.name for c in found.all] == ["Registry"]
    assert not (project / "contracts" / "out" / "HalfAvsTaskHook.json").exists()
