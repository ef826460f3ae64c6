"""A real devnet for aggregator tests: a chain backend process (anvil or the embedded chain), the contracts, an
aggregator operator and four executor operators registered with real keys and sockets, four real in-process
executors (the square example performer served over gRPC), and config files for the aggregator.

Any executor can be stopped, or replaced by a misbehaving one (a different result, or a bad result signature)
on the same socket, so every fault is a real executor answering over real gRPC.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_utils import to_checksum_address

from hourglass_cli.chain import avs as calls
from hourglass_cli.chain.connection import make_web3
from hourglass_cli.chain.events import decode_logs
from hourglass_cli.chain.structs import TaskStatus
from hourglass_cli.devnet.accounts import devnet_accounts
from hourglass_cli.devnet.chains import get_backend
from hourglass_cli.devnet.deploy import deploy_core
from hourglass_cli.devnet.operators import DEVNET_KEYSTORE_PASSWORD, setup_operators
from hourglass_cli.executor.config import load_executor_config
from hourglass_cli.executor.server import Executor, free_port
from hourglass_cli.performer import TaskRequest
from hourglass_cli.performer.examples.square import SquarePerformer
from hourglass_cli.performer.server import PerformerServer

SEED = b"aggregator-tests"
EXECUTORS = 4


class OffByOnePerformer(SquarePerformer):
    """The square example, plus one: an executor whose answer differs from the others'."""

    def handle_task(self, request: TaskRequest) -> bytes:
        (value,) = __import__("eth_abi").decode(["uint256"], super().handle_task(request))
        return encode(["uint256"], [value + 1])


class PhasePerformer(SquarePerformer):
    """The square example, and workflow phases: answers a phase's task with "<name>#<update>"."""

    def handle_phase(self, request: Any) -> bytes:
        return f"{request.phase_name}#{request.update}".encode()


class BigResultPerformer(SquarePerformer):
    """Answers a number n ≥ 1000 with n bytes (0x07 each); smaller numbers with their square."""

    def handle_task(self, request: TaskRequest) -> bytes:
        (number,) = __import__("eth_abi").decode(["uint256"], request.payload)
        return b"\x07" * number if number >= 1000 else super().handle_task(request)


class BadResultSigner:
    """Wraps an executor's real signer: same public key and auth signature, result signature over another output."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.curve = inner.curve

    @property
    def public_key(self) -> bytes:
        return self.inner.public_key

    def sign_offchain(self, message: bytes) -> bytes:
        return self.inner.sign_offchain(message)

    def sign_result(self, task_id: Any, output: bytes, reference_timestamp: int) -> bytes:
        return self.inner.sign_result(task_id, output + b"\x01", reference_timestamp)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)


def write_toml(path: Path, sections: dict[str, Any]) -> Path:
    """Write `sections` as TOML (a list of tables becomes [[name]] blocks)."""
    lines = []
    for name, body in sections.items():
        for table in (body if isinstance(body, list) else [body]):
            lines.append(f"[[{name}]]" if isinstance(body, list) else f"[{name}]")
            lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
            lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path


@dataclass
class Devnet:
    """One chain with the stack deployed and four executors serving."""

    backend: str
    curve: str
    root: Path
    handle: Any
    w3: Any
    accounts: Any
    core: Any
    ops: Any
    contracts: Any
    ports: list[int]
    performers: dict[str, Any] = field(default_factory=dict)
    executors: dict[int, Executor] = field(default_factory=dict)

    @property
    def rpc_url(self) -> str:
        return self.handle.rpc_url

    # -- executors --

    def performer_port(self, kind: str = "square") -> int:
        if kind not in self.performers:
            performer = {"square": SquarePerformer, "off-by-one": OffByOnePerformer, "big": BigResultPerformer,
                         "phase": PhasePerformer}[kind]
            server = PerformerServer(performer(), port=0)
            server.start()
            self.performers[kind] = server
        return int(self.performers[kind].port)

    def executor_config(self, i: int, kind: str = "honest", performer: dict[str, Any] | None = None) -> Path:
        """The config file of operator i's executor (1-based); `performer` defaults to the shared in-process one."""
        op = self.ops.executors[i - 1]
        folder = self.root / f"executor-{i}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "password.txt").write_text(DEVNET_KEYSTORE_PASSWORD + "\n")
        c = self.core
        if performer is None:
            port = self.performer_port({"wrong_result": "off-by-one", "big_result": "big",
                                        "phases": "phase"}.get(kind, "square"))
            performer = {"runtime": "remote", "address": f"127.0.0.1:{port}"}
        return write_toml(folder / "executor.toml", {
            "executor": {"operator_address": op.address, "avs_address": c.avs, "port": self.ports[i],
                         "store": f"executor-{kind}.db", "workers": 16},
            "keys": {f"{self.curve}_keystore": op.keystore, "password_file": "password.txt"},
            "chain": {"rpc_url": self.rpc_url, "cache_seconds": 300.0},
            "contracts": {"key_registrar": c.key_registrar, "task_avs_registrar": c.task_avs_registrar,
                          "task_mailbox": c.task_mailbox, "bn254_certificate_verifier": c.bn254_certificate_verifier,
                          "ecdsa_certificate_verifier": c.ecdsa_certificate_verifier},
            "performer": performer,
        })

    def start_executor(self, i: int, kind: str = "honest") -> Executor:
        """(Re)start the executor of operator i (1-based) on its socket: honest, wrong_result, bad_signature or
        big_result (answers n ≥ 1000 with n bytes and signs results of any size, as an executor that does not
        know the chain's block gas limit would)."""
        self.stop_executor(i)
        path = self.executor_config(i, kind)
        executor = Executor(load_executor_config(path), w3=self.w3)
        executor.start()
        if kind == "bad_signature":
            service = executor.service
            service.signers = {curve: BadResultSigner(s) for curve, s in service.signers.items()}
        if kind == "big_result":
            executor.service._check_fits = lambda output: None
        self.executors[i] = executor
        return executor

    def stop_executor(self, i: int) -> None:
        executor = self.executors.pop(i, None)
        if executor is not None:
            executor.stop(grace=0)

    # -- aggregator config --

    def aggregator_config(self, folder: Path, chain: dict[str, Any] | None = None, **aggregator: Any) -> Path:
        """An aggregator config for this devnet (keys from keystores, password from a file)."""
        from hourglass_cli.crypto.keystore import LIGHT_SCRYPT, save_ecdsa_keystore

        folder.mkdir(parents=True, exist_ok=True)
        (folder / "password.txt").write_text(DEVNET_KEYSTORE_PASSWORD + "\n")
        tx_keystore = folder / "aggregator-tx.keystore.json"
        if not tx_keystore.exists():
            save_ecdsa_keystore(tx_keystore, self.accounts.aggregator.private_key, DEVNET_KEYSTORE_PASSWORD,
                                kdf=LIGHT_SCRYPT)
        return write_toml(folder / "aggregator.toml", {
            "aggregator": {"operator_address": self.ops.aggregator.address, "avs_address": self.core.avs,
                           "metrics_port": 0, "store": "aggregator.db", "retry_interval": 0.2, **aggregator},
            "keys": {f"{self.curve}_keystore": self.ops.aggregator.keystore, "tx_keystore": tx_keystore.name,
                     "password_file": "password.txt"},
            "l1": {"rpc_url": self.rpc_url, "task_avs_registrar": self.core.task_avs_registrar},
            "chains": [{"name": "l1", "rpc_url": self.rpc_url, "task_mailbox": self.core.task_mailbox,
                        "start_block": self.core.deployed_at_block, "confirmations": 0, "poll_interval": 0.02,
                        **(chain or {})}],
        })

    # -- tasks --

    def create_task(self, number: int) -> tuple[str, int]:
        """createTask(uint256 number) as the app; (task hash, block number)."""
        task_hash, receipt = calls.create_task(self.accounts.app.sender(self.w3), self.contracts.task_mailbox,
                                               self.core.avs, self.core.executor_operator_set_id,
                                               encode(["uint256"], [number]), gas=1_000_000)
        return "0x" + task_hash.hex(), int(receipt["blockNumber"])

    def status(self, task_hash: str) -> TaskStatus:
        return TaskStatus(int(self.contracts.task_mailbox.functions.getTaskStatus(bytes.fromhex(task_hash[2:])).call()))

    def verified_events(self, task_hash: str) -> list[Any]:
        """Every TaskVerified log of `task_hash` on the chain."""
        mailbox = self.contracts.task_mailbox
        logs = self.w3.eth.get_logs({"address": mailbox.address, "fromBlock": 0, "toBlock": "latest",
                                     "topics": [None, None, task_hash]})
        return [e for e in decode_logs(mailbox, {"logs": logs}, "TaskVerified")]

    def wait_verified(self, task_hash: str, timeout: float = 30.0) -> Any:
        """The TaskVerified event of `task_hash`, once it is on chain."""
        end = time.monotonic() + timeout
        delay = 0.01
        while time.monotonic() < end:
            if self.status(task_hash) == TaskStatus.VERIFIED:
                (event,) = self.verified_events(task_hash)
                return event
            time.sleep(delay)  # polling a condition with a deadline
            delay = min(delay * 2, 0.1)
        raise AssertionError(f"task {task_hash} was not verified within {timeout} s (status "
                             f"{self.status(task_hash).name})")

    def close(self) -> None:
        for i in list(self.executors):
            self.stop_executor(i)
        for server in self.performers.values():
            server.stop(grace=0)
        self.handle.stop()


def build_devnet(backend: str, curve: str, root: Path, executors: bool = True, same_second: bool = True) -> Devnet:
    """Start the chain, deploy, register 1 aggregator + 4 executor operators, start the executors.

    `same_second=False` deploys the mailbox with EigenLayer's timing: no result before the chain's next second."""
    handle = get_backend(backend).start(log_path=root / f"{backend}.log")
    try:
        w3 = make_web3(handle.rpc_url)
        accounts = devnet_accounts(EXECUTORS)
        core = deploy_core(w3, accounts, curve=curve, same_second_results=same_second)
        ports = []
        while len(ports) < EXECUTORS + 1:
            port = free_port()
            if port not in ports:
                ports.append(port)
        ops = setup_operators(w3, core, accounts, root / "keys", seed=SEED, sockets=[f"127.0.0.1:{p}" for p in ports])
        net = Devnet(backend, curve, root, handle, w3, accounts, core, ops, core.bind(w3), ports)
        if executors:
            for i in range(1, EXECUTORS + 1):
                net.start_executor(i)
        return net
    except BaseException:
        handle.stop()
        raise


def wait_for(check: Any, timeout: float, what: str) -> Any:
    """Poll `check` until it returns something truthy (with a deadline)."""
    end = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(delay)  # polling a condition with a deadline
        delay = min(delay * 2, 0.05)


def checksum(address: str) -> str:
    return to_checksum_address(address)
