"""The generated project's own tests pass as its developer runs them (`python -m pytest` in the project)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.scaffold.conftest import python_env


def test_the_generated_tests_pass(project: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider"], cwd=project,
                          env=python_env(), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 passed" in done.stdout, done.stdout
    assert "tests/test_performer.py::test_served_over_grpc PASSED" in done.stdout


def test_the_generated_tests_catch_a_broken_performer(project: Path) -> None:
    performer = project / "square_avs" / "performer.py"
    performer.write_text(performer.read_text().replace("number * number", "number + number"))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project,
                          env=python_env(), capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert "3 failed, 6 passed" in done.stdout, done.stdout
