"""Helpers for the devnet supervisor tests: run the real CLI as a subprocess, read the state, wait on conditions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import pytest

from hourglass_cli.devnet.chains._process import pid_alive, port_in_use
from hourglass_cli.devnet.state import DevnetState, devnet_dir, load_state

T = TypeVar("T")

# `python -m hourglass_cli` with the devnet group mounted even before cli/__init__.py lists it.
CLI = ("from hourglass_cli import cli\n"
       "if 'devnet' not in cli.GROUPS:\n"
       "    import hourglass_cli.cli.devnet as group\n"
       "    cli.app.add_typer(group.app, name='devnet')\n"
       "cli.main()\n")
# A machine without anvil: no checkout to find node_modules in (PATH and the tools folder are set by the caller).
NO_ANVIL_CLI = "import hourglass_cli.compiler.artifacts as a\na.repo_root = lambda: None\n" + CLI
START_DEADLINE = 120.0


def hourglass(*args: str, code: str = CLI) -> list[str]:
    """The argv of `hourglass ARGS…` run by this Python."""
    return [sys.executable, "-c", code, *args]


def run(project: Path, *args: str, timeout: float = START_DEADLINE, env: dict[str, str] | None = None,
        code: str = CLI) -> subprocess.CompletedProcess[str]:
    """Run `hourglass ARGS…` in `project` and return its result (output captured as text)."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(hourglass(*args, code=code), cwd=project, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def failed(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The error output of a command that must fail with exit code `code` (2: a usage error)."""
    assert result.returncode == code, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return " ".join((result.stderr + result.stdout).split())  # rich may wrap long lines


def state_of(project: Path) -> DevnetState:
    state = load_state(devnet_dir(project))
    assert state is not None, f"no state file in {devnet_dir(project)}"
    return state


def status_json(project: Path) -> dict[str, Any]:
    result = run(project, "devnet", "status", "--json", timeout=30)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    stop_at = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= stop_at:
            pytest.fail(f"{what} did not happen within {timeout:g} s")
        pause.wait(0.05)


def all_pids(state: DevnetState) -> list[int]:
    """Every process the state records: supervisor, chains, components and their children (performers)."""
    pids = [state.supervisor_pid]
    for record in state.records():
        pids += ([record.pid] if record.pid else []) + [pid for pid, _ in record.children]
    return pids


def all_ports(state: DevnetState) -> list[int]:
    return [r.port for r in state.records() if r.port]


def assert_nothing_left(pids: list[int], ports: list[int], timeout: float = 15.0) -> None:
    """Every pid is gone and every port is free (after at most `timeout` seconds)."""
    wait_for(lambda: not [p for p in pids if pid_alive(p)], timeout, f"processes {pids} exiting")
    busy = [p for p in ports if port_in_use("127.0.0.1", p)]
    assert not busy, f"ports still in use: {busy}"


def wait_ready_state(project: Path, proc: subprocess.Popen[Any] | None = None,
                     timeout: float = START_DEADLINE) -> DevnetState:
    """Wait until the state file says ready (failing early if `proc` exits)."""
    def ready() -> DevnetState | None:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            pytest.fail(f"the supervisor exited with {proc.returncode} before it was ready:\n{out}")
        try:
            state = load_state(devnet_dir(project))
        except Exception:  # noqa: BLE001 - mid-write is impossible (atomic), but a test must not care
            return None
        return state if state is not None and state.status == "ready" else None

    return wait_for(ready, timeout, "the devnet becoming ready")
