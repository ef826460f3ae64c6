"""A private dockerd for the tests: its own containerd, socket, exec root and pid file, so it never meets a
system docker; stopped with everything it started (containers, shims, mounts) when the session ends.

``dockerd --storage-driver vfs --iptables=false --bridge=none``: no overlay mounts, no iptables rules, no
bridge; containers use host networking. Debian's docker.io 20.10 would start its own containerd only when
``/run/containerd/containerd.sock`` is absent and otherwise join the system one, so we always start a
containerd of ours and pass ``--containerd``. The data root lives in the hourglass cache
(``<cache>/dockerd/data``) so the imported base image survives between runs; a second session on the same
machine (the data root is locked) gets a throw-away data root instead.
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hourglass_cli.executor.runtimes.docker_base import cache_dir, remove_tree, unmount_under

START_DEADLINE_S = 60.0
STOP_DEADLINE_S = 30.0
_PR_SET_PDEATHSIG = 1
_RUN_CONTAINERD = Path("/run/containerd")
RUN_PREFIX = "hg-dockerd-"
NAMESPACE = "hourglass-tests"
CGROUP_PARENT = "hourglass-tests"
"""Containers' cgroups go under ``/<controller>/hourglass-tests/<id>``, apart from a system docker's."""


class DockerdError(RuntimeError):
    """The private dockerd could not be started."""


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_bytes()[-limit:].decode("utf-8", errors="replace")
    except OSError:
        return ""


def _die_with_parent() -> Any:
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def _set() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return _set


def _containerd_config(run: Path, data: Path) -> str:
    return "\n".join([
        "version = 2",
        f'root = "{data / "containerd"}"',
        f'state = "{run / "containerd"}"',
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        f'  address = "{run / "containerd.sock"}"',
        "[ttrpc]",
        f'  address = "{run / "containerd.sock.ttrpc"}"',
        "[debug]",
        f'  address = "{run / "containerd-debug.sock"}"',
        '  level = "warn"',
        "",
    ])


@dataclass
class PrivateDockerd:
    """A running private containerd + dockerd; ``base_url`` is what the docker SDK connects to."""

    run_dir: Path
    data_root: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    lock: IO[str] | None = None
    throwaway_data: bool = False
    dockerd: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def base_url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "dockerd.log"

    def client(self, timeout: int = 300) -> Any:
        import docker

        return docker.DockerClient(base_url=self.base_url, timeout=timeout)

    # -- start --

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen[bytes]:
        with (self.run_dir / log_name).open("ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=_die_with_parent())  # noqa: PLW1509
        self.processes.append(proc)
        return proc

    def _wait(self, proc: subprocess.Popen[bytes], ready: Any, what: str, log_name: str, deadline: float) -> None:
        """Poll ``ready()`` until it is true; fail at once if ``proc`` exits, or at the deadline."""
        delay = 0.01
        while not ready():
            if time.monotonic() > deadline:
                raise DockerdError(f"{what} did not become ready within {START_DEADLINE_S:g} s; log:\n"
                                   + _tail(self.run_dir / log_name))
            try:
                code = proc.wait(timeout=delay)  # the pause between polls doubles as an exit check
            except subprocess.TimeoutExpired:
                delay = min(delay * 2, 0.2)
                continue
            raise DockerdError(f"{what} exited with code {code} while starting; log:\n"
                               + _tail(self.run_dir / log_name))

    def start(self) -> None:
        for tool in ("dockerd", "containerd", "runc"):
            if shutil.which(tool) is None:
                raise DockerdError(f"{tool} is not installed: run scripts/install-docker.sh as root")
        if os.geteuid() != 0:
            raise DockerdError("the private dockerd needs root (vfs storage, cgroups, namespaces)")
        deadline = time.monotonic() + START_DEADLINE_S
        self.data_root.mkdir(parents=True, exist_ok=True)
        config = self.run_dir / "containerd.toml"
        config.write_text(_containerd_config(self.run_dir, self.data_root))
        containerd = self._spawn(["containerd", "--config", str(config)], "containerd.log")
        self._wait(containerd, (self.run_dir / "containerd.sock").is_socket, "containerd", "containerd.log",
                   deadline)
        self.dockerd = dockerd = self._spawn([
            "dockerd", "--storage-driver", "vfs", "--iptables=false", "--ip-masq=false", "--bridge=none",
            "--host", self.base_url, "--data-root", str(self.data_root / "docker"),
            "--exec-root", str(self.run_dir / "exec"), "--pidfile", str(self.run_dir / "docker.pid"),
            "--containerd", str(self.run_dir / "containerd.sock"), "--containerd-namespace", NAMESPACE,
            "--containerd-plugins-namespace", "hourglass-tests-plugins", "--log-level", "warn",
            "--cgroup-parent", f"/{CGROUP_PARENT}",
        ], "dockerd.log")
        clients: list[Any] = []

        def _pings() -> bool:
            if not self.socket.is_socket():
                return False
            try:
                if not clients:  # the SDK asks for the API version as it is made: only once the socket is there
                    clients.append(self.client(timeout=5))
                return bool(clients[0].ping())
            except Exception:
                return False

        try:
            self._wait(dockerd, _pings, "dockerd", "dockerd.log", deadline)
        finally:
            for client in clients:
                client.close()

    # -- stop --

    def remove_all_containers(self) -> None:
        """Every container of this private daemon goes (they are all ours)."""
        client = self.client(timeout=60)
        try:
            for container in client.containers.list(all=True):
                container.remove(force=True)
        finally:
            client.close()

    def _own_shims(self) -> list[int]:
        """Pids of containerd shims started for our containerd (their command line names our run dir)."""
        marker = str(self.run_dir).encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"containerd-shim" in cmdline and marker in cmdline:
                pids.append(int(entry.name))
        return pids

    def stop(self) -> None:
        """Remove the containers, stop dockerd then containerd (TERM, wait, KILL), reap shims, unmount."""
        errors = []
        if self.dockerd is not None and self.dockerd.poll() is None:
            try:
                self.remove_all_containers()
            except Exception as exc:  # keep tearing down; report at the end
                errors.append(f"removing containers: {exc}")
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_DEADLINE_S)
                except subprocess.TimeoutExpired:
                    errors.append(f"pid {proc.pid} ignored SIGTERM for {STOP_DEADLINE_S:g} s; killed")
                    proc.kill()
                    proc.wait(10)
        for pid in self._own_shims():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.processes.clear()
        self.dockerd = None
        _remove_empty_cgroups()
        _remove_shim_sockets(self.run_dir, ())
        unmount_under(self.data_root)
        unmount_under(self.run_dir)
        if self.throwaway_data:
            remove_tree(self.data_root)
        remove_tree(self.run_dir)
        if self.lock is not None:
            fcntl.flock(self.lock, fcntl.LOCK_UN)
            self.lock.close()
            self.lock = None
        if errors:
            raise DockerdError("; ".join(errors))


def _remove_empty_cgroups(container_ids: Iterable[str] = ()) -> None:
    """Remove the cgroups of ``container_ids`` and our cgroup parent, on every controller, where empty.

    rmdir fails (EBUSY) on a cgroup with processes or children: another session's stay untouched.
    """
    for parent in Path("/sys/fs/cgroup").glob(f"*/{CGROUP_PARENT}"):
        for folder in [parent / cid for cid in container_ids] + [parent]:
            try:
                folder.rmdir()
            except OSError:
                pass


def _process_table() -> dict[int, tuple[int, bytes]]:
    """pid → (parent pid, command line) of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        table[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmdline)
    return table


def reap_orphaned_sessions() -> list[Path]:
    """Clean up after test sessions that were killed before their teardown ran.

    A session writes its pid to ``<run dir>/owner``. For every run dir whose owner is gone, the processes
    that name the run dir (containerd, dockerd, shims) and everything below them (the containers' processes)
    are killed, its mounts detached and the dir removed. Returns the run dirs cleaned.
    """
    cleaned = []
    for run_dir in Path(tempfile.gettempdir()).glob(f"{RUN_PREFIX}*"):
        try:
            owner = int((run_dir / "owner").read_text())
        except (OSError, ValueError):
            owner = 0
        if owner:
            try:
                os.kill(owner, 0)
                continue  # its session is alive
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        table = _process_table()
        marker = str(run_dir).encode()
        doomed = {pid for pid, (_, cmdline) in table.items() if marker in cmdline}
        grew = True
        while grew:
            more = {pid for pid, (ppid, _) in table.items() if ppid in doomed} - doomed
            doomed |= more
            grew = bool(more)
        containers = {m.group(1).decode() for pid in doomed
                      if (m := re.search(rb"-id\0([0-9a-f]{64})\0", table[pid][1]))}
        for pid in doomed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _wait_gone(doomed)
        _remove_empty_cgroups(containers)
        _remove_shim_sockets(run_dir, containers)
        unmount_under(run_dir)
        remove_tree(run_dir)
        cleaned.append(run_dir)
    return cleaned


def _remove_shim_sockets(run_dir: Path, container_ids: Iterable[str]) -> None:
    """A killed shim leaves its socket in /run/containerd/s (containerd 1.6 puts shim sockets there whatever
    its state dir), named sha256 of ``<containerd address>/<namespace>/<container id>``. The folders go too
    when empty."""
    address = run_dir / "containerd.sock"
    for cid in container_ids:
        digest = hashlib.sha256(f"{address}/{NAMESPACE}/{cid}".encode()).hexdigest()
        (_RUN_CONTAINERD / "s" / digest).unlink(missing_ok=True)
    for folder in (_RUN_CONTAINERD / "s", _RUN_CONTAINERD):
        try:
            folder.rmdir()  # only when empty: a system containerd's files stay
        except OSError:
            pass


def _wait_gone(pids: set[int], deadline_s: float = 10.0) -> None:
    """Wait until every pid has exited (a zombie counts as exited: pid 1 reaps orphans)."""
    end = time.monotonic() + deadline_s
    pause = threading.Event()
    delay = 0.005
    while time.monotonic() < end:
        alive = [pid for pid in pids if _state(pid) not in ("", "Z")]
        if not alive:
            return
        pause.wait(delay)  # SIGKILL takes effect asynchronously: poll its outcome
        delay = min(delay * 2, 0.1)


def _state(pid: int) -> str:
    """The process state letter ("" if there is no such process)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def start_private_dockerd(cache: Path | None = None) -> PrivateDockerd:
    """Start a private dockerd on a fresh socket; its data root is the cached one unless another session
    holds it. The caller must :meth:`PrivateDockerd.stop` it."""
    folder = (cache or cache_dir()) / "dockerd"
    folder.mkdir(parents=True, exist_ok=True)
    reap_orphaned_sessions()
    # unix socket paths are limited to 108 bytes: keep the run dir short, under /tmp
    run_dir = Path(tempfile.mkdtemp(prefix=RUN_PREFIX))
    (run_dir / "owner").write_text(str(os.getpid()))
    lock = (folder / "lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        env = PrivateDockerd(run_dir, run_dir / "data", throwaway_data=True)  # reaped with the run dir
    else:
        unmount_under(folder / "data")  # left by a dockerd that was killed: nobody else uses it (we hold the lock)
        env = PrivateDockerd(run_dir, folder / "data", lock=lock)
    try:
        env.start()
        env.remove_all_containers()  # left over by a session that was killed
    except BaseException:
        try:
            env.stop()
        except Exception:
            pass  # the start error is the one to report
        raise
    return env
