"""The process runtime with real performer processes: crash → restart → next task, backoff, env, start errors,
stopping the whole process group, and dying with the executor."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from eth_abi import decode, encode

from hourglass_cli.executor.runtimes.base import (
    RuntimeMonitor,
    RuntimeStartError,
    build_runtime_env,
    check_health,
    upper_snake,
)
from hourglass_cli.executor.runtimes.process import ProcessRuntime
from hourglass_cli.executor.server import free_port
from tests.executor.conftest import REPO, SQUARE, Net, start_executor, write_config

SQUARE_SPEC = "hourglass_cli.performer.examples.square:SquarePerformer"
TASK_ID = ("0x" + "ab" * 32).encode("ascii")


def _running(pid: int) -> bool:
    """Whether ``pid`` runs now (a zombie does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _gone(pid: int, timeout: float = 15.0) -> bool:
    """True once ``pid`` no longer runs, polling /proc with a deadline."""
    end = time.monotonic() + timeout
    delay = 0.01
    while _running(pid):
        if time.monotonic() >= end:
            return False
        time.sleep(delay)  # polling a condition with a deadline, not waiting for a guess
        delay = min(delay * 2, 0.1)
    return True


def test_killed_performer_is_restarted_and_the_next_task_succeeds(bn254_net: Net, tmp_path: Path) -> None:
    net = bn254_net
    path = write_config(net, tmp_path, {"runtime": "process", "command": SQUARE, "cwd": str(REPO)})
    running = start_executor(net, path)
    try:
        runtime, monitor = running.executor.runtime, running.executor.monitor
        assert isinstance(runtime, ProcessRuntime) and monitor is not None
        first = net.create_task(2)
        assert decode(["uint256"], running.submit(net.submission(first)).output) == (4,)

        old_pid = runtime.pid
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)
        assert monitor.wait_for_restarts(1, timeout=30), "the monitor did not restart the performer"
        assert runtime.pid not in (None, old_pid)

        task = net.create_task(11)
        assert decode(["uint256"], running.submit(net.submission(task)).output) == (121,)
        assert check_health(f"127.0.0.1:{running.executor.port}")  # the executor reports SERVING again
    finally:
        running.close()
    assert _gone(old_pid) and (runtime.pid is None)


def test_monitor_backs_off_and_recovers_after_failed_restarts(tmp_path: Path) -> None:
    """Restarts 1 and 2 of the performer exit at once; the third serves. Backoff grows between them."""
    counter = tmp_path / "starts"
    counter.write_text("0")
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        counter = Path({str(counter)!r})
        n = int(counter.read_text())
        counter.write_text(str(n + 1))
        if n in (1, 2):
            print(f"start {{n}}: failing on purpose", flush=True)
            sys.exit(1)
        from hourglass_cli.performer.loader import serve_from_spec
        serve_from_spec({SQUARE_SPEC!r}, None, "127.0.0.1")
    """)
    runtime = ProcessRuntime([sys.executable, "-c", script], build_runtime_env(free_port()), tmp_path / "p.log",
                             cwd=REPO, start_deadline_s=20)
    monitor = RuntimeMonitor(runtime, initial_backoff=0.05, max_backoff=0.2, check_interval=0.05)
    runtime.start(20)
    monitor.start()
    try:
        os.kill(runtime.pid or 0, signal.SIGKILL)
        started = time.monotonic()
        assert monitor.wait_for_restarts(1, timeout=40)
        elapsed = time.monotonic() - started
        assert monitor.failures == 2 and counter.read_text() == "4"
        assert elapsed >= 0.05 + 0.1 + 0.2  # three waits before the three attempts: 0.05, 0.1, then capped 0.2
        result = runtime.execute(TASK_ID, encode(["uint256"], [6]), timeout=10)
        assert decode(["uint256"], result) == (36,)
        assert "failing on purpose" in (tmp_path / "p.log").read_text()
    finally:
        monitor.stop()
        runtime.close()


def test_performer_gets_port_and_chain_env(tmp_path: Path) -> None:
    dump = tmp_path / "env.json"
    script = textwrap.dedent(f"""
        import json, os
        from pathlib import Path
        Path({str(dump)!r}).write_text(json.dumps(dict(os.environ)))
        from hourglass_cli.performer.loader import serve_from_spec
        serve_from_spec({SQUARE_SPEC!r}, None, "127.0.0.1")
    """)
    port = free_port()
    env = build_runtime_env(port, l1_rpc_url="http://127.0.0.1:8545", l2_rpc_url="http://127.0.0.1:9545",
                            task_mailbox="0x" + "11" * 20, task_avs_registrar="0x" + "22" * 20,
                            contracts={"HelloWorldL2": "0x" + "33" * 20}, extra={"MY_SETTING": "on"})
    runtime = ProcessRuntime([sys.executable, "-c", script], env, tmp_path / "p.log", cwd=REPO)
    try:
        runtime.start(20)
        assert runtime.endpoint() == f"127.0.0.1:{port}"
        seen = json.loads(dump.read_text())
        assert seen["PORT"] == str(port)
        assert seen["L1_RPC_URL"] == "http://127.0.0.1:8545" and seen["L2_RPC_URL"] == "http://127.0.0.1:9545"
        assert seen["TASK_MAILBOX"] == "0x" + "11" * 20 and seen["TASK_AVS_REGISTRAR"] == "0x" + "22" * 20
        assert seen["HELLO_WORLD_L2"] == "0x" + "33" * 20 and seen["MY_SETTING"] == "on"
    finally:
        runtime.close()


def test_upper_snake_names() -> None:
    assert upper_snake("TaskAVSRegistrar") == "TASK_AVS_REGISTRAR"
    assert upper_snake("helloWorldL2") == "HELLO_WORLD_L2"
    assert upper_snake("BN254CertificateVerifier") == "BN254_CERTIFICATE_VERIFIER"
    assert upper_snake("my-avs.contract") == "MY_AVS_CONTRACT"


def test_performer_that_exits_at_start_is_reported_with_its_output(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "import sys; print('cannot load my model'); sys.exit(3)"]
    runtime = ProcessRuntime(command, build_runtime_env(free_port()), tmp_path / "p.log")
    with pytest.raises(RuntimeStartError) as info:
        runtime.start(600)  # a deadline nobody waits out: the error below is about the exit, seen at once
    assert "exit code 3" in info.value.message and "cannot load my model" in info.value.message
    assert not runtime.is_alive()
    runtime.close()


def test_missing_command_and_silent_performer(tmp_path: Path) -> None:
    with pytest.raises(RuntimeStartError, match="not on PATH"):
        ProcessRuntime(["no-such-performer-binary"], build_runtime_env(free_port()), tmp_path / "p.log").start(5)
    # Runs but never serves gRPC: the deadline is what ends the wait, and the process is stopped.
    runtime = ProcessRuntime([sys.executable, "-c", "import time; time.sleep(60)"], build_runtime_env(free_port()),
                             tmp_path / "q.log")
    with pytest.raises(RuntimeStartError, match="did not report SERVING within 1 s"):
        runtime.start(1)
    assert not runtime.is_alive()
    runtime.close()


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    """A shell wrapper's child (the real performer) goes with it."""
    pid_file = tmp_path / "child.pid"
    command = ["sh", "-c", f'"{sys.executable}" -m hourglass_cli.performer {SQUARE_SPEC} & echo $! > "{pid_file}"; '
                           "wait"]
    runtime = ProcessRuntime(command, build_runtime_env(free_port()), tmp_path / "p.log", cwd=REPO)
    runtime.start(20)
    child = int(pid_file.read_text())
    shell = runtime.pid
    runtime.close()
    assert shell is not None and _gone(shell) and _gone(child)


def test_performer_dies_with_the_executor_process(tmp_path: Path) -> None:
    """SIGKILL of the process that started it (no chance to clean up): PR_SET_PDEATHSIG ends the performer."""
    parent = textwrap.dedent(f"""
        import sys, threading
        from hourglass_cli.executor.runtimes.base import build_runtime_env
        from hourglass_cli.executor.runtimes.process import ProcessRuntime
        from hourglass_cli.executor.server import free_port
        runtime = ProcessRuntime({SQUARE!r}, build_runtime_env(free_port()), {str(tmp_path / "p.log")!r})
        # Started from a short-lived thread: the spawner thread, not this one, owns the child.
        t = threading.Thread(target=runtime.start, args=(30,)); t.start(); t.join()
        print(runtime.pid, flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        performer = int(proc.stdout.readline())
        assert _running(performer)  # alive after its starting thread ended
        proc.kill()
        proc.wait(10)
        assert _gone(performer), "the performer outlived the executor"
    finally:
        proc.kill()


def _environ(pid: int) -> dict[str, str]:
    """The environment a running process was started with, as the kernel shows it."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def test_the_performer_never_gets_the_executors_secrets(bn254_net: Net, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The performer is the AVS's code: it gets the documented variables, the contracts, [performer].env and
    what pass_env names — not the executor's environment, where the keystore password is."""
    from hourglass_cli.devnet.operators import DEVNET_KEYSTORE_PASSWORD

    net = bn254_net
    monkeypatch.setenv("OPERATOR_PASSWORD", DEVNET_KEYSTORE_PASSWORD)  # this executor's password_env
    monkeypatch.setenv("HOURGLASS_KEYSTORE_PASSWORD", "another-password")
    monkeypatch.setenv("HOURGLASS_DEVNET_KEYSTORE_PASSWORD", "the-devnet-password")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "an-unrelated-credential")
    monkeypatch.setenv("GOCACHE", str(tmp_path / "gocache"))
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    path = write_config(net, tmp_path, {"runtime": "process", "command": SQUARE, "cwd": str(REPO),
                                        "env": {"API_URL": "https://example.org"}, "pass_env": ["GOCACHE", "UNSET_X"]})
    path.write_text(path.read_text().replace('password_file = "password.txt"', 'password_env = "OPERATOR_PASSWORD"'))
    running = start_executor(net, path)
    try:
        seen = _environ(running.executor.runtime.pid)
        task = net.create_task(6)
        assert decode(["uint256"], running.submit(net.submission(task)).output) == (36,)
    finally:
        running.close()
    assert "OPERATOR_PASSWORD" not in seen and DEVNET_KEYSTORE_PASSWORD not in seen.values()
    assert not [k for k in seen if k.startswith("HOURGLASS_")], sorted(seen)
    assert "AWS_SECRET_ACCESS_KEY" not in seen and "UNSET_X" not in seen
    assert seen["API_URL"] == "https://example.org" and seen["GOCACHE"] == str(tmp_path / "gocache")
    assert seen["PORT"] and seen["TASK_MAILBOX"] == net.core.task_mailbox and seen["L1_RPC_URL"]
    assert seen["PATH"] == os.environ["PATH"] and seen["LC_ALL"] == "C.UTF-8"


@pytest.mark.parametrize("performer,match", [
    ({"pass_env": ["OPERATOR_PASSWORD"]}, "pass_env: OPERATOR_PASSWORD is the executor's own"),
    ({"pass_env": ["HOURGLASS_DEVNET_KEYSTORE_PASSWORD"]}, "is the executor's own"),
    ({"env": {"HOURGLASS_KEYSTORE_PASSWORD": "x"}}, "env: HOURGLASS_KEYSTORE_PASSWORD is the executor's own"),
    ({"pass_env": ["not a name"]}, "is not an environment variable name"),
    ({"pass_env": "GOCACHE"}, "pass_env must be a list"),
])
def test_a_config_that_would_hand_the_performer_a_secret_is_refused(bn254_net: Net, tmp_path: Path,
                                                                     performer: dict, match: str) -> None:
    from hourglass_cli.errors import ConfigError
    from hourglass_cli.executor.config import load_executor_config

    path = write_config(bn254_net, tmp_path, {"runtime": "process", "command": SQUARE, **performer})
    path.write_text(path.read_text().replace('password_file = "password.txt"', 'password_env = "OPERATOR_PASSWORD"'))
    with pytest.raises(ConfigError, match=match):
        load_executor_config(path)
