"""An AVS project compiles with any installed solc its `pragma solidity` allows (the pinned one first); hourglass's
own contracts stay on the pinned release; `hourglass devnet install solc` gets one where there is none.

Real compilers: npm solc 0.8.30 (the pinned one, from `make tools`) and 0.8.28 (installed from npm by a fixture)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hourglass_cli.compiler.discovery import Solc, find_solc
from hourglass_cli.compiler.settings import SOLC_VERSION
from hourglass_cli.errors import ToolNotFoundError
from hourglass_cli.scaffold.contracts import compile_project_contracts
from hourglass_cli.scaffold.init import init_project
from tests.conftest import OLDER_SOLC


def _base(solc: Solc) -> Path:
    """The tools folder holding an npm solc (…/node_modules/solc → …)."""
    return solc.path.parent.parent


def test_pragmas_are_read_from_the_sources() -> None:
    from hourglass_cli.compiler.pragmas import satisfies, solidity_pragmas

    sources = {"A.sol": "// pragma solidity 0.4.0;\npragma solidity ^0.8.27;\ncontract A {}",
               "B.sol": "/* pragma solidity 0.5.0; */ pragma  solidity >=0.8.0   <0.9.0 ;", "C.sol": "pragma solidity ^0.8.27;"}
    assert solidity_pragmas(sources) == {"^0.8.27": "A.sol", ">=0.8.0 <0.9.0": "B.sol"}
    assert satisfies("0.8.28", ["^0.8.27", ">=0.8.0 <0.9.0"]) and not satisfies("0.8.26", ["^0.8.27"])
    assert not satisfies("0.9.0", ["^0.8.27"]) and satisfies("0.8.30", ["0.8.30"]) and not satisfies("0.8.28", ["0.8.30"])
    assert satisfies("0.8.30", ["~0.8.1"])  # beyond py-solc-x's grammar: solc decides


def test_a_project_compiles_with_any_solc_its_pragma_allows(no_compilers: Path, older_solc: Path,
                                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOURGLASS_TOOLS_DIR", str(older_solc))  # the only compiler on this machine: 0.8.28
    project = init_project("older-avs", tmp_path / "older-avs")  # the template says ^0.8.27
    result = compile_project_contracts(project / "contracts")
    assert result.compiled and result.artifacts == ["OlderAvsTaskHook"]
    assert f"solcjs {OLDER_SOLC}" in result.compiler
    manifest = json.loads((project / "contracts" / "out" / "manifest.json").read_text())
    assert manifest["compiler"]["version"] == OLDER_SOLC
    assert manifest["compiler"]["longVersion"].startswith(OLDER_SOLC + "+commit.")
    # built: fresh whatever is installed now (no compiler needed to deploy it)
    monkeypatch.setenv("HOURGLASS_TOOLS_DIR", str(no_compilers))
    assert not compile_project_contracts(project / "contracts").compiled


def test_the_pinned_solc_is_chosen_where_it_is_installed(no_compilers: Path, older_solc: Path, solc: Solc) -> None:
    from hourglass_cli.compiler.discovery import find_solc_for

    pinned = _base(solc)
    for dirs in ([older_solc, pinned], [pinned, older_solc]):
        assert find_solc_for(["^0.8.27"], tools_dirs=dirs).version == SOLC_VERSION
    assert find_solc_for([">=0.8.27 <0.8.29"], tools_dirs=[pinned, older_solc]).version == OLDER_SOLC


def test_no_solc_for_the_pragma_says_which_and_how_to_get_one(no_compilers: Path, older_solc: Path) -> None:
    from hourglass_cli.compiler.discovery import find_solc_for

    with pytest.raises(ToolNotFoundError) as info:
        find_solc_for(["^0.8.29"], tools_dirs=[older_solc])
    assert "no solc for `pragma solidity ^0.8.29;` is installed" in info.value.message
    assert f"version {OLDER_SOLC}" in info.value.message
    assert "`hourglass devnet install solc`" in info.value.hint and "npm install` in the project" not in info.value.hint
    with pytest.raises(ToolNotFoundError) as info:  # the pinned release is no answer to this pragma
        find_solc_for(["0.8.24"], tools_dirs=[older_solc])
    assert "`hourglass devnet install solc --version X.Y.Z`" in info.value.hint


def test_hourglass_contracts_stay_on_the_pinned_solc(no_compilers: Path, older_solc: Path) -> None:
    with pytest.raises(ToolNotFoundError) as info:
        find_solc(tools_dirs=[older_solc])
    assert f"no solc {SOLC_VERSION} found" in info.value.message and f"version {OLDER_SOLC}" in info.value.message
    assert "hourglass devnet install solc" in info.value.hint


def test_devnet_install_solc_then_avs_build_on_a_machine_without_one(no_compilers: Path, tmp_path: Path) -> None:
    """A new user's first hour: `avs build` says to install a solc, `hourglass devnet install solc` does, the next
    `avs build` compiles the template's hook with it."""
    import subprocess
    import sys

    from tests.scaffold.conftest import python_env

    # the CLI as installed from a wheel: no checkout to find node_modules in
    code = ("import hourglass_cli.compiler.artifacts as a\na.repo_root = lambda: None\n"
            "from hourglass_cli import cli\ncli.main()\n")
    project = init_project("first-avs", tmp_path / "first-avs")

    def hourglass(*args: str) -> subprocess.CompletedProcess[str]:
        env = python_env(NO_COLOR="1")  # this venv's python first on PATH, for the performer check
        return subprocess.run([sys.executable, "-c", code, *args], cwd=project, env=env, capture_output=True,
                              text=True, timeout=600, stdin=subprocess.DEVNULL)

    first = hourglass("avs", "build")
    error = " ".join((first.stderr + first.stdout).split())
    assert first.returncode == 1, error
    assert "no solc for `pragma solidity ^0.8.27;` is installed" in error and "hourglass devnet install solc" in error

    installed = hourglass("devnet", "install", "solc")
    out = " ".join(installed.stdout.split())
    assert installed.returncode == 0, installed.stdout + installed.stderr
    package = no_compilers / "node_modules" / "solc"
    assert f"solc {SOLC_VERSION} installed: {package}" in out
    assert json.loads((package / "package.json").read_text())["version"] == SOLC_VERSION

    built = hourglass("avs", "build")
    assert built.returncode == 0, built.stdout + built.stderr
    assert f"compiled FirstAvsTaskHook with solcjs {SOLC_VERSION} ({package}" in " ".join(built.stdout.split())


def test_devnet_install_refuses_a_version_that_is_no_release(tmp_path: Path) -> None:
    from tests.devnet._helpers import run

    result = run(tmp_path, "devnet", "install", "solc", "--version", "latest", timeout=60)
    assert result.returncode == 2 and "is not a release number" in result.stderr
