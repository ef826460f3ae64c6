"""The `pragma solidity` lines of a set of sources, and whether a compiler version satisfies them.

Version ranges are matched by py-solc-x's `select_pragma_version` (a dependency: `^`, `>=`/`<`… and exact
versions, `||` alternatives). A pragma beyond that grammar (`~`, `x`/`*` wildcards, `a - b` ranges) or one it
cannot read is left to solc itself, which refuses a source whose pragma its version does not satisfy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_PRAGMA_RE = re.compile(r"\bpragma\s+solidity\s+([^;]+);")
_COMMENT_RE = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_BEYOND_SOLCX = re.compile(r"[~*xX]|\s-\s")  # select_pragma_version would misread these


def solidity_pragmas(sources: Mapping[str, str]) -> dict[str, str]:
    """Each distinct version pragma (e.g. "^0.8.27", whitespace normalised) → the first source declaring it."""
    found: dict[str, str] = {}
    for name, text in sorted(sources.items()):
        for pragma in _PRAGMA_RE.findall(_COMMENT_RE.sub("", text)):
            found.setdefault(" ".join(pragma.split()), name)
    return found


def satisfies(version: str, pragmas: Iterable[str]) -> bool:
    """Whether solc `version` may compile sources with all these pragmas."""
    from packaging.version import InvalidVersion, Version
    from solcx.install import select_pragma_version

    try:
        candidate = Version(version)
    except InvalidVersion:
        return False
    for pragma in pragmas:
        if _BEYOND_SOLCX.search(pragma):
            continue
        try:
            if select_pragma_version(pragma, [candidate]) is None:
                return False
        except Exception:  # noqa: BLE001 - a pragma the library cannot read: solc decides
            continue
    return True
