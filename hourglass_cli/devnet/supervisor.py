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
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from hourglass_cli.devnet import components as comp
from hourglass_cli.devnet.chains import _process
from hourglass_cli.devnet.options import LOCALHOST, PASSWORD_ENV, DevnetOptions, executor_config
from hourglass_cli.devnet.state import (
    DEGRADED, FAILED, PENDING, READY, STOPPED, STOPPING, UP,
    DevnetState, ProcessRecord, devnet_dir, load_state, process_start_ticks,
)
from hourglass_cli.errors import DevnetError, HourglassError

log = logging.getLogger("hourglass.devnet")

LOCK_FILE = "supervisor.lock"
SUPERVISOR_LOG = "supervisor.log"
STOP_TIMEOUT = 10.0


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


def _preload() -> None:
    """Import the heavy modules while the chain boots (2 cores: this overlaps with the chain's own start)."""
    try:
        import hourglass_cli.chain.sender  # noqa: F401
        import hourglass_cli.devnet.deploy  # noqa: F401
        import hourglass_cli.devnet.operators  # noqa: F401
    except Exception:  # noqa: BLE001 - the real import reports it
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

    def _step(self, text: str, key: str | None = None, since: float | None = None, save: bool = True) -> None:
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

    def request_stop(self) -> None:
        """Ask a running `watch()` to return (from another thread)."""
        self.stop_signal = self.stop_signal or signal.SIGTERM
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass

    # ------------------------------------------------------------------ start

    def start(self) -> DevnetState:
        """Bring the devnet up; on any failure stop everything started so far and re-raise."""
        self._phase = "starting"
        self.save()
        try:
            if self.stop_signal is not None:
                raise StopRequested(signal.Signals(self.stop_signal).name)
            threading.Thread(target=_preload, name="preload", daemon=True).start()
            urls = self._start_chains()
            deployment, operators = self._deploy(urls)
            self._start_executors(deployment, operators, urls)
            self._start_aggregator(deployment, operators, urls)
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
        self._step(f"devnet ready in {self.state.timings['total']:.2f} s")
        return self.state

    def _start_chains(self) -> dict[str, str]:
        from hourglass_cli.devnet.chains import get_backend
        from hourglass_cli.devnet.chains.anvil import AnvilBackend

        o = self.options
        roles = ["l1", "l2"] if o.l2 else ["l1"]
        backends = [get_backend(o.chain) for _ in roles]  # ToolNotFoundError before anything runs
        for backend in backends:
            if o.block_time and isinstance(backend, AnvilBackend):
                backend.extra_args += ("--block-time", f"{o.block_time:g}")
        if o.block_time and not isinstance(backends[0], AnvilBackend):
            self.state.warnings.append("block_time is ignored by the embedded chain (it mines on every transaction)")
        ports = [o.chain_port, o.chain_port + 1 if o.chain_port else 0][:len(roles)]
        for port in ports:  # both ports checked before the first chain starts
            _process.choose_port(LOCALHOST, port or None)
        urls: dict[str, str] = {}
        for role, backend, port in zip(roles, backends, ports):
            t = time.monotonic()
            name = "chain" if role == "l1" else "chain-l2"
            record = ProcessRecord(name=name, kind="chain", role=role, backend=backend.name,
                                   log=str(self.logs / f"{name}.log"), chain_id=31337)
            component = comp.Component(record, restart=False)
            self.state.chains.append(record)
            self.components.append(component)
            handle = backend.start(port or None, Path(record.log), LOCALHOST)
            component.adopt(handle)
            component.check = comp.jsonrpc_check(handle.rpc_url)
            record.port, record.endpoint = handle.port, handle.rpc_url
            urls[role] = handle.rpc_url
            self._step(f"{name}: {backend.name} at {handle.rpc_url}", f"chain_{role}", t)
        return urls

    def _deploy(self, urls: dict[str, str]) -> tuple[Any, Any]:
        from hourglass_cli.devnet.chains._process import free_port

        o = self.options
        count = o.operators + 1
        ports: list[int] = []
        while len(ports) < count:  # distinct free ports: the aggregator's socket, then each executor's
            port = free_port(LOCALHOST)
            if port not in ports:
                ports.append(port)
        sockets = [f"{LOCALHOST}:{p}" for p in ports]
        weights = [10**18] + [int(w) for w in o.stake_weights] if o.stake_weights else None
        # worker threads: a stop signal must not wait for them (the chains they talk to are stopped next)
        pool = ThreadPoolExecutor(max_workers=len(urls), thread_name_prefix="deploy")
        try:
            futures = {role: pool.submit(self._deploy_one, role, url, sockets, weights) for role, url in urls.items()}
            results = {role: f.result() for role, f in futures.items()}
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        deployment, operators = results["l1"]
        self.state.deployment = deployment.to_json()
        self.state.operators = operators.to_json()
        if "l2" in results:
            self.state.l2_deployment = results["l2"][0].to_json()
        self.save()
        return deployment, operators

    def _deploy_one(self, role: str, url: str, sockets: list[str], weights: list[int] | None) -> tuple[Any, Any]:
        from hourglass_cli.chain.connection import connect
        from hourglass_cli.devnet.accounts import devnet_accounts
        from hourglass_cli.devnet.deploy import deploy_core
        from hourglass_cli.devnet.operators import setup_operators

        o = self.options
        t = time.monotonic()
        w3 = connect(url)
        accounts = devnet_accounts(o.operators)
        deployment = deploy_core(w3, accounts, curve=o.curve)
        self._step(f"{role}: contracts deployed (TaskMailbox {deployment.task_mailbox})", f"deploy_{role}", t, save=False)
        t = time.monotonic()
        keys = self.dir / "keys" / ("" if role == "l1" else role)
        operators = setup_operators(w3, deployment, accounts, keys, weights=weights, sockets=sockets,
                                    task_sla=o.task_sla, threshold_bips=o.threshold_bips)
        self._step(f"{role}: {len(operators.operators)} operators registered, tables pushed", f"operators_{role}", t, save=False)
        return deployment, operators

    def _child_env(self) -> dict[str, str]:
        from hourglass_cli.devnet.operators import DEVNET_KEYSTORE_PASSWORD

        path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
        # the devnet's fixed, public keystore password; given by env var, never written to a file
        return {**os.environ, "PATH": path, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1",
                PASSWORD_ENV: DEVNET_KEYSTORE_PASSWORD}

    def _start_executors(self, deployment: Any, operators: Any, urls: dict[str, str]) -> None:
        t = time.monotonic()
        started = _executor_components(self, deployment, operators, urls)
        if not started:
            return
        for c in started:
            self.state.components.append(c.record)
            self.components.append(c)
            c.start()  # main thread: PR_SET_PDEATHSIG ties them to this process
        self.save()
        comp.wait_ready(started, self.options.ready_deadline_s, "executors")
        for c in started:
            c.record.children = comp.child_processes(c.pid or 0)
        self._step(f"{len(started)} executors serving", "executors", t)

    def _start_aggregator(self, deployment: Any, operators: Any, urls: dict[str, str]) -> None:
        """Hook: starts nothing until `hourglass aggregator run` exists (see `_aggregator_components`)."""
        for c in _aggregator_components(self, deployment, operators, urls):
            self.state.components.append(c.record)
            self.components.append(c)
            c.start()
            comp.wait_ready([c], self.options.ready_deadline_s, "the aggregator")

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
                c.mark_exited()
                if c.restart:
                    c.restart_at = now + comp.backoff(r.restarts)
                changed = True
            elif c.restart_at is not None and now >= c.restart_at:
                c.restart_at = None
                r.restarts += 1
                log.info("restarting %s (restart %d)", r.name, r.restarts)
                try:
                    c.start()
                except DevnetError as exc:
                    log.error("%s could not be restarted: %s", r.name, exc.message)
                    c.restart_at = now + comp.backoff(r.restarts)
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
                for c, future in [(c, pool.submit(c.stop, STOP_TIMEOUT)) for c in live]:
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


def _executor_components(sup: Supervisor, deployment: Any, operators: Any, urls: dict[str, str]) -> list[comp.Component]:
    """One `python -m hourglass_cli.executor --config FILE` per executor operator, listening on its socket."""
    o = sup.options
    env = sup._child_env()
    out = []
    for i, op in enumerate(operators.executors):
        folder = sup.dir / "executors" / op.name
        folder.mkdir(parents=True, exist_ok=True)
        port = int(op.socket.rsplit(":", 1)[1])
        performer_port = o.performer_first_port + i if o.performer_first_port else 0
        config = folder / "executor.toml"
        config.write_text(executor_config(operator=op, deployment=deployment, rpc_url=urls["l1"],
                                          l2_rpc_url=urls.get("l2", urls["l1"]), port=port,
                                          performer=o.performer, performer_port=performer_port,
                                          log_dir=sup.logs, task_timeout=o.task_timeout))
        record = ProcessRecord(name=op.name, kind="executor", port=port, endpoint=op.socket,
                               log=str(sup.logs / f"{op.name}.log"), config=str(config))
        argv = [sys.executable, "-m", "hourglass_cli.executor", "--config", str(config), "--grace", "2"]
        out.append(comp.Component(record, argv, env, comp.grpc_health_check(op.socket), restart=True))
    return out


def _aggregator_components(sup: Supervisor, deployment: Any, operators: Any,
                           urls: dict[str, str]) -> list[comp.Component]:
    """The aggregator's component, once `hourglass aggregator run --config FILE` exists (a later issue).

    It will write the aggregator's config (its operator's keystore, the executors' sockets, both chains)
    and return one Component (restart=True, readiness = its health endpoint). Until then: nothing.
    """
    return []
