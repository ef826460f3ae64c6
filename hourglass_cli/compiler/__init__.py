"""Finding a solc, building contracts/src with pinned settings, and reading the artifacts."""

from __future__ import annotations

from hourglass_cli.compiler.artifacts import artifact_names, contracts_dir, load_artifact, out_dir
from hourglass_cli.compiler.settings import EVM_VERSION, SOLC_VERSION

__all__ = ["EVM_VERSION", "SOLC_VERSION", "artifact_names", "contracts_dir", "load_artifact", "out_dir"]
