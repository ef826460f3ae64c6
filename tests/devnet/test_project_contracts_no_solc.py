"""A project whose contracts cannot be compiled for want of a solc still gets a devnet (default hook, a warning)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hourglass_cli.devnet.project_contracts import load_project_contracts
from hourglass_cli.errors import DevnetError
from hourglass_cli.scaffold.init import init_project


def test_missing_compiler_is_a_warning_not_a_failure(tmp_path: Path, no_compilers: Path) -> None:
    project = init_project("no-solc-avs", tmp_path / "no-solc-avs")
    found = load_project_contracts(project)
    assert found is not None and found.hook is None and found.all == ()
    (warning,) = found.skipped
    assert "default AVSTaskHook" in warning and "no solc for `pragma solidity ^0.8.27;`" in warning, warning
    assert "`hourglass devnet install solc`" in warning and "restart the devnet" in warning
    assert "npm install" not in warning  # a project has no package.json


def test_a_compile_error_still_stops_the_devnet(tmp_path: Path) -> None:
    project = init_project("broken-avs", tmp_path / "broken-avs")
    (project / "contracts" / "src" / "Broken.sol").write_text("pragma solidity ^0.8.0; contract Broken { oops }\n")
    with pytest.raises(DevnetError) as info:
        load_project_contracts(project)
    assert "compiling them failed" in info.value.message and "avs build" in (info.value.hint or "")
