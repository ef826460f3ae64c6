"""`hourglass devnet …` and `hourglass contracts deploy` as a user runs them: real processes, loopback only.

One detached devnet per backend (4 BN254 operators) is shared by the read-only checks; the last check of
each backend stops it and verifies no process and no port is left. The error cases each start from a
fresh project folder.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hourglass_cli.chain.connection import connect
from hourglass_cli.chain.structs import operator_set
from hourglass_cli.crypto import bn254
from hourglass_cli.crypto.keystore import load_keystore
from hourglass_cli.devnet.chains import get_backend
from hourglass_cli.devnet.chains._process import rpc_call
from hourglass_cli.devnet.deploy import CoreDeployment
from hourglass_cli.devnet.operators import DEVNET_KEYSTORE_PASSWORD
from hourglass_cli.devnet.state import DevnetState, devnet_dir
from tests.devnet._helpers import (
    NO_ANVIL_CLI, all_pids, all_ports, assert_nothing_left, failed, hourglass, ok, run, state_of, status_json,
    wait_for, wait_ready_state,
)

pytestmark = pytest.mark.slow

BACKENDS = ["anvil", "embedded"]
CONTRACTS = ("key_registrar", "operator_table_updater", "bn254_certificate_verifier", "ecdsa_certificate_verifier",
             "task_mailbox", "task_avs_registrar", "avs_task_hook", "workflow_state_machine")


@dataclass
class Running:
    backend: str
    project: Path
    state: DevnetState
    start_stdout: str


@pytest.fixture(scope="module", params=BACKENDS)
def devnet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """`hourglass devnet start --detach --chain BACKEND --operators 4` in a fresh project folder."""
    project = tmp_path_factory.mktemp(f"project-{request.param}")
    result = ok(run(project, "devnet", "start", "--detach", "--chain", request.param, "--operators", "4",
                    "--curve", "bn254"))
    yield Running(request.param, project, state_of(project), result.stdout)
    run(project, "devnet", "stop", timeout=60)


def test_start_reports_ready_with_the_addresses(devnet: Running) -> None:
    state = devnet.state
    assert state.status == "ready" and state.is_running()
    assert "devnet ready" in devnet.start_stdout
    assert state.deployment is not None and state.deployment["task_mailbox"] in devnet.start_stdout
    assert state.chains[0].backend == devnet.backend and state.chains[0].endpoint in devnet.start_stdout
    assert [c.name for c in state.components] == ["aggregator"] + [f"executor-{i}" for i in range(1, 5)]
    assert set(state.timings) >= {"chain_l1", "deploy_l1", "operators_l1", "executors", "total"}


def test_status_shows_every_component_healthy(devnet: Running) -> None:
    doc = status_json(devnet.project)
    assert doc["running"] and doc["healthy"] and doc["status"] == "ready"
    assert [c["name"] for c in doc["components"]] == ["chain", "aggregator"] + [f"executor-{i}" for i in range(1, 5)]
    assert all(c["healthy"] and c["status"] == "healthy" for c in doc["components"]), doc["components"]
    assert doc["components"][0]["block"] > 0
    table = ok(run(devnet.project, "devnet", "status", timeout=30)).stdout
    assert table.count("healthy") == 6 and "TaskMailbox" in table
    # Issue #12: every fresh devnet makes the same task hashes; the start time says which devnet this is.
    import time as _time

    started = _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(doc["started_at"]))
    assert f"started {started}" in " ".join(table.split()), table
    # per-operator performance (issue #13): every executor listed, from the aggregator's store
    names = {p["name"] for p in doc["operator_performance"]}
    assert {f"executor-{i}" for i in range(1, 5)} <= names, doc["operator_performance"]


def test_contracts_answer_at_the_recorded_addresses(devnet: Running) -> None:
    state = devnet.state
    w3 = connect(state.chains[0].endpoint)
    deployment = CoreDeployment.from_json(state.deployment or {})
    for name in CONTRACTS:
        assert len(w3.eth.get_code(getattr(deployment, name))) > 0, name
    c = deployment.bind(w3)
    assert c.task_avs_registrar.functions.avs().call() == deployment.avs
    assert c.operator_table_updater.functions.keyRegistrar().call() == deployment.key_registrar
    config = c.task_mailbox.functions.getExecutorOperatorSetTaskConfig(operator_set(deployment.avs, 1)).call()
    assert config[0] == deployment.workflow_state_machine and config[1] == 120  # hook (push), default SLA


def test_the_smart_wallet_contracts_are_in_the_state(devnet: Running) -> None:
    """state.json names the EntryPoint, the wallet factory, the paymaster and the controller (funded); an operation
    the controller signs and its paymaster pays for deploys a wallet through them."""
    from hourglass_cli.api import wallets
    from hourglass_cli.api.bundler import Bundler
    from hourglass_cli.chain.sender import TxSender
    from hourglass_cli.devnet.accounts import CONTROLLER_INDEX, derive_account

    doc = devnet.state.deployment or {}
    controller = derive_account(CONTROLLER_INDEX)
    assert doc["wallet_controller"] == controller.address
    assert doc["entry_point"] in devnet.start_stdout and doc["wallet_factory"] in devnet.start_stdout
    w3 = connect(devnet.state.chains[0].endpoint)
    c = CoreDeployment.from_json(doc).bind(w3)
    assert c.entry_point is not None and c.wallet_factory is not None
    for key in ("entry_point", "wallet_factory", "wallet_paymaster"):
        assert len(w3.eth.get_code(doc[key])) > 0, key
    assert c.wallet_factory.functions.entryPoint().call() == doc["entry_point"]
    assert c.wallet_factory.functions.controller().call() == controller.address
    assert w3.eth.get_balance(controller.address) >= 10**19
    bundler = Bundler(w3, doc["entry_point"], TxSender(w3, controller.private_key))
    owner = derive_account(2).address  # the app's account: any address can own a wallet
    op = bundler.prepare_wallet(doc["wallet_factory"], owner, 99, b"")
    op = bundler.sponsor(op, doc["wallet_paymaster"], controller.private_key)  # the devnet's paymaster pays
    result = bundler.submit(bundler.sign(op, controller.private_key))
    assert result.success and result.deployed and bundler.deposit_of(result.sender) == 0
    assert result.sender == wallets.wallet_address(w3, doc["wallet_factory"], owner, 99)


def test_operators_registered_with_their_keystore_keys_and_sockets(devnet: Running) -> None:
    state = devnet.state
    w3 = connect(state.chains[0].endpoint)
    deployment = CoreDeployment.from_json(state.deployment or {})
    c = deployment.bind(w3)
    operators = (state.operators or {})["operators"]
    assert [op["name"] for op in operators] == ["aggregator"] + [f"executor-{i}" for i in range(1, 5)]
    endpoints = {r.name: r.endpoint for r in state.components}
    for op in operators:
        opset = operator_set(deployment.avs, op["operator_set_id"])
        key = load_keystore(op["keystore"], DEVNET_KEYSTORE_PASSWORD).bn254_private_key()
        g1, g2 = c.key_registrar.functions.getBN254Key(opset, op["address"]).call()
        assert tuple(g1) == key.public_g1()
        x0, x1, y0, y1 = bn254.g2_to_solidity(key.public_g2())
        assert [list(g2[0]), list(g2[1])] == [[x0, x1], [y0, y1]]
        socket_on_chain = c.task_avs_registrar.functions.getOperatorSocket(op["address"]).call()
        assert socket_on_chain == op["socket"]
        if op["role"] == "executor":  # the executor listens exactly where the chain says it does
            assert endpoints[op["name"]] == socket_on_chain
    executors = [op["address"] for op in operators if op["role"] == "executor"]
    assert c.task_avs_registrar.functions.getRegisteredOperators(1).call() == executors


def test_a_task_created_on_the_mailbox_is_verified(devnet: Running) -> None:
    """The whole task path on the devnet: createTask → aggregator → 4 executors → performers → certificate →
    TaskVerified on chain, with the square performer's result."""
    from eth_abi import decode, encode

    from hourglass_cli.chain import avs as calls
    from hourglass_cli.devnet.accounts import derive_account

    state = devnet.state
    deployment = CoreDeployment.from_json(state.deployment or {})
    w3 = connect(state.chains[0].endpoint)
    mailbox = deployment.bind(w3).task_mailbox
    task_hash, _ = calls.create_task(derive_account(2).sender(w3), mailbox, deployment.avs, 1,
                                     encode(["uint256"], [12345]), gas=3_000_000)
    wait_for(lambda: mailbox.functions.getTaskStatus(task_hash).call() == 2, 60, "TaskVerified")  # VERIFIED
    assert decode(["uint256"], mailbox.functions.getTaskResult(task_hash).call()) == (12345**2,)


def test_logs_list_show_and_prefix(devnet: Running) -> None:
    listing = ok(run(devnet.project, "devnet", "logs", timeout=30)).stdout
    for name in ("chain", "supervisor", "aggregator", "executor-1", "executor-1.performer", "executor-4.performer"):
        assert f"{name} " in listing, listing
    shown = ok(run(devnet.project, "devnet", "logs", "executor-2", timeout=30)).stdout
    assert "executor listening" in shown and str(devnet.state.record("executor-2").port) in shown
    assert "performer listening" in ok(run(devnet.project, "devnet", "logs", "executor-2.perf", timeout=30)).stdout
    assert "devnet ready" in ok(run(devnet.project, "devnet", "logs", "supervisor", "-n", "1", timeout=30)).stdout
    error = failed(run(devnet.project, "devnet", "logs", "executor", timeout=30), code=2)
    assert "matches several logs" in error


def test_second_start_is_refused_and_the_running_devnet_untouched(devnet: Running) -> None:
    for args in (["--detach"], []):
        error = failed(run(devnet.project, "devnet", "start", "--chain", devnet.backend, *args))
        assert f"a devnet is already running in {devnet.project} (pid {devnet.state.supervisor_pid}, since" in error
        assert "hourglass devnet stop" in error
    after = state_of(devnet.project)
    assert after.supervisor_pid == devnet.state.supervisor_pid and after.status == "ready"
    assert status_json(devnet.project)["healthy"]


def test_stop_leaves_no_process_and_no_open_port(devnet: Running) -> None:
    state = state_of(devnet.project)
    pids, ports = all_pids(state), all_ports(state)
    assert len([r for r in state.components if r.children]) == 4  # every executor's performer is recorded
    follower = subprocess.Popen(hourglass("devnet", "logs", "-f", "-n", "1"), cwd=devnet.project,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "devnet stopped" in ok(run(devnet.project, "devnet", "stop", timeout=60)).stdout
        followed, _ = follower.communicate(timeout=30)  # `logs -f` ends by itself when the supervisor does
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert follower.returncode == 0, followed
    assert "supervisor | " in followed and "devnet stopped" in followed and "executor-3 | " in followed
    assert "aggregator | " in followed
    assert_nothing_left(pids, ports)
    # Issue #12: a second stop said "devnet stopped" though nothing ran.
    again = ok(run(devnet.project, "devnet", "stop", timeout=60)).stdout
    assert "the devnet was not running" in again and "devnet stopped" not in again
    assert state_of(devnet.project).status == "stopped"
    result = run(devnet.project, "devnet", "status", timeout=30)
    assert result.returncode == 1 and "no devnet is running" in result.stdout
    ok(run(devnet.project, "devnet", "stop", timeout=30))  # stopping a stopped devnet is fine


# ------------------------------------------------------------------ errors: each a clear message, nothing started


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_port_in_use_is_named_and_nothing_starts(backend: str, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for args in (["--detach"], []):
            error = failed(run(tmp_path, "devnet", "start", "--chain", backend, "--port", str(port), *args))
            assert f"port {port} on 127.0.0.1 is already in use" in error and "--port" in error
    assert not (devnet_dir(tmp_path) / "state.json").exists()
    assert status_json(tmp_path) == {"running": False, "project_dir": str(tmp_path), "state": None}


def test_a_missing_anvil_is_a_clear_error(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    env = {"PATH": str(tmp_path / "bin"), "HOURGLASS_TOOLS_DIR": str(tmp_path / "tools")}
    for args in (["--detach"], []):
        error = failed(run(project, "devnet", "start", "--chain", "anvil", *args, env=env, code=NO_ANVIL_CLI))
        assert "error: anvil not found" in error
        assert "hourglass devnet install anvil" in error and "--chain embedded" in error
    assert not (devnet_dir(project) / "state.json").exists()


@pytest.mark.parametrize("content, reason", [
    ('{"version": 1, "supervisor_pid": ', "not valid JSON"),
    ('{"version": 1, "project_dir": "/x", "supervisor_pid": "12"}', "supervisor_pid must be a positive integer"),
    ('{"version": 1, "project_dir": "/x", "supervisor_pid": 12, "deployment": {"chain_id": 1}}', "lacks"),
    ('[1, 2]', "not a JSON object"),
    ('{"version": 99, "project_dir": "/x", "supervisor_pid": 12}', "another hourglass version"),
])
def test_a_corrupt_state_file_is_a_clear_error(tmp_path: Path, content: str, reason: str) -> None:
    folder = devnet_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "state.json").write_text(content)
    for args in (["start", "--detach", "--chain", "embedded"], ["status"], ["stop"]):
        error = failed(run(tmp_path, "devnet", *args, timeout=30))
        assert f"{folder / 'state.json'}" in error and reason in error, error
        assert "hourglass devnet reset" in error
    assert ok(run(tmp_path, "devnet", "reset", timeout=30))
    assert not folder.exists()


# ------------------------------------------------------------------ foreground, chain, install, contracts deploy


@pytest.mark.parametrize("backend", BACKENDS)
def test_foreground_start_stops_cleanly_on_ctrl_c(backend: str, tmp_path: Path) -> None:
    proc = subprocess.Popen(hourglass("devnet", "start", "--chain", backend, "--operators", "1"), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})
    try:
        state = wait_ready_state(tmp_path, proc)
        assert state.supervisor_pid == proc.pid
        pids, ports = all_pids(state), all_ports(state)
        doc = status_json(tmp_path)
        assert doc["healthy"], doc["components"]
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "devnet ready" in out and "Ctrl-C stops everything" in out and out.rstrip().endswith("devnet stopped")
    assert_nothing_left(pids, ports)
    assert state_of(tmp_path).status == "stopped"


def test_devnet_chain_serves_the_embedded_chain_until_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(hourglass("devnet", "chain", "--port", "0"), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "listening on http://127.0.0.1:" in line, line
        url = line.strip().rsplit(" ", 1)[-1]
        assert int(str(rpc_call(url, "eth_chainId")), 16) == 31337
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_devnet_chain_on_a_taken_port_is_an_error_with_a_hint(tmp_path: Path) -> None:
    """Issue #12: it printed a bare 'cannot listen … Address already in use'."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(tmp_path, "devnet", "chain", "--port", str(port), timeout=60)
    assert result.returncode == 1, result
    assert f"error: port {port} on 127.0.0.1 is already in use" in result.stderr, result.stderr
    assert "hint: stop whatever listens there, choose another --port" in result.stderr, result.stderr


def test_install_names_the_tools_it_knows(tmp_path: Path) -> None:
    result = run(tmp_path, "devnet", "install", "forge", timeout=30)
    assert result.returncode == 2 and "unknown tool 'forge'" in result.stderr and "anvil" in result.stderr


def test_contracts_deploy_to_a_chain_someone_else_runs(tmp_path: Path) -> None:
    chain = get_backend("anvil").start(log_path=tmp_path / "anvil.log")
    try:
        result = ok(run(tmp_path, "contracts", "deploy", "--rpc", chain.rpc_url, "--operators", "2", "--curve",
                        "ecdsa", "--keys-dir", str(tmp_path / "keys"), "--json", timeout=60))
        doc = json.loads(result.stdout)
        deployment = CoreDeployment.from_json(doc["deployment"])
        assert doc["rpc_url"] == chain.rpc_url and deployment.curve == "ecdsa"
        w3 = connect(chain.rpc_url)
        for name in CONTRACTS:
            assert len(w3.eth.get_code(getattr(deployment, name))) > 0, name
        c = deployment.bind(w3)
        ops = doc["operators"]["operators"]
        assert [op["socket"] for op in ops] == ["127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:9002"]
        for op in ops:
            opset = operator_set(deployment.avs, op["operator_set_id"])
            assert c.key_registrar.functions.getECDSAAddress(opset, op["address"]).call() == op["ecdsa_signer"]
            assert Path(op["keystore"]).parent == tmp_path / "keys"
        table = ok(run(tmp_path, "contracts", "deploy", "--rpc", chain.rpc_url, "--operators", "1",
                       "--keys-dir", str(tmp_path / "keys2"), timeout=60)).stdout
        assert "TaskMailbox" in table and "executor-1" in table
    finally:
        chain.stop()


def test_devnet_commands_without_a_devnet(tmp_path: Path) -> None:
    result = run(tmp_path, "devnet", "status", timeout=30)
    assert result.returncode == 1 and "no devnet is running" in result.stdout
    assert "no devnet here" in ok(run(tmp_path, "devnet", "stop", timeout=30)).stdout
    assert "no devnet logs" in ok(run(tmp_path, "devnet", "logs", timeout=30)).stdout
