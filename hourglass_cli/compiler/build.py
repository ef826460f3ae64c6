"""Building contracts/src into contracts/out: manifest, freshness check, atomic artifact writes."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hourglass_cli.compiler.artifacts import _load, contracts_dir
from hourglass_cli.compiler.settings import SOLC_VERSION, compiler_settings
from hourglass_cli.errors import CompilerError

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
# Interfaces that only carry types, errors or events get no artifact of their own.
_PARTIAL_INTERFACE_SUFFIXES = ("Types", "Errors", "Events")


class StaleArtifactsError(CompilerError):
    """contracts/out does not match contracts/src (or the pinned compiler settings)."""

    default_hint = "run `hourglass contracts build` and commit contracts/out"


@dataclass
class Freshness:
    """What differs between the sources and the manifest; empty lists mean fresh."""

    reasons: list[str] = field(default_factory=list)
    stale_artifacts: list[str] = field(default_factory=list)

    @property
    def fresh(self) -> bool:
        return not self.reasons


@dataclass
class BuildResult:
    """The outcome of `build`: whether solc ran, which artifacts exist, how long it took."""

    compiled: bool
    artifacts: list[str]
    out_dir: Path
    compiler: str = ""
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def source_hashes(base: Path) -> dict[str, str]:
    """sha256 of every .sol under base/src, keyed by its path relative to src (posix)."""
    src = base / "src"
    return {
        path.relative_to(src).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(src.rglob("*.sol"))
    }


def read_manifest(base: Path) -> dict[str, Any] | None:
    """The manifest of base/out, or None if there is none (or it is unreadable)."""
    try:
        return json.loads((base / "out" / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def check_fresh(base: Path | None = None) -> Freshness:
    """Compare sources, pinned version and settings with the manifest; needs no compiler."""
    base = base or contracts_dir()
    result = Freshness()
    manifest = read_manifest(base)
    if manifest is None:
        result.reasons.append(f"{base / 'out' / MANIFEST} is missing")
        result.stale_artifacts.append("(all)")
        return result
    if manifest.get("format") != MANIFEST_FORMAT:
        result.reasons.append("the manifest format changed")
    if manifest.get("compiler", {}).get("version") != SOLC_VERSION:
        result.reasons.append(f"built with solc {manifest.get('compiler', {}).get('version')}, pinned {SOLC_VERSION}")
    if manifest.get("settings") != compiler_settings():
        result.reasons.append("compiler settings changed")

    recorded: dict[str, str] = manifest.get("sources", {})
    current = source_hashes(base)
    changed = sorted(name for name in current.keys() | recorded.keys() if current.get(name) != recorded.get(name))
    for name in changed:
        what = "added" if name not in recorded else "removed" if name not in current else "modified"
        result.reasons.append(f"src/{name} {what}")

    artifacts: dict[str, dict[str, str]] = manifest.get("artifacts", {})
    by_source: dict[str, list[str]] = {}
    for name, entry in artifacts.items():
        by_source.setdefault(entry.get("source", ""), []).append(name)
        path = base / "out" / f"{name}.json"
        if not path.is_file():
            result.reasons.append(f"out/{name}.json is missing")
            result.stale_artifacts.append(name)
        elif hashlib.sha256(path.read_bytes()).hexdigest() != entry.get("sha256"):
            result.reasons.append(f"out/{name}.json was edited by hand")
            result.stale_artifacts.append(name)

    if changed or len(result.reasons) > len(result.stale_artifacts):
        # A changed source can change every artifact that imports it: report them all.
        result.stale_artifacts = sorted(artifacts) or ["(all)"]
    return result


def standard_input(base: Path) -> dict[str, Any]:
    """The standard-JSON input: every .sol under base/src inline, with the pinned settings."""
    src = base / "src"
    sources = {
        path.relative_to(src).as_posix(): {"content": path.read_text(encoding="utf-8")}
        for path in sorted(src.rglob("*.sol"))
    }
    if not sources:
        raise CompilerError(f"no Solidity sources under {src}")
    return {"language": "Solidity", "sources": sources, "settings": compiler_settings()}


def build(base: Path | None = None, force: bool = False, solc: Any = None) -> BuildResult:
    """Compile base/src into base/out unless the manifest says it is already up to date."""
    from hourglass_cli.compiler.discovery import find_solc
    from hourglass_cli.compiler.runner import compile_standard_json

    base = base or contracts_dir()
    out = base / "out"
    if not force and check_fresh(base).fresh:
        return BuildResult(compiled=False, artifacts=sorted(read_manifest(base)["artifacts"]), out_dir=out)

    solc = solc or find_solc()
    hashes = source_hashes(base)
    started = time.monotonic()
    output, long_version = compile_standard_json(solc, standard_input(base))
    seconds = time.monotonic() - started

    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        details = "\n".join(e.get("formattedMessage", e.get("message", "")).rstrip() for e in errors)
        raise CompilerError(f"solc reported {len(errors)} error(s):\n{details}", hint="fix the Solidity sources")
    warnings = [
        e.get("formattedMessage", e.get("message", "")).rstrip()
        for e in output.get("errors", [])
        if e.get("severity") == "warning"
    ]

    previous = read_manifest(base) or {}
    entries = write_artifacts(out, artifacts_from_output(output), previous.get("artifacts", {}))
    write_manifest(out, {
        "format": MANIFEST_FORMAT,
        "compiler": {"version": SOLC_VERSION, "longVersion": long_version},
        "settings": compiler_settings(),
        "sources": hashes,
        "artifacts": entries,
    })
    _load.cache_clear()
    return BuildResult(True, sorted(entries), out, solc.describe(), seconds, warnings)


def write_artifacts(out: Path, artifacts: dict[str, dict[str, Any]],
                    previous: Iterable[str] = ()) -> dict[str, dict[str, str]]:
    """Write each artifact atomically as out/NAME.json, delete the `previous` ones no longer built; returns the
    manifest's entries (source and sha256 of each file)."""
    out.mkdir(parents=True, exist_ok=True)
    entries: dict[str, dict[str, str]] = {}
    for name, artifact in sorted(artifacts.items()):
        data = _dumps(artifact)
        _write_atomic(out / f"{name}.json", data)
        entries[name] = {"source": artifact["sourceName"], "sha256": hashlib.sha256(data.encode()).hexdigest()}
    for name in set(previous) - set(entries):
        (out / f"{name}.json").unlink(missing_ok=True)
    return entries


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    _write_atomic(out / MANIFEST, _dumps(manifest))


def artifacts_from_output(output: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Artifacts (ABI, bytecode, selectors) of the deployable contracts and ABI-only interfaces in solc's output."""
    artifacts: dict[str, dict[str, Any]] = {}
    for source, contracts in sorted(output.get("contracts", {}).items()):
        for name, compiled in sorted(contracts.items()):
            evm = compiled.get("evm", {})
            abi = compiled.get("abi", [])
            bytecode = evm.get("bytecode", {}).get("object", "")
            deployed = evm.get("deployedBytecode", {}).get("object", "")
            is_contract = bool(deployed) and bool(abi)
            is_interface = not bytecode and bool(abi) and name.startswith("I") and not name.endswith(
                _PARTIAL_INTERFACE_SUFFIXES
            )
            if not (is_contract or is_interface):
                continue  # libraries with internal functions only, abstract mixins, type-only interfaces
            if evm.get("bytecode", {}).get("linkReferences"):
                raise CompilerError(f"{source}:{name} needs library linking, which the build does not do")
            if name in artifacts:
                raise CompilerError(f"two contracts named {name} ({artifacts[name]['sourceName']} and {source})")
            artifacts[name] = {
                "contractName": name,
                "sourceName": source,
                "abi": abi,
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + deployed,
                "methodIdentifiers": evm.get("methodIdentifiers", {}),
            }
    return artifacts


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=False) + "\n"


def _write_atomic(path: Path, data: str) -> None:
    """Write through a temp file in the same folder and rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
