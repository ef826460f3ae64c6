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


#: How to get the pinned compiler, shown whenever none is found.
INSTALL_HINT = (
    f"run `npm install` in the project (package.json pins solc {SOLC_VERSION}; or "
    f"`npm install solc@{SOLC_VERSION}`, or set HOURGLASS_TOOLS_DIR to a folder with node_modules/solc), "
    f"or on a machine with internet access `pip install py-solc-x` and "
    f"`python -c \"import solcx; solcx.install_solc('{SOLC_VERSION}')\"`"
)
