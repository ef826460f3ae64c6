"""Test-only Solidity (harnesses, a recording hook) compiled at test time with the project's compiler.

The contracts here import from contracts/src by relative path; source unit names are paths relative
to the repository root, so `solc --base-path .` would resolve them the same way. Only the import
closure of these files is sent to solc (solcjs is slow on the whole tree). The output is cached on
disk under a key made of the sha256 of every input (sources, settings, compiler version).
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from hourglass_cli.compiler.settings import SOLC_VERSION, compiler_settings

SOL_DIR = Path(__file__).resolve().parent
REPO_ROOT = SOL_DIR.parents[2]

_IMPORT_RE = re.compile(r"""^\s*import\s+(?:[^"';]*?\s+from\s+)?["']([^"']+)["']\s*;""", re.MULTILINE)


def _unit_name(path: Path) -> str:
    return path.resolve().relative_to(REPO_ROOT).as_posix()


def standard_input() -> dict[str, Any]:
    """Standard-JSON input: every .sol in this folder plus everything they import, inline."""
    sources: dict[str, dict[str, str]] = {}
    pending = [_unit_name(p) for p in sorted(SOL_DIR.glob("*.sol"))]
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        text = (REPO_ROOT / unit).read_text(encoding="utf-8")
        sources[unit] = {"content": text}
        for target in _IMPORT_RE.findall(text):
            if target.startswith("."):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(unit), target))
            pending.append(target)
    return {"language": "Solidity", "sources": dict(sorted(sources.items())), "settings": compiler_settings()}


def _artifacts(output: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{contract name: {abi, bytecode}} for the deployable contracts of this folder."""
    prefix = _unit_name(SOL_DIR) + "/"
    found: dict[str, dict[str, Any]] = {}
    for unit, contracts in output.get("contracts", {}).items():
        if not unit.startswith(prefix):
            continue
        for name, compiled in contracts.items():
            bytecode = compiled.get("evm", {}).get("bytecode", {}).get("object", "")
            if bytecode:
                found[name] = {"abi": compiled["abi"], "bytecode": "0x" + bytecode}
    return found


def _write_atomic(path: Path, data: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(data)
    os.replace(tmp, path)


@lru_cache(maxsize=None)
def compile_test_contracts(cache_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Compile (or load from `cache_dir`) the test contracts; a compile error fails loudly."""
    from hourglass_cli.compiler.discovery import find_solc
    from hourglass_cli.compiler.runner import compile_standard_json

    source_input = standard_input()
    key = hashlib.sha256(json.dumps([SOLC_VERSION, source_input], sort_keys=True).encode()).hexdigest()
    cached = cache_dir / f"{key}.json" if cache_dir is not None else None
    if cached is not None and cached.is_file():
        return json.loads(cached.read_text(encoding="utf-8"))

    output, _ = compile_standard_json(find_solc(), source_input)
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise RuntimeError("test contracts do not compile:\n" + "\n".join(e["formattedMessage"] for e in errors))
    artifacts = _artifacts(output)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(cached, json.dumps(artifacts))
    return artifacts


def deploy_test_contract(chain: Any, artifacts: dict[str, dict[str, Any]], name: str, *args: Any,
                         sender: str | None = None) -> Any:
    """Deploy test contract `name` and return the web3 contract object."""
    artifact = artifacts[name]
    w3 = chain.w3
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(*args).transact({"from": sender or chain.accounts[0], "gas": 10_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1, f"deploying {name} failed"
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
