"""Finding a compiler, and the error when there is none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hourglass_cli.compiler.discovery import find_solc
from hourglass_cli.compiler.runner import _parse_json_tail, _split_version_line
from hourglass_cli.compiler.settings import SOLC_VERSION
from hourglass_cli.errors import CompilerError, ToolNotFoundError


@pytest.fixture
def no_native_solc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH with node but no solc, no HOURGLASS_SOLC and an empty py-solc-x folder."""
    import shutil

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    node = shutil.which("node")
    if node:
        (bin_dir / "node").symlink_to(node)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("HOURGLASS_SOLC", raising=False)
    monkeypatch.setenv("SOLCX_BINARY_PATH", str(tmp_path / "solcx"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_missing_compiler_says_how_to_get_one(no_native_solc: None, tmp_path: Path) -> None:
    with pytest.raises(ToolNotFoundError) as info:
        find_solc(tools_dirs=[tmp_path / "empty"])
    assert f"no solc {SOLC_VERSION} found" in info.value.message
    assert "`hourglass devnet install solc`" in info.value.hint
    assert "`npm install` in the hourglass checkout" in info.value.hint
    assert f"solcx.install_solc('{SOLC_VERSION}')" in info.value.hint


def test_npm_solc_of_another_version_is_named(no_native_solc: None, tmp_path: Path) -> None:
    package = tmp_path / "tools" / "node_modules" / "solc"
    package.mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"name": "solc", "version": "0.8.1"}))
    with pytest.raises(ToolNotFoundError) as info:
        find_solc(tools_dirs=[tmp_path / "tools"])
    assert "version 0.8.1" in info.value.message


def test_a_native_solc_of_the_wrong_version_is_skipped(no_native_solc: None, tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "solc"
    fake.write_text("#!/bin/sh\necho 'solc, the solidity compiler'\necho 'Version: 0.7.6+commit.7338295f.Linux.g++'\n")
    fake.chmod(0o755)
    with pytest.raises(ToolNotFoundError) as info:
        find_solc(tools_dirs=[])
    assert "version 0.7.6" in info.value.message


def test_a_native_solc_of_the_pinned_version_wins(no_native_solc: None, tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "solc"
    fake.write_text(f"#!/bin/sh\necho 'Version: {SOLC_VERSION}+commit.73712a01.Linux.g++'\n")
    fake.chmod(0o755)
    found = find_solc(tools_dirs=[])
    assert found.kind == "native" and found.path == fake


def test_npm_solc_is_found_in_the_tools_dir(monkeypatch: pytest.MonkeyPatch, solc: object) -> None:
    found = find_solc()
    assert found.version == SOLC_VERSION
    assert found.kind in ("native", "solcjs")


def test_banner_lines_before_the_json_are_skipped() -> None:
    solc = find_solc.__globals__["Solc"]("solcjs", Path("x"), SOLC_VERSION, Path("node"))
    text = ">>> Cannot retry compilation with SMT because there are no SMT solvers available.\n" + json.dumps(
        {"contracts": {}, "errors": []}
    )
    assert _parse_json_tail(text, solc) == {"contracts": {}, "errors": []}
    first, rest = _split_version_line('\n{"version": "0.8.30+commit.73712a01.Emscripten.clang"}\n{"a": 1}')
    assert first["version"].startswith("0.8.30") and rest.strip() == '{"a": 1}'
    with pytest.raises(CompilerError):
        _parse_json_tail("no json here", solc)
