"""The embedded chain: py-evm served over JSON-RPC HTTP by our own server (no anvil needed).

Importing this package is cheap; py-evm is imported only by `serve` and the modules it uses.
Run it alone with ``python -m hourglass_cli.devnet.chains.embedded --port N``.
"""

from __future__ import annotations

from typing import Any, Callable

from hourglass_cli.devnet.chains.embedded.backend import EmbeddedBackend

__all__ = ["EmbeddedBackend", "serve"]


def serve(host: str = "127.0.0.1", port: int = 8545, ready: Callable[[str], None] | None = None, **node_options: Any) -> None:
    """Serve a fresh chain on host:port until SIGTERM/SIGINT; `ready(url)` once it answers."""
    from hourglass_cli.devnet.chains.embedded import _lazy_bls

    _lazy_bls.install()
    from hourglass_cli.devnet.chains.embedded.server import serve as _serve

    _serve(host, port, ready, **node_options)
