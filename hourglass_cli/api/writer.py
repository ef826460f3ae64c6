"""Writes from smart wallets: CONTRACT_WRITE, ETH_TRANSFER and WithdrawFunds as ERC-4337 v0.6 UserOps.

The service's controller key signs each operation (the wallet accepts its owner's or the controller's signature)
and, with no bundler URL configured, sends it itself with ``handleOps`` (`bundler.Bundler`, which also tops up the
wallet's EntryPoint deposit so gas never comes out of the wallet's own ETH). A wallet not deployed yet is deployed
by its first operation (initCode from the factory, owner and salt the service registered). Operations are sent
one at a time (one nonce sequence per wallet, one for the controller's account).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from hourglass_cli.api.engine import StepError, StepResult
from hourglass_cli.errors import HourglassError
from hourglass_cli.wire.gen import avs_pb2 as pb

WalletLookup = Callable[[str, str], tuple[str, int] | None]  # (owner, wallet) → (factory, salt)


def _plain(value):
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class WalletWriter:
    def __init__(self, w3, *, entry_point: str, factory: str, controller_key: bytes,
                 lookup: WalletLookup | None = None) -> None:
        from hourglass_cli.api.bundler import Bundler
        from hourglass_cli.chain.sender import TxSender

        self.w3 = w3
        self.factory = to_checksum_address(factory)
        self._key = controller_key
        self.sender = TxSender(w3, controller_key, label="client API controller")
        self.bundler = Bundler(w3, entry_point, self.sender)
        self.lookup = lookup
        self._lock = threading.Lock()

    def _send(self, owner: str, wallet: str, call_data: bytes):
        from hourglass_cli.api.wallets import init_code

        wallet = to_checksum_address(wallet)
        with self._lock:
            init = b""
            if not self.bundler.is_deployed(wallet):
                found = self.lookup(owner, wallet) if self.lookup else None
                if found is None:
                    raise StepError(f"wallet {wallet} is not deployed and is not one of {owner}'s registered wallets",
                                    pb.SMART_WALLET_NOT_FOUND)
                factory, salt = found
                init = init_code(factory, owner, salt)
            try:
                op = self.bundler.sign(self.bundler.prepare(wallet, call_data, init=init), self._key)
                return self.bundler.submit(op)
            except HourglassError as exc:
                raise StepError(f"the UserOp was refused: {exc.message}", pb.SMART_WALLET_RPC_ERROR) from None

    @staticmethod
    def _gas(result) -> dict[str, str]:
        used = result.actual_gas_used
        return {"gas_used": str(used), "gas_price": str(result.actual_gas_cost // used if used else 0),
                "total_gas_cost": str(result.actual_gas_cost)}

    @staticmethod
    def _receipt(result) -> dict:
        return {"transactionHash": "0x" + result.tx_hash.hex(), "userOpHash": "0x" + result.user_op_hash.hex(),
                "blockNumber": result.block_number, "status": "0x1" if result.success else "0x0",
                "gasUsed": str(result.actual_gas_used), "from": result.sender, "deployed": result.deployed}

    def call(self, owner: str, wallet: str, to: str, calls: list[tuple[str, bytes]], value: int, *,
             simulate: bool = False, abi: list[dict] | None = None) -> StepResult:
        """The calls as one UserOp. Output in upstream v2.12's shape: ``{methodName: {event fields}}`` from the
        events `to` emitted (decoded with `abi`), ``true`` for a method whose call emitted none; the per-call
        results (receipt, error) are the metadata."""
        from hourglass_cli.api.wallets import build_execute, build_execute_batch

        if len(calls) == 1:
            call_data = build_execute(to, value, calls[0][1])
        else:
            call_data = build_execute_batch([to] * len(calls), [c[1] for c in calls],
                                            [value] + [0] * (len(calls) - 1) if value else None)
        if simulate:
            return self._simulate(wallet, call_data, calls)
        result = self._send(owner, wallet, call_data)
        receipt = self._receipt(result)
        results = [{"methodName": name, "success": result.success, "error": result.revert_reason or "",
                    "receipt": receipt, "blockNumber": result.block_number, "value": None} for name, _ in calls]
        events = self._events(result.tx_hash, to, abi or []) if result.success else {}
        out = StepResult(output={name: dict(events) if events else True for name, _ in calls}, metadata=results,
                         log=f"UserOp {receipt['userOpHash']} in {receipt['transactionHash']}", **self._gas(result))
        if not result.success:
            raise StepError(f"the contract call reverted: {result.revert_reason or 'no reason'}",
                            pb.EXECUTION_ENGINE_ERROR, out.log)
        return out

    def _events(self, tx_hash: bytes, address: str, abi: list[dict]) -> dict:
        """The fields of the events `address` logged in the transaction, decoded with the node's ABI."""
        entries = [e for e in abi if e.get("type") == "event" and e.get("name")]
        if not entries:
            return {}
        contract = self.w3.eth.contract(address=to_checksum_address(address), abi=entries)
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        fields: dict = {}
        for log in receipt["logs"]:
            if to_checksum_address(log["address"]) != contract.address:
                continue
            for entry in entries:
                try:
                    decoded = contract.events[entry["name"]]().process_log(log)
                except Exception:  # noqa: BLE001 - not this event
                    continue
                fields.update({k: _plain(v) for k, v in decoded["args"].items()})
                break
        return fields

    def _simulate(self, wallet: str, call_data: bytes, calls) -> StepResult:
        request = {"from": self.bundler.address, "to": to_checksum_address(wallet), "data": "0x" + call_data.hex()}
        try:
            self.w3.eth.call(request)
            ok, error = True, ""
        except Exception as exc:  # noqa: BLE001 - the revert is the simulation's answer
            ok, error = False, str(exc)
        results = [{"methodName": name, "success": ok, "error": error, "receipt": None, "value": None,
                    "simulated": True} for name, _ in calls]
        if not ok:
            raise StepError(f"the simulated call reverts: {error}", pb.SIMULATION_ERROR)
        return StepResult(output={name: True for name, _ in calls}, metadata=results)

    def transfer(self, owner: str, wallet: str, destination: str, amount: int) -> StepResult:
        from hourglass_cli.api.wallets import build_execute

        result = self._send(owner, wallet, build_execute(destination, amount, b""))
        receipt = self._receipt(result)
        if not result.success:
            raise StepError(f"the transfer failed: {result.revert_reason or 'reverted'} (does the wallet hold "
                            f"{amount} wei?)", pb.INSUFFICIENT_BALANCE)
        # upstream v2.12's shape: the transfer as the output, the transaction as the metadata
        gas = self._gas(result)
        return StepResult(output={"transfer": {"from": to_checksum_address(wallet), "to": destination,
                                               "value": str(amount)}},
                          metadata={"transactionHash": receipt["transactionHash"], "userOpHash": receipt["userOpHash"],
                                    "gasUsed": gas["gas_used"], "gasPrice": gas["gas_price"],
                                    "totalGasCost": gas["total_gas_cost"]}, **gas)

    def withdraw(self, owner: str, wallet: str, recipient: str, amount: str, token: str) -> dict:
        from hourglass_cli.api.wallets import build_execute

        if token.upper() == "ETH":
            value = int(self.w3.eth.get_balance(to_checksum_address(wallet))) if amount == "max" else int(amount)
            call_data = build_execute(recipient, value, b"")
        else:
            token = to_checksum_address(token)
            if amount == "max":
                raw = self.w3.eth.call({"to": token, "data": "0x" + (
                    function_signature_to_4byte_selector("balanceOf(address)") + encode(["address"], [wallet])).hex()})
                value = decode(["uint256"], bytes(raw))[0]
            else:
                value = int(amount)
            data = function_signature_to_4byte_selector("transfer(address,uint256)") + encode(
                ["address", "uint256"], [recipient, value])
            call_data = build_execute(token, 0, data)
        result = self._send(owner, wallet, call_data)
        receipt = self._receipt(result)
        return {"success": result.success, "message": result.revert_reason or ("withdrawn" if result.success else
                                                                              "reverted"),
                "userOpHash": receipt["userOpHash"], "transactionHash": receipt["transactionHash"], "amount": value}
