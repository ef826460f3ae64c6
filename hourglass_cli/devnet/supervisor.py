"""The devnet supervisor: chain(s) → contracts → operators → executors (→ aggregator), then watch them.

`Supervisor.start()` brings everything up, waiting on real readiness with deadlines, and rolls back
whatever it started if any step fails (or a signal arrives). `watch()` keeps the devnet running: a dead
executor is shown as down and restarted with backoff, a dead chain is not restarted. `shutdown()` stops
everything in reverse order. The state file is rewritten at every step, so `hourglass devnet stop` can
clean up from the recorded pids even when the supervisor itself was killed.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from hourglass_cli.devnet import components as comp
from hourglass_cli.devnet.options import DevnetOptions
from hourglass_cli.devnet.state import (
    DEGRADED, FAILED, PENDING, READY, STOPPED, STOPPING, UP,
    DevnetState, devnet_dir, load_state, process_start_ticks,
)
from hourglass_cli.errors import DevnetError, HourglassError

log = logging.getLogger("hourglass.devnet")

LOCK_FILE = "supervisor.lock"
SUPERVISOR_LOG = "supervisor.log"
STOP_TIMEOUT = 10.0
PENDING_STOP_TIMEOUT = 2.0


class StopRequested(BaseException):
    """A signal asked the supervisor to stop while it was still starting."""


def already_running_error(state: DevnetState) -> DevnetError:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.started_at))
    return DevnetError(f"a devnet is already running in {state.project_dir} (pid {state.supervisor_pid}, "
                       f"since {since})", hint="run `hourglass devnet stop` first, or `hourglass devnet status`")


def leftovers_error(state: DevnetState, pids: list[int]) -> DevnetError:
    return DevnetError(f"a previous devnet's processes are still running (pids {', '.join(map(str, pids))}) "
                       "but its supervisor is gone", hint="run `hourglass devnet stop` to clean them up")


def clean_workdir(directory: Path, keep: tuple[str, ...] = ()) -> None:
    """Empty the devnet folder for a fresh start, except the lock and the files named in `keep`."""
    keep_paths = {directory / k for k in keep} | {directory / LOCK_FILE}
    if not directory.is_dir():
        return
    for entry in directory.iterdir():
        if entry in keep_paths:
            continue
        if entry.is_dir() and not entry.is_symlink():
            inner = [k for k in keep_paths if entry in k.parents]
            if inner:
                for sub in entry.iterdir():
                    if sub not in keep_paths:
                        shutil.rmtree(sub) if sub.is_dir() and not sub.is_symlink() else sub.unlink()
                continue
            shutil.rmtree(entry)
        else:
            entry.unlink()


# Imported ahead of use: deployment's, then what a forked executor and aggregator need (see forking.py).
PRELOAD = ("hourglass_cli.chain.sender", "hourglass_cli.devnet.deploy", "hourglass_cli.devnet.operators", "web3",
           "grpc", "grpc_health.v1.health", "hourglass_cli.executor.__main__", "hourglass_cli.executor.config",
           "hourglass_cli.executor.server", "hourglass_cli.executor.service", "hourglass_cli.executor.chain_view",
           "hourglass_cli.executor.store", "hourglass_cli.executor.runtimes.process", "hourglass_cli.wire.signing",
           "hourglass_cli.crypto.keystore", "hourglass_cli.aggregator.config", "hourglass_cli.aggregator.server")


def _preload() -> None:
    """Import the heavy modules while the chain boots (on 2 cores this overlaps with the chain's own start)."""
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the real import reports it where it matters
            pass


class Supervisor:
    """Runs one devnet for `options`; `on_event(text)` hears about each step."""

    def __init__(self, options: DevnetOptions, on_event: Callable[[str], None] | None = None,
                 keep_files: tuple[str, ...] = ()) -> None:
        self.options = options
        self.dir = devnet_dir(options.project_dir)
        self.logs = self.dir / "logs"
        self.on_event = on_event or (lambda text: None)
        self.keep_files = keep_files
        pid = os.getpid()
        self.state = DevnetState(project_dir=options.project_dir, supervisor_pid=pid,
                                 supervisor_ticks=process_start_ticks(pid), options=options.to_json())
        self.components: list[comp.Component] = []
        self._lock_fd: int | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._phase = "init"
        self._save_lock = threading.Lock()
        self.stop_signal: int | None = None
        self._t0 = time.monotonic()

    # ------------------------------------------------------------------ lock and state

    def acquire(self) -> None:
        """Take the devnet folder's lock; DevnetError if another devnet runs here (or left processes behind)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            state = load_state(self.dir)
            if state is not None and state.supervisor_pid != os.getpid():
                raise already_running_error(state) from None
            raise DevnetError(f"another hourglass devnet is starting in {self.dir}",
                              hint="wait for it, or run `hourglass devnet stop`") from None
        self._lock_fd = fd
        try:
            old = load_state(self.dir)
        except DevnetError:
            self.release()
            raise
        if old is not None and old.supervisor_pid != os.getpid():
            if old.is_running():
                self.release()
                raise already_running_error(old)
            leftovers = old.leftover_pids()
            if leftovers:
                self.release()
                raise leftovers_error(old, leftovers)
        clean_workdir(self.dir, self.keep_files)
        self.logs.mkdir(parents=True, exist_ok=True)

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def save(self) -> None:
        with self._save_lock:
            self.state.write(self.dir)

    def step(self, text: str, key: str | None = None, since: float | None = None, save: bool = True) -> None:
        if key is not None and since is not None:
            self.state.timings[key] = round(time.monotonic() - since, 3)
            text += f" ({self.state.timings[key]:.2f} s)"
        log.info("%s", text)
        self.on_event(text)
        if save:
            self.save()

    # ------------------------------------------------------------------ signals

    def install_signals(self) -> None:
        """SIGTERM/SIGINT/SIGHUP stop the devnet (during start: roll back). Main thread only."""
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        first = self.stop_signal is None
        self.stop_signal = self.stop_signal or signum
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        if first and self._phase == "starting":
            raise StopRequested(signal.Signals(signum).name)

    # ------------------------------------------------------------------ start

    def inherited_fds(self) -> tuple[int, ...]:
        """Our descriptors a forked component must close: the lock and the wake pipe."""
        return tuple(fd for fd in (self._lock_fd, self._wake_r, self._wake_w) if fd is not None)

    def add(self, component: comp.Component) -> None:
        """Supervise `component` (and record it in the state file)."""
        self.components.append(component)
        (self.state.chains if component.record.kind == "chain" else self.state.components).append(component.record)

    def start(self) -> DevnetState:
        """Bring the devnet up; on any failure stop everything started so far and re-raise."""
        from hourglass_cli.devnet import bringup

        self._phase = "starting"
        self.save()
        try:
            if self.stop_signal is not None:
                raise StopRequested(signal.Signals(self.stop_signal).name)
            # imports (deploy, executor) overlap with the chain's start; joined before the executors fork
            preload = threading.Thread(target=_preload, name="preload", daemon=True)
            preload.start()
            chains = bringup.plan_chains(self)  # missing anvil, busy port: reported before anything runs
            urls = bringup.start_chains(self, chains)
            ports = bringup.operator_ports(self.options.operators + 1)
            deployment, operators = bringup.deploy(self, urls, ports)
            preload.join()
            bringup.start_components(self, deployment, operators, urls)
        except BaseException as exc:
            self._phase = "stopping"
            message = exc.message if isinstance(exc, HourglassError) else \
                f"stopped by {exc}" if isinstance(exc, StopRequested) else f"{type(exc).__name__}: {exc}"
            log.error("start failed: %s", message)
            self._stop_all()
            self.state.status, self.state.error = FAILED, message
            self.save()
            self.release()
            raise
        self._phase = "running"
        self.state.status, self.state.ready_at = READY, time.time()
        self.state.timings["total"] = round(time.monotonic() - self._t0, 3)
        self.step(f"devnet ready in {self.state.timings['total']:.2f} s")
        return self.state

    # ------------------------------------------------------------------ watch and stop

    def watch(self, on_tick: Callable[[DevnetState], None] | None = None, refresh_s: float = 1.0) -> None:
        """Supervise until a stop signal: mark exits, restart what may be restarted (with backoff)."""
        self._phase = "running"
        while self.stop_signal is None:
            pending = [c for c in self.components if c.record.status == PENDING and c.running()]
            due = [c.restart_at for c in self.components if c.restart_at is not None]
            timeout = refresh_s if not pending else 0.1
            if due:
                timeout = max(0.0, min(timeout, min(due) - time.monotonic()))
            comp.wait_for_exit([c for c in self.components if c.running()], timeout, self._wake_r)
            self._drain_wake()
            if self.stop_signal is not None:
                break
            if self._tick():
                self.save()
            if on_tick is not None:
                on_tick(self.state)

    def _drain_wake(self) -> None:
        os.set_blocking(self._wake_r, False)
        try:
            while os.read(self._wake_r, 64):
                pass
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(self._wake_r, True)

    def _tick(self) -> bool:
        """One round of supervision; True if the state changed."""
        changed = False
        now = time.monotonic()
        for c in self.components:
            r = c.record
            if r.pid is not None and c.exit_code() is not None:
                log.warning("%s exited with code %s", r.name, c.exit_code())
                was_healthy = r.status == UP
                c.mark_exited()
                if c.restart:
                    if was_healthy:
                        c.failed_starts = 0
                        c.restart_at = now + comp.RESTART_AFTER_HEALTHY
                    else:
                        c.restart_at = now + comp.backoff(c.failed_starts)
                        c.failed_starts += 1
                changed = True
            elif c.restart_at is not None and now >= c.restart_at:
                c.restart_at = None
                r.restarts += 1
                log.info("restarting %s (restart %d)", r.name, r.restarts)
                try:
                    c.start()
                except DevnetError as exc:
                    log.error("%s could not be restarted: %s", r.name, exc.message)
                    c.restart_at = now + comp.backoff(c.failed_starts)
                    c.failed_starts += 1
                changed = True
            elif r.status == PENDING and c.running() and c.check():
                r.status = UP
                r.children = comp.child_processes(r.pid or 0)
                log.info("%s healthy again", r.name)
                changed = True
        status = READY if all(c.record.status == UP for c in self.components) else DEGRADED
        if status != self.state.status:
            self.state.status = status
            changed = True
        return changed

    def _stop_all(self) -> None:
        """Stop every component: aggregator and executors together, then the chains."""
        tiers = [[c for c in self.components if c.record.kind != "chain"],
                 [c for c in self.components if c.record.kind == "chain"]]
        for tier in tiers:
            live = [c for c in tier if c.record.pid is not None]
            if not live:
                continue
            with ThreadPoolExecutor(max_workers=len(live), thread_name_prefix="stop") as pool:
                # one that never came up has nothing to finish gracefully: a short grace, then SIGKILL
                futures = [(c, pool.submit(c.stop, STOP_TIMEOUT if c.record.status == UP else PENDING_STOP_TIMEOUT))
                           for c in live]
                for c, future in futures:
                    try:
                        future.result()
                    except DevnetError as exc:
                        log.error("%s: %s", c.name, exc.message)
            for c in tier:
                c.restart_at = None

    def shutdown(self) -> None:
        """Stop everything in reverse order and record it; releases the lock."""
        self._phase = "stopping"
        self.state.status = STOPPING
        self.save()
        self._stop_all()
        self.state.status = STOPPED
        self.save()
        log.info("devnet stopped")
        self.release()

    def notify_ready(self, fd: int | None) -> None:
        """Tell the process that started us (detached mode) that the devnet is ready."""
        if fd is None:
            return
        try:
            os.write(fd, b"ready\n")
        except OSError:
            pass
        finally:
            os.close(fd)
