"""Shared fixtures for the whole test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

# CI checks out the shared interop data beside the repository: <parent>/shared/interop.
INTEROP_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "interop"


@pytest.fixture(scope="session")
def interop_dir() -> Path:
    """The folder of real files produced by the public Hourglass stack; a missing one is a failure."""
    if not (INTEROP_DIR / "keystores").is_dir():
        pytest.fail(
            f"interop data not found at {INTEROP_DIR}; check out the shared folder beside the repo "
            "(../shared/interop) — these tests must not be skipped",
            pytrace=False,
        )
    return INTEROP_DIR


#: An npm solc release other than the pinned one that the template's `pragma solidity ^0.8.27` allows.
OLDER_SOLC = "0.8.28"


@pytest.fixture(scope="session")
def older_solc() -> Path:
    """A tools folder holding npm solc OLDER_SOLC (installed from the npm registry once, then cached)."""
    from hourglass_cli.compiler.discovery import _npm_solc_version, install_solc

    base = Path.home() / ".cache" / "hourglass" / f"npm-solc-{OLDER_SOLC}"
    if _npm_solc_version(base / "node_modules" / "solc") != OLDER_SOLC:
        install_solc(OLDER_SOLC, base)
    return base


@pytest.fixture
def no_compilers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A machine without a solc: PATH has only node and npm, no HOURGLASS_SOLC, an empty py-solc-x folder and
    HOME, no source checkout to find node_modules in, the cwd an empty folder; returns the (empty) tools folder,
    $HOURGLASS_TOOLS_DIR. npm keeps its real cache (installs need no download when it has the package)."""
    import os
    import shutil
    import subprocess

    from hourglass_cli.compiler import artifacts

    npm_cache = subprocess.run(["npm", "config", "get", "cache"], capture_output=True, text=True).stdout.strip()
    bin_dir = tmp_path / "machine" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("node", "npm"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(os.path.realpath(found) if tool == "node" else found)
    checkout_contracts = artifacts.contracts_dir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("HOURGLASS_SOLC", raising=False)
    monkeypatch.setenv("SOLCX_BINARY_PATH", str(tmp_path / "machine" / "solcx"))
    monkeypatch.setenv("HOME", str(tmp_path / "machine" / "home"))
    if npm_cache:
        monkeypatch.setenv("npm_config_cache", npm_cache)
    tools = tmp_path / "machine" / "tools"
    monkeypatch.setenv("HOURGLASS_TOOLS_DIR", str(tools))
    monkeypatch.setenv("HOURGLASS_CONTRACTS_DIR", str(checkout_contracts))  # our sources, without the checkout
    monkeypatch.setattr(artifacts, "repo_root", lambda: None)
    cwd = tmp_path / "machine" / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return tools
