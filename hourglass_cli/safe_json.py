"""`json.loads` for bytes that come from outside, with a bound on nesting.

py_ecc (and py-evm) raise the interpreter's recursion limit to 100 000 when imported, so every process of ours
that holds a BN254 key or an EVM runs with it. The json module's C decoder recurses on the C stack once per
`[` or `{`; with that limit a body of `[[[[…` 100 000 deep overflows the stack and the process dies with
SIGSEGV before any RecursionError. So depth is checked first, without recursion: only when the text holds
more opening brackets than the limit at all is it scanned (string literals removed, then brackets counted).
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 256  # JSON-RPC, keystores and state files nest < 10 deep
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class TooDeepError(ValueError):
    """The document nests arrays/objects deeper than allowed."""


def too_deep(data: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether `data` (JSON text) nests deeper than `limit` — a linear scan, no recursion."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def loads(data: bytes | str, limit: int = MAX_DEPTH) -> Any:
    """`json.loads(data)`; TooDeepError (a ValueError) when it nests deeper than `limit`."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if too_deep(raw, limit):
        raise TooDeepError(f"JSON nested more than {limit} deep")
    return json.loads(data)
