"""The README's main-job command runs the user journey end to end and prints the verified results."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_demo_runs_the_journey_and_every_task_is_verified() -> None:
    out = subprocess.run([sys.executable, "-m", "hourglass_cli.demo"], capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    for step in ("$ hourglass avs init demo-avs", "$ hourglass devnet start --detach --chain embedded",
                 '$ hourglass task submit --signature "(uint256)" --args "(5)" --result-abi "(uint256)"',
                 "$ hourglass devnet stop"):
        assert step in text, text
    for n in (5, 7, 12):
        assert f"VERIFIED, square({n}) = {n * n} (correct)" in text, text
    assert re.search(r"verified \+\d+ ms", text) and "certificate +" in text
    assert "devnet stopped" in text
    assert "3/3 tasks verified on chain with the right result" in text and text.rstrip().endswith("OK")
