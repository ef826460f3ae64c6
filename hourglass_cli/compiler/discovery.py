"""Finding a solc: a native binary, or npm `solc` (solcjs) run with node.

hourglass's own contracts are built with the pinned version only (`find_solc`: committed artifacts are checked
byte for byte). An AVS project's sources take any installed solc their `pragma solidity` allows
(`find_solc_for`), the pinned version first, else the newest. `install_solc` puts npm solc into the tools folder
(`hourglass devnet install solc`), where both look.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from collections.abc import Iterable

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


def find_solc_for(pragmas: Iterable[str], prefer: str = SOLC_VERSION,
                  tools_dirs: list[Path] | None = None) -> Solc:
    """An installed compiler every pragma allows: $HOURGLASS_SOLC when it does, else the `prefer`red (pinned)
    version, else the newest; ToolNotFoundError naming the pragmas and what was found otherwise."""
    from packaging.version import Version

    from hourglass_cli.compiler.pragmas import satisfies

    pragmas = sorted(set(pragmas))
    found, tried = _installed(tools_dirs)
    fits = [c for c in found if satisfies(c.version, pragmas)]
    tried += [f"{c.path} (version {c.version})" for c in found if c not in fits]
    explicit = os.environ.get("HOURGLASS_SOLC")
    preferred = ([c for c in fits if explicit and c.kind == "native" and c.path == Path(explicit)]
                 or [c for c in fits if c.version == prefer])
    if preferred:
        return preferred[0]
    if fits:
        return max(fits, key=lambda c: Version(c.version))  # the first of the newest, in search order
    wanted = " and ".join(pragmas) or "any version"
    where = "; found " + ", ".join(tried) if tried else ""
    raise ToolNotFoundError(f"no solc for `pragma solidity {wanted};` is installed{where}",
                            hint=pragma_install_hint(pragmas, prefer))


def pragma_install_hint(pragmas: list[str], prefer: str = SOLC_VERSION) -> str:
    """How to get a compiler for these pragmas: the pinned one when they allow it."""
    from hourglass_cli.compiler.pragmas import satisfies
    from hourglass_cli.npm_tools import tools_dir

    wanted = " and ".join(pragmas)
    if satisfies(prefer, pragmas):
        return (f"run `hourglass devnet install solc` (npm solc {prefer} into {tools_dir()}), or set HOURGLASS_SOLC "
                f"to a solc binary that `{wanted}` allows")
    return (f"the sources need `pragma solidity {wanted};`, which solc {prefer} does not satisfy: run `hourglass "
            f"devnet install solc --version X.Y.Z` with a version it allows, or set HOURGLASS_SOLC to such a binary")


def _installed(tools_dirs: list[Path] | None) -> tuple[list[Solc], list[str]]:
    """Every runnable compiler, in search order (native ones first), and notes on the unusable candidates."""
    found: list[Solc] = []
    tried: list[str] = []
    for candidate in _native_candidates(None):
        version = _native_version(candidate)
        if version:
            found.append(Solc("native", candidate, version))
        else:
            tried.append(f"{candidate} (not runnable)")
    node = shutil.which("node")
    for base in tools_dirs if tools_dirs is not None else default_tools_dirs():
        package = base / "node_modules" / "solc"
        version = _npm_solc_version(package)
        if version is None:
            continue
        if node is None:
            tried.append(f"{package} (version {version}; node is not on PATH)")
            continue
        found.append(Solc("solcjs", package, version, Path(node)))
    return found, tried


def install_solc(version: str = SOLC_VERSION, target: Path | None = None) -> Solc:
    """npm solc `version` into the tools folder (or `target`), checked to run; the compiler it gives."""
    from hourglass_cli.npm_tools import ToolInstallError, npm_install

    node = shutil.which("node")
    if node is None:
        raise ToolNotFoundError("node not found (npm solc runs on Node.js)",
                                hint="install Node.js (it brings npm) and run the command again")
    base = npm_install("solc", version, target, needed_for=f"solc {version}")
    package = base / "node_modules" / "solc"
    installed = _npm_solc_version(package)
    if installed != version:
        raise ToolInstallError(f"npm installed solc {installed or '(nothing)'} into {base}, not {version}")
    try:
        proc = subprocess.run([node, "-e", "console.log(require(process.argv[1]).version())", str(package)],
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ToolInstallError(f"the installed solc in {package} does not run: {exc}") from None
    if proc.returncode != 0 or not proc.stdout.startswith(version):
        raise ToolInstallError(f"the installed solc in {package} does not run: "
                               f"{(proc.stderr or proc.stdout).strip()[-1000:]}")
    return Solc("solcjs", package, version, Path(node))


def default_tools_dirs() -> list[Path]:
    """Folders that may hold node_modules/solc: $HOURGLASS_TOOLS_DIR, the source checkout, the current folder,
    then ~/.hourglass/tools (where `hourglass devnet install solc` puts it)."""
    from hourglass_cli.compiler.artifacts import repo_root
    from hourglass_cli.npm_tools import tools_dir

    dirs: list[Path] = []
    env = os.environ.get("HOURGLASS_TOOLS_DIR")
    if env:
        dirs.append(Path(env))
    root = repo_root()
    if root is not None:
        dirs.append(root)
    dirs.append(Path.cwd())
    dirs.append(tools_dir())
    return list(dict.fromkeys(dirs))


def _native_candidates(version: str | None) -> list[Path]:
    out: list[Path] = []
    env = os.environ.get("HOURGLASS_SOLC")
    if env:
        out.append(Path(env))
    on_path = shutil.which("solc")
    if on_path:
        out.append(Path(on_path))
    out.extend(_solcx_binaries(version))
    return list(dict.fromkeys(out))


def _solcx_binaries(version: str | None) -> list[Path]:
    """py-solc-x's installed binary of `version` (None: every version, newest first), found without solcx."""
    folders = []
    env = os.environ.get("SOLCX_BINARY_PATH")
    if env:
        folders.append(Path(env))
    folders.append(Path.home() / ".solcx")
    hits = []
    for folder in folders:
        if version is None:
            found = [p for p in folder.glob("solc-v*") if p.is_file()] if folder.is_dir() else []
            hits += sorted(found, key=lambda p: _version_key(p.name), reverse=True)
            continue
        for name in (f"solc-v{version}", f"solc-v{version}.exe"):
            if (folder / name).is_file():
                hits.append(folder / name)
    return hits


def _version_key(name: str) -> tuple[int, ...]:
    match = _VERSION_RE.search(name)
    return tuple(int(x) for x in match.group(1).split(".")) if match else ()


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
