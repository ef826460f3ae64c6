"""Start-up failures are reported before anything is left running: a taken port, the wrong AVS, a wrong key."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hourglass_cli.errors import ConfigError, WrongPasswordError
from hourglass_cli.executor.config import load_executor_config
from hourglass_cli.executor.server import Executor, ExecutorStartError
from tests.executor.conftest import REPO, SQUARE, Net, write_config

PROCESS = {"runtime": "process", "command": SQUARE, "cwd": str(REPO)}


def test_taken_port_fails_before_the_performer_starts(bn254_net: Net, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        executor = Executor(load_executor_config(write_config(bn254_net, tmp_path, PROCESS, port=port)),
                            w3=bn254_net.chain.w3)
        with pytest.raises(ExecutorStartError, match=f"cannot listen on 127.0.0.1:{port}"):
            executor.start()
    assert executor.runtime is not None and executor.runtime.pid is None  # never spawned


def test_registrar_of_another_avs_is_refused(bn254_net: Net, tmp_path: Path) -> None:
    other = bn254_net.accounts.app.address
    config = load_executor_config(write_config(bn254_net, tmp_path, PROCESS, avs_address=other))
    with pytest.raises(ConfigError, match=f"serves AVS {bn254_net.core.avs}, not {other}"):
        Executor(config, w3=bn254_net.chain.w3).start()


def test_wrong_password_is_reported_without_the_password(bn254_net: Net, tmp_path: Path) -> None:
    path = write_config(bn254_net, tmp_path, PROCESS)
    (tmp_path / "password.txt").write_text("not-the-password\n")
    with pytest.raises(WrongPasswordError) as info:
        Executor(load_executor_config(path), w3=bn254_net.chain.w3).start()
    assert "not-the-password" not in info.value.message + (info.value.hint or "")


def test_a_performer_port_taken_after_it_was_picked_is_retried_on_another(
        bn254_net: Net, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The OS's free port is free only when asked: if another process binds it before the performer does, the
    executor starts the performer again on a fresh port instead of failing."""
    from hourglass_cli.executor import server

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        picks = iter([taken.getsockname()[1]])
        real_free_port = server.free_port
        monkeypatch.setattr(server, "free_port", lambda host="127.0.0.1": next(picks, None) or real_free_port(host))
        executor = Executor(load_executor_config(write_config(bn254_net, tmp_path, PROCESS)), w3=bn254_net.chain.w3)
        try:
            executor.start()
            assert executor.runtime is not None
            assert executor.runtime.endpoint() != f"127.0.0.1:{taken.getsockname()[1]}"
            assert executor.service is not None and executor.service.runtime is executor.runtime
        finally:
            executor.stop()
