"""Getting revert data out of whatever a provider raised, and turning it into a ChainError."""

from __future__ import annotations

import ast
import re
from typing import Any

from hourglass_cli.chain.abi import ERROR_STRING_SELECTOR, DecodedError, decode_revert
from hourglass_cli.errors import ChainError

_HEX = re.compile(r"0x[0-9a-fA-F]*")


def _hex_bytes(value: Any) -> bytes | None:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str) and _HEX.fullmatch(value) and len(value) % 2 == 0:
        return bytes.fromhex(value[2:])
    if isinstance(value, dict):  # some nodes nest it: {"data": "0x..."}
        return _hex_bytes(value.get("data"))
    return None


def revert_data(exc: BaseException) -> bytes | None:
    """The raw revert bytes carried by `exc` (web3 or eth-tester), or None when it has none."""
    data = _hex_bytes(getattr(exc, "data", None))
    if data is not None:
        return data
    response = getattr(exc, "rpc_response", None)
    if isinstance(response, dict) and isinstance(response.get("error"), dict):
        data = _hex_bytes(response["error"].get("data"))
        if data is not None:
            return data
    text = str(exc.args[0]) if exc.args else ""
    if "execution reverted" not in text:
        return None
    # eth-tester: "execution reverted: b'...'" (raw bytes) or "execution reverted: <reason string>".
    tail = text.split("execution reverted", 1)[1].lstrip(": ")
    if tail[:2] in ("b'", 'b"'):
        try:
            value = ast.literal_eval(tail)
        except (ValueError, SyntaxError):
            return None
        return bytes(value) if isinstance(value, bytes) else None
    if not tail:
        return b""
    from eth_abi import encode

    return ERROR_STRING_SELECTOR + encode(["string"], [tail])


def is_revert(exc: BaseException) -> bool:
    """Whether `exc` says the EVM reverted (as opposed to a transport or validation error)."""
    from web3.exceptions import ContractLogicError

    if isinstance(exc, ContractLogicError):
        return True
    if type(exc).__name__ == "TransactionFailed":  # eth-tester
        return True
    return "execution reverted" in str(exc) or "revert" in str(getattr(exc, "message", "")).lower()


class RevertError(ChainError):
    """A transaction or call reverted; `decoded` names the custom error (None when there was no data)."""

    default_hint = (
        "the contract rejected the call: check the caller, the arguments and the contract's state "
        "(the error above is the contract's custom error)"
    )

    def __init__(self, message: str, decoded: DecodedError | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.decoded = decoded

    @property
    def error_name(self) -> str | None:
        """The custom error's name, e.g. "InvalidOperatorSetOwner"."""
        return self.decoded.name if self.decoded else None


def revert_error(what: str, exc: BaseException | None = None, data: bytes | None = None) -> RevertError:
    """A RevertError naming `what` (e.g. "TaskMailbox.createTask") and the decoded custom error."""
    if data is None and exc is not None:
        data = revert_data(exc)
    decoded = decode_revert(data) if data else None
    reason = str(decoded) if decoded is not None else "without a reason"
    hint = None
    if decoded is not None and decoded.project:
        hint = (f"the AVS project's {decoded.project} (contracts/src) rejected it with {decoded.name}: check what "
                f"{decoded.project} requires there")
    return RevertError(f"{what} reverted: {reason}", decoded, hint)
