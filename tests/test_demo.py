"""The README's main-job command runs end to end (as far as the project reaches)."""

from __future__ import annotations

import subprocess
import sys


def test_demo_verifies_the_certificate_and_rejects_a_short_one() -> None:
    out = subprocess.run([sys.executable, "-m", "hourglass_cli.demo"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "square(5) = 25" in out.stdout
    assert "verified" in out.stdout and "missing one signature: rejected" in out.stdout
