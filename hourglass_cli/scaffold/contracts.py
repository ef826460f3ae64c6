"""Compiling an AVS project's own contracts (``contracts/src`` → ``contracts/out``).

Any installed solc that every ``pragma solidity`` of the sources allows (theirs and the hourglass sources they
import) compiles them: the pinned version where it is installed, else the newest that fits
(`compiler.discovery.find_solc_for`); the manifest records which.

A project imports hourglass's contracts as ``@hourglass/<path under our contracts/src>``. The compiler's
standard-JSON input carries every source inline (npm solcjs has no file access), so the sources such
imports reach — transitively, following relative imports inside ours — are added under that same
``@hourglass/…`` name: solc resolves ``../libraries/X.sol`` from ``@hourglass/interfaces/Y.sol`` to
``@hourglass/libraries/X.sol`` without any remapping. Only the project's own contracts get artifacts.
The output has the layout of hourglass's contracts/out (one JSON per contract plus ``manifest.json``
with the sha256 of every input), and nothing is compiled when the manifest says it is up to date.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from hourglass_cli.errors import CompilerError

IMPORT_PREFIX = "@hourglass/"
MANIFEST = "manifest.json"
_MANIFEST_FORMAT = 1
_IMPORT_RE = re.compile(r"""\bimport\s+(?:[^;"']*?\bfrom\s+)?["']([^"']+)["']""")
_COMMENT_RE = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


@dataclass
class ContractsResult:
    """The outcome of :func:`compile_project_contracts`."""

    compiled: bool
    artifacts: list[str]
    out_dir: Path
    compiler: str = ""
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def imports_of(text: str) -> list[str]:
    """The paths a Solidity source imports (comments ignored)."""
    return _IMPORT_RE.findall(_COMMENT_RE.sub("", text))


def _resolve(importer: str, path: str) -> str:
    """The source unit name solc gives ``path`` imported from ``importer``."""
    if not path.startswith("."):
        return path
    parts: list[str] = list(PurePosixPath(importer).parent.parts)
    for part in PurePosixPath(path).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def project_sources(src: Path) -> dict[str, str]:
    """Every ``.sol`` under ``src``, keyed by its path relative to it."""
    return {p.relative_to(src).as_posix(): p.read_text(encoding="utf-8") for p in sorted(src.rglob("*.sol"))}


def library_sources(sources: dict[str, str], library_src: Path) -> dict[str, str]:
    """The ``@hourglass/…`` sources reached from ``sources``, transitively, read from ``library_src``."""
    found: dict[str, str] = {}
    pending = [(name, text) for name, text in sources.items()]
    while pending:
        importer, text = pending.pop()
        for raw in imports_of(text):
            unit = _resolve(importer, raw)
            if not unit.startswith(IMPORT_PREFIX) or unit in found:
                continue
            path = library_src / unit[len(IMPORT_PREFIX):]
            try:
                content = path.read_text(encoding="utf-8")
            except OSError:
                raise CompilerError(f"{importer} imports {raw!r}, but hourglass has no {path}",
                                    hint=f"{IMPORT_PREFIX} names a file under {library_src}, "
                                         f"e.g. {IMPORT_PREFIX}interfaces/IAVSTaskHook.sol") from None
            found[unit] = content
            pending.append((unit, content))
    return found


def _hashes(sources: dict[str, str]) -> dict[str, str]:
    return {name: hashlib.sha256(text.encode("utf-8")).hexdigest() for name, text in sorted(sources.items())}


def _read_manifest(out: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _fresh(manifest: dict[str, Any] | None, out: Path, hashes: dict[str, str], settings: dict[str, Any]) -> bool:
    # Same sources and settings: the solc that built them satisfied their pragmas, so it is still a valid build
    # (whichever compilers are installed now; none is needed).
    if manifest is None or manifest.get("format") != _MANIFEST_FORMAT:
        return False
    if manifest.get("sources") != hashes or manifest.get("settings") != settings:
        return False
    if not isinstance((manifest.get("compiler") or {}).get("version"), str):
        return False
    for name, entry in manifest.get("artifacts", {}).items():
        path = out / f"{name}.json"
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != entry.get("sha256"):
            return False
    return True


def _sources(contracts: Path, library_src: Path | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(the project's own sources, those plus the ``@hourglass/…`` sources they import)."""
    from hourglass_cli.compiler.artifacts import contracts_dir

    src = contracts / "src"
    own = project_sources(src)
    if not own:
        raise CompilerError(f"no Solidity sources under {src}")
    library = library_sources(own, library_src or contracts_dir() / "src")
    return own, {**library, **own}


def find_project_solc(contracts: Path, library_src: Path | None = None) -> Any:
    """The installed solc that compiles ``contracts/src``: one every pragma of its sources (and of the hourglass
    sources they import) allows, the pinned version first; ToolNotFoundError saying how to get one."""
    from hourglass_cli.compiler.discovery import find_solc_for
    from hourglass_cli.compiler.pragmas import solidity_pragmas

    return find_solc_for(solidity_pragmas(_sources(contracts, library_src)[1]))


def compile_project_contracts(contracts: Path, *, force: bool = False, library_src: Path | None = None,
                              solc: Any = None) -> ContractsResult:
    """Compile ``contracts/src`` into ``contracts/out`` (skipped when the manifest is up to date)."""
    from hourglass_cli.compiler import build as builder
    from hourglass_cli.compiler.settings import compiler_settings

    out = contracts / "out"
    own, sources = _sources(contracts, library_src)
    settings = compiler_settings()
    hashes = _hashes(sources)
    if not force and _fresh(_read_manifest(out), out, hashes, settings):
        return ContractsResult(False, sorted(_read_manifest(out)["artifacts"]), out)  # type: ignore[index]

    from hourglass_cli.compiler.runner import compile_standard_json

    solc = solc or find_project_solc(contracts, library_src)
    standard_input = {"language": "Solidity", "sources": {n: {"content": t} for n, t in sources.items()},
                      "settings": settings}
    started = time.monotonic()
    output, long_version = compile_standard_json(solc, standard_input)
    seconds = time.monotonic() - started
    problems = output.get("errors", [])
    errors = [e for e in problems if e.get("severity") == "error"]
    if errors:
        details = "\n".join(e.get("formattedMessage", e.get("message", "")).rstrip() for e in errors)
        hint = "fix the Solidity sources in contracts/src"
        if "not found" in details:
            hint += f"; only relative imports and {IMPORT_PREFIX}… (hourglass's contracts) can be resolved"
        raise CompilerError(f"solc reported {len(errors)} error(s):\n{details}", hint=hint)
    warnings = [e.get("formattedMessage", e.get("message", "")).rstrip()
                for e in problems if e.get("severity") == "warning" and _is_own(e, own)]
    output = {**output, "contracts": {k: v for k, v in output.get("contracts", {}).items() if k in own}}
    entries = builder.write_artifacts(out, builder.artifacts_from_output(output),
                                      (_read_manifest(out) or {}).get("artifacts", {}))
    builder.write_manifest(out, {"format": _MANIFEST_FORMAT,
                                 "compiler": {"version": solc.version, "longVersion": long_version},
                                 "settings": settings, "sources": hashes, "artifacts": entries})
    return ContractsResult(True, sorted(entries), out, solc.describe(), seconds, warnings)


def prune_stale_artifacts(contracts: Path) -> list[str]:
    """With no Solidity left under ``contracts/src``, delete what an earlier build left in ``contracts/out`` (the
    artifacts its manifest lists, then the manifest); the names removed. Anything else in the folder stays."""
    src, out = contracts / "src", contracts / "out"
    manifest = _read_manifest(out)
    if manifest is None or any(src.rglob("*.sol")):
        return []
    names = sorted(manifest.get("artifacts") or {})
    for name in names:
        (out / f"{name}.json").unlink(missing_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)
    return names


def stale_note(removed: list[str]) -> str:
    """The line saying what :func:`prune_stale_artifacts` removed, and why."""
    return (f"contracts/src has no Solidity sources: removed {', '.join(removed) or 'the manifest'} left in "
            "contracts/out by an earlier build")


def _is_own(problem: dict[str, Any], own: dict[str, str]) -> bool:
    """Whether a solc message is about the project's sources (not hourglass's)."""
    location = problem.get("sourceLocation") or {}
    return location.get("file", "") in own or not location
