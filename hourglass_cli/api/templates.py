"""``{{ … }}`` templates in node configs: ``{{settings.runner}}``, ``{{nodeName.data.field}}``,
``{{trigger.data.items[0].amount}}``, ``{{apContext.configVars.key}}``.

A template is a path into the run's variables (dots, ``[n]`` indexes and ``["key"]``); a string that is one whole
template takes the value's JSON text when it is not a string; an unknown path renders as the empty string and
is reported, so a step can say which variable it could not find.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_PART = re.compile(r"""\.?([A-Za-z_$][\w$]*)|\[(\d+)\]|\[\s*"([^"]*)"\s*\]|\[\s*'([^']*)'\s*\]""")
_MISSING = object()


def lookup(variables: dict[str, Any], path: str) -> Any:
    """The value at `path`, or raises KeyError naming the part that is missing."""
    pos, value, seen = 0, variables, ""
    while pos < len(path):
        match = _PART.match(path, pos)
        if match is None or match.end() == pos:
            raise KeyError(f"cannot read {path!r} (at {path[pos:]!r})")
        name, index, key1, key2 = match.groups()
        key: Any = name if name is not None else (int(index) if index is not None else
                                                   (key1 if key1 is not None else key2))
        seen = path[:match.end()]
        if isinstance(value, dict) and isinstance(key, str) and key in value:
            value = value[key]
        elif isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
            value = value[key]
        elif isinstance(value, list) and key == "length":
            value = len(value)
        else:
            raise KeyError(f"{seen} is not defined")
        pos = match.end()
    return value


def referenced(text: str) -> list[str]:
    """The first name of every template in `text` (the variables a step reads)."""
    names = []
    for expr in _TEMPLATE.findall(text or ""):
        head = re.match(r"[A-Za-z_$][\w$]*", expr)
        if head and head.group(0) not in names:
            names.append(head.group(0))
    return names


def render(text: str, variables: dict[str, Any], missing: list[str] | None = None) -> str:
    """`text` with every template replaced (JSON for non-strings; empty and noted in `missing` when unknown)."""

    def one(match: re.Match[str]) -> str:
        try:
            value = lookup(variables, match.group(1))
        except KeyError as exc:
            if missing is not None:
                missing.append(str(exc.args[0]))
            return ""
        if isinstance(value, str):
            return value
        if value is None:
            return "null"
        return json.dumps(value, separators=(",", ":"))

    return _TEMPLATE.sub(one, text or "")


def render_value(value: Any, variables: dict[str, Any], missing: list[str] | None = None) -> Any:
    """Render every string inside a JSON-like value; a string that is exactly one template keeps its type."""
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value.strip())
        if whole:
            try:
                return lookup(variables, whole.group(1))
            except KeyError as exc:
                if missing is not None:
                    missing.append(str(exc.args[0]))
                return ""
        return render(value, variables, missing)
    if isinstance(value, list):
        return [render_value(v, variables, missing) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, variables, missing) for k, v in value.items()}
    return value
