"""The embedded chain as a backend: `python -m hourglass_cli.devnet.chains.embedded` in a subprocess."""

from __future__ import annotations

import sys

from hourglass_cli.devnet.chains.base import ChainBackend


class EmbeddedBackend(ChainBackend):
    """Our py-evm JSON-RPC server, run as a real process like anvil (same accounts, chain id)."""

    name = "embedded"
    ready_deadline_s = 60.0

    def __init__(self, python: str | None = None) -> None:
        super().__init__()
        self.python = python or sys.executable

    def command(self, host: str, port: int) -> list[str]:
        argv = [self.python, "-m", "hourglass_cli.devnet.chains.embedded", "--host", host, "--port", str(port),
                "--chain-id", str(self.chain_id)]
        if self.block_gas_limit is not None:
            argv += ["--gas-limit", str(self.block_gas_limit)]
        return argv

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "PYTHONUNBUFFERED": "1"}
