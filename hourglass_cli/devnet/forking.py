"""Start a component as a forked copy of the supervisor, which has already imported its code.

On a 2-core machine a devnet's start is bound by CPU, and most of an executor's start-up is importing
web3 and grpc (~0.9 s of CPU each). The supervisor imports the executor's modules once, while the chain
starts, then forks one child per executor: the child becomes its own process group, dies with the
supervisor (PR_SET_PDEATHSIG), writes to its log and runs the module's `main(argv)`; it never returns
into supervisor code (`os._exit`). This is gRPC's supported pattern (fork after import, channels and
servers created in the child), and it is only used while the supervisor runs a single thread and has not
touched gRPC; otherwise (and for restarts) components are spawned as fresh processes.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Callable

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class ForkedProcess:
    """The parent's handle on a forked child, shaped like the parts of `subprocess.Popen` we use."""

    def __init__(self, pid: int, argv: list[str]) -> None:
        self.pid = pid
        self.args = argv
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.poll() is not None:
            return self.returncode  # type: ignore[return-value]
        try:
            fd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            fd = None
        if fd is not None:
            try:
                select.select([fd], [], [], timeout)
            finally:
                os.close(fd)
        elif timeout is None:
            os.waitpid(self.pid, 0)
        if self.poll() is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode  # type: ignore[return-value]


def can_fork() -> bool:
    """Forking is safe only from a single-threaded process (no other thread holds a lock we would copy)."""
    return hasattr(os, "fork") and sys.platform.startswith("linux") and threading.active_count() == 1 \
        and threading.current_thread() is threading.main_thread()


def fork_main(entry: Callable[[list[str]], int | None], argv: list[str], log_path: Path, env: dict[str, str],
              close_fds: tuple[int, ...] = (), title: str = "") -> ForkedProcess:
    """Fork; the child runs `entry(argv[1:])` with `env`, output appended to `log_path`, and exits."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)  # no supervisor handler in the child
    try:
        pid = os.fork()
        if pid == 0:
            _child(entry, argv, log_fd, env, close_fds, title, libc, parent, old_mask)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        os.close(log_fd)
    try:
        os.setpgid(pid, pid)  # also done in the child: whichever runs first, the group exists before we signal it
    except OSError:
        pass
    return ForkedProcess(pid, argv)


def _child(entry: Callable[[list[str]], int | None], argv: list[str], log_fd: int, env: dict[str, str],
           close_fds: tuple[int, ...], title: str, libc: ctypes.CDLL, parent: int, mask: set[int]) -> None:
    code = 1
    try:
        os.setpgid(0, 0)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the supervisor died before prctl took effect
            os._exit(1)
        if title:
            libc.prctl(_PR_SET_NAME, ctypes.c_char_p(title[:15].encode()), 0, 0, 0)
        for fd in close_fds:  # the supervisor's lock and pipes must not outlive it in us
            try:
                os.close(fd)
            except OSError:
                pass
        for sig in _STOP_SIGNALS:
            signal.signal(sig, signal.SIG_DFL if sig != signal.SIGINT else signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        # the parent's sys.stdout may be a terminal console or a capture object: write to the log instead
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        os.environ.clear()
        os.environ.update(env)
        for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
            if isinstance(logger, logging.Logger):
                logger.handlers.clear()  # the supervisor's log file is not ours
        sys.argv = list(argv)
        result = entry(list(argv[1:]))
        code = int(result or 0)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - report it in the component's log, never return to the supervisor
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
