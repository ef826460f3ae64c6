"""Running a standard-JSON compilation on a native solc or on solcjs (node)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from hourglass_cli.compiler.discovery import Solc
from hourglass_cli.errors import CompilerError

# A tiny driver: read standard JSON on stdin, print solc's standard-JSON answer on stdout.
_SOLCJS_DRIVER = r"""
const solc = require(process.argv[1]);
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  process.stdout.write('\n' + JSON.stringify({version: solc.version()}) + '\n');
  process.stdout.write(solc.compile(input));
});
"""

COMPILE_TIMEOUT_S = 600


def compile_standard_json(solc: Solc, standard_input: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Compile and return (standard-JSON output, the compiler's full version string)."""
    payload = json.dumps(standard_input)
    if solc.kind == "native":
        args = [str(solc.path), "--standard-json"]
        long_version = _native_long_version(solc)
    else:
        args = [str(solc.node), "-e", _SOLCJS_DRIVER, str(solc.path)]
        long_version = ""
    try:
        proc = subprocess.run(args, input=payload, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CompilerError(f"{solc.describe()} did not finish in {COMPILE_TIMEOUT_S} s") from None
    except OSError as exc:
        raise CompilerError(f"cannot run {solc.describe()}: {exc}") from None
    if proc.returncode != 0:
        raise CompilerError(f"{solc.describe()} exited with {proc.returncode}: {proc.stderr.strip()[:2000]}")

    text = proc.stdout
    if solc.kind == "solcjs":
        first, text = _split_version_line(text)
        long_version = first.get("version", solc.version)
    return _parse_json_tail(text, solc), long_version.split(".Emscripten")[0]


def _native_long_version(solc: Solc) -> str:
    proc = subprocess.run([str(solc.path), "--version"], capture_output=True, text=True, timeout=30)
    for token in proc.stdout.split():
        if token.startswith(solc.version):
            return token.split(".Linux")[0].split(".Darwin")[0].split(".Windows")[0]
    return solc.version


def _split_version_line(text: str) -> tuple[dict[str, Any], str]:
    """Our driver prints one JSON line with the version before solc's answer."""
    for index, line in enumerate(text.splitlines(keepends=True)):
        stripped = line.strip()
        if stripped.startswith('{"version"'):
            rest = "".join(text.splitlines(keepends=True)[index + 1 :])
            return json.loads(stripped), rest
    return {}, text


def _parse_json_tail(text: str, solc: Solc) -> dict[str, Any]:
    """Parse the JSON document in `text`, skipping any banner or warning lines printed before it."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict) and ("contracts" in value or "errors" in value or "sources" in value):
            return value
        start = text.find("{", start + 1)
    raise CompilerError(f"{solc.describe()} printed no standard-JSON output: {text.strip()[:500]!r}")
