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
