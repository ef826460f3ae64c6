"""EstimateFees: what an automation's on-chain steps would cost per run, from the chain's own estimates.

Each CONTRACT_WRITE / ETH_TRANSFER node is estimated with ``eth_estimateGas`` of its call from the runner wallet,
plus the UserOp overhead (validation and the EntryPoint's bookkeeping), times the chain's gas price. The service
charges no automation fee of its own (pricing model "gas-only"); a wallet not yet deployed adds its creation.
"""

from __future__ import annotations

from typing import Any

import grpc
from eth_utils import is_hex_address, to_checksum_address
from google.protobuf import json_format

from hourglass_cli.api.chain import encode_call
from hourglass_cli.api.engine import StepError
from hourglass_cli.wire.gen import avs_pb2 as pb

USER_OP_OVERHEAD = 60_000  # validateUserOp + EntryPoint accounting, measured on the devnet wallet
WALLET_CREATION_GAS = 120_000
ETH_TRANSFER_GAS = 30_000  # the call's share of an execute() that sends ETH (a plain transfer's 21,000 + the call)


def _wei(amount: int) -> pb.Fee:
    return pb.Fee(amount=str(amount), unit="WEI")  # upstream's unit names are upper case (WEI, USD, PERCENTAGE)


def estimate_fees(service: Any, request: pb.EstimateFeesReq) -> pb.EstimateFeesResp:
    from hourglass_cli.api.service import Abort

    chain = service.chain
    runner = request.runner
    if not runner:
        settings = json_format.MessageToDict(request.input_variables["settings"]) \
            if "settings" in request.input_variables else {}
        runner = settings.get("runner", "") if isinstance(settings, dict) else ""
    if runner and not is_hex_address(runner):
        raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "runner must be a smart wallet address")
    price = chain.gas_price()
    resp = pb.EstimateFeesResp(success=True, chain_id=str(service.config.api.chain_id), pricing_model="gas-only",
                               native_token=pb.NativeToken(symbol="ETH", decimals=18), execution_fee=_wei(0))
    for node in request.nodes:
        which = node.WhichOneof("task_type")
        if which not in ("contract_write", "eth_transfer"):
            continue
        try:
            if which == "eth_transfer":
                tx = {"to": to_checksum_address(node.eth_transfer.config.destination),
                      "value": int(node.eth_transfer.config.amount or 0)}
            else:
                cfg = node.contract_write.config
                abi = [json_format.MessageToDict(v) for v in cfg.contract_abi]
                if cfg.method_calls and cfg.method_calls[0].method_name:
                    call = cfg.method_calls[0]
                    data = encode_call(abi, call.method_name, list(call.method_params))[0]
                else:
                    data = bytes.fromhex(cfg.call_data.removeprefix("0x"))
                tx = {"to": to_checksum_address(cfg.contract_address), "data": "0x" + data.hex()}
            if runner:
                tx["from"] = to_checksum_address(runner)
        except (StepError, ValueError, TypeError) as exc:
            resp.warnings.append(f"{node.name or node.id}: cannot estimate ({getattr(exc, 'message', exc)})")
            continue
        try:
            gas = int(chain.w3.eth.estimate_gas(tx)) + USER_OP_OVERHEAD
        except Exception as exc:  # noqa: BLE001 - a revert in the estimate is a warning, not a failure
            if which != "eth_transfer":
                resp.warnings.append(f"{node.name or node.id}: the call would revert or fail ({exc})")
                continue
            # a transfer the wallet cannot pay yet (not funded, or not deployed): its gas does not depend on that
            resp.warnings.append(f"{node.name or node.id}: the wallet holds less than the amount to send")
            gas = ETH_TRANSFER_GAS + USER_OP_OVERHEAD
        resp.cogs.append(pb.NodeCOGS(node_id=node.id, cost_type="gas", fee=_wei(gas * price), gas_units=str(gas)))
    if runner and not chain.has_code(runner):
        resp.cogs.append(pb.NodeCOGS(node_id="", cost_type="wallet_creation",
                                     fee=_wei(WALLET_CREATION_GAS * price), gas_units=str(WALLET_CREATION_GAS)))
    return resp
