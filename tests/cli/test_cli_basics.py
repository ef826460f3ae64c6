"""The CLI as a user runs it: help, version, error rendering, start-up imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hourglass_cli import __version__

HEAVY = ("web3", "eth_tester", "eth", "grpc", "py_ecc", "docker", "solcx", "google.protobuf")


def run_cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "hourglass_cli", *args], capture_output=True, text=True,
                          env=full_env, input=stdin, timeout=120)


def test_version() -> None:
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"hourglass {__version__}"


def test_help_lists_groups_and_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['hourglass', '--help']\n"
        "from hourglass_cli.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m.startswith('google.protobuf')]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "keys" in out.stdout
    assert "HEAVY []" in out.stdout, out.stdout


def test_typo_suggests_nearest_command() -> None:
    out = run_cli("kyes")
    assert out.returncode == 2
    assert "Did you mean 'keys'?" in out.stderr


def test_errors_are_one_red_line_plus_hint_without_traceback(tmp_path: Path) -> None:
    out = run_cli("keys", "list", str(tmp_path / "missing"))
    assert out.returncode == 2
    assert "error:" in out.stderr and "is not a folder" in out.stderr
    assert "Traceback" not in out.stderr


def test_debug_shows_traceback(tmp_path: Path) -> None:
    out = run_cli("--debug", "keys", "list", str(tmp_path / "missing"))
    assert out.returncode == 2
    assert "Traceback" in out.stderr and "is not a folder" in out.stderr


def test_help_at_80_columns_keeps_whole_summaries_and_plain_usage() -> None:
    """Issue #12: group help cut summaries mid-sentence ("…verified on...") and usage lines said {task_hash}."""
    from hourglass_cli.cli import GROUPS

    for args in [(), *[(group,) for group in GROUPS]]:
        out = run_cli(*args, "--help", env={"COLUMNS": "80"})
        assert out.returncode == 0, out.stderr
        commands = out.stdout.split("Commands:", 1)[1]
        assert "..." not in commands, (args, commands)
        assert all(len(line) <= 80 for line in out.stdout.splitlines()), out.stdout
    status = run_cli("task", "status", "--help", env={"COLUMNS": "80"}).stdout
    assert status.splitlines()[0].endswith(" task status [OPTIONS] TASK_HASH"), status
    assert "{" not in run_cli("devnet", "logs", "--help").stdout.splitlines()[0]


def test_shell_completion_is_offered_and_completes_commands() -> None:
    assert "--install-completion" in run_cli("--help").stdout
    env = {**os.environ, "_HOURGLASS_COMPLETE": "complete_bash", "COMP_WORDS": "hourglass devnet st",
           "COMP_CWORD": "2"}
    out = subprocess.run([str(Path(sys.executable).with_name("hourglass"))], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.stdout.split() == ["start", "stop", "status"], out
