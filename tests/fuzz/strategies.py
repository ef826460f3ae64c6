"""Hypothesis strategies and settings shared by the fuzz suite (tests/fuzz).

Every test here feeds one trust boundary inputs built from a valid one by mutation — a field replaced by a
value of another type, a truncated or oversized string, random bytes — and checks three things: the process
answers with a status (a refusal, never an unexpected exception), it is still up and serving afterwards, and
its store passes an integrity check.

`HOURGLASS_FUZZ_EXAMPLES` scales every test's example count (default 1; e.g. 20 for a long local hunt).
A failure prints the falsifying example and a `@reproduce_failure` blob; `pytest --hypothesis-seed=N` replays
a run.
"""

from __future__ import annotations

import os
import string
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SCALE = max(1, int(os.environ.get("HOURGLASS_FUZZ_EXAMPLES", "1") or "1"))


def fuzz_settings(examples: int) -> settings:
    """`examples` (times HOURGLASS_FUZZ_EXAMPLES) inputs, no per-example deadline (real servers, noisy CI)."""
    return settings(max_examples=examples * SCALE, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


HEX = "0123456789abcdefABCDEF"

# Strings an attacker would try in an address, a hash or a number field.
hex_text = st.builds(lambda prefix, body: prefix + body, st.sampled_from(["0x", "0X", "", "0x0x"]),
                     st.text(HEX, max_size=80))
nasty_text = st.one_of(
    st.text(max_size=200),
    st.text(string.printable, max_size=80),
    hex_text,
    st.sampled_from(["", " ", "\x00", "0x", "latest", "pending", "-1", "1e309", "NaN", "\ud7ff", "0x" + "f" * 64,
                     "0x" + "0" * 40, "\n" * 3, "%s%n", "'; DROP TABLE tasks; --", "☃" * 50]),
)
uint32 = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 2**31, 2**32 - 1]))
uint64 = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 1, 2**63, 2**64 - 1]))
big_int = st.one_of(st.integers(), st.integers(-(2**300), 2**300), st.sampled_from([-1, 0, 2**256, 2**256 - 1]))

json_scalar = st.one_of(st.none(), st.booleans(), big_int, st.floats(allow_nan=True, allow_infinity=True),
                        nasty_text)
json_value: st.SearchStrategy[Any] = st.recursive(
    json_scalar, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                         st.dictionaries(nasty_text, inner, max_size=5)),
    max_leaves=20)


def truncations(data: bytes) -> st.SearchStrategy[bytes]:
    """`data` cut at any point, or with one byte flipped."""
    cut = st.integers(0, max(0, len(data) - 1)).map(lambda n: data[:n])
    flip = st.tuples(st.integers(0, max(0, len(data) - 1)), st.integers(1, 255)).map(
        lambda p: data[:p[0]] + bytes([data[p[0]] ^ p[1]]) + data[p[0] + 1:] if data else data)
    return st.one_of(cut, flip)


def key_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key (or index) path in a JSON/TOML document, outermost first: where a mutation may land."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += key_paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += key_paths(v, prefix + (i,))
    return out
