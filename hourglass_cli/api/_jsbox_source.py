"""How upstream (AvaProtocol EigenLayer-AVS v2.12.0, vm_runner_customcode.go) turns CUSTOM_CODE source into a script.

- Source with ES6 imports (``import _ from 'lodash'``, ``import { v4 as uuidv4 } from 'uuid'``, ``import * as d from
  'dayjs'``) becomes a function body that first `require`s them.
- Otherwise, source with `require(`, `import`/`export` or `return` on a line that does not start a comment becomes
  the body of a function called at once: its `return` is the value.
- Otherwise the source runs as a script and its value is the last expression statement's (``const x = 5; x * 2``
  gives 10).

Unlike upstream, each removed import line keeps its line breaks, so error lines point into the user's source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FLAGS = re.MULTILINE | re.ASCII  # Go's RE2: ^/$ per line with (?m), ASCII \s and \w
_IMPORT_LINE = re.compile(
    r"""^\s*import\s+(?:(\w+)|(?:\*\s+as\s+(\w+))|(?:{\s*([^}]+)\s*}))\s+from\s+['"]([^'"]+)['"];?\s*$""", _FLAGS)
_HAS_IMPORT = re.compile(
    r"""^\s*import\s+.*\s+from\s+['"].*['"];?|import\s*\{[^}]*\}\s*from\s*['"].*['"];?"""
    r"""|import\s*\*\s*as\s+\w+\s+from\s*['"].*['"];?""", _FLAGS)
_MODULE_SYNTAX = (re.compile(r"\b(import|export)\s+", re.ASCII), re.compile(r"\bimport\s*\(", re.ASCII),
                  re.compile(r"\brequire\s*\(", re.ASCII))
_RETURN = re.compile(r"\breturn\b", re.ASCII)
# vm_runner_filter.go: an expression with `if` or `return` is a function body, any other is returned.
FILTER_BODY = re.compile(r"\b(if|return)\b", re.ASCII)


@dataclass(frozen=True)
class Script:
    """The script to run and how many lines it puts before the user's first line."""

    text: str
    prefix_lines: int
    how: str  # "script", "function body" or "function body with imports"


def _code_lines(source: str) -> list[str]:
    return [line for line in source.split("\n") if not line.strip().startswith(("//", "/*"))]


def _has_module_syntax(source: str) -> bool:
    return any(p.search(line) for line in _code_lines(source) for p in _MODULE_SYNTAX)


def _has_return(source: str) -> bool:
    return any(_RETURN.search(line) for line in _code_lines(source))


def _require_line(match: re.Match[str]) -> str:
    default, namespace, named, module = match.groups()
    if default or namespace:
        return f"const {default or namespace} = require('{module}');\n"
    names = named.strip().replace(" as ", ": ")
    return f"const {{ {names} }} = require('{module}');\n"


def to_script(source: str) -> Script:
    """The script upstream would run for this CUSTOM_CODE source."""
    if _HAS_IMPORT.search(source):
        matches = list(_IMPORT_LINE.finditer(source))
        if matches:
            requires = "".join(_require_line(m) for m in matches)
            body = _IMPORT_LINE.sub(lambda m: "\n" * m.group(0).count("\n"), source)
            return Script("(function() {\n" + requires + body + "\n})()", 1 + len(matches),
                          "function body with imports")
        return Script(source, 0, "script")  # upstream runs it as it is (and it fails on the import)
    if _has_module_syntax(source) or _has_return(source):
        return Script("(function() {\n" + source + "\n})()", 1, "function body")
    return Script(source, 0, "script")
