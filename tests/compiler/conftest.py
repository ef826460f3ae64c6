"""Fixtures for the compiler tests: a scratch copy of contracts/ and the compiler, if any."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hourglass_cli.compiler.artifacts import contracts_dir


@pytest.fixture
def contracts_copy(tmp_path: Path) -> Path:
    """A copy of contracts/src and contracts/out that a test may change freely."""
    base = tmp_path / "contracts"
    shutil.copytree(contracts_dir() / "src", base / "src")
    shutil.copytree(contracts_dir() / "out", base / "out")
    return base


@pytest.fixture(scope="session")
def solc():
    """The pinned compiler (installed by `make test`); a missing one fails the tests that compile."""
    from hourglass_cli.compiler.discovery import find_solc
    from hourglass_cli.errors import ToolNotFoundError

    try:
        return find_solc()
    except ToolNotFoundError as exc:
        pytest.fail(f"no pinned solc here ({exc.message}); `make test` installs it with npm")
