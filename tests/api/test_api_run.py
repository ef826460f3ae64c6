"""`hourglass api run` as a process: serves on its port, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import grpc
from eth_account import Account

from hourglass_cli.api.server import ApiClient
from hourglass_cli.ports import free_port
from hourglass_cli.wire.gen import avs_pb2 as pb
from tests.devnet._helpers import wait_for


def test_api_run_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "api.toml").write_text(f"[api]\nport = {port}\nchain_id = 31337\n")
    proc = subprocess.Popen([sys.executable, "-m", "hourglass_cli", "api", "run", "--config",
                             str(tmp_path / "api.toml")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client = ApiClient(f"127.0.0.1:{port}", timeout=5)
    try:
        def answers() -> bool:
            try:
                return "Nonce:" in client.call("GetSignatureFormat", pb.GetSignatureFormatReq(
                    wallet=Account.create().address)).message
            except grpc.RpcError:
                return proc.poll() is not None  # stop waiting if it died
        wait_for(answers, 60, "the API to answer")
        assert proc.poll() is None, proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "client API got signal=SIGTERM" in err
        assert (tmp_path / "api-jwt.secret").stat().st_mode & 0o077 == 0  # the secret made 0600
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()


def test_an_external_bundler_is_refused_clearly(tmp_path: Path) -> None:
    from tests.devnet._helpers import failed, run

    (tmp_path / "api.toml").write_text('[api]\nport = 0\nchain_id = 31337\nrpc_url = "http://127.0.0.1:1"\n'
                                       'bundler_url = "http://127.0.0.1:2"\n')
    error = failed(run(tmp_path, "api", "run", "--config", str(tmp_path / "api.toml")))
    assert "[api].bundler_url: an external bundler is not supported yet" in error
