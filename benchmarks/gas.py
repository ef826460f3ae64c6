"""Gas of createTask and submitResult on a real stack, on py-evm (eth-tester) and on anvil.

Run: .venv/bin/python benchmarks/gas.py [--chain eth-tester|anvil|both] [--samples N]

BN254: 8 operators of weight 100, threshold 60 % (so 3 non-signers, 5/8 = 62.5 %, still verify);
0, 1 and 3 non-signers, each first with the non-signers' Merkle witnesses checked ("cold"), then
again at the same reference timestamp with the verifier's non-signer cache warm.
ECDSA: 10 operators of weight 100, threshold 10 % (so 1 signer verifies); 1, 3 and 10 signers.
Payload and result are 32 bytes. Gas does not depend on the threshold value, only on who signed.

Each row is measured on `--samples` tasks (median, min–max): the cost depends a little on the data
(about 2,080 gas per extra try of the try-and-increment hashToG1, which needs 1 extra try on average;
4 vs 16 gas per zero / non-zero calldata byte), and the task hashes differ per chain (chain id).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_utils import keccak  # noqa: E402
from web3.logs import DISCARD  # noqa: E402

from hourglass_cli.crypto import ecdsa  # noqa: E402
from tests.contracts import stack as s  # noqa: E402
from tests.contracts.chains import Chain, anvil_binary, anvil_chain, deploy, eth_tester_chain, send  # noqa: E402

BN254_OPERATORS, BN254_BIPS = 8, 6_000
ECDSA_OPERATORS, ECDSA_BIPS = 10, 1_000
PAYLOAD = b"\x05" * 32
RESULT = b"\x07" * 32


def operator_accounts(chain: Chain, n: int) -> list[str]:
    """n funded accounts that can send transactions: the chain's spare ones, then generated ones.

    Call it before anything else sends from account 0 (it funds the new accounts from there)."""
    accounts = list(chain.accounts[3:])
    index = 0
    while len(accounts) < n:
        key = keccak(b"hourglass gas benchmark account %d" % index)
        index += 1
        address = ecdsa.address_of(key)
        # Unlocked on the node (for `transact`) and known to the chain's local signer (for `send`).
        if chain.name == "anvil":
            chain.w3.provider.make_request("anvil_impersonateAccount", [address])
            chain.w3.provider.make_request("anvil_setBalance", [address, hex(10**21)])
        else:
            chain.w3.provider.ethereum_tester.add_account("0x" + key.hex())
            tx = chain.w3.eth.send_transaction({"from": chain.accounts[0], "to": address, "value": 10**21})
            chain.w3.eth.wait_for_transaction_receipt(tx)
        keys = getattr(chain, "keys", None)
        if isinstance(keys, dict):
            keys[address] = key
        accounts.append(address)
    return accounts[:n]


def measure(chain: Chain, samples: int) -> dict[str, list[int]]:
    """Gas used by each labelled transaction on this chain, `samples` times each."""
    accounts = operator_accounts(chain, max(BN254_OPERATORS, ECDSA_OPERATORS))
    stack = s.deploy_stack(chain)
    for i in range(BN254_OPERATORS):
        s.register_bn254_operator(stack, accounts[i], b"gas-bn-%d" % i, 100)
    for i in range(ECDSA_OPERATORS):
        s.register_ecdsa_operator(stack, accounts[i], b"gas-ec-%d" % i, 100)
    s.push_tables(stack)
    s.configure_executor_set(stack, s.BN254_SET, s.task_config(stack, s.CURVE_BN254, bips=BN254_BIPS))
    s.configure_executor_set(stack, s.ECDSA_SET, s.task_config(stack, s.CURVE_ECDSA, bips=ECDSA_BIPS))
    aggregator = chain.accounts[0]
    gas: dict[str, list[int]] = {}

    def create(label: str | None, set_id: int) -> bytes:
        fn = stack.mailbox.functions.createTask((stack.app, stack.op_set(set_id), PAYLOAD))
        receipt = send(chain, fn, stack.app)
        if label:
            gas.setdefault(label, []).append(receipt["gasUsed"])
        (event,) = stack.mailbox.events.TaskCreated().process_receipt(receipt, errors=DISCARD)
        return bytes(event["args"]["taskHash"])

    def submit(label: str, set_id: int, certificate: Callable[[bytes], bytes]) -> None:
        task_hash = create(None, set_id)
        chain.advance(1)
        receipt = send(chain, stack.mailbox.functions.submitResult(task_hash, certificate(task_hash), RESULT),
                       aggregator, gas=10_000_000)
        gas.setdefault(label, []).append(receipt["gasUsed"])

    ops = stack.bn254_operators

    def bn254_cert(non_signers: set[int], strip_cached: bool = False) -> Callable[[bytes], bytes]:
        def build(task_hash: bytes) -> bytes:
            signers = [op for i, op in enumerate(ops) if i not in non_signers]
            cert = s.bn254_certificate(stack, task_hash, RESULT, signers)
            if strip_cached:  # a cached non-signer needs only its index: no proof, no operator info
                cert = cert[:4] + ([(w[0], b"", ((0, 0), [])) for w in cert[4]],)
            return s.encode_bn254_certificate(cert)
        return build

    def ecdsa_cert(signers: int) -> Callable[[bytes], bytes]:
        return lambda task_hash: s.encode_ecdsa_certificate(
            s.ecdsa_certificate(stack, task_hash, RESULT, stack.ecdsa_operators[:signers]))

    create("createTask, first task of the mailbox", s.BN254_SET)
    for sample in range(samples):
        if sample:
            s.push_tables(stack)  # a new reference timestamp: the verifier's non-signer cache is cold again
        create("createTask, BN254 set", s.BN254_SET)
        create("createTask, ECDSA set", s.ECDSA_SET)
        submit("submitResult BN254, 8/8 signed, 0 non-signers", s.BN254_SET, bn254_cert(set()))
        submit("submitResult BN254, 7/8 signed, 1 non-signer (cold)", s.BN254_SET, bn254_cert({7}))
        submit("submitResult BN254, 7/8 signed, 1 non-signer (warm)", s.BN254_SET, bn254_cert({7}))
        submit("submitResult BN254, 5/8 signed, 3 non-signers (cold)", s.BN254_SET, bn254_cert({4, 5, 6}))
        submit("submitResult BN254, 5/8 signed, 3 non-signers (warm)", s.BN254_SET, bn254_cert({4, 5, 6}))
        submit("submitResult BN254, 5/8 signed, 3 non-signers (warm, index-only witnesses)", s.BN254_SET,
               bn254_cert({4, 5, 6}, strip_cached=True))
        submit("submitResult ECDSA, 1/10 signed", s.ECDSA_SET, ecdsa_cert(1))
        submit("submitResult ECDSA, 3/10 signed", s.ECDSA_SET, ecdsa_cert(3))
        submit("submitResult ECDSA, 10/10 signed", s.ECDSA_SET, ecdsa_cert(10))

    # The same ECDSA flow with an ERC-20 fee: pulled at creation, split 20 % / 80 % on verification.
    token = deploy(chain, "DevnetERC20", "Fee", "FEE")
    hook = deploy(chain, "FeeAVSTaskHook", stack.mailbox.address, stack.avs, 1_000, 10)
    send(chain, stack.mailbox.functions.setFeeSplit(2_000), stack.deployer)
    send(chain, token.functions.mint(stack.app, 10**24), stack.app)
    send(chain, token.functions.approve(stack.mailbox.address, 2**256 - 1), stack.app)
    s.configure_executor_set(stack, s.ECDSA_SET, s.task_config(
        stack, s.CURVE_ECDSA, bips=ECDSA_BIPS, hook=hook.address, fee_token=token.address,
        fee_collector=chain.accounts[1]))
    for _ in range(samples):
        create("createTask, ECDSA set, ERC-20 fee pulled", s.ECDSA_SET)
        submit("submitResult ECDSA, 3/10 signed, ERC-20 fee split paid", s.ECDSA_SET, ecdsa_cert(3))
    return gas


def run(name: str, samples: int) -> dict[str, list[int]]:
    if name == "eth-tester":
        chain = eth_tester_chain()
    else:
        binary = anvil_binary()
        if binary is None:
            raise SystemExit("anvil is not installed: run `make tools` (npm @foundry-rs/anvil into ./node_modules)")
        chain = anvil_chain(binary)
    try:
        return measure(chain, samples)
    finally:
        chain.close()


def _cell(values: list[int]) -> str:
    low, high = min(values), max(values)
    spread = f"{low:,}–{high:,}" if low != high else ""
    return f"{int(statistics.median(values)):>10,} {spread:>21s}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chain", choices=["eth-tester", "anvil", "both"], default="both")
    parser.add_argument("--samples", type=int, default=5, help="tasks per row (default 5)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ResourceWarning)  # anvil's stderr pipe, closed with the process
    names = ["eth-tester", "anvil"] if args.chain == "both" else [args.chain]
    results = {name: run(name, args.samples) for name in names}
    labels = list(next(iter(results.values())))
    width = max(len(label) for label in labels)
    print(f"{'transaction (gas: median, min–max over ' + str(args.samples) + ' tasks)':{width}s}  "
          + "  ".join(f"{name:>32s}" for name in names))
    for label in labels:
        print(f"{label:{width}s}  " + "  ".join(_cell(results[name][label]) for name in names))
    print(f"\nBN254: {BN254_OPERATORS} operators, threshold {BN254_BIPS / 100:g} %; "
          f"ECDSA: {ECDSA_OPERATORS} operators, threshold {ECDSA_BIPS / 100:g} %; payload and result 32 bytes.")


if __name__ == "__main__":
    main()
