"""The project's real contracts on the embedded chain: a BN254 certificate verified by TaskMailbox.

The whole stack (KeyRegistrar, table updater, BN254 verifier, TaskMailbox, ...) is deployed with the
package's devnet code, operators register BN254 keys (an on-chain pairing check each), and
submitResult verifies an aggregate certificate with a non-signer witness. The submitResult estimate
(the pairing-heavy call the aggregator makes) is compared with anvil's for the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from web3 import Web3

from hourglass_cli.chain.connection import make_web3
from hourglass_cli.devnet.chains import ChainHandle
from hourglass_cli.devnet.chains.embedded.accounts import dev_keys
from tests.contracts import stack as s
from tests.contracts.chains import Chain
from tests.devnet.chains.conftest import Rpc

RESULT = b"\x00" * 31 + b"\x19"
STATUS_VERIFIED = 2


def _chain(handle: ChainHandle) -> Chain:
    w3 = make_web3(handle.rpc_url)
    keys = {Web3.to_checksum_address(Web3().eth.account.from_key(k).address): k for k in dev_keys()}

    def advance(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds])
        w3.provider.make_request("evm_mine", [])

    def snapshot() -> Any:
        return w3.provider.make_request("evm_snapshot", [])["result"]

    def revert(snap: Any) -> None:
        w3.provider.make_request("evm_revert", [snap])

    return Chain(handle.name, w3, list(keys), advance, snapshot, revert, keys=keys)


def _certified_task(chain: Chain) -> tuple[s.Stack, bytes, bytes]:
    stack = s.deploy_stack(chain)
    for i, weight in enumerate((100, 100, 100, 50)):
        s.register_bn254_operator(stack, chain.accounts[3 + i], f"bn254-{i}".encode(), weight)
    s.push_tables(stack)
    s.configure_executor_set(stack, s.BN254_SET, s.task_config(stack, s.CURVE_BN254))
    task_hash = s.create_task(stack, s.BN254_SET)
    signers = [op for i, op in enumerate(stack.bn254_operators) if i != 2]  # operator 2 does not sign
    cert = s.encode_bn254_certificate(s.bn254_certificate(stack, task_hash, RESULT, signers))
    chain.advance(1)
    return stack, task_hash, cert


START = 2_000_000_000  # a fixed clock, so both chains sign and hash exactly the same data


@pytest.fixture
def chains(both: dict[str, ChainHandle]) -> Iterator[dict[str, Chain]]:
    """Both chains on a deterministic clock: START, then one second per block."""
    for handle in both.values():
        rpc = Rpc(handle.rpc_url)
        rpc("evm_setNextBlockTimestamp", START)
        rpc("evm_mine")
        rpc("anvil_setBlockTimestampInterval", 1)
    yield {name: _chain(handle) for name, handle in both.items()}
    for handle in both.values():
        Rpc(handle.rpc_url)("anvil_removeBlockTimestampInterval")


def test_bn254_certificate_verifies_and_estimates_like_anvil(chains: dict[str, Chain]) -> None:
    seen = {}
    for name, chain in chains.items():
        stack, task_hash, cert = _certified_task(chain)
        submit = stack.mailbox.functions.submitResult(task_hash, cert, RESULT)
        estimate = submit.estimate_gas({"from": chain.accounts[9]})
        tx = submit.transact({"from": chain.accounts[9], "gas": estimate})
        receipt = chain.w3.eth.wait_for_transaction_receipt(tx)
        assert receipt["status"] == 1, f"{name}: submitResult with the estimated gas failed"
        (event,) = stack.mailbox.events.TaskVerified().process_receipt(receipt)
        assert event["args"]["taskHash"] == task_hash
        assert stack.mailbox.functions.getTaskStatus(task_hash).call() == STATUS_VERIFIED
        w3 = chain.w3
        history = []
        for number in range(1, receipt["blockNumber"] + 1):  # genesis: when each chain started
            block = w3.eth.get_block(number, True)
            used = [w3.eth.get_transaction_receipt(t["hash"])["gasUsed"] for t in block["transactions"]]
            history.append((number, block["timestamp"], block["baseFeePerGas"], used))
        seen[name] = (estimate, task_hash, history)
    (anvil, anvil_task, anvil_history), (ours, our_task, our_history) = seen["anvil"], seen["embedded"]
    assert our_task == anvil_task
    # every transaction of the deployment, registrations, table pushes and the verification used the
    # same gas on py-evm as on anvil (revm), in blocks with the same timestamps and base fees
    assert our_history == anvil_history
    assert ours == anvil  # the least limit that works, on both
