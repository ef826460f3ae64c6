"""The devnet's state file, `.hourglass/devnet/state.json`: what runs where, written atomically.

The supervisor rewrites it at every step (so a killed supervisor still leaves the pids behind for
`hourglass devnet stop`); other commands read it with `load_state`, which reports a damaged file as a
DevnetError with a hint instead of a traceback. No secrets are ever written here.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from hourglass_cli import safe_json
from hourglass_cli.errors import DevnetError

SCHEMA_VERSION = 1
STATE_FILE = "state.json"
RESET_HINT = "run `hourglass devnet reset` to stop what is left and start over"

# devnet status values
STARTING, READY, DEGRADED, STOPPING, STOPPED, FAILED = "starting", "ready", "degraded", "stopping", "stopped", "failed"
# component status values
UP, DOWN, PENDING, EXITED = "healthy", "down", "starting", "stopped"  # EXITED: stopped by us


def project_root(start: str | Path = ".") -> Path:
    """The folder of the nearest hourglass.toml at or above `start`, else `start` itself."""
    from hourglass_cli.config import find_config

    found = find_config(start)
    return found.parent if found is not None else Path(start).resolve()


def devnet_dir(project: str | Path) -> Path:
    """`<project>/.hourglass/devnet`: state.json, logs/, keys/, executors/."""
    return Path(project) / ".hourglass" / "devnet"


# ------------------------------------------------------------------ processes


def process_start_ticks(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot): with the pid it names one process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[-1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def process_cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def same_process(pid: int | None, ticks: int | None) -> bool:
    """True while `pid` is alive and is still the process recorded (not a reused pid)."""
    from hourglass_cli.devnet.chains._process import pid_alive

    if not pid or not pid_alive(pid):
        return False
    return ticks is None or process_start_ticks(pid) == ticks


# ------------------------------------------------------------------ the records


@dataclass
class ProcessRecord:
    """One child process: what it is, where it answers, its pid and log."""

    name: str
    kind: str  # "chain" | "executor" | "aggregator"
    pid: int | None = None
    ticks: int | None = None  # start time of pid, to tell it from a later process with the same pid
    port: int | None = None
    endpoint: str = ""  # URL of a chain, host:port of a gRPC service
    log: str = ""
    status: str = PENDING
    started_at: float | None = None
    restarts: int = 0
    exit_code: int | None = None
    children: list[list[int]] = field(default_factory=list)  # [[pid, ticks]] it started (performers)
    config: str = ""  # a component's config file, if any
    backend: str = ""  # chains: "anvil" | "embedded"
    role: str = ""  # chains: "l1" | "l2"
    chain_id: int | None = None

    def alive(self) -> bool:
        return same_process(self.pid, self.ticks)

    def live_pids(self) -> list[int]:
        """The recorded processes (itself and its children) that still run."""
        out = [self.pid] if self.pid and self.alive() else []
        return out + [pid for pid, ticks in self.children if same_process(pid, ticks)]


@dataclass
class DevnetState:
    """Everything `hourglass devnet …` needs to find, check and stop a running devnet."""

    project_dir: str
    supervisor_pid: int
    supervisor_ticks: int | None = None
    version: int = SCHEMA_VERSION
    status: str = STARTING
    started_at: float = field(default_factory=time.time)
    ready_at: float | None = None
    error: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    chains: list[ProcessRecord] = field(default_factory=list)
    components: list[ProcessRecord] = field(default_factory=list)
    deployment: dict[str, Any] | None = None  # CoreDeployment.to_json() on L1
    l2_deployment: dict[str, Any] | None = None
    operators: dict[str, Any] | None = None  # DevnetOperators.to_json()
    project_contracts: dict[str, dict[str, str]] = field(default_factory=dict)  # {"l1": {name: address}, …}
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # the client API (in the aggregator's process): address, chain_id, config (the aggregator's toml), cli_key_file
    api: dict[str, Any] | None = None

    # -- queries

    def records(self) -> list[ProcessRecord]:
        """Chains first, then the other components (start order)."""
        return [*self.chains, *self.components]

    def record(self, name: str) -> ProcessRecord | None:
        return next((r for r in self.records() if r.name == name), None)

    def chain(self, role: str = "l1") -> ProcessRecord | None:
        return next((c for c in self.chains if c.role == role), None)

    def is_running(self) -> bool:
        """The supervisor is alive and really ours (its command line names hourglass)."""
        return same_process(self.supervisor_pid, self.supervisor_ticks) and \
            "hourglass" in process_cmdline(self.supervisor_pid)

    def leftover_pids(self) -> list[int]:
        """Recorded child processes still alive (e.g. after the supervisor was killed)."""
        return [pid for r in self.records() for pid in r.live_pids()]

    # -- (de)serialisation

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Any, where: str = STATE_FILE) -> DevnetState:
        if not isinstance(doc, dict):
            raise DevnetError(f"{where} is corrupt: not a JSON object", hint=RESET_HINT)
        if doc.get("version") != SCHEMA_VERSION:
            raise DevnetError(f"{where} was written by another hourglass version (schema {doc.get('version')!r})",
                              hint=RESET_HINT)
        try:
            values = {f.name: doc[f.name] for f in fields(cls) if f.name in doc}
            values["chains"] = [_record(r) for r in doc.get("chains", [])]
            values["components"] = [_record(r) for r in doc.get("components", [])]
            state = cls(**values)
            _check_types(state)
        except (KeyError, TypeError, ValueError) as exc:
            raise DevnetError(f"{where} is corrupt: {type(exc).__name__}: {exc}", hint=RESET_HINT) from None
        return state

    def write(self, directory: str | Path) -> Path:
        """Write state.json atomically (temp file + rename) into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / STATE_FILE
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".state-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_json(), f, indent=2, sort_keys=True)
                f.write("\n")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target


def _record(doc: Any) -> ProcessRecord:
    if not isinstance(doc, dict):
        raise TypeError(f"a process record must be an object, got {type(doc).__name__}")
    names = {f.name for f in fields(ProcessRecord)}
    unknown = set(doc) - names
    if unknown:
        raise KeyError(f"unknown process field(s) {', '.join(sorted(unknown))}")
    return ProcessRecord(**doc)


def _check_types(state: DevnetState) -> None:
    """The fields other commands rely on have the right types (a hand-edited file fails here)."""
    if not isinstance(state.supervisor_pid, int) or state.supervisor_pid <= 0:
        raise ValueError(f"supervisor_pid must be a positive integer, got {state.supervisor_pid!r}")
    if not isinstance(state.project_dir, str) or not isinstance(state.status, str):
        raise TypeError("project_dir and status must be strings")
    for r in state.records():
        if not isinstance(r.name, str) or not r.name:
            raise ValueError(f"a process record has no name: {r!r}")
        for value in (r.pid, r.port, r.ticks):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{r.name}: pid/port/ticks must be non-negative integers")
        if not all(isinstance(c, list) and len(c) == 2 and all(isinstance(x, int) for x in c) for c in r.children):
            raise ValueError(f"{r.name}: children must be [pid, ticks] pairs")
    for value in (state.deployment, state.l2_deployment, state.operators):
        if value is not None and not isinstance(value, dict):
            raise TypeError("deployment and operators must be objects")
    if state.deployment is not None:
        from hourglass_cli.devnet.deploy import CoreDeployment

        CoreDeployment.from_json(state.deployment)  # raises DevnetError naming what is missing


def load_state(directory: str | Path) -> DevnetState | None:
    """The state in `directory` (None if there is none); DevnetError with a reset hint if it is damaged."""
    path = Path(directory) / STATE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DevnetError(f"{path} cannot be read: {exc}", hint=RESET_HINT) from None
    try:
        doc = safe_json.loads(text)
    except ValueError as exc:
        raise DevnetError(f"{path} is corrupt: not valid JSON ({exc})", hint=RESET_HINT) from None
    try:
        return DevnetState.from_json(doc, str(path))
    except DevnetError as exc:
        if str(path) in exc.message:
            raise
        raise DevnetError(f"{path} is corrupt: {exc.message}", hint=RESET_HINT) from None
