"""`hourglass config example|check` and the hints that point at them (issue #12: hints that pointed nowhere)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from hourglass_cli.config import parse_config
from tests.cli.test_cli_basics import run_cli

REPO = Path(__file__).resolve().parents[2]


def test_example_prints_the_documented_config_and_it_parses() -> None:
    out = run_cli("config", "example")
    assert out.returncode == 0, out.stderr
    assert out.stdout == (REPO / "hourglass.toml.example").read_text()
    parse_config(tomllib.loads(out.stdout))


def test_the_wheel_ships_the_example() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    mapping = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert mapping["hourglass.toml.example"] == "hourglass_cli/_data/hourglass.toml.example"


def test_a_config_error_points_at_config_example_and_check_finds_it(tmp_path: Path) -> None:
    (tmp_path / "hourglass.toml").write_text('[devnet]\noperators = "four"\n')
    out = run_cli("config", "check", "-C", str(tmp_path))
    assert out.returncode == 1
    assert "[devnet].operators must be a whole number" in out.stderr, out.stderr
    assert "hourglass config example" in out.stderr and "hourglass.toml.example" not in out.stderr
    (tmp_path / "hourglass.toml").write_text("[devnet]\noperators = 4\n")
    out = run_cli("config", "check", "-p", str(tmp_path))
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_outside_a_project_the_hint_names_options_that_exist(tmp_path: Path) -> None:
    for args in (("avs", "build"), ("config", "check")):
        out = subprocess_in(tmp_path, *args)
        assert out.returncode != 0
        assert "--config" not in out.stderr, out.stderr
        assert "-C FOLDER" in out.stderr, out.stderr
    # one spelling of the project folder everywhere (-C and -p both work)
    for group in ("avs build", "devnet start", "task list", "config check"):
        help_text = run_cli(*group.split(), "--help").stdout
        assert "-C" in help_text and "-p" in help_text, (group, help_text)


def subprocess_in(folder: Path, *args: str):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "hourglass_cli", *args], cwd=folder, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
