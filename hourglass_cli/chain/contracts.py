"""Contract bindings from our artifacts: `contract(w3, name, address)`, `deploy(sender, name, *args)`.

Every binding made here is remembered by address, so a failing transaction or call can be reported as
"TaskMailbox.createTask reverted: PayloadIsEmpty()" instead of as an address and a selector.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

import rlp
from eth_utils import keccak, to_canonical_address, to_checksum_address

from hourglass_cli.chain.abi import abi_index

if TYPE_CHECKING:
    from web3 import Web3
    from web3.contract import Contract
    from web3.types import TxReceipt

    from hourglass_cli.chain.sender import TxSender

_names: dict[str, str] = {}
_names_lock = threading.Lock()


def remember(address: str, name: str) -> None:
    """Record that `address` holds contract `name` (used in error messages)."""
    with _names_lock:
        _names[address.lower()] = name  # lower case: no keccak per lookup (checksumming is the costly part)


def contract_name_at(address: str | None, selector: bytes | None = None) -> str:
    """The artifact name bound at `address`; else the one contract declaring `selector`; else the address."""
    if address:
        with _names_lock:
            name = _names.get(address.lower())
        if name:
            return name
    if selector:
        owners = [c for c in abi_index().function_contracts(selector) if not _is_interface(c)]
        if len(owners) == 1:
            return owners[0]
    return to_checksum_address(address) if address else "contract creation"


def _is_interface(name: str) -> bool:
    return len(name) > 1 and name[0] == "I" and name[1].isupper()


def artifact(name: str) -> dict[str, Any]:
    """The artifact of `name` from contracts/out (ArtifactNotFoundError names what to run)."""
    from hourglass_cli.compiler.artifacts import load_artifact

    return load_artifact(name)


_factories: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _factory(w3: Web3, name: str) -> Any:
    # Building a web3 contract class parses the whole ABI (~5 ms); do it once per Web3 and artifact.
    with _names_lock:
        per_w3 = _factories.setdefault(w3, {})
        factory = per_w3.get(name)
    if factory is None:
        factory = w3.eth.contract(abi=artifact(name)["abi"])
        with _names_lock:
            per_w3[name] = factory
    return factory


def contract(w3: Web3, name: str, address: str) -> Contract:
    """A web3 contract for artifact `name` at `address`."""
    bound = _factory(w3, name)(address=to_checksum_address(address))
    remember(address, name)
    return bound


def create_address(deployer: str, nonce: int) -> str:
    """The address a CREATE from `deployer` at `nonce` deploys to."""
    return to_checksum_address(keccak(rlp.encode([to_canonical_address(deployer), nonce]))[12:])


def constructor(w3: Web3, name: str, *args: Any) -> Any:
    """The web3 ContractConstructor of artifact `name` with `args` (for `TxSender.send`)."""
    data = artifact(name)
    if not str(data.get("bytecode") or "").removeprefix("0x"):
        from hourglass_cli.errors import ChainError

        raise ChainError(f"{name} has no bytecode (an interface or abstract contract cannot be deployed)",
                         hint="deploy a concrete contract from contracts/out")
    ctor = w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"]).constructor(*args)
    ctor.contract_name = name  # read by the sender to describe the deployment
    return ctor


def deploy(sender: TxSender, name: str, *args: Any, gas: int | None = None) -> Contract:
    """Deploy artifact `name` from `sender`, wait for the receipt and return the bound contract."""
    receipt = sender.transact(constructor(sender.w3, name, *args), gas=gas)
    return contract(sender.w3, name, receipt_contract_address(receipt, name))


def receipt_contract_address(receipt: TxReceipt, name: str) -> str:
    """The created contract's address from a deployment receipt."""
    address = receipt.get("contractAddress")
    if not address:
        from hourglass_cli.errors import ChainError

        raise ChainError(f"deploying {name}: the receipt has no contract address",
                         hint="the node did not treat the transaction as a contract creation")
    return to_checksum_address(address)
