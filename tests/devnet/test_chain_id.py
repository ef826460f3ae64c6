"""`hourglass devnet start --chain-id N`: Sepolia's id (what the AvaProtocol SDK assumes) end to end, on each backend.

One detached devnet per backend (1 operator) serves every check of that backend: eth_chainId, state.json, `devnet
status`, a task submitted with `hourglass task submit` and verified, every transaction signed for the id. The
usage errors start nothing.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hourglass_cli.chain.connection import connect
from hourglass_cli.devnet.chains._process import rpc_call
from hourglass_cli.devnet.state import DevnetState, devnet_dir
from tests.devnet._helpers import failed, hourglass, ok, run, state_of, status_json

pytestmark = pytest.mark.slow

SEPOLIA = 11155111


@dataclass
class Running:
    backend: str
    project: Path
    state: DevnetState
    start_stdout: str


@pytest.fixture(scope="module", params=["embedded", "anvil"])
def devnet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    project = tmp_path_factory.mktemp(f"chain-id-{request.param}")
    result = ok(run(project, "devnet", "start", "--detach", "--chain", request.param, "--operators", "1",
                    "--chain-id", str(SEPOLIA)))
    try:
        yield Running(request.param, project, state_of(project), result.stdout)
    finally:
        run(project, "devnet", "stop", timeout=60)


def test_the_chain_answers_the_id_and_the_devnet_records_it(devnet: Running) -> None:
    chain = devnet.state.chain("l1")
    assert chain is not None and chain.backend == devnet.backend
    assert int(str(rpc_call(chain.endpoint, "eth_chainId")), 16) == SEPOLIA
    assert rpc_call(chain.endpoint, "net_version") == str(SEPOLIA)
    assert chain.chain_id == SEPOLIA and (devnet.state.deployment or {})["chain_id"] == SEPOLIA
    assert devnet.state.options["chain_id"] == SEPOLIA
    assert f"chain id {SEPOLIA}" in " ".join(devnet.start_stdout.split())
    doc = status_json(devnet.project)
    assert doc["healthy"] and doc["chain_id"] == SEPOLIA
    assert doc["components"][0]["name"] == "chain" and doc["components"][0]["chain_id"] == SEPOLIA
    table = " ".join(ok(run(devnet.project, "devnet", "status", timeout=30)).stdout.split())
    assert f"chain chain id {SEPOLIA}" in table, table


def test_a_task_submitted_is_verified_with_every_transaction_signed_for_the_id(devnet: Running) -> None:
    done = json.loads(ok(run(devnet.project, "task", "submit", "--signature", "(uint256)", "--args", "(7)",
                             "--result-abi", "(uint256)", "--json", timeout=120)).stdout)
    assert done["status"] == "VERIFIED" and done["decoded"] == [49], done
    chain = devnet.state.chain("l1")
    assert chain is not None
    w3 = connect(chain.endpoint)
    created = done["aggregator"]["block"]
    sent = [tx for n in range(created, w3.eth.block_number + 1)
            for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]]
    mailbox = (devnet.state.deployment or {})["task_mailbox"]
    assert len([tx for tx in sent if tx["to"] == mailbox]) >= 2  # createTask and the aggregator's submitResult
    assert {tx["chainId"] for tx in sent} == {SEPOLIA}


# ------------------------------------------------------------------ usage errors: nothing starts


@pytest.mark.parametrize("value", ["0", "abc", str(2**53)])
def test_a_bad_chain_id_is_a_usage_error_naming_the_option(value: str, tmp_path: Path) -> None:
    error = failed(run(tmp_path, "devnet", "start", "--detach", "--chain", "embedded", "--chain-id", value,
                       timeout=30), code=2)
    assert f"--chain-id must be a whole number from 1 to 9007199254740991 (2^53 - 1), got '{value}'" in error
    assert "11155111" in error  # the hint's example
    assert not (devnet_dir(tmp_path) / "state.json").exists()
    error = failed(run(tmp_path, "devnet", "chain", "--port", "0", "--chain-id", value, timeout=30), code=2)
    assert "--chain-id must be a whole number" in error


def test_a_bad_chain_id_in_hourglass_toml_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "hourglass.toml").write_text("[devnet]\nchain_id = 0\n")
    error = failed(run(tmp_path, "devnet", "start", "--detach", "--chain", "embedded", timeout=30))
    assert "[devnet].chain_id must be from 1 to 9007199254740991, got 0" in error
    assert not (devnet_dir(tmp_path) / "state.json").exists()


def test_devnet_chain_serves_the_chain_id_given(tmp_path: Path) -> None:
    proc = subprocess.Popen(hourglass("devnet", "chain", "--port", "0", "--chain-id", str(SEPOLIA)), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "listening on http://127.0.0.1:" in line, line
        url = line.strip().rsplit(" ", 1)[-1]
        assert int(str(rpc_call(url, "eth_chainId")), 16) == SEPOLIA
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
