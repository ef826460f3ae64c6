"""The chain id as a chain's own setting: two embedded chains with different ids in one process, CHAINID and
eth_chainId agreeing, transactions signed for another chain refused, and the rule for what an id may be."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from eth_account import Account

from hourglass_cli.devnet.chains.chain_id import CHAIN_ID_LIMIT, check_chain_id, l2_chain_id
from hourglass_cli.devnet.chains.embedded.accounts import dev_keys
from hourglass_cli.devnet.chains.embedded.node import Node
from hourglass_cli.devnet.chains.embedded.params import BlockRef, RpcError, TxParams
from hourglass_cli.devnet.chains.embedded.server import RpcHTTPServer, make_server
from hourglass_cli.errors import UsageError
from tests.devnet.chains.conftest import Rpc
from tests.devnet.chains.evm_asm import deploy_code

SEPOLIA = 11155111
# CHAINID; SSTORE it at slot 0; return it: what a transaction and a call each see
CHAINID_RUNTIME = bytes([0x46, 0x5F, 0x55, 0x46, 0x5F, 0x52, 0x60, 0x20, 0x5F, 0xF3])


@pytest.fixture(scope="module")
def sepolia() -> Iterator[RpcHTTPServer]:
    """An embedded chain with Sepolia's id, served from a thread of this process."""
    srv = make_server("127.0.0.1", 0, chain_id=SEPOLIA)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _chainid_contract(node: Node) -> bytes:
    node.send(node.sign(TxParams(sender=node.accounts[0], data=deploy_code(CHAINID_RUNTIME), gas=200_000)))
    return node.head.contract_address(0)


def test_two_chains_in_one_process_each_see_their_own_id() -> None:
    chains = {SEPOLIA: Node(chain_id=SEPOLIA), 31337: Node()}
    for chain_id, node in chains.items():
        target = _chainid_contract(node)
        called = node.call(TxParams(sender=node.accounts[0], to=target), BlockRef(tag="latest"))
        assert int.from_bytes(called, "big") == chain_id
        node.send(node.sign(TxParams(sender=node.accounts[1], to=target, gas=100_000)))  # CHAINID inside a block
        assert node.head.receipts[0].state_root == b"\x01"
        assert node.state_at(BlockRef(tag="latest")).get_storage(target, 0) == chain_id
        assert node.head.transactions[0].chain_id == chain_id  # eth_sendTransaction signs for this chain


def test_json_rpc_answers_the_id_and_refuses_transactions_for_another_chain(sepolia: RpcHTTPServer) -> None:
    rpc = Rpc(sepolia.url)
    assert rpc("eth_chainId") == hex(SEPOLIA) and rpc("net_version") == str(SEPOLIA)
    key = dev_keys()[5]
    sender = Account.from_key(key).address
    base = int(rpc("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    nonce = int(rpc("eth_getTransactionCount", sender, "latest"), 16)
    dynamic = {"type": 2, "to": sender, "value": 1, "gas": 21_000, "maxFeePerGas": 2 * base + 10**9,
               "maxPriorityFeePerGas": 10**9, "nonce": nonce}
    legacy = {"to": sender, "value": 1, "gas": 21_000, "gasPrice": 2 * base + 10**9, "nonce": nonce}
    for tx in (dynamic, legacy):  # EIP-1559 and EIP-155 (the chain id in v)
        for wrong in (31337, 1):
            raw = Account.sign_transaction({**tx, "chainId": wrong}, key).raw_transaction
            error = rpc.request("eth_sendRawTransaction", "0x" + raw.hex())["error"]
            assert f"invalid chain id {wrong}" in error["message"] and str(SEPOLIA) in error["message"], error
    assert int(rpc("eth_getTransactionCount", sender, "latest"), 16) == nonce  # nothing was mined
    raw = Account.sign_transaction({**dynamic, "chainId": SEPOLIA}, key).raw_transaction
    tx_hash = rpc("eth_sendRawTransaction", "0x" + raw.hex())
    assert rpc("eth_getTransactionByHash", tx_hash)["chainId"] == hex(SEPOLIA)
    assert rpc("eth_getTransactionReceipt", tx_hash)["status"] == "0x1"


def test_node_refuses_a_signed_transaction_for_another_chain() -> None:
    node = Node(chain_id=SEPOLIA)
    other = Node(chain_id=SEPOLIA + 1)
    tx = other.sign(TxParams(sender=other.accounts[0], to=other.accounts[1], value=1, gas=21_000))
    with pytest.raises(RpcError, match=f"invalid chain id {SEPOLIA + 1}: .* this chain's id is {SEPOLIA}"):
        node.send(tx)


@pytest.mark.parametrize("given, expected", [
    (1, 1), ("11155111", SEPOLIA), ("0xaa36a7", SEPOLIA), ("11_155_111", SEPOLIA), (CHAIN_ID_LIMIT - 1, 2**53 - 1)])
def test_chain_ids_allowed(given: object, expected: int) -> None:
    assert check_chain_id(given) == expected


@pytest.mark.parametrize("given", [0, "0", -5, "abc", "", "1.5", 2**53, str(2**53), True, None, 3.0])
def test_chain_ids_refused_name_the_option_and_the_rule(given: object) -> None:
    with pytest.raises(UsageError) as info:
        check_chain_id(given, "--chain-id")
    assert info.value.message.startswith("--chain-id must be a whole number from 1 to 9007199254740991")
    assert info.value.hint and "11155111" in info.value.hint


def test_the_l2_id_is_next_to_the_l1_id_and_never_the_same() -> None:
    assert l2_chain_id(31337) == 31338 and l2_chain_id(SEPOLIA) == SEPOLIA + 1
    assert l2_chain_id(CHAIN_ID_LIMIT - 1) == CHAIN_ID_LIMIT - 2


def test_module_entry_point_refuses_a_bad_chain_id() -> None:
    for bad in ("0", "abc"):
        proc = subprocess.run([sys.executable, "-m", "hourglass_cli.devnet.chains.embedded", "--port", "0",
                               "--chain-id", bad], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and "--chain-id must be a whole number" in proc.stderr, proc.stderr
