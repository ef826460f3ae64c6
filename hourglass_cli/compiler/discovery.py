"""Finding a solc of the pinned version: a native binary, or npm `solc` (solcjs) run with node."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hourglass_cli.compiler.settings import INSTALL_HINT, SOLC_VERSION
from hourglass_cli.errors import ToolNotFoundError

_VERSION_RE = re.compile(r"(\d+\.\d+\.\d+)(\+commit\.[0-9a-f]+)?")


@dataclass(frozen=True)
class Solc:
    """A usable compiler: `kind` is "native" (a solc binary) or "solcjs" (node + npm solc)."""

    kind: str
    path: Path
    version: str
    node: Path | None = None

    def describe(self) -> str:
        """One line for logs: what runs and from where."""
        if self.kind == "native":
            return f"solc {self.version} ({self.path})"
        return f"solcjs {self.version} ({self.path}, node {self.node})"


def find_solc(version: str = SOLC_VERSION, tools_dirs: list[Path] | None = None) -> Solc:
    """The first compiler of `version`: $HOURGLASS_SOLC, PATH, py-solc-x's folder, then npm solc."""
    tried: list[str] = []
    for candidate in _native_candidates(version):
        found = _native_version(candidate)
        if found == version:
            return Solc("native", candidate, version)
        tried.append(f"{candidate} ({'version ' + found if found else 'not runnable'})")

    node = shutil.which("node")
    for base in tools_dirs if tools_dirs is not None else default_tools_dirs():
        package = base / "node_modules" / "solc"
        found = _npm_solc_version(package)
        if found is None:
            continue
        if found != version:
            tried.append(f"{package} (version {found})")
            continue
        if node is None:
            tried.append(f"{package} (node is not on PATH)")
            continue
        return Solc("solcjs", package, version, Path(node))

    where = "; tried " + ", ".join(tried) if tried else ""
    raise ToolNotFoundError(f"no solc {version} found{where}", hint=INSTALL_HINT)


def default_tools_dirs() -> list[Path]:
    """Folders that may hold node_modules/solc: $HOURGLASS_TOOLS_DIR, then the source checkout."""
    from hourglass_cli.compiler.artifacts import repo_root

    dirs: list[Path] = []
    env = os.environ.get("HOURGLASS_TOOLS_DIR")
    if env:
        dirs.append(Path(env))
    root = repo_root()
    if root is not None:
        dirs.append(root)
    dirs.append(Path.cwd())
    return list(dict.fromkeys(dirs))


def _native_candidates(version: str) -> list[Path]:
    out: list[Path] = []
    env = os.environ.get("HOURGLASS_SOLC")
    if env:
        out.append(Path(env))
    on_path = shutil.which("solc")
    if on_path:
        out.append(Path(on_path))
    out.extend(_solcx_binaries(version))
    return list(dict.fromkeys(out))


def _solcx_binaries(version: str) -> list[Path]:
    """py-solc-x's installed binary of `version`, looked up without importing solcx."""
    folders = []
    env = os.environ.get("SOLCX_BINARY_PATH")
    if env:
        folders.append(Path(env))
    folders.append(Path.home() / ".solcx")
    hits = []
    for folder in folders:
        for name in (f"solc-v{version}", f"solc-v{version}.exe"):
            if (folder / name).is_file():
                hits.append(folder / name)
    return hits


def _native_version(binary: Path) -> str | None:
    try:
        proc = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION_RE.search(proc.stdout)
    return match.group(1) if proc.returncode == 0 and match else None


def _npm_solc_version(package: Path) -> str | None:
    try:
        meta = json.loads((package / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = meta.get("version")
    return version if isinstance(version, str) else None
