"""The README's quickstart, run as written — and told the same way by the README, `avs init` and the project's
README (issue #12: they disagreed: a foreground `devnet start` that never returns, `python -m pytest` without
pytest installed).

The quickstart block runs as one bash script in a temporary copy of the instructions' starting point, with this
environment's `python`/`hourglass` first on PATH. `pip` is the real pip with `--dry-run` added: it resolves and
builds exactly what the line names (the project's metadata, its dependencies) without replacing the packages this
test suite runs on.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hourglass_cli.cli.avs import NEXT_STEPS

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def quickstart(readme: str, heading: str) -> list[str]:
    """The command lines of the first ```sh block after `heading` (comments stripped)."""
    section = readme.split(heading, 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, f"no sh block after {heading!r}"
    lines = []
    for line in block.group(1).splitlines():
        command = re.sub(r"\s+#.*$", "", line).strip()
        if command:
            lines.append(command)
    return lines


def test_the_readme_avs_init_and_the_project_readme_tell_one_journey(tmp_path: Path) -> None:
    ours = quickstart((REPO / "README.md").read_text(), "## Quickstart")
    assert ours[1] == "hourglass avs init my-avs && cd my-avs"
    after_init = ours[2:]
    assert list(NEXT_STEPS("my-avs")) == ["cd my-avs", *after_init]
    done = subprocess.run([sys.executable, "-m", "hourglass_cli", "avs", "init", "my-avs"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    printed = [line.strip() for line in done.stdout.split("next steps", 1)[1].splitlines() if line.strip()]
    assert printed[:len(after_init) + 1] == ["cd my-avs", *after_init]
    project = quickstart((tmp_path / "my-avs" / "README.md").read_text(), "## Quickstart")
    assert project == after_init


def test_the_quickstart_runs_as_written(tmp_path: Path) -> None:
    lines = quickstart((REPO / "README.md").read_text(), "## Quickstart")
    assert lines[0].startswith("pip install .")
    # The first line installs hourglass from this checkout: the script starts in (a copy of the path to) it.
    bin_dir = Path(sys.executable).parent
    script = "\n".join([
        "set -euo pipefail",
        f'pip() {{ "{sys.executable}" -m pip "$@" --dry-run --quiet --disable-pip-version-check; }}',
        f"cd {REPO}",
        lines[0],
        f"cd {tmp_path}",  # the project is made here, not in the checkout
        *lines[1:],
    ])
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1",
           "COLUMNS": "120"}
    try:
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=600, env=env)
    finally:
        if (tmp_path / "my-avs" / ".hourglass").exists():
            subprocess.run([str(bin_dir / "hourglass"), "devnet", "stop"], cwd=tmp_path / "my-avs",
                           capture_output=True, timeout=120, env=env)
    assert done.returncode == 0, f"stdout:\n{done.stdout[-4000:]}\nstderr:\n{done.stderr[-4000:]}"
    out = " ".join(done.stdout.split())
    assert "VERIFIED" in out and "(25 as (uint256))" in out, out[-3000:]
    assert "passed" in out  # the project's own tests ran
