"""The ``process`` runtime (the embedded default): run the performer command as a child process.

The child gets ``PORT``, the chain/contract variables of WIRE.md §1 and the configured ``[performer].env`` /
``pass_env`` in its environment, plus only the few variables any program needs from the executor's
(`base.PROCESS_BASE_ENV`: PATH, HOME, locale, …) — never the executor's keystore password. It runs in its own
process group (a stop signals the whole group, so a shell wrapper's children go too), and on Linux gets
``PR_SET_PDEATHSIG`` so it dies with the executor even when the executor is killed. Its stdout and stderr
are appended to a log file. A waiter thread wakes the restart monitor the moment the child exits.

Linux sends the death signal when the *thread* that forked the child ends, not the process: every spawn
therefore happens on one long-lived spawner thread owned by the runtime (ended by :meth:`close`), so a
performer started from a short-lived thread (a supervisor's, the monitor's) is not killed with it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from hourglass_cli.errors import ConfigError
from hourglass_cli.executor.runtimes.base import (
    PerformerRuntime,
    RuntimeContext,
    RuntimeEnv,
    RuntimeStartError,
    process_environment,
    wait_for_health,
)

log = logging.getLogger("hourglass.executor.runtime")

_LOG_TAIL_BYTES = 4000


# Exec'd in front of the performer on Linux: set the parent-death signal, then become the performer (same pid).
# Not a preexec_fn: running Python between fork and exec in a process with gRPC threads can abort the child
# (gRPC's fork handlers and poller), and a plain fork+exec lets subprocess use vfork.
_PDEATHSIG_SHIM = (
    "import ctypes, os, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, 15, 0, 0, 0)\n"  # PR_SET_PDEATHSIG, SIGTERM
    "if os.getppid() != int(sys.argv[1]):\n"  # the executor died before prctl: nobody would signal us
    "    os._exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def _with_pdeathsig(argv: list[str]) -> list[str]:
    """``argv`` behind the shim that ties the performer to the spawning thread (as is elsewhere than Linux)."""
    if not sys.platform.startswith("linux"):
        return argv
    return [sys.executable, "-I", "-S", "-c", _PDEATHSIG_SHIM, str(os.getpid()), *argv]


def _tail(path: Path, limit: int = _LOG_TAIL_BYTES) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - limit))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return text if size <= limit else "…" + text


class ProcessRuntime(PerformerRuntime):
    """Spawns ``command`` with the runtime env; the performer listens on 127.0.0.1:``env.port``."""

    name: ClassVar[str] = "process"

    def __init__(
        self,
        command: Sequence[str],
        env: RuntimeEnv,
        log_path: str | os.PathLike[str],
        *,
        cwd: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        start_deadline_s: float = 60.0,
    ) -> None:
        super().__init__()
        if not command or not all(isinstance(part, str) and part for part in command):
            raise ConfigError("the performer command must be a non-empty list of non-empty strings")
        self.command = list(command)
        self.env = env
        self.log_path = Path(log_path)
        self.cwd = Path(cwd) if cwd is not None else None
        self.host = host
        self.start_deadline_s = start_deadline_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="performer-spawner")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], context: RuntimeContext) -> ProcessRuntime:
        """Keys: ``command`` (list), ``cwd`` (relative to the config file), ``startup_timeout``."""
        command = settings.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(a, str) and a for a in command):
            raise ConfigError(f"{context.where}.command must be a non-empty list of strings, got {command!r}")
        cwd_text = settings.get("cwd") or ""
        cwd = (context.workdir / cwd_text) if cwd_text else context.workdir
        return cls(command, context.env, context.log_path, cwd=cwd,
                   start_deadline_s=float(settings.get("startup_timeout", 60.0)))

    # -- PerformerRuntime --

    @property
    def pid(self) -> int | None:
        """The performer's pid while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def endpoint(self) -> str:
        return f"{self.host}:{self.env.port}"

    def is_alive(self) -> bool:
        proc = self._proc
        return proc is not None and proc.poll() is None

    def _executable(self) -> str:
        program = self.command[0]
        if os.sep in program:
            path = (self.cwd / program) if self.cwd and not os.path.isabs(program) else Path(program)
            if not path.exists():
                raise RuntimeStartError(f"the performer command {program!r} does not exist")
            return str(path)
        found = shutil.which(program)
        if found is None:
            raise RuntimeStartError(f"the performer command {program!r} is not on PATH",
                                    hint="install it, or give its full path in [performer].command")
        return found

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = process_environment(self.env, os.environ)  # never the executor's whole environment
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = _with_pdeathsig([self._executable(), *self.command[1:]])
        with self.log_path.open("ab") as out:
            try:
                proc = subprocess.Popen(
                    argv, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise RuntimeStartError(f"cannot start the performer {self.command[0]!r}: {exc}") from None
        self.exited.clear()
        threading.Thread(target=self._wait_exit, args=(proc,), name=f"performer-wait-{proc.pid}", daemon=True).start()
        log.info("performer started runtime=process pid=%d endpoint=%s log=%s", proc.pid, self.endpoint(),
                 self.log_path)
        return proc

    def _wait_exit(self, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        if self._proc is proc:  # an exit we did not ask for: wake the monitor
            log.warning("performer exited runtime=process pid=%d returncode=%s", proc.pid, code)
            self.exited.set()

    def start(self, deadline_s: float) -> None:
        with self._lock:
            if self.is_alive():
                return
            self._proc = self._spawner.submit(self._spawn).result()
        try:
            wait_for_health(self.endpoint(), deadline_s, alive=self.is_alive)
        except RuntimeStartError as exc:
            code = self._proc.poll() if self._proc else None
            self.stop(timeout=2.0)
            tail = _tail(self.log_path).strip()
            exited = f" (exit code {code})" if code is not None else ""
            raise RuntimeStartError(f"{exc.message}{exited}" + (f"; last output:\n{tail}" if tail else ""),
                                    hint=f"see {self.log_path}") from None

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        self._signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("performer did not stop in %.1f s; killing pid=%d", timeout, proc.pid)
            self._signal_group(proc, signal.SIGKILL)
            proc.wait(5.0)
        else:
            self._signal_group(proc, signal.SIGKILL)  # leftovers of the group (a shell's children)
        log.info("performer stopped runtime=process pid=%d returncode=%s", proc.pid, proc.returncode)

    def close(self) -> None:
        """Stop the performer, close the channel and end the spawner thread."""
        try:
            super().close()
        finally:
            self._spawner.shutdown(wait=False)

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        try:
            os.killpg(proc.pid, sig)  # start_new_session: the group id is the child's pid
        except (ProcessLookupError, PermissionError):
            pass
