"""Starting and stopping both backends as real processes; choosing one; the errors users see."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hourglass_cli.devnet.chains import ChainHandle, get_backend
from hourglass_cli.devnet.chains import anvil as anvil_module
from hourglass_cli.devnet.chains import _process
from hourglass_cli.devnet.chains._process import pid_alive
from hourglass_cli.devnet.chains.anvil import AnvilBackend, pinned_version
from hourglass_cli.devnet.chains.base import ChainBackend
from hourglass_cli.devnet.chains.embedded import EmbeddedBackend
from hourglass_cli.errors import DevnetError, ToolNotFoundError, UsageError
from tests.devnet.chains.conftest import Rpc

REPO = Path(__file__).resolve().parents[3]


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _wait_gone(pid: int, deadline_s: float = 15.0) -> bool:
    """Wait (pidfd/select, with a deadline) for a process that is not our child to exit."""
    return _process._wait_gone(pid, None, deadline_s)


def _start_and_stop(backend: ChainBackend, log: Path) -> None:
    handle = backend.start(None, log)
    assert handle.is_running() and backend.is_running()
    rpc = Rpc(handle.rpc_url)
    assert rpc("eth_chainId") == "0x7a69"
    assert rpc("eth_accounts")[0].lower() == "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    assert backend.rpc_url == handle.rpc_url and backend.pid == handle.pid
    backend.stop()
    assert not handle.is_running()
    assert not pid_alive(handle.pid)
    assert _refused(handle.port)
    handle.stop()  # idempotent
    assert log.stat().st_size > 0


def test_embedded_starts_and_stops(tmp_path: Path) -> None:
    _start_and_stop(EmbeddedBackend(), tmp_path / "embedded.log")


def test_anvil_starts_and_stops(anvil_binary: Path, tmp_path: Path) -> None:
    _start_and_stop(AnvilBackend(anvil_binary), tmp_path / "anvil.log")


def test_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(DevnetError) as info:
            EmbeddedBackend().start(port, tmp_path / "chain.log")
    assert f"port {port}" in info.value.message and "in use" in info.value.message
    assert info.value.hint


def test_a_chain_that_dies_at_start_is_reported(tmp_path: Path) -> None:
    class Broken(EmbeddedBackend):
        def command(self, host: str, port: int) -> list[str]:
            return [sys.executable, "-c", "print('no chain today'); raise SystemExit(3)"]

    with pytest.raises(DevnetError) as info:
        Broken().start(None, tmp_path / "broken.log")
    assert "exited with code 3" in info.value.message and "no chain today" in info.value.message


@pytest.fixture
def no_anvil(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine without anvil: empty PATH, empty tools folder, no checkout, empty cwd."""
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("HOURGLASS_TOOLS_DIR", str(tmp_path / "tools"))
    monkeypatch.chdir(tmp_path)
    import hourglass_cli.compiler.artifacts as artifacts

    monkeypatch.setattr(artifacts, "repo_root", lambda: None)


def test_missing_anvil_is_a_clear_error(no_anvil: None) -> None:
    assert anvil_module.find_anvil() is None
    with pytest.raises(ToolNotFoundError) as info:
        get_backend("anvil")
    assert info.value.message == "anvil not found"
    assert "hourglass devnet install anvil" in info.value.hint and "--chain embedded" in info.value.hint
    assert isinstance(get_backend("auto"), EmbeddedBackend)


def test_auto_prefers_anvil_and_names_are_checked(anvil_binary: Path) -> None:
    assert isinstance(get_backend("auto"), AnvilBackend)
    assert isinstance(get_backend("embedded"), EmbeddedBackend)
    with pytest.raises(UsageError):
        get_backend("ganache")


def test_anvil_found_in_the_tools_folder(no_anvil: None, anvil_binary: Path, tmp_path: Path) -> None:
    plat = anvil_binary.parent.parent.name  # .../@foundry-rs/anvil-<platform>/bin/anvil
    if not plat.startswith("anvil-"):
        pytest.skip("anvil here is not npm's platform package")
    target = tmp_path / "tools" / "node_modules" / "@foundry-rs" / plat / "bin" / "anvil"
    target.parent.mkdir(parents=True)
    target.symlink_to(anvil_binary)
    assert anvil_module.find_anvil() == target


def test_pinned_anvil_version_matches_package_json() -> None:
    pins = json.loads((REPO / "package.json").read_text())["devDependencies"]
    assert pins["@foundry-rs/anvil"] == anvil_module.ANVIL_VERSION == pinned_version()


def test_anvils_log_keeps_no_private_keys_or_mnemonic(anvil_binary: Path, tmp_path: Path) -> None:
    """Issue #12: anvil's start-up banner put the dev accounts' private keys and mnemonic in chain.log."""
    from hourglass_cli.devnet.accounts import derive_account

    log = tmp_path / "anvil.log"
    backend = AnvilBackend(anvil_binary)
    handle = backend.start(None, log)
    try:
        Rpc(handle.rpc_url)("eth_blockNumber")  # anvil keeps logging after the banner
    finally:
        backend.stop()
    text = log.read_text()
    assert "Available Accounts" in text and "Private Keys" in text and "Listening on" in text  # the rest stays
    assert derive_account(0).private_key.hex() not in text.lower()
    assert "test test test" not in text and "(0) 0x" + "*" * 64 in text


def test_anvil_command_runs_the_devnet_settings(anvil_binary: Path, tmp_path: Path) -> None:
    backend = AnvilBackend(anvil_binary).with_state(load=tmp_path / "in.json", dump=tmp_path / "out.json")
    argv = backend.command("127.0.0.1", 8545)
    joined = " ".join(argv)
    for part in ("--chain-id 31337", "--accounts 10", "--hardfork prague", "--port 8545", "--load-state", "--dump-state"):
        assert part in joined


def test_dump_and_load_state(anvil_binary: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = AnvilBackend(anvil_binary).with_state(dump=state).start(None, tmp_path / "a.log")
    rpc = Rpc(first.rpc_url)
    rpc("anvil_setBalance", "0x" + "42" * 20, "0x2a")
    rpc("evm_mine")
    first.stop()
    assert state.is_file()
    second = AnvilBackend(anvil_binary).with_state(load=state).start(None, tmp_path / "b.log")
    try:
        assert Rpc(second.rpc_url)("eth_getBalance", "0x" + "42" * 20, "latest") == "0x2a"
    finally:
        second.stop()


def test_chain_dies_with_its_parent(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a supervisor killed with SIGKILL takes its chain with it."""
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from hourglass_cli.devnet.chains.embedded import EmbeddedBackend
        handle = EmbeddedBackend().start(None, Path({str(tmp_path / "child.log")!r}))
        print(handle.pid, handle.port, flush=True)
        sys.stdin.read()
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO)
    try:
        pid, port = (int(x) for x in parent.stdout.readline().split())
        assert pid_alive(pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        assert _wait_gone(pid), "the chain outlived its parent"
        assert _refused(port)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdin.close()
        parent.stdout.close()


def test_attached_handle_stops_a_chain_by_pid(tmp_path: Path) -> None:
    handle = EmbeddedBackend().start(None, tmp_path / "chain.log")
    attached = ChainHandle.attach("embedded", handle.rpc_url, handle.pid, handle.log_path)
    assert attached.port == handle.port and attached.is_running()
    attached.stop()
    assert not attached.is_running() and _refused(handle.port)
    assert handle._proc is not None and handle._proc.wait(timeout=5) == 0  # clean SIGTERM exit


def test_a_chain_that_died_is_seen_and_stop_is_harmless(tmp_path: Path) -> None:
    handle = EmbeddedBackend().start(None, tmp_path / "chain.log")
    handle._proc.send_signal(signal.SIGKILL)
    handle._proc.wait(timeout=10)
    assert not handle.is_running()
    handle.stop()
    assert _refused(handle.port)


def test_a_missing_binary_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DevnetError) as info:
        AnvilBackend(tmp_path / "no-such-anvil").start(None, tmp_path / "chain.log")
    assert "no-such-anvil" in info.value.message
