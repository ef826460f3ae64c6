"""Where the contracts and their compiled artifacts live, in a checkout or an installed wheel."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from hourglass_cli.errors import HourglassError

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_REPO_ROOT = _PACKAGE_DIR.parent


class ArtifactNotFoundError(HourglassError):
    """A contract artifact is not in contracts/out."""

    default_hint = "run `hourglass contracts build` (a source checkout) or reinstall hourglass-cli"


def repo_root() -> Path | None:
    """The source checkout holding this package, or None when installed as a wheel."""
    if (_REPO_ROOT / "pyproject.toml").is_file() and (_REPO_ROOT / "contracts").is_dir():
        return _REPO_ROOT
    return None


def contracts_dir() -> Path:
    """The `contracts/` folder: $HOURGLASS_CONTRACTS_DIR, the wheel's data, or the checkout's."""
    override = os.environ.get("HOURGLASS_CONTRACTS_DIR")
    if override:
        return Path(override)
    packaged = _PACKAGE_DIR / "_data" / "contracts"
    if packaged.is_dir():
        return packaged
    root = repo_root()
    if root is not None:
        return root / "contracts"
    raise ArtifactNotFoundError("cannot find the contracts folder of hourglass-cli")


def out_dir(base: Path | None = None) -> Path:
    """The artifacts folder `contracts/out`."""
    return (base or contracts_dir()) / "out"


def load_artifact(name: str, base: Path | None = None) -> dict[str, Any]:
    """The artifact of contract `name`: {contractName, sourceName, abi, bytecode, deployedBytecode, ...}."""
    return _load(str(out_dir(base) / f"{name}.json"))


@lru_cache(maxsize=64)
def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        raise ArtifactNotFoundError(f"no artifact {Path(path).name} in {Path(path).parent}") from None


def artifact_names(base: Path | None = None) -> list[str]:
    """Names of every artifact listed in the manifest."""
    manifest = out_dir(base) / "manifest.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactNotFoundError(f"no manifest.json in {manifest.parent}") from None
    return sorted(data.get("artifacts", {}))
