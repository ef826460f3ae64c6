"""The private dockerd helper itself: a session killed before its teardown is cleaned up by the next one."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from hourglass_cli.executor.runtimes.docker_base import unmount_under
from tests.docker_env import CGROUP_PARENT, NAMESPACE, RUN_PREFIX, reap_orphaned_sessions

ROOT = Path(__file__).resolve().parents[2]


def tiny_image_tar() -> bytes:
    """A root filesystem with only the host's /bin/sleep and its shared libraries (a few MB)."""
    sleep = os.path.realpath("/bin/sleep")
    libs = re.findall(r"(/\S+)\s+\(0x", subprocess.run(["ldd", sleep], capture_output=True, text=True).stdout)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(sleep, arcname="bin/sleep")
        for lib in libs:
            tar.add(os.path.realpath(lib), arcname=lib.lstrip("/"))
    return buf.getvalue()


def _mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as fh:
        return [line.split()[4] for line in fh if line.split()[4].startswith(str(path))]


def _running(pid: int) -> bool:
    """Alive and not a zombie (orphans are reparented to pid 1, which may reap them late)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _processes_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.slow
def test_a_killed_session_is_reaped_by_the_next(tmp_path: Path) -> None:
    (tmp_path / "image.tar").write_bytes(tiny_image_tar())
    child = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from tests.docker_env import start_private_dockerd
        env = start_private_dockerd(cache=Path({str(tmp_path)!r}))
        client = env.client()
        client.api.import_image_from_file({str(tmp_path / "image.tar")!r}, repository="tiny", tag="1")
        container = client.containers.run("tiny:1", ["/bin/sleep", "1000"], detach=True, network_mode="host")
        container.reload()
        print(env.run_dir, container.attrs["State"]["Pid"], container.id, flush=True)
        sys.stdin.read()  # until killed
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        proc.kill()  # no teardown runs: the session's dockerd, containerd, shim and container are orphans now
        proc.wait()
        assert line, proc.stderr.read() if proc.stderr else ""
        run_text, sleep_pid, container_id = line.split()
        run_dir = Path(run_text)
        assert run_dir.name.startswith(RUN_PREFIX)
        assert _running(int(sleep_pid))  # the container's process outlived its session

        assert run_dir in reap_orphaned_sessions()
        assert not run_dir.exists()
        assert [pid for pid in _processes_naming(str(run_dir)) if _running(pid)] == []
        assert not _running(int(sleep_pid))
        assert _mounts_under(run_dir) == []
        assert list(Path("/sys/fs/cgroup").glob(f"*/{CGROUP_PARENT}/{container_id}")) == []
        shim_socket = hashlib.sha256(f"{run_dir}/containerd.sock/{NAMESPACE}/{container_id}".encode()).hexdigest()
        assert not Path("/run/containerd/s", shim_socket).exists()
    finally:
        proc.kill()
        reap_orphaned_sessions()
        # The killed session's cached data root (here under tmp_path) is unmounted by the next session that
        # takes its lock; this test has no next session, so do it here.
        unmount_under(tmp_path)
