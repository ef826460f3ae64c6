"""safe_json: nesting is bounded without recursion; brackets inside strings do not count."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hourglass_cli import safe_json


def test_depth_at_and_over_the_limit() -> None:
    assert safe_json.loads("[" * 256 + "]" * 256) == json.loads("[" * 256 + "]" * 256)
    with pytest.raises(safe_json.TooDeepError):
        safe_json.loads("[" * 257 + "]" * 257)
    with pytest.raises(safe_json.TooDeepError):
        safe_json.loads(b'{"a":' * 300 + b"1" + b"}" * 300)


def test_brackets_in_strings_and_wide_documents_pass() -> None:
    text = json.dumps({"s": "[[[{{{" * 1000, "list": [[i] for i in range(5000)], "q": 'x\\"[[['})
    assert safe_json.loads(text) == json.loads(text)


def test_a_deep_body_is_refused_with_py_ecc_loaded() -> None:
    """Why it exists: with py_ecc imported (recursion limit 100 000) json's C decoder overflows the C stack
    on `[` × 10^6 and the process dies of SIGSEGV; safe_json refuses it first."""
    guarded = subprocess.run([sys.executable, "-c", "import py_ecc\nfrom hourglass_cli import safe_json\n"
                              "try:\n    safe_json.loads('[' * 1_000_000)\nexcept safe_json.TooDeepError:\n"
                              "    print('refused')\n"], capture_output=True, text=True, timeout=120)
    assert guarded.returncode == 0 and guarded.stdout.strip() == "refused", guarded.stderr
