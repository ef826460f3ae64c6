"""Local chains for the devnet: anvil or the embedded py-evm chain, behind one `ChainBackend`.

    backend = get_backend("auto")          # anvil when installed, else embedded
    handle = backend.start(port=None, log_path=Path("chain.log"))
    ... handle.rpc_url ...
    handle.stop()
"""

from __future__ import annotations

from hourglass_cli.devnet.chains.base import BACKEND_NAMES, CHAIN_ID, ChainBackend, ChainHandle, get_backend
from hourglass_cli.devnet.chains.chain_id import DEFAULT_CHAIN_ID

__all__ = ["BACKEND_NAMES", "CHAIN_ID", "DEFAULT_CHAIN_ID", "ChainBackend", "ChainHandle", "get_backend"]
