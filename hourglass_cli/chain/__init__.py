"""Talking to a chain: connecting, nonce-safe sending with local keys, bindings, reverts and events.

Names are imported lazily (web3 is heavy), so `import hourglass_cli.chain` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "connect": "connection",
    "make_web3": "connection",
    "poll_until": "connection",
    "wait_ready": "connection",
    "TxSender": "sender",
    "Sender": "sender",
    "PendingTx": "sender",
    "Call": "sender",
    "call": "sender",
    "describe": "sender",
    "wait_all": "sender",
    "reset_nonces": "sender",
    "wait_for_receipt": "sender",
    "contract": "contracts",
    "constructor": "contracts",
    "create_address": "contracts",
    "deploy": "contracts",
    "RevertError": "reverts",
    "revert_data": "reverts",
    "DecodedError": "abi",
    "abi_index": "abi",
    "decode_revert": "abi",
    "DecodedEvent": "events",
    "decode_log": "events",
    "decode_logs": "events",
    "decode_receipt": "events",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hourglass_cli.chain' has no attribute {name!r}")
    value = getattr(import_module(f"hourglass_cli.chain.{module}"), name)
    globals()[name] = value
    return value
