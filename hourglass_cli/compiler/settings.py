"""The pinned compiler and settings every artifact in contracts/out is built with."""

from __future__ import annotations

import copy
from typing import Any

#: The solc release artifacts are built with; npm `solc` is pinned to the same in package.json.
SOLC_VERSION = "0.8.30"

#: EVM target: cancun runs on anvil and on py-evm (eth-tester) alike (PUSH0, MCOPY, TSTORE).
EVM_VERSION = "cancun"

_SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": EVM_VERSION,
    "viaIR": False,
    # No metadata hash in the bytecode: identical sources give identical bytecode on any machine.
    "metadata": {"bytecodeHash": "none"},
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "evm.bytecode.object",
                "evm.bytecode.linkReferences",
                "evm.deployedBytecode.object",
                "evm.methodIdentifiers",
            ]
        }
    },
}


def compiler_settings() -> dict[str, Any]:
    """A fresh copy of the standard-JSON `settings` block."""
    return copy.deepcopy(_SETTINGS)


#: How to get the pinned compiler (hourglass's own contracts), shown whenever none is found.
INSTALL_HINT = (
    f"run `hourglass devnet install solc` (npm solc {SOLC_VERSION} into ~/.hourglass/tools, or $HOURGLASS_TOOLS_DIR), "
    f"or `npm install` in the hourglass checkout (its package.json pins solc {SOLC_VERSION}), or set HOURGLASS_SOLC "
    f"to a solc {SOLC_VERSION} binary; on a machine with internet access also "
    f"`python -c \"import solcx; solcx.install_solc('{SOLC_VERSION}')\"`"
)
