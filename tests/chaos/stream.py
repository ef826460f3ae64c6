"""A stream of tasks from a plain web3 client, in its own process: `python -m tests.chaos.stream --rpc URL
--mailbox ADDR --avs ADDR --set-id N --key HEX --first N --count K --out FILE`.

Sends createTask(uint256 n) for n = first … first + K − 1 back to back from one account (its own nonces),
waits for each receipt and appends one JSON line per task to FILE: {"n", "task", "block", "sent_at"}. Knows
nothing of hourglass but the mailbox's ABI; whatever happens to the devnet's other processes, it keeps sending.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    for name in ("--rpc", "--mailbox", "--avs", "--key", "--out"):
        parser.add_argument(name, required=True)
    parser.add_argument("--set-id", type=int, default=1)
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args(argv)

    from eth_abi import encode
    from eth_account import Account
    from web3 import Web3

    from hourglass_cli.compiler.artifacts import load_artifact

    w3 = Web3(Web3.HTTPProvider(args.rpc, request_kwargs={"timeout": 30}))
    account = Account.from_key(args.key)
    mailbox = w3.eth.contract(address=Web3.to_checksum_address(args.mailbox), abi=load_artifact("TaskMailbox")["abi"])
    created = mailbox.events.TaskCreated()
    chain_id = w3.eth.chain_id
    nonce = w3.eth.get_transaction_count(account.address, "pending")
    out = Path(args.out).open("a", buffering=1)
    for n in range(args.first, args.first + args.count):
        params = (account.address, (Web3.to_checksum_address(args.avs), args.set_id), encode(["uint256"], [n]))
        block = w3.eth.get_block("latest")
        tx = mailbox.functions.createTask(params).build_transaction({
            "from": account.address, "nonce": nonce, "gas": 1_000_000, "chainId": chain_id,
            "maxFeePerGas": 2 * int(block["baseFeePerGas"]) + 10**9, "maxPriorityFeePerGas": 10**9})
        sent_at = time.time()
        tx_hash = w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.02)
        if receipt["status"] != 1:
            print(f"createTask({n}) reverted in block {receipt['blockNumber']}", file=sys.stderr)
            return 1
        (event,) = created.process_receipt(receipt)
        out.write(json.dumps({"n": n, "task": "0x" + bytes(event["args"]["taskHash"]).hex(),
                              "block": int(receipt["blockNumber"]), "sent_at": sent_at}) + "\n")
        nonce += 1
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
