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
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hourglass_cli.executor.runtimes.docker_base import cache_dir, remove_tree, unmount_under

START_DEADLINE_S = 60.0
STOP_DEADLINE_S = 30.0
_PR_SET_PDEATHSIG = 1
_RUN_CONTAINERD = Path("/run/containerd")


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
    created_run_containerd: bool = False
    """containerd 1.6 puts shim sockets in /run/containerd/s whatever its state dir: remove it if we made it."""

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
        self.created_run_containerd = not _RUN_CONTAINERD.exists()
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
            "--containerd", str(self.run_dir / "containerd.sock"), "--containerd-namespace", "hourglass-tests",
            "--containerd-plugins-namespace", "hourglass-tests-plugins", "--log-level", "warn",
        ], "dockerd.log")
        client = self.client(timeout=5)

        def _pings() -> bool:
            if not self.socket.is_socket():
                return False
            try:
                return bool(client.ping())
            except Exception:
                return False

        try:
            self._wait(dockerd, _pings, "dockerd", "dockerd.log", deadline)
        finally:
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
        if self.created_run_containerd:
            for folder in (_RUN_CONTAINERD / "s", _RUN_CONTAINERD):
                try:
                    folder.rmdir()  # only if empty: a system containerd started meanwhile keeps its files
                except OSError:
                    pass
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


def start_private_dockerd(cache: Path | None = None) -> PrivateDockerd:
    """Start a private dockerd on a fresh socket; its data root is the cached one unless another session
    holds it. The caller must :meth:`PrivateDockerd.stop` it."""
    folder = (cache or cache_dir()) / "dockerd"
    folder.mkdir(parents=True, exist_ok=True)
    # unix socket paths are limited to 108 bytes: keep the run dir short, under /tmp
    run_dir = Path(tempfile.mkdtemp(prefix="hg-dockerd-"))
    lock = (folder / "lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        env = PrivateDockerd(run_dir, Path(tempfile.mkdtemp(prefix="data-", dir=folder)), throwaway_data=True)
    else:
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
