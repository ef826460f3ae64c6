"""Child-process plumbing shared by the chain backends: ports, spawn, readiness, stop.

No fixed sleeps: readiness polls the real JSON-RPC with a deadline and waits between polls on
the child's exit (so a crash is seen at once); stopping waits on the process with a deadline.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from hourglass_cli.errors import DevnetError
from hourglass_cli.ports import free_port, port_in_use  # noqa: F401 - re-exported for the devnet modules



def choose_port(host: str, port: int | None) -> int:
    """`port` checked to be free, or a free one when it is 0/None; DevnetError naming a busy port."""
    if not port:
        return free_port(host)
    if not 0 < port < 65536:
        raise DevnetError(f"port {port} is not a valid TCP port", hint="use 1-65535, or 0 to pick a free one")
    if port_in_use(host, port):
        raise DevnetError(
            f"port {port} on {host} is already in use",
            hint="stop whatever listens there, choose another --port, or omit it to pick a free one",
        )
    return port


# Exec'd in front of the chain on Linux: set the parent-death signal, then become the chain (same
# pid). Not a preexec_fn: Python code between fork and exec can deadlock or abort the child when
# the parent has other threads (gRPC's among them), and a plain fork+exec lets subprocess vfork.
_PDEATHSIG_SHIM = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, 15, 0, 0, 0)\n"  # PR_SET_PDEATHSIG, SIGTERM
    "if os.getppid() != int(sys.argv[1]):\n"  # the parent died before prctl: nobody would signal us
    "    os._exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def spawn(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start argv in its own process group with output appended to log_path; dies with us on Linux.

    PR_SET_PDEATHSIG fires when the *thread* that forked exits, so it is only set when spawning
    from the main thread; from other threads the child relies on its process group being stopped.
    """
    if shutil.which(argv[0]) is None:
        raise DevnetError(f"cannot run {argv[0]}: not found or not executable")
    if sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread():
        argv = [sys.executable, "-I", "-S", "-c", _PDEATHSIG_SHIM, str(os.getpid()), *argv]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        try:
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                process_group=0,
                close_fds=True,
            )
        except OSError as exc:
            raise DevnetError(f"cannot run {argv[0]}: {exc}") from None


def rpc_call(url: str, method: str, params: list | None = None, timeout: float = 2.0) -> object:
    """One JSON-RPC call with the standard library (no web3 import); raises OSError/ValueError."""
    host_port = url.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = host_port.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
        conn.request("POST", "/", body, {"Content-Type": "application/json"})
        answer = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    if "error" in answer:
        raise ValueError(f"{method}: {answer['error']}")
    return answer["result"]


def wait_ready(url: str, proc: subprocess.Popen[bytes], deadline_s: float, what: str, log_path: Path) -> str:
    """Poll web3_clientVersion until it answers; the client version. DevnetError on exit/timeout."""
    stop_at = time.monotonic() + deadline_s
    interval = 0.01
    while True:
        try:
            return str(rpc_call(url, "web3_clientVersion", timeout=1.0))
        except (OSError, ValueError, http.client.HTTPException):
            pass
        remaining = stop_at - time.monotonic()
        if remaining <= 0:
            raise DevnetError(
                f"{what} did not answer on {url} within {deadline_s:.0f} s" + _log_tail(log_path),
                hint=f"see {log_path}",
            )
        try:
            # wait on the child's exit, not a fixed sleep: a crash ends the wait at once
            code = proc.wait(timeout=min(interval, remaining))
        except subprocess.TimeoutExpired:
            interval = min(interval * 1.5, 0.02)  # a refused connect costs ~0.1 ms: poll often
            continue
        raise DevnetError(
            f"{what} exited with code {code} before answering on {url}" + _log_tail(log_path),
            hint=f"see {log_path}",
        )


def _log_tail(log_path: Path, lines: int = 5) -> str:
    try:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return ("; last output: " + " | ".join(tail)) if tail else ""


def pid_alive(pid: int) -> bool:
    """True while process `pid` exists (and is not a zombie we could still reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not reaped) counts as gone
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return True


def _wait_gone(pid: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    """Wait up to timeout for pid to exit; True if it did."""
    if proc is not None:
        try:
            proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        try:
            ready, _, _ = select.select([fd], [], [], timeout)  # readable when the process exits
            return bool(ready) or not pid_alive(pid)
        finally:
            os.close(fd)
    stop_at = time.monotonic() + timeout
    gone = threading.Event()
    while pid_alive(pid):
        if time.monotonic() >= stop_at:
            return False
        gone.wait(0.02)  # no pidfd: poll the condition
    return True


def stop_process(pid: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 10.0) -> None:
    """SIGTERM the process group led by pid, wait up to timeout, then SIGKILL it."""
    stop_at = time.monotonic() + timeout
    _signal_group(pid, signal.SIGTERM)
    if _wait_gone(pid, proc, timeout) and _wait_group_gone(pid, stop_at):
        return
    _signal_group(pid, signal.SIGKILL)
    if not (_wait_gone(pid, proc, 5.0) and _wait_group_gone(pid, time.monotonic() + 5.0)):
        raise DevnetError(f"process {pid} did not exit after SIGKILL")


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pgid, sig)


def _wait_group_gone(pgid: int, stop_at: float) -> bool:
    """The group's other members (e.g. the real anvil behind npm's node wrapper) exit too."""
    pause = threading.Event()
    while group_alive(pgid):
        if time.monotonic() >= stop_at:
            return False
        pause.wait(0.02)  # no handle on grandchildren: poll the condition until the deadline
    return True


def group_alive(pgid: int) -> bool:
    """True while a live (non-zombie) process is in group pgid."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return True  # no /proc: a zombie member keeps the group "alive" until it is reaped
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[-1].split()
        except OSError:
            continue
        # fields: state, ppid, pgrp, ...
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False
