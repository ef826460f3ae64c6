"""Fixtures for the scaffold tests: generated projects, the CLI as a subprocess, PATH with this Python first."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hourglass_cli.scaffold.init import init_project

REPO = Path(__file__).resolve().parents[2]
NAME = "square-avs"
PACKAGE = "square_avs"

# `python -m hourglass_cli` once the group is mounted in cli.GROUPS; until then the same entry point (main) with
# the avs group added the way _mount_groups adds it.
_LAUNCHER = (
    "import hourglass_cli.cli as cli\n"
    "if 'avs' not in cli.GROUPS:\n"
    "    from hourglass_cli.cli.avs import app as avs_app\n"
    "    cli.app.add_typer(avs_app, name='avs', help='AVS projects')\n"
    "cli.main()\n"
)


def python_env(**extra: str) -> dict[str, str]:
    """The environment executors would have when run from this venv: its bin folder first on PATH (so the
    project's `python -m PACKAGE` runs this interpreter), our package importable."""
    env = {**os.environ, "COLUMNS": "200", **extra}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def cli_argv(*args: str) -> list[str]:
    """The argv of `hourglass ARGS` as a subprocess."""
    from hourglass_cli.cli import GROUPS

    if "avs" in GROUPS:
        return [sys.executable, "-m", "hourglass_cli", *args]
    return [sys.executable, "-c", _LAUNCHER, *args]


def run_cli(*args: str, cwd: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_argv(*args), cwd=cwd, env=python_env(**env), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def set_performer(project: Path, **keys: str) -> None:
    """Set keys of [performer] in hourglass.toml (values are TOML text)."""
    path = project / "hourglass.toml"
    lines = [line for line in path.read_text().splitlines() if line.split("=", 1)[0].strip() not in keys]
    at = lines.index("[performer]") + 1
    lines[at:at] = [f"{key} = {value}" for key, value in keys.items()]
    path.write_text("\n".join(lines) + "\n")


def without_contracts(project: Path) -> Path:
    shutil.rmtree(project / "contracts")
    return project


@pytest.fixture
def on_venv_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """This interpreter first on PATH, as in an activated virtualenv (the performer command says `python`)."""
    monkeypatch.setenv("PATH", python_env()["PATH"])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A freshly generated project."""
    return init_project(NAME, tmp_path / NAME)


@pytest.fixture(scope="module")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A generated project shared by a module's tests (its contracts compile once)."""
    root = tmp_path_factory.mktemp("built") / NAME
    init_project(NAME, root)
    yield root
    shutil.rmtree(root, ignore_errors=True)
