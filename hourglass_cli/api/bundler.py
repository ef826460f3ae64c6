"""Submitting v0.6 user operations ourselves: `handleOps` from one funded key, the outcome read from the receipt.

Gas. verificationGasLimit is fixed and generous (a SimpleAccount validates in ~15k gas, ~95k with its deployment
from initCode); callGasLimit is `eth_estimateGas` of the callData sent from the EntryPoint to the wallet, plus a
margin, or DEFAULT_CALL_GAS when it cannot be estimated (the wallet is not deployed yet, or the call reverts: the
operation then runs and reports success=false); preVerificationGas is what the EntryPoint cannot measure — the
transaction's base cost, the operation's calldata and the bundle's own bookkeeping. The handleOps transaction's
limit is `eth_estimateGas` with the sender's margin, which also refuses an operation that fails validation
(FailedOp, raised as UserOpRejected) before anything is sent; the EntryPoint's AA95 check makes the estimate
safe (it reverts when a bundle leaves an operation less than its callGasLimit).

Prefund. With `top_up` (the default) the bundler sponsors gas: when a wallet's EntryPoint deposit is below what
its operations lock (v0.6's requiredPrefund), the bundler's key pays the difference in with `depositTo` first, so
the wallet's own ETH is never taken for gas and only the gas actually used is charged (the rest of the prefund
stays in the wallet's deposit for its next operations). With `top_up=False` the EntryPoint asks the wallet for the
missing part (validateUserOp's missingAccountFunds), paid from the wallet's balance. The beneficiary (default:
the bundler's own address) receives what the operations were charged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_abi import encode
from eth_utils import to_checksum_address

from hourglass_cli.api.wallets import (
    PAYMASTER_DATA_LENGTH,
    USER_OP_TYPE,
    UserOp,
    WalletError,
    init_code,
    sign_user_op,
    sponsor_user_op,
    user_op_hash,
    wallet_address,
)
from hourglass_cli.chain.reverts import RevertError

if TYPE_CHECKING:
    from web3 import Web3
    from web3.types import TxReceipt

    from hourglass_cli.chain.abi import DecodedError
    from hourglass_cli.chain.sender import TxSender

VERIFICATION_GAS = 100_000  # validateUserOp of a deployed SimpleAccount (measured ~15k with its prefund payment)
CREATE_VERIFICATION_GAS = 250_000  # with initCode: the clone, initialize, validation (measured ~95k)
DEFAULT_CALL_GAS = 1_000_000  # callData that cannot be estimated
CALL_GAS_MARGIN = 1.25
CALL_GAS_EXTRA = 10_000
TX_BASE_GAS = 21_000
BUNDLE_OVERHEAD_GAS = 20_000  # handleOps' loops, events and the beneficiary's payment, per one-operation bundle
_SIGNATURE_PLACEHOLDER = b"\xff" * 65  # preVerificationGas is computed before signing


class UserOpRejected(WalletError):
    """handleOps refused an operation (FailedOp): nothing of its bundle ran; `reason` is the "AAxx …" text."""

    def __init__(self, message: str, reason: str, op_index: int, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.reason = reason
        self.op_index = op_index

    @property
    def code(self) -> str:
        """The reason's "AAxx" prefix ("" when it has none)."""
        head = self.reason.split(" ", 1)[0]
        return head if head.startswith("AA") else ""


_HINTS = {
    "AA10": "the wallet exists already: send the operation without initCode",
    "AA13": "the initCode's factory call failed: check the factory address and createAccount's arguments",
    "AA14": "initCode deploys another wallet than `sender`: use the factory's getAddress(owner, salt) as sender",
    "AA20": "the wallet is not deployed: give initCode (the factory and createAccount(owner, salt))",
    "AA21": "the wallet's EntryPoint deposit cannot cover the prefund: depositTo it, or let the bundler top it up",
    "AA23": "the wallet's validateUserOp reverted: is sender a SimpleAccount of this EntryPoint?",
    "AA24": "sign the operation with the wallet's owner or the controller, over getUserOpHash for this EntryPoint "
            "and chain (EIP-191 prefixed)",
    "AA25": "use the nonce the EntryPoint's getNonce(sender, key) returns now (a used nonce cannot be replayed)",
    "AA31": "the paymaster's EntryPoint deposit is too low: depositTo the paymaster",
    "AA32": "the paymaster's approval is outside its validAfter..validUntil window: get a fresh one",
    "AA34": "the paymaster's signature does not verify: have its verifying signer approve this exact operation "
            "(getHash covers every gas field and the sender's senderNonce)",
    "AA40": "raise verificationGasLimit",
    "AA95": "the bundle's gas limit left an operation less than its callGasLimit: give handleOps more gas",
}


@dataclass(frozen=True)
class UserOpResult:
    """One executed operation, from its UserOperationEvent (and UserOperationRevertReason) in the receipt."""

    user_op_hash: bytes
    tx_hash: bytes
    sender: str
    nonce: int
    success: bool
    actual_gas_cost: int  # wei charged to the deposit (and paid to the beneficiary)
    actual_gas_used: int  # gas the EntryPoint counted: measured + preVerificationGas
    revert_reason: str | None = None  # the inner call's revert, decoded: "boom" for Error(string), else the error
    revert_data: bytes = b""
    deployed: bool = False  # this bundle deployed the wallet from initCode
    block_number: int = 0
    tx_gas_used: int = 0  # the handleOps transaction's own gasUsed (the whole bundle)


class Bundler:
    """Builds, signs and submits user operations for one EntryPoint from `sender`'s key (module docstring: gas and
    prefund)."""

    def __init__(self, w3: Web3, entry_point: str, sender: TxSender, *, beneficiary: str | None = None,
                 top_up: bool = True, receipt_timeout: float | None = None) -> None:
        from hourglass_cli.chain.contracts import contract

        self.w3 = w3
        self.sender = sender
        self.entry_point = contract(w3, "EntryPoint", entry_point)
        self.beneficiary = to_checksum_address(beneficiary or sender.address)
        self.top_up = top_up
        self.receipt_timeout = receipt_timeout

    @property
    def address(self) -> str:
        return str(self.entry_point.address)

    @property
    def chain_id(self) -> int:
        return self.sender.chain_id

    # ---------------------------------------------------------------- reads

    def get_nonce(self, wallet: str, key: int = 0) -> int:
        """EntryPoint.getNonce(wallet, key): key << 64 | the next sequence number."""
        from hourglass_cli.chain.sender import call

        return int(call(self.entry_point.functions.getNonce(to_checksum_address(wallet), int(key))))

    def deposit_of(self, address: str) -> int:
        from hourglass_cli.chain.sender import call

        return int(call(self.entry_point.functions.balanceOf(to_checksum_address(address))))

    def is_deployed(self, address: str) -> bool:
        return len(self.w3.eth.get_code(to_checksum_address(address))) > 0

    def op_hash(self, op: UserOp) -> bytes:
        return user_op_hash(op, self.address, self.chain_id)

    # ---------------------------------------------------------------- building

    def fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) as TxSender prices its own transactions: 2 × base fee + tip."""
        block = self.w3.eth.get_block("latest")
        base = block.get("baseFeePerGas")
        if base is None:
            price = int(self.w3.eth.gas_price)
            return price, price
        tip = min(10**9, max(1, int(base)))
        return 2 * int(base) + tip, tip

    def prepare(self, sender: str, call_data: bytes, *, init: bytes = b"", nonce: int | None = None, key: int = 0,
                call_gas_limit: int | None = None, verification_gas_limit: int | None = None,
                paymaster_and_data: bytes = b"") -> UserOp:
        """An unsigned operation of `sender` with its nonce, gas limits and fees filled in."""
        sender = to_checksum_address(sender)
        max_fee, tip = self.fees()
        op = UserOp(
            sender=sender,
            nonce=self.get_nonce(sender, key) if nonce is None else int(nonce),
            init_code=bytes(init),
            call_data=bytes(call_data),
            call_gas_limit=call_gas_limit if call_gas_limit is not None else self.estimate_call_gas(sender, call_data),
            verification_gas_limit=verification_gas_limit if verification_gas_limit is not None
            else (CREATE_VERIFICATION_GAS if init else VERIFICATION_GAS),
            max_fee_per_gas=max_fee,
            max_priority_fee_per_gas=tip,
            paymaster_and_data=bytes(paymaster_and_data),
        )
        return op.replace(pre_verification_gas=pre_verification_gas(op))

    def prepare_wallet(self, factory: str, owner: str, salt: int, call_data: bytes, **kwargs: Any) -> UserOp:
        """`prepare` for (owner, salt)'s wallet of `factory`, with initCode when the wallet is not deployed yet."""
        sender = wallet_address(self.w3, factory, owner, salt)
        init = b"" if self.is_deployed(sender) else init_code(factory, owner, salt)
        return self.prepare(sender, call_data, init=init, **kwargs)

    def estimate_call_gas(self, sender: str, call_data: bytes) -> int:
        """callGasLimit for `call_data`: estimated as the EntryPoint's call, else DEFAULT_CALL_GAS."""
        if not call_data or not self.is_deployed(sender):
            return DEFAULT_CALL_GAS if call_data else 0
        request = {"from": self.address, "to": to_checksum_address(sender), "data": "0x" + bytes(call_data).hex()}
        try:
            estimate = int(self.w3.eth.estimate_gas(request))  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - a call that reverts still runs (and reports success=false)
            return DEFAULT_CALL_GAS
        return int(estimate * CALL_GAS_MARGIN) + CALL_GAS_EXTRA

    def sign(self, op: UserOp, key: bytes | str) -> UserOp:
        return sign_user_op(op, key, self.address, self.chain_id)

    def sponsor(self, op: UserOp, paymaster: str, signer_key: bytes | str, *, valid_until: int = 0,
                valid_after: int = 0) -> UserOp:
        """`op` paid for by the VerifyingPaymaster at `paymaster` (approved with its signer's key; sign the operation
        after this). Its preVerificationGas is recomputed for the paymaster's data first, as that is signed too."""
        from hourglass_cli.chain.contracts import contract
        from hourglass_cli.chain.sender import call

        op = op.replace(paymaster_and_data=b"\xff" * PAYMASTER_DATA_LENGTH)
        op = op.replace(pre_verification_gas=pre_verification_gas(op))
        nonce = int(call(contract(self.w3, "VerifyingPaymaster", paymaster).functions.senderNonce(op.sender)))
        return sponsor_user_op(op, signer_key, paymaster, self.chain_id, nonce, valid_until, valid_after)

    # ---------------------------------------------------------------- submitting

    def submit(self, op: UserOp) -> UserOpResult:
        """Send one signed operation; its result (UserOpRejected when validation refuses it)."""
        return self.submit_bundle([op])[0]

    def submit_bundle(self, ops: Sequence[UserOp]) -> list[UserOpResult]:
        """Send signed operations in one handleOps, after topping up deposits (`top_up`); their results in order."""
        if not ops:
            raise WalletError("no user operations to submit", hint="give at least one signed operation")
        if self.top_up:
            self._top_up(ops)
        fn = self.entry_point.functions.handleOps([op.to_tuple() for op in ops], self.beneficiary)
        try:
            gas = self.sender.estimate(fn)
            receipt = self.sender.transact(fn, gas=gas, timeout=self.receipt_timeout)
        except RevertError as exc:
            raise _rejected(exc, ops) from None
        return [self._result(op, receipt) for op in ops]

    def _top_up(self, ops: Sequence[UserOp]) -> None:
        needed: dict[str, int] = {}
        for op in ops:
            if op.paymaster is None:
                needed[op.sender] = needed.get(op.sender, 0) + op.required_prefund()
        pending = []
        for wallet, amount in needed.items():
            missing = amount - self.deposit_of(wallet)
            if missing > 0:
                pending.append(self.sender.send(self.entry_point.functions.depositTo(wallet), value=missing,
                                                gas=100_000))
        for tx in pending:
            tx.wait(self.receipt_timeout)

    def _result(self, op: UserOp, receipt: TxReceipt) -> UserOpResult:
        from hourglass_cli.chain.events import decode_logs

        op_hash = self.op_hash(op)
        events = [e for e in decode_logs(self.entry_point, receipt, "UserOperationEvent")
                  if bytes(e["userOpHash"]) == op_hash]
        if not events:
            raise WalletError(f"handleOps mined in block {receipt['blockNumber']} without a UserOperationEvent for "
                              f"0x{op_hash.hex()}", hint="is the address an EntryPoint v0.6?")
        event = events[0]
        reverts = [e for e in decode_logs(self.entry_point, receipt, "UserOperationRevertReason")
                   if bytes(e["userOpHash"]) == op_hash]
        deployed = any(bytes(e["userOpHash"]) == op_hash
                       for e in decode_logs(self.entry_point, receipt, "AccountDeployed"))
        data = bytes(reverts[0]["revertReason"]) if reverts else b""
        success = bool(event["success"])
        return UserOpResult(
            user_op_hash=op_hash, tx_hash=bytes(receipt["transactionHash"]), sender=event["sender"],
            nonce=int(event["nonce"]), success=success, actual_gas_cost=int(event["actualGasCost"]),
            actual_gas_used=int(event["actualGasUsed"]),
            revert_reason=None if success else reason_text(data), revert_data=data, deployed=deployed,
            block_number=int(receipt["blockNumber"]), tx_gas_used=int(receipt["gasUsed"]),
        )


def pre_verification_gas(op: UserOp, bundle_size: int = 1) -> int:
    """Gas the EntryPoint cannot measure: the transaction's base cost (shared by the bundle), the operation's
    calldata (a 65-byte signature assumed) and the bundle's bookkeeping."""
    body = encode([USER_OP_TYPE], [op.replace(signature=op.signature or _SIGNATURE_PLACEHOLDER).to_tuple()])
    calldata = sum(16 if b else 4 for b in body)
    return TX_BASE_GAS // max(1, bundle_size) + calldata + BUNDLE_OVERHEAD_GAS


def reason_text(data: bytes) -> str:
    """A revert's text: the message of Error(string), else the decoded error ("" when there was no data)."""
    from hourglass_cli.chain.abi import decode_revert

    decoded: DecodedError | None = decode_revert(data) if data else None
    if decoded is None:
        return ""
    if decoded.name == "Error" and decoded.args:
        return str(decoded.args[0][1])
    return str(decoded)


def _rejected(exc: RevertError, ops: Sequence[UserOp]) -> WalletError:
    decoded = exc.decoded
    if decoded is None or decoded.name != "FailedOp":
        return WalletError(f"handleOps failed: {exc.message}", hint=exc.hint)
    args = dict(decoded.args)
    index, reason = int(args.get("opIndex", 0)), str(args.get("reason", ""))
    sender = ops[index].sender if 0 <= index < len(ops) else "?"
    hint = _HINTS.get(reason.split(" ", 1)[0], "the EntryPoint refused the operation during validation; nothing ran")
    return UserOpRejected(f"EntryPoint refused user operation {index} of {sender}: {reason}", reason, index, hint)
