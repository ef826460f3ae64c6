"""The chain backend interface: start a local chain process, know when it answers, stop it.

Both backends (anvil, embedded) run as real subprocesses, each in its own process group, with
output in a log file; the rest of the devnet treats them the same through `ChainHandle`.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from hourglass_cli.devnet.chains import _process
from hourglass_cli.devnet.chains.chain_id import DEFAULT_CHAIN_ID, check_chain_id
from hourglass_cli.errors import DevnetError, ToolNotFoundError, UsageError

CHAIN_ID = DEFAULT_CHAIN_ID  # the default; a started chain's own is its backend's `chain_id`
LOCALHOST = "127.0.0.1"
BACKEND_NAMES = ("auto", "anvil", "embedded")
ANVIL_NOT_FOUND_HINT = "run `hourglass devnet install anvil` or use `--chain embedded`"


@dataclass
class ChainHandle:
    """A running chain process: where it answers, its pid, its log; `stop()` ends it."""

    name: str
    rpc_url: str
    port: int
    pid: int
    log_path: Path
    client_version: str = ""
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    chain_id: int = DEFAULT_CHAIN_ID  # what it answered to eth_chainId when it started

    @classmethod
    def attach(cls, name: str, rpc_url: str, pid: int, log_path: Path | str = "") -> ChainHandle:
        """A handle for a chain another process started (pid and URL from the devnet state file)."""
        port = int(rpc_url.rsplit(":", 1)[-1].split("/", 1)[0])
        return cls(name, rpc_url, port, pid, Path(log_path))

    def is_running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        return _process.pid_alive(self.pid)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the chain's process group, wait up to `timeout`, then SIGKILL. Idempotent."""
        if self._proc is not None and self._proc.poll() is not None:
            if _process.group_alive(self.pid):  # leader gone: only stragglers in its group
                _process.stop_process(self.pid, None, 1.0)
            return
        _process.stop_process(self.pid, self._proc, timeout)

    def __enter__(self) -> ChainHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ChainBackend(ABC):
    """How to run one kind of chain. `start()` returns a handle and remembers it for `stop()`."""

    name: ClassVar[str]
    #: seconds start() waits for the first answer to web3_clientVersion
    ready_deadline_s: float = 60.0

    def __init__(self) -> None:
        self.handle: ChainHandle | None = None
        self.block_gas_limit: int | None = None  # None: the backend's default (30M on both)
        self.chain_id: int = DEFAULT_CHAIN_ID  # what eth_chainId and CHAINID answer

    @abstractmethod
    def command(self, host: str, port: int) -> list[str]:
        """The argv that serves this chain on host:port."""

    def environment(self) -> dict[str, str]:
        return {**os.environ, "NO_COLOR": "1"}

    def start(self, port: int | None = None, log_path: Path | None = None, host: str = LOCALHOST) -> ChainHandle:
        """Start the chain on `port` (0/None: a free one) and return once it answers JSON-RPC."""
        if self.handle is not None and self.handle.is_running():
            raise DevnetError(f"this {self.name} backend already runs a chain at {self.handle.rpc_url}")
        port = _process.choose_port(host, port)
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"hourglass-{self.name}-{port}-", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        url = f"http://{host}:{port}"
        check_chain_id(self.chain_id)
        proc = _process.spawn(self.command(host, port), log_path, self.environment())
        try:
            version = _process.wait_ready(url, proc, self.ready_deadline_s, f"the {self.name} chain", log_path)
            chain_id = self._answered_chain_id(url)
        except BaseException:
            _process.stop_process(proc.pid, proc, 5.0)
            raise
        self.handle = ChainHandle(self.name, url, port, proc.pid, log_path, version, proc, chain_id=chain_id)
        return self.handle

    def _answered_chain_id(self, url: str) -> int:
        """The chain's eth_chainId; DevnetError unless it is the id the chain was started with."""
        try:
            answer = _process.rpc_call(url, "eth_chainId", timeout=10.0)
            got = int(str(answer), 16)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise DevnetError(f"the {self.name} chain at {url} did not answer eth_chainId: {exc}",
                              hint="see its log; `hourglass devnet logs chain` shows it for a devnet") from None
        if got != self.chain_id:
            raise DevnetError(f"the {self.name} chain at {url} answers eth_chainId {answer!r}, not {self.chain_id}",
                              hint="check that this anvil supports --chain-id (`hourglass devnet install anvil` "
                                   "installs the pinned one), or use `--chain embedded`")
        return got

    def stop(self, timeout: float = 10.0) -> None:
        if self.handle is not None:
            self.handle.stop(timeout)

    def _require_handle(self) -> ChainHandle:
        if self.handle is None:
            raise DevnetError(f"the {self.name} chain is not started")
        return self.handle

    @property
    def rpc_url(self) -> str:
        return self._require_handle().rpc_url

    @property
    def pid(self) -> int:
        return self._require_handle().pid

    def is_running(self) -> bool:
        return self.handle is not None and self.handle.is_running()


def get_backend(name: str = "auto", **options: Any) -> ChainBackend:
    """The backend `--chain` names: anvil, embedded, or auto (anvil when installed, else embedded)."""
    from hourglass_cli.devnet.chains.anvil import AnvilBackend, find_anvil
    from hourglass_cli.devnet.chains.embedded import EmbeddedBackend

    if name == "embedded":
        return EmbeddedBackend(**options)
    if name in ("anvil", "auto"):
        binary = options.pop("binary", None) or find_anvil()
        if binary is not None:
            return AnvilBackend(binary, **options)
        if name == "anvil":
            raise ToolNotFoundError("anvil not found", hint=ANVIL_NOT_FOUND_HINT)
        return EmbeddedBackend()
    raise UsageError(f"unknown chain backend {name!r}", hint=f"use one of: {', '.join(BACKEND_NAMES)}")
