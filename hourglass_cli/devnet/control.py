"""Driving a devnet from outside its supervisor: run it, start it detached, stop it, check it.

The CLI's `hourglass devnet start|stop|status` are thin wrappers over these functions.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from hourglass_cli.devnet import components as comp
from hourglass_cli.devnet.chains import _process
from hourglass_cli.devnet.options import LOCALHOST, DevnetOptions
from hourglass_cli.devnet.state import (
    DOWN, EXITED, STOPPED, UP, DevnetState, devnet_dir, load_state,
)
from hourglass_cli.devnet.supervisor import (
    SUPERVISOR_LOG, Supervisor, already_running_error, leftovers_error,
)
from hourglass_cli.errors import DevnetError, HourglassError

DETACH_DEADLINE_S = 180.0
STOP_DEADLINE_S = 30.0
STATUS_PROBE_TIMEOUT = 5.0  # a busy machine may answer slowly; an answer is what counts


def _log_to_file(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("hourglass.devnet")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def run_supervisor(options: DevnetOptions, *, ready_fd: int | None = None, detached: bool = False,
                   on_event: Callable[[str], None] | None = None,
                   on_ready: Callable[[DevnetState], None] | None = None,
                   on_tick: Callable[[DevnetState], None] | None = None,
                   refresh_s: float = 1.0) -> DevnetState:
    """Start the devnet, supervise it until SIGINT/SIGTERM, stop it; the final state. Main thread only.

    `on_tick` runs after every round of supervision, at least every `refresh_s` seconds.

    Raises the start error (after rolling back). `ready_fd` (detached mode) hears "ready" once it is up.
    """
    keep = (f"logs/{SUPERVISOR_LOG}",) if detached else ()
    sup = Supervisor(options, on_event, keep_files=keep)
    sup.install_signals()
    handler = None
    try:
        sup.acquire()
        handler = _log_to_file(sup.logs / SUPERVISOR_LOG)
        sup.start()
        sup.notify_ready(ready_fd)
        ready_fd = None
        if on_ready is not None:
            on_ready(sup.state)
        try:
            sup.watch(on_tick, refresh_s)
        finally:
            sup.shutdown()
        return sup.state
    finally:
        if ready_fd is not None:
            os.close(ready_fd)
        if handler is not None:
            logging.getLogger("hourglass.devnet").removeHandler(handler)
            handler.close()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL if sig != signal.SIGINT else signal.default_int_handler)


def preflight(options: DevnetOptions) -> None:
    """The checks that need no process: not already running, the backend exists, the chain port is free."""
    from hourglass_cli.devnet.chains import get_backend

    directory = devnet_dir(options.project_dir)
    state = load_state(directory)
    if state is not None:
        if state.is_running():
            raise already_running_error(state)
        leftovers = state.leftover_pids()
        if leftovers:
            raise leftovers_error(state, leftovers)
    get_backend(options.chain)  # ToolNotFoundError for a missing anvil
    if options.chain_port:
        _process.choose_port(LOCALHOST, options.chain_port)
        if options.l2:
            _process.choose_port(LOCALHOST, options.chain_port + 1)


def start_detached(options: DevnetOptions, deadline_s: float = DETACH_DEADLINE_S) -> DevnetState:
    """Run the supervisor in the background (its own session, output to logs/supervisor.log); return once ready.

    If the supervisor fails or dies first, its error (or its log's tail) is raised; nothing is left running.
    """
    preflight(options)
    directory = devnet_dir(options.project_dir)
    log_path = directory / "logs" / SUPERVISOR_LOG
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_bytes(b"")  # the supervisor empties the rest of the folder once it holds the lock
    read_fd, write_fd = os.pipe()
    argv = [sys.executable, "-m", "hourglass_cli.devnet", "supervise", "--options", json.dumps(options.to_json()),
            "--ready-fd", str(write_fd)]
    try:
        with open(log_path, "ab") as out:  # append mode: the supervisor's own logging shares this file
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, pass_fds=(write_fd,), cwd=options.project_dir)
    finally:
        os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], deadline_s)
        answer = os.read(read_fd, 64) if ready else None
    finally:
        os.close(read_fd)
    if answer is None:  # deadline: stop it (it rolls back what it started) and report
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise DevnetError(f"the devnet was not ready within {deadline_s:.0f} s" + _tail(log_path),
                          hint=f"see {log_path}")
    if not answer.startswith(b"ready"):
        try:
            code = proc.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            code = None
        raise _start_failure(directory, log_path, code)
    state = load_state(directory)
    if state is None:
        raise DevnetError(f"the devnet said it was ready but wrote no {directory / 'state.json'}")
    return state


def _tail(log_path: Path) -> str:
    tail = comp.log_tail(log_path, 12)
    return f"; last output:\n{tail}" if tail else ""


def _start_failure(directory: Path, log_path: Path, code: int | None) -> HourglassError:
    """The detached supervisor's own error (its marked JSON line in the log), else the log's tail."""
    from hourglass_cli.devnet.__main__ import ERROR_MARKER

    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in reversed(lines):
        if line.startswith(ERROR_MARKER):
            try:
                doc = json.loads(line[len(ERROR_MARKER):])
                return DevnetError(str(doc["message"]), hint=doc.get("hint"))
            except (ValueError, KeyError, TypeError):
                break
    exited = f" (exit code {code})" if code is not None else ""
    return DevnetError(f"the devnet supervisor exited before it was ready{exited}" + _tail(log_path),
                       hint=f"see {log_path}")


def _wait_pid_gone(pid: int, timeout: float) -> bool:
    """Wait (pidfd, not a sleep) until a process we did not start exits; True if it did."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):
        fd = None
    if fd is None:
        stop_at = time.monotonic() + timeout
        while _process.pid_alive(pid) and time.monotonic() < stop_at:
            select.select([], [], [], 0.02)
        return not _process.pid_alive(pid)
    try:
        select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    return not _process.pid_alive(pid)


def stop_devnet(project_dir: str | Path, timeout: float = STOP_DEADLINE_S) -> DevnetState | None:
    """Stop the devnet of `project_dir`: SIGTERM its supervisor, then clean up any recorded process left.

    Returns the final state (None if there was none). DevnetError if a process or port survives.
    """
    directory = devnet_dir(project_dir)
    state = load_state(directory)
    if state is None:
        return None
    if state.is_running():
        pid = state.supervisor_pid
        os.kill(pid, signal.SIGTERM)
        if not _wait_pid_gone(pid, timeout):
            os.kill(pid, signal.SIGKILL)  # the supervisor is not its children's group: they are handled below
            _wait_pid_gone(pid, 5.0)
        state = load_state(directory) or state
    for record in reversed(state.records()):  # a killed supervisor leaves its children to us
        for pid in record.live_pids():
            comp.stop_recorded(pid, timeout=STOP_DEADLINE_S / 3)
        record.pid, record.ticks, record.children = None, None, []
        if record.status != DOWN:
            record.status = EXITED
    busy = _busy_ports(state)
    state.status = STOPPED
    state.write(directory)
    if busy:
        raise DevnetError(f"the devnet stopped but port(s) {', '.join(map(str, busy))} are still in use",
                          hint="find the process with `ss -ltnp` and stop it")
    left = state.leftover_pids()
    if left:
        raise DevnetError(f"process(es) {', '.join(map(str, left))} did not stop")
    return state


def _busy_ports(state: DevnetState, deadline_s: float = 5.0) -> list[int]:
    """Recorded ports still listening, after waiting up to `deadline_s` for them to close."""
    ports = [r.port for r in state.records() if r.port]
    stop_at = time.monotonic() + deadline_s
    while True:
        busy = [p for p in ports if _process.port_in_use(LOCALHOST, p)]
        if not busy or time.monotonic() >= stop_at:
            return busy
        select.select([], [], [], 0.05)  # sockets close as their processes are reaped: re-check shortly


def reset_devnet(project_dir: str | Path) -> list[str]:
    """Stop the devnet (if any) and delete `.hourglass/devnet/`; notes on anything odd."""
    import shutil

    notes = []
    directory = devnet_dir(project_dir)
    try:
        stop_devnet(project_dir)
    except DevnetError as exc:
        notes.append(exc.message)
    if directory.exists():
        shutil.rmtree(directory)
    return notes


def devnet_status(project_dir: str | Path) -> dict[str, Any]:
    """Health checked now: the chains answer eth_blockNumber, the executors' gRPC health says SERVING."""
    directory = devnet_dir(project_dir)
    state = load_state(directory)
    if state is None:
        return {"running": False, "project_dir": str(project_dir), "state": None}
    running = state.is_running()
    l1 = state.chain("l1")
    doc: dict[str, Any] = {"running": running, "status": state.status if running else STOPPED,
                           "project_dir": state.project_dir,
                           "supervisor_pid": state.supervisor_pid if running else None,
                           "started_at": state.started_at, "error": state.error, "warnings": state.warnings,
                           "leftover_pids": [] if running else state.leftover_pids(), "components": [],
                           "deployment": state.deployment, "l2_deployment": state.l2_deployment,
                           "project_contracts": state.project_contracts,
                           "operators": (state.operators or {}).get("operators", []),
                           "task_configs": (state.operators or {}).get("taskConfigs", {}),
                           "api": state.api,
                           "chain_id": l1.chain_id if l1 is not None else None}
    records = state.records()
    with ThreadPoolExecutor(max_workers=max(1, len(records)), thread_name_prefix="status") as pool:
        probes = list(pool.map(lambda r: _probe(r) if running and r.alive() else (False, None), records))
    for record, (healthy, block) in zip(records, probes):
        entry = {"name": record.name, "kind": record.kind, "pid": record.pid, "endpoint": record.endpoint,
                 "port": record.port, "log": record.log, "restarts": record.restarts, "started_at": record.started_at,
                 "recorded_status": record.status, "healthy": healthy}
        if block is not None:
            entry["block"] = block
        if record.kind == "chain":
            entry.update(role=record.role, backend=record.backend, chain_id=record.chain_id)
        entry["status"] = UP if healthy else (record.status if running and record.status != UP else DOWN)
        doc["components"].append(entry)
    doc["healthy"] = running and all(c["healthy"] for c in doc["components"])
    doc["operator_performance"] = _performance(state)
    return doc


def _performance(state: Any) -> list[dict[str, Any]]:
    """Each executor operator's answered/agreed/late/missed/latency from the aggregator's store (read-only)."""
    from dataclasses import asdict

    from hourglass_cli.tasks.store_view import StoreView, operator_performance
    from hourglass_cli.tasks.target import executor_names, store_of

    try:
        names = executor_names(state)
        rows = operator_performance(StoreView(store_of(state), "l1", 0.2), list(names))
    except Exception:  # noqa: BLE001 - the figures are extra: status never fails because of them
        return []
    return [{**asdict(r), "name": names.get(r.operator.lower(), r.operator)} for r in rows]


def _probe(record: Any, timeout: float = STATUS_PROBE_TIMEOUT) -> tuple[bool, int | None]:
    """(healthy, block number for a chain): eth_blockNumber, an executor's gRPC health, the aggregator's /healthz."""
    if record.kind == "chain":
        try:
            return True, int(str(_process.rpc_call(record.endpoint, "eth_blockNumber", timeout=timeout)), 16)
        except (OSError, ValueError):
            return False, None
    return comp.check_for(record, timeout)(), None
