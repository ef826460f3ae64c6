"""ERC-4337 v0.6 smart wallets on our EntryPoint and SimpleAccountFactory (contracts/src/wallet/).

Pure pieces — a wallet's CREATE2 address, a `UserOp`, its v0.6 hash and EIP-191 signature, execute/executeBatch
calldata, initCode — need no chain; `bundler.Bundler` (re-exported here) submits operations with handleOps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_abi import encode
from eth_utils import keccak, to_bytes, to_canonical_address, to_checksum_address

from hourglass_cli.errors import ChainError

if TYPE_CHECKING:
    from web3 import Web3

SIG_VALIDATION_FAILED = 1
USER_OP_TYPE = "(address,uint256,bytes,bytes,uint256,uint256,uint256,uint256,uint256,bytes,bytes)"
_EIP191_PREFIX = b"\x19Ethereum Signed Message:\n32"
# EIP-1167 minimal proxy init code around the implementation's address (as SimpleAccountFactory builds it)
_CLONE_HEAD = bytes.fromhex("3d602d80600a3d3981f3363d3d373d3d3d363d73")
_CLONE_TAIL = bytes.fromhex("5af43d82803e903d91602b57fd5bf3")
IMPLEMENTATION_NONCE = 1  # the factory's constructor deploys the implementation with its first CREATE


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


_EXECUTE = _selector("execute(address,uint256,bytes)")
_EXECUTE_BATCH = _selector("executeBatch(address[],bytes[])")
_EXECUTE_BATCH_VALUES = _selector("executeBatchWithValues(address[],uint256[],bytes[])")
_CREATE_ACCOUNT = _selector("createAccount(address,uint256)")


class WalletError(ChainError):
    """A smart-wallet operation cannot be built or was refused."""

    default_hint = "check the wallet's owner, salt and factory, and the EntryPoint's address on this chain"


def _bytes(value: bytes | str) -> bytes:
    return to_bytes(hexstr=value) if isinstance(value, str) else bytes(value)


@dataclass(frozen=True)
class UserOp:
    """A v0.6 UserOperation (Python names; `to_tuple` is the contract's struct, `to_rpc` the bundler JSON form)."""

    sender: str
    nonce: int = 0
    init_code: bytes = b""
    call_data: bytes = b""
    call_gas_limit: int = 0
    verification_gas_limit: int = 0
    pre_verification_gas: int = 0
    max_fee_per_gas: int = 0
    max_priority_fee_per_gas: int = 0
    paymaster_and_data: bytes = b""
    signature: bytes = b""

    def replace(self, **changes: Any) -> UserOp:
        return dataclasses.replace(self, **changes)

    def to_tuple(self) -> tuple[Any, ...]:
        return (to_checksum_address(self.sender), self.nonce, bytes(self.init_code), bytes(self.call_data),
                self.call_gas_limit, self.verification_gas_limit, self.pre_verification_gas, self.max_fee_per_gas,
                self.max_priority_fee_per_gas, bytes(self.paymaster_and_data), bytes(self.signature))

    @classmethod
    def from_tuple(cls, raw: tuple[Any, ...] | list[Any]) -> UserOp:
        s, n, ic, cd, cgl, vgl, pvg, mf, mp, pm, sig = raw
        return cls(to_checksum_address(s), int(n), _bytes(ic), _bytes(cd), int(cgl), int(vgl), int(pvg), int(mf),
                   int(mp), _bytes(pm), _bytes(sig))

    def to_rpc(self) -> dict[str, str]:
        """The eth_sendUserOperation JSON object (camelCase, hex quantities and bytes)."""
        return {
            "sender": to_checksum_address(self.sender), "nonce": hex(self.nonce),
            "initCode": "0x" + self.init_code.hex(), "callData": "0x" + self.call_data.hex(),
            "callGasLimit": hex(self.call_gas_limit), "verificationGasLimit": hex(self.verification_gas_limit),
            "preVerificationGas": hex(self.pre_verification_gas), "maxFeePerGas": hex(self.max_fee_per_gas),
            "maxPriorityFeePerGas": hex(self.max_priority_fee_per_gas),
            "paymasterAndData": "0x" + self.paymaster_and_data.hex(), "signature": "0x" + self.signature.hex(),
        }

    @classmethod
    def from_rpc(cls, doc: dict[str, Any]) -> UserOp:
        """Parse the JSON form (hex or decimal quantities); WalletError naming the field that is wrong."""
        def quantity(key: str) -> int:
            value = doc.get(key, 0)
            try:
                return int(value, 0) if isinstance(value, str) else int(value)
            except (TypeError, ValueError):
                raise WalletError(f"user operation field {key} is not a number: {value!r}",
                                  hint="quantities are 0x-hex or decimal") from None

        def data(key: str) -> bytes:
            value = doc.get(key) or "0x"
            try:
                return _bytes(value)
            except (TypeError, ValueError):
                raise WalletError(f"user operation field {key} is not hex bytes: {value!r}",
                                  hint="bytes fields are 0x-prefixed hex") from None

        try:
            sender = to_checksum_address(doc["sender"])
        except (KeyError, TypeError, ValueError):
            raise WalletError(f"user operation sender is not an address: {doc.get('sender')!r}",
                              hint="sender is the smart wallet's 0x address") from None
        return cls(sender, quantity("nonce"), data("initCode"), data("callData"), quantity("callGasLimit"),
                   quantity("verificationGasLimit"), quantity("preVerificationGas"), quantity("maxFeePerGas"),
                   quantity("maxPriorityFeePerGas"), data("paymasterAndData"), data("signature"))

    @property
    def paymaster(self) -> str | None:
        return to_checksum_address(self.paymaster_and_data[:20]) if len(self.paymaster_and_data) >= 20 else None

    def required_prefund(self) -> int:
        """What the EntryPoint locks from the deposit before running the operation (v0.6's formula)."""
        verification = self.verification_gas_limit * (3 if self.paymaster else 1)
        return (self.call_gas_limit + verification + self.pre_verification_gas) * self.max_fee_per_gas


# ------------------------------------------------------------------ hashing and signing


def user_op_hash(op: UserOp, entry_point: str, chain_id: int) -> bytes:
    """EntryPoint.getUserOpHash: keccak256(abi.encode(keccak256(pack(op)), entryPoint, chainid)), v0.6's pack
    being every field but the signature, bytes fields hashed."""
    packed = encode(
        ["address", "uint256", "bytes32", "bytes32", "uint256", "uint256", "uint256", "uint256", "uint256", "bytes32"],
        [to_checksum_address(op.sender), op.nonce, keccak(op.init_code), keccak(op.call_data), op.call_gas_limit,
         op.verification_gas_limit, op.pre_verification_gas, op.max_fee_per_gas, op.max_priority_fee_per_gas,
         keccak(op.paymaster_and_data)])
    return keccak(encode(["bytes32", "address", "uint256"], [keccak(packed), to_checksum_address(entry_point),
                                                             int(chain_id)]))


def signed_digest(op_hash: bytes) -> bytes:
    """The EIP-191 digest SimpleAccount recovers the signer from ("\\x19Ethereum Signed Message:\\n32" ‖ hash)."""
    return keccak(_EIP191_PREFIX + bytes(op_hash))


def sign_user_op(op: UserOp, key: bytes | str, entry_point: str, chain_id: int) -> UserOp:
    """`op` with the EIP-191 signature of `key` (the wallet's owner or the controller) over its hash."""
    from hourglass_cli.crypto import ecdsa

    return op.replace(signature=ecdsa.sign_hash(key, signed_digest(user_op_hash(op, entry_point, chain_id))))


# ------------------------------------------------------------------ the VerifyingPaymaster

PAYMASTER_DATA_LENGTH = 20 + 64 + 65  # paymaster ‖ abi.encode(validUntil, validAfter) ‖ signature


def paymaster_hash(op: UserOp, paymaster: str, chain_id: int, sender_nonce: int, valid_until: int = 0,
                   valid_after: int = 0) -> bytes:
    """VerifyingPaymaster.getHash(op, validUntil, validAfter): every field but paymasterAndData and signature, the
    chain, the paymaster and the sender's approval count (`senderNonce(sender)` before this operation)."""
    return keccak(encode(
        ["address", "uint256", "bytes32", "bytes32", "uint256", "uint256", "uint256", "uint256", "uint256", "uint256",
         "address", "uint256", "uint48", "uint48"],
        [to_checksum_address(op.sender), op.nonce, keccak(op.init_code), keccak(op.call_data), op.call_gas_limit,
         op.verification_gas_limit, op.pre_verification_gas, op.max_fee_per_gas, op.max_priority_fee_per_gas,
         int(chain_id), to_checksum_address(paymaster), int(sender_nonce), int(valid_until), int(valid_after)]))


def paymaster_and_data(paymaster: str, valid_until: int, valid_after: int, signature: bytes) -> bytes:
    """The VerifyingPaymaster's paymasterAndData (valid_until 0 = no end)."""
    return to_canonical_address(paymaster) + encode(["uint48", "uint48"], [int(valid_until), int(valid_after)]) \
        + bytes(signature)


def sponsor_user_op(op: UserOp, signer_key: bytes | str, paymaster: str, chain_id: int, sender_nonce: int,
                    valid_until: int = 0, valid_after: int = 0) -> UserOp:
    """`op` with the paymaster's approval signed by its verifying signer; sign the operation itself after this
    (its hash covers paymasterAndData)."""
    from hourglass_cli.crypto import ecdsa

    digest = signed_digest(paymaster_hash(op, paymaster, chain_id, sender_nonce, valid_until, valid_after))
    signature = ecdsa.sign_hash(signer_key, digest)
    return op.replace(paymaster_and_data=paymaster_and_data(paymaster, valid_until, valid_after, signature))


# ------------------------------------------------------------------ calldata


def build_execute(dest: str, value: int = 0, data: bytes = b"") -> bytes:
    """SimpleAccount.execute(dest, value, func) calldata."""
    return _EXECUTE + encode(["address", "uint256", "bytes"], [to_checksum_address(dest), int(value), bytes(data)])


def build_execute_batch(dests: list[str], datas: list[bytes], values: list[int] | None = None) -> bytes:
    """executeBatch(dest[], func[]) calldata, or executeBatchWithValues(dest[], value[], func[]) when `values` is
    given with a non-zero value (Ava's aggregator packs the same way)."""
    if len(dests) != len(datas) or (values is not None and len(values) != len(dests)):
        raise WalletError(f"a batch needs as many targets as calls (and values): {len(dests)} targets, "
                          f"{len(datas)} calls{'' if values is None else f', {len(values)} values'}",
                          hint="give one target, one calldata (and one value) per call")
    targets = [to_checksum_address(d) for d in dests]
    calls = [bytes(d) for d in datas]
    if values is None or not any(values):
        return _EXECUTE_BATCH + encode(["address[]", "bytes[]"], [targets, calls])
    return _EXECUTE_BATCH_VALUES + encode(["address[]", "uint256[]", "bytes[]"], [targets, [int(v) for v in values],
                                                                                calls])


def init_code(factory: str, owner: str, salt: int = 0) -> bytes:
    """initCode deploying (owner, salt)'s wallet: the factory's address, then createAccount(owner, salt)."""
    return to_canonical_address(factory) + _CREATE_ACCOUNT + encode(["address", "uint256"],
                                                                    [to_checksum_address(owner), int(salt)])


# ------------------------------------------------------------------ addresses


def clone_init_code(implementation: str) -> bytes:
    """The EIP-1167 init code of a wallet (a minimal proxy of `implementation`)."""
    return _CLONE_HEAD + to_canonical_address(implementation) + _CLONE_TAIL


def predict_address(factory: str, owner: str, salt: int = 0, implementation: str | None = None) -> str:
    """The wallet of (owner, salt) computed offline: CREATE2 from `factory` with salt keccak256(abi.encode(owner,
    salt)) of the clone init code. The implementation is the factory's first CREATE unless given."""
    from hourglass_cli.chain.contracts import create_address

    impl = implementation or create_address(factory, IMPLEMENTATION_NONCE)
    create2_salt = keccak(encode(["address", "uint256"], [to_checksum_address(owner), int(salt)]))
    digest = keccak(b"\xff" + to_canonical_address(factory) + create2_salt + keccak(clone_init_code(impl)))
    return to_checksum_address(digest[12:])


def wallet_address(w3: Web3, factory: str, owner: str, salt: int = 0) -> str:
    """SimpleAccountFactory.getAddress(owner, salt) read from the chain."""
    from hourglass_cli.chain.contracts import contract
    from hourglass_cli.chain.sender import call

    fn = contract(w3, "SimpleAccountFactory", factory).functions.getAddress(to_checksum_address(owner), int(salt))
    return to_checksum_address(call(fn))


def __getattr__(name: str) -> Any:
    if name in ("Bundler", "UserOpResult", "UserOpRejected"):  # kept in their own module: they need web3
        from hourglass_cli.api import bundler

        return getattr(bundler, name)
    raise AttributeError(name)
