"""`hourglass executor run --config FILE` as a user runs it: a subprocess on anvil, driven over gRPC, stopped
with SIGTERM. The certificate built from its answer verifies on anvil."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from eth_abi import decode

from hourglass_cli.chain import certificates
from hourglass_cli.chain.structs import TaskStatus
from hourglass_cli.crypto import bn254
from hourglass_cli.executor.runtimes.base import check_health, wait_for_health
from hourglass_cli.executor.server import free_port
from hourglass_cli.wire.services import ExecutorStub
from tests.contracts.chains import anvil_binary, anvil_chain
from tests.executor.conftest import REPO, SQUARE, build_net, write_config

CLI = "from hourglass_cli.cli.executor import app; app(prog_name='hourglass executor')"


def test_executor_cli_on_anvil(tmp_path: Path) -> None:
    binary = anvil_binary()
    if binary is None:
        pytest.fail("anvil is not installed: `make test` installs it (npm @foundry-rs/anvil into ./node_modules)")
    chain = anvil_chain(binary)
    proc = None
    try:
        net = build_net("bn254", tmp_path, chain)
        port, performer_port = free_port(), free_port()
        path = write_config(net, tmp_path / "executor", {"runtime": "process", "command": SQUARE, "cwd": str(REPO),
                                                         "port": performer_port},
                            rpc_url=chain.w3.provider.endpoint_uri, port=port)
        log_path = tmp_path / "executor.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-c", CLI, "run", "--config", str(path)], cwd=REPO,
                                    stdout=log, stderr=subprocess.STDOUT)
        wait_for_health(f"127.0.0.1:{port}", 60, alive=lambda: proc.poll() is None)
        assert check_health(f"127.0.0.1:{performer_port}")

        task = net.create_task(21)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            result = ExecutorStub(channel).SubmitTask(net.submission(task), timeout=30)
        assert decode(["uint256"], result.output) == (441,)

        task_hash = bytes.fromhex(task.task_id[2:])
        message_hash = bytes(net.contracts.task_mailbox.functions.getMessageHash(task_hash, result.output).call())
        cert = certificates.bn254_certificate(task.reference_timestamp, message_hash,
                                              bn254.g1_from_bytes(result.result_signature),
                                              bn254.g2_to_solidity(bn254.g2_from_bytes(net.executor_signer.public_key)))
        chain.advance(1)
        net.accounts.aggregator.sender(chain.w3).transact(net.contracts.task_mailbox.functions.submitResult(
            task_hash, certificates.encode_bn254_certificate(cert), result.output), gas=3_000_000)
        status = net.contracts.task_mailbox.functions.getTaskStatus(task_hash).call()
        assert TaskStatus(status) == TaskStatus.VERIFIED

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not check_health(f"127.0.0.1:{performer_port}", timeout=0.5)  # the performer went with it
        text = log_path.read_text()
        assert "outcome=ok" in text and "executor stopped" in text
        assert "hourglass-devnet" not in text  # the keystore password is never logged
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        chain.close()
