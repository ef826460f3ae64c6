"""Devnet components: a child process with a log file, a readiness check and a restart policy.

Processes are started with the chain backends' helpers (`devnet/chains/_process.py`: own process group,
PR_SET_PDEATHSIG when spawned from the main thread, output appended to the log). Waiting is always on a
condition with a deadline: between readiness checks the supervisor waits on the children's pidfds, so a
crash ends the wait at once.
"""

from __future__ import annotations

import os
import select
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from hourglass_cli.devnet.chains import _process
from hourglass_cli.devnet.state import DOWN, EXITED, PENDING, UP, ProcessRecord, process_start_ticks
from hourglass_cli.errors import DevnetError

if TYPE_CHECKING:
    from hourglass_cli.devnet.chains.base import ChainHandle

RESTART_BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
# A component that was healthy and then died (killed, crashed after working) is restarted at once: the backoff
# is for crash loops — exits before it ever became healthy again — not for a process that did its job.
RESTART_AFTER_HEALTHY = 0.1


def jsonrpc_check(url: str, timeout: float = 1.0) -> Callable[[], bool]:
    """Ready when the node answers eth_blockNumber."""

    def check() -> bool:
        try:
            _process.rpc_call(url, "eth_blockNumber", timeout=timeout)
            return True
        except Exception:  # noqa: BLE001 - any failure means "not answering"
            return False

    return check


def grpc_health_check(endpoint: str, timeout: float = 1.0) -> Callable[[], bool]:
    """Ready when grpc.health.v1 Check("") says SERVING.

    A plain TCP connect comes first: while the port is closed that costs microseconds, where a gRPC
    channel costs milliseconds of CPU the starting processes need more.
    """
    host, _, port = endpoint.rpartition(":")
    listening = port_check(host.strip("[]"), int(port))

    def check() -> bool:
        if not listening():
            return False
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(endpoint, options=[("grpc.enable_retries", 0)]) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""),
                                                                  timeout=timeout)
            except grpc.RpcError:
                return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    return check


def http_health_check(url: str, timeout: float = 1.0) -> Callable[[], bool]:
    """Ready when GET `url` answers 200 (the aggregator's /healthz)."""

    def check() -> bool:
        import http.client

        host_port, _, path = url.split("://", 1)[-1].partition("/")
        host, _, port = host_port.rpartition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            conn.request("GET", "/" + path)
            return conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    return check


def check_for(record: ProcessRecord, timeout: float = 1.0) -> Callable[[], bool]:
    """The readiness/health check of a recorded component, by kind."""
    if record.kind == "chain":
        return jsonrpc_check(record.endpoint, timeout)
    if record.kind == "aggregator":
        return http_health_check(f"http://{record.endpoint}/healthz", timeout)
    return grpc_health_check(record.endpoint, timeout)


def port_check(host: str, port: int, timeout: float = 0.5) -> Callable[[], bool]:
    """Ready when something accepts TCP connections on host:port."""

    def check() -> bool:
        import socket

        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            return False

    return check


@dataclass
class Component:
    """One supervised child process; `record` is its entry in the state file (kept up to date here)."""

    record: ProcessRecord
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    check: Callable[[], bool] = lambda: True
    restart: bool = False  # restart with backoff when it exits on its own
    proc: subprocess.Popen[bytes] | None = None
    handle: ChainHandle | None = None  # chains: started by their backend
    restart_at: float | None = None  # when the next restart is due (monotonic)
    failed_starts: int = 0  # exits in a row before it became healthy (the crash-loop backoff's step)
    # first start only: run `fork_entry(fork_args)` in a fork of the supervisor when that is safe (see
    # forking.py); the same program as `argv`, which restarts spawn.
    fork_entry: Callable[[list[str]], int | None] | None = None
    fork_args: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def log_path(self) -> Path:
        return Path(self.record.log)

    @property
    def pid(self) -> int | None:
        return self.record.pid

    def start(self, close_fds: tuple[int, ...] = ()) -> None:
        """Start the process (from the main thread, so it dies with the supervisor): forked when possible."""
        from hourglass_cli.devnet import forking

        entry, self.fork_entry = self.fork_entry, None  # later the supervisor has used gRPC: never fork then
        if entry is not None and forking.can_fork():
            child = forking.fork_main(entry, [self.name, *self.fork_args], self.log_path,
                                      dict(self.env or os.environ), close_fds, title=self.name)
            self.proc = child  # type: ignore[assignment]
        else:
            self.proc = _process.spawn(self.argv, self.log_path, self.env)
        self._started(self.proc.pid)

    def adopt(self, handle: ChainHandle) -> None:
        """Take over a chain its backend started."""
        self.handle = handle
        self._started(handle.pid)
        self.record.status = UP

    def _started(self, pid: int) -> None:
        r = self.record
        r.pid, r.ticks, r.started_at, r.status, r.exit_code = pid, process_start_ticks(pid), time.time(), PENDING, None

    def exit_code(self) -> int | None:
        """The exit code once the process has ended (reaps it), else None."""
        if self.proc is not None:
            return self.proc.poll()
        if self.handle is not None and not self.handle.is_running():
            return -1
        return None

    def running(self) -> bool:
        return self.record.pid is not None and self.exit_code() is None

    def mark_exited(self) -> None:
        """Record an exit the supervisor did not ask for."""
        code = self.exit_code()
        self.record.status, self.record.exit_code, self.record.pid, self.record.ticks = DOWN, code, None, None
        self.record.children = []

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM its process group, wait up to `timeout`, SIGKILL; the record loses its pid. Idempotent."""
        try:
            if self.handle is not None:
                self.handle.stop(timeout)
            elif self.proc is not None:
                _process.stop_process(self.proc.pid, self.proc, timeout)
        finally:
            r = self.record
            r.pid, r.ticks, r.children = None, None, []
            if r.status != DOWN:
                r.status = EXITED

    def pidfd(self) -> int | None:
        """A pidfd readable when the process exits (None where pidfds are not available)."""
        if not self.running():
            return None
        try:
            return os.pidfd_open(self.record.pid or 0)
        except (AttributeError, OSError):
            return None


def log_tail(path: Path, lines: int = 8) -> str:
    """The last lines of a log, for error messages."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def wait_for_exit(components: list[Component], timeout: float, wake_fd: int | None = None) -> None:
    """Block until one of the components' processes exits, `wake_fd` is readable, or `timeout` passes."""
    fds = [fd for fd in (c.pidfd() for c in components) if fd is not None]
    try:
        watch = fds + ([wake_fd] if wake_fd is not None else [])
        if watch:
            select.select(watch, [], [], max(0.0, timeout))
        elif timeout > 0:
            # no pidfds (old kernel): the wait is still bounded by the caller's next check
            select.select([], [], [], min(timeout, 0.05))
    finally:
        for fd in fds:
            os.close(fd)


def wait_ready(components: list[Component], deadline_s: float, what: str = "components") -> None:
    """Wait until every component's check passes; DevnetError (with its log's tail) if one exits or time runs out.

    Checks run in a thread pool (a gRPC check can take a while); between rounds the wait is on the processes'
    exits, so a crash is reported at once.
    """
    from concurrent.futures import ThreadPoolExecutor

    pending = [c for c in components if c.record.status != UP]
    stop_at = time.monotonic() + deadline_s
    interval = 0.02
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(pending))), thread_name_prefix="ready") as pool:
        while pending:
            for c in pending:
                code = c.exit_code()
                if code is not None:
                    c.mark_exited()
                    tail = log_tail(c.log_path)
                    raise DevnetError(f"{c.name} exited with code {code} before it was ready"
                                      + (f"; last output:\n{tail}" if tail else ""), hint=f"see {c.log_path}")
            results = list(pool.map(lambda c: c.check(), pending))
            for c, ok in zip(pending, results):
                if ok:
                    c.record.status = UP
            pending = [c for c in pending if c.record.status != UP]
            if not pending:
                return
            remaining = stop_at - time.monotonic()
            if remaining <= 0:
                names = ", ".join(c.name for c in pending)
                first = pending[0]
                tail = log_tail(first.log_path)
                raise DevnetError(f"{what} not ready within {deadline_s:g} s: {names}"
                                  + (f"; last output of {first.name}:\n{tail}" if tail else ""),
                                  hint=f"see the logs in {first.log_path.parent}")
            wait_for_exit(pending, min(interval, remaining))
            interval = min(interval * 1.5, 0.1)


def child_processes(pid: int) -> list[list[int]]:
    """[[pid, ticks]] of the direct children of `pid` (from /proc), e.g. an executor's performer."""
    out: list[list[int]] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return out
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                rest = f.read().rsplit(b")", 1)[-1].split()
        except OSError:
            continue
        if len(rest) > 19 and int(rest[1]) == pid and rest[0] != b"Z":
            out.append([int(entry), int(rest[19])])
    return out


def backoff(failed_starts: int) -> float:
    """Seconds before the next restart after `failed_starts` exits in a row that never became healthy."""
    return RESTART_BACKOFF[min(failed_starts, len(RESTART_BACKOFF) - 1)]


def stop_recorded(pid: int, timeout: float = 10.0) -> None:
    """Stop a recorded process we are not the parent of (its process group, then SIGKILL).

    SIGCONT first: a stopped process (Ctrl-Z, a debugger) would otherwise sit on SIGTERM until the SIGKILL.
    """
    import signal

    try:
        os.killpg(pid, signal.SIGCONT)
    except OSError:
        pass
    _process.stop_process(pid, None, timeout)
