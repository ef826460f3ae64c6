"""A real on-chain stack (eth-tester) per curve, executors serving real gRPC on 127.0.0.1, an aggregator client.

One devnet per curve (aggregator + one executor holding 100 % of the executor set's weight), deployed with
``hourglass_cli.devnet.deploy``/``operators``, built once per session and shared; every test creates its own
tasks. The main executor runs the real example performer (``examples/square.py``) as a process; a second
one (same operator) reaches an in-process performer with on-demand misbehaviour through the remote runtime.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from eth_abi import encode

from hourglass_cli.chain import avs as calls
from hourglass_cli.chain.events import decode_logs
from hourglass_cli.devnet.accounts import DevnetAccounts, devnet_accounts
from hourglass_cli.devnet.deploy import CoreContracts, CoreDeployment, deploy_core
from hourglass_cli.devnet.operators import (
    DEVNET_KEYSTORE_PASSWORD,
    DevnetOperators,
    operator_bn254_key,
    operator_ecdsa_key,
    setup_operators,
)
from hourglass_cli.executor.config import load_executor_config
from hourglass_cli.executor.server import Executor
from hourglass_cli.wire import messages
from hourglass_cli.wire.services import ExecutorStub, executor_pb2
from hourglass_cli.wire.signing import Bn254Signer, EcdsaSigner, Signer
from tests.contracts.chains import Chain, eth_tester_chain
from tests.executor.performers import MisbehavingPerformer

REPO = Path(__file__).resolve().parents[2]
SEED = b"executor-tests"
SQUARE = [sys.executable, "-m", "hourglass_cli.performer", "hourglass_cli.performer.examples.square:SquarePerformer"]
RPC_DEADLINE = 20.0


@dataclass
class Task:
    """A task created on the mailbox."""

    task_id: str
    payload: bytes
    block: int
    reference_timestamp: int


@dataclass
class Net:
    """One devnet: chain, contracts, operators, the aggregator's key and the executor's."""

    curve: str
    chain: Chain
    accounts: DevnetAccounts
    core: CoreDeployment
    ops: DevnetOperators
    contracts: CoreContracts
    root: Path
    aggregator_signer: Signer
    executor_signer: Signer
    executors: dict[str, Any] = field(default_factory=dict)

    @property
    def executor_address(self) -> str:
        return self.ops.executors[0].address

    @property
    def aggregator_address(self) -> str:
        return self.ops.aggregator.address

    def create_task(self, payload: bytes | int = 5) -> Task:
        """createTask as the app; the task's block and table reference timestamp from the receipt."""
        data = encode(["uint256"], [payload]) if isinstance(payload, int) else payload
        task_hash, receipt = calls.create_task(self.accounts.app.sender(self.chain.w3), self.contracts.task_mailbox,
                                               self.core.avs, self.core.executor_operator_set_id, data,
                                               gas=3_000_000)
        (event,) = decode_logs(self.contracts.task_mailbox, receipt, "TaskCreated")
        return Task("0x" + task_hash.hex(), data, int(receipt["blockNumber"]),
                    int(event["operatorTableReferenceTimestamp"]))

    def submission(self, task: Task, *, signer: Signer | None = None, sign_for: str | None = None,
                   **fields: Any) -> Any:
        """A TaskSubmission signed per WIRE.md §2a by the aggregator (or ``signer``) for ``sign_for``."""
        values: dict[str, Any] = dict(
            task_id=task.task_id, aggregator_address=self.aggregator_address, avs_address=self.core.avs,
            payload=task.payload, operator_set_id=self.core.executor_operator_set_id,
            reference_timestamp=task.reference_timestamp, executor_address=self.executor_address,
            task_block_number=task.block, version=1,
        )
        values.update(fields)
        if "signature" not in fields:
            message = messages.aggregator_task_message(
                values["task_id"], values["avs_address"], sign_for or values["executor_address"],
                values["operator_set_id"], values["reference_timestamp"], values["task_block_number"],
                values["payload"])
            values["signature"] = (signer or self.aggregator_signer).sign_offchain(message)
        return executor_pb2.TaskSubmission(**values)


def _toml(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)  # strings and lists of strings are valid TOML in JSON form


def write_config(net: Net, folder: Path, performer: dict[str, Any], *, operator: str | None = None,
                 keystore: str | None = None, rpc_url: str = "http://127.0.0.1:1", **executor: Any) -> Path:
    """An executor config file for ``net`` (keys from the devnet's keystores, password from a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "password.txt").write_text(DEVNET_KEYSTORE_PASSWORD + "\n")
    c = net.core
    sections = {
        "executor": {"operator_address": operator or net.executor_address, "avs_address": c.avs, "port": 0,
                     "store": "executor.db", **executor},
        "keys": {f"{net.curve}_keystore": keystore or net.ops.executors[0].keystore,
                 "password_file": "password.txt"},
        # eth-tester has no URL: in-process executors are handed its Web3 (the URL only reaches the performer).
        "chain": {"rpc_url": rpc_url},
        "contracts": {"key_registrar": c.key_registrar, "task_avs_registrar": c.task_avs_registrar,
                      "task_mailbox": c.task_mailbox, "bn254_certificate_verifier": c.bn254_certificate_verifier,
                      "ecdsa_certificate_verifier": c.ecdsa_certificate_verifier},
        "performer": performer,
    }
    text = "".join(f"[{name}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in body.items()) + "\n"
                   for name, body in sections.items())
    path = folder / "executor.toml"
    path.write_text(text)
    return path


@dataclass
class RunningExecutor:
    """An executor serving on 127.0.0.1 and a client channel to it."""

    executor: Executor
    channel: grpc.Channel
    stub: ExecutorStub
    performer: Any = None

    def submit(self, submission: Any, timeout: float = RPC_DEADLINE) -> Any:
        return self.stub.SubmitTask(submission, timeout=timeout)

    def close(self) -> None:
        self.channel.close()
        self.executor.stop(grace=0)


def start_executor(net: Net, config_path: Path, runtime: Any = None) -> RunningExecutor:
    executor = Executor(load_executor_config(config_path), w3=net.chain.w3, runtime=runtime)
    executor.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{executor.port}")
    return RunningExecutor(executor, channel, ExecutorStub(channel))


def build_net(curve: str, root: Path, chain: Chain | None = None) -> Net:
    """Deploy the stack on ``chain`` (default: a new eth-tester) with one aggregator and one executor."""
    chain = chain or eth_tester_chain()
    accounts = devnet_accounts(1)
    core = deploy_core(chain.w3, accounts, curve=curve)
    ops = setup_operators(chain.w3, core, accounts, root / "keys", seed=SEED)
    if curve == "bn254":
        aggregator: Signer = Bn254Signer(operator_bn254_key(SEED, 0))
        executor: Signer = Bn254Signer(operator_bn254_key(SEED, 1))
    else:
        aggregator = EcdsaSigner(operator_ecdsa_key(SEED, 0))
        executor = EcdsaSigner(operator_ecdsa_key(SEED, 1), verifier_address=core.ecdsa_certificate_verifier)
    return Net(curve, chain, accounts, core, ops, core.bind(chain.w3), root, aggregator, executor)


class Nets:
    """Devnets and their executors, built on first use and shared by the session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nets: dict[str, Net] = {}

    def net(self, curve: str) -> Net:
        if curve not in self.nets:
            self.nets[curve] = build_net(curve, self.root / curve)
        return self.nets[curve]

    def square(self, curve: str) -> RunningExecutor:
        """The main executor: process runtime running the real square example."""
        net = self.net(curve)
        if "square" not in net.executors:
            path = write_config(net, net.root / "square", {"runtime": "process", "command": SQUARE,
                                                           "cwd": str(REPO), "startup_timeout": 30.0})
            net.executors["square"] = start_executor(net, path)
        return net.executors["square"]

    def misbehaving(self, curve: str) -> RunningExecutor:
        """Same operator, remote runtime to an in-process MisbehavingPerformer; task_timeout 1 s, block_wait 0.5 s."""
        from hourglass_cli.performer.server import PerformerServer

        net = self.net(curve)
        if "misbehaving" not in net.executors:
            performer = MisbehavingPerformer()
            server = PerformerServer(performer, port=0)
            port = server.start()
            path = write_config(net, net.root / "misbehaving", {"runtime": "remote", "address": f"127.0.0.1:{port}"},
                                task_timeout=1.0, block_wait=0.5)
            running = start_executor(net, path)
            running.performer = (performer, server)
            net.executors["misbehaving"] = running
        return net.executors["misbehaving"]

    def close(self) -> None:
        for net in self.nets.values():
            for running in net.executors.values():
                running.close()
                if running.performer is not None:
                    running.performer[0].release.set()
                    running.performer[1].stop(grace=0)
            net.chain.close()


@pytest.fixture(scope="session")
def nets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nets]:
    built = Nets(tmp_path_factory.mktemp("executor-nets"))
    yield built
    built.close()


@pytest.fixture(params=["bn254", "ecdsa"])
def curve(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def net(nets: Nets, curve: str) -> Net:
    return nets.net(curve)


@pytest.fixture
def square(nets: Nets, curve: str) -> RunningExecutor:
    return nets.square(curve)


@pytest.fixture
def bn254_net(nets: Nets) -> Net:
    return nets.net("bn254")


@pytest.fixture
def bn254_square(nets: Nets) -> RunningExecutor:
    return nets.square("bn254")


@pytest.fixture
def bn254_misbehaving(nets: Nets) -> RunningExecutor:
    return nets.misbehaving("bn254")
