"""Asserting custom-error reverts the same way on eth-tester and on anvil."""

from __future__ import annotations

import ast
from typing import Any

from eth_abi import decode
from eth_utils import keccak
from web3.exceptions import ContractCustomError, ContractLogicError


def revert_data(fn: Any, sender: str) -> bytes:
    """Run `fn` as an eth_call and return its revert data; fail if it does not revert."""
    from eth_tester.exceptions import TransactionFailed

    try:
        fn.call({"from": sender, "gas": 10_000_000})
    except ContractCustomError as exc:
        return bytes.fromhex(str(exc.data)[2:])
    except ContractLogicError as exc:
        return bytes.fromhex(str(exc.data)[2:]) if exc.data else b""
    except TransactionFailed as exc:
        # eth-tester puts the raw revert bytes into the message: "execution reverted: b'...'".
        text = str(exc.args[0]).split("execution reverted: ", 1)[-1]
        return ast.literal_eval(text) if text.startswith("b") else text.encode()
    raise AssertionError(f"{fn.fn_name} did not revert")


def assert_reverts(fn: Any, sender: str, error: str, *args_types: str) -> tuple:
    """`fn` reverts with custom error `error` (e.g. "PayloadIsEmpty()"); returns its decoded args."""
    data = revert_data(fn, sender)
    selector = keccak(text=error)[:4]
    assert data[:4] == selector, f"expected {error}, got 0x{data.hex()}"
    return tuple(decode(list(args_types), data[4:])) if args_types else ()
