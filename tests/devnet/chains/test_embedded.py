"""The embedded chain on its own: robustness, concurrency, the log index, the estimate, the entry point."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from hourglass_cli.devnet.chains.embedded import execution
from hourglass_cli.devnet.chains.embedded.__main__ import READY_PREFIX
from hourglass_cli.devnet.chains.embedded.accounts import DEFAULT_MNEMONIC, derive_keys, dev_keys
from hourglass_cli.devnet.chains.embedded.logindex import LogFilter
from hourglass_cli.devnet.chains.embedded.node import Node
from hourglass_cli.devnet.chains.embedded.params import BlockRef, TxParams
from hourglass_cli.devnet.chains.embedded.server import RpcHTTPServer, make_server
from tests.devnet.chains.conftest import Rpc
from tests.devnet.chains.evm_asm import (
    EMITTER_TOPIC0,
    deploy_code,
    emitter_runtime,
    gas_floor_runtime,
    pairing_runtime,
)
from tests.devnet.chains.test_precompiles import PAIRING_CASES


@pytest.fixture(scope="module")
def server() -> Iterator[RpcHTTPServer]:
    """An embedded chain served from a thread of this process (for the tests that need no process)."""
    srv = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _deploy(node: Node, runtime: bytes, sender: int = 0) -> bytes:
    node.send(node.sign(TxParams(sender=node.accounts[sender], data=deploy_code(runtime), gas=200_000)))
    assert node.head.receipts[0].state_root == b"\x01"
    return node.head.contract_address(0)


# --- robustness -------------------------------------------------------------------------------------


def test_malformed_requests_get_json_rpc_errors(server: RpcHTTPServer) -> None:
    rpc = Rpc(server.url)
    assert rpc.post(b"{")["error"]["code"] == -32700
    assert rpc.post(b"\xff\xfe")["error"]["code"] == -32700
    assert rpc.post(b"[]")["error"]["code"] == -32600
    assert rpc.post(b'"hello"')["error"]["code"] == -32600
    assert rpc.post({"jsonrpc": "2.0", "id": 1, "method": 5})["error"]["code"] == -32600
    assert rpc.request("eth_nope")["error"]["code"] == -32601
    assert rpc.request("eth_getBalance")["error"]["code"] == -32602
    assert rpc.request("eth_getBalance", "0x12", "latest")["error"]["code"] == -32602
    assert rpc.request("eth_getBlockByNumber", "0xzz", False)["error"]["code"] == -32602
    assert rpc.post({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": "x"})["error"]["code"] == -32602
    batch = rpc.post([{"jsonrpc": "2.0", "id": "a", "method": "eth_chainId"}, 7, {"jsonrpc": "2.0", "method": "eth_chainId"}])
    assert batch[0] == {"jsonrpc": "2.0", "id": "a", "result": "0x7a69"}
    assert batch[1]["error"]["code"] == -32600 and len(batch) == 2  # the notification gets no answer
    assert rpc.post({"jsonrpc": "2.0", "method": "eth_chainId"}) is None
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.url, timeout=10)
    assert info.value.code == 405


def test_no_method_crashes_on_junk_params(server: RpcHTTPServer) -> None:
    rpc = Rpc(server.url)
    junk: list[Any] = [[], [None], ["0xzz"], [{}], [123], [-1], [True], ["latest", "latest", "x", "y"], [[1, 2]],
                       [{"from": "0x12", "to": 5}], [{"topics": "x"}], ["0x" + "11" * 20, "0x" + "f" * 80]]  # fmt: skip
    for method in sorted(server.dispatcher.methods.table):
        for params in junk:
            answer = rpc.request(method, *params)
            assert "result" in answer or answer["error"]["code"] in (-32602, -32000, -32603, 3), (method, params, answer)
            assert "Internal error" not in answer.get("error", {}).get("message", ""), (method, params, answer)
    assert rpc("web3_clientVersion").startswith("hourglass-embedded/")


def test_concurrent_clients(server: RpcHTTPServer) -> None:
    rpc = Rpc(server.url)
    accounts = rpc("eth_accounts")
    start = int(rpc("eth_blockNumber"), 16)
    nonces = {a: int(rpc("eth_getTransactionCount", a, "latest"), 16) for a in accounts[:6]}
    errors: list[BaseException] = []

    def sender(account: str) -> None:
        try:
            client = Rpc(server.url)
            for _ in range(5):
                tx = client("eth_sendTransaction", {"from": account, "to": accounts[9], "value": "0x1"})
                assert client("eth_getTransactionReceipt", tx)["status"] == "0x1"
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def reader() -> None:
        try:
            client = Rpc(server.url)
            for _ in range(20):
                client("eth_getLogs", {"fromBlock": "0x0"})
                client("eth_getBlockByNumber", "latest", True)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(a,)) for a in accounts[:6]] + [threading.Thread(target=reader)] * 1
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert int(rpc("eth_blockNumber"), 16) == start + 30
    for account, nonce in nonces.items():
        assert int(rpc("eth_getTransactionCount", account, "latest"), 16) == nonce + 5


# --- the log index --------------------------------------------------------------------------------


def _scan(node: Node, flt: LogFilter, start: int, end: int) -> list[dict[str, Any]]:
    """The slow answer: every canonical block's logs, filtered one by one."""
    return [e.json for record in node.blocks[start : end + 1] for e in record.logs if flt.matches(e)]


def test_log_index_equals_a_full_scan_through_reverts() -> None:
    node = Node()
    emitters = [_deploy(node, emitter_runtime()) for _ in range(3)]
    word = [n.to_bytes(32, "big") for n in range(6)]

    def emit(i: int) -> None:
        p = TxParams(sender=node.accounts[i % 4], to=emitters[i % 3], data=word[i % 6] + b"x" * (i % 3), gas=100_000)
        node.send(node.sign(p))

    for i in range(12):
        emit(i)
    snap = node.snapshot()
    for i in range(12, 20):
        emit(i)
    node.mine()  # an empty block too
    assert node.revert(snap)
    for i in range(20, 26):
        emit(i)
    filters = [
        LogFilter(),
        LogFilter(frozenset([emitters[1]])),
        LogFilter(frozenset(emitters[:2]), (frozenset([EMITTER_TOPIC0]),)),
        LogFilter(None, (None, frozenset([word[2], word[5]]))),
        LogFilter(None, (frozenset([b"\x01" * 32]),)),
        LogFilter(frozenset([b"\x02" * 20])),
    ]
    head = node.head.number
    for flt in filters:
        for start, end in [(0, head), (5, 9), (head, head), (head - 3, head + 50), (7, 3)]:
            assert node.logs.query(flt, start, end) == _scan(node, flt, start, end)
    assert len(node.logs.query(LogFilter(), 0, head)) == 18


# --- the estimate ----------------------------------------------------------------------------------


def test_estimate_is_the_least_limit_in_two_executions() -> None:
    node = Node()
    target = _deploy(node, pairing_runtime())
    data = PAIRING_CASES["product_one"] * 2  # four pairs: the 63/64 rule binds at the STATICCALL
    params = TxParams(sender=node.accounts[0], to=target, data=data)
    estimate, runs = node.estimate(params, BlockRef(tag="latest"))
    vm = node.vm_at(BlockRef(tag="latest"))
    assert execution.execute(vm, params, estimate).success
    assert not execution.execute(vm, params, estimate - 1).success
    assert runs == 2  # one run at the cap, one to verify what the call tree says
    assert estimate > execution.execute(vm, params, 30_000_000).gas_used  # more than it uses
    node.send(node.sign(TxParams(sender=node.accounts[0], to=target, data=data, gas=estimate)))
    assert node.head.receipts[0].state_root == b"\x01"


def test_estimate_falls_back_to_a_search_where_code_reads_the_gas_left() -> None:
    node = Node()
    target = _deploy(node, gas_floor_runtime(100_000))
    params = TxParams(sender=node.accounts[0], to=target)
    estimate, runs = node.estimate(params, BlockRef(tag="latest"))
    vm = node.vm_at(BlockRef(tag="latest"))
    assert execution.execute(vm, params, estimate).success
    assert not execution.execute(vm, params, estimate - max(1, estimate // 1000) - 1).success
    assert runs > 2


def test_estimate_of_a_revert_is_the_revert_error() -> None:
    node = Node()
    target = _deploy(node, pairing_runtime())
    with pytest.raises(execution.RpcError) as info:
        node.estimate(TxParams(sender=node.accounts[0], to=target, data=b"\x01" * 191), BlockRef(tag="latest"))
    assert info.value.code == 3 and info.value.data == "0x"


# --- accounts, entry point ---------------------------------------------------------------------------


def test_default_keys_are_the_mnemonic_derivation() -> None:
    assert dev_keys() == derive_keys(DEFAULT_MNEMONIC, 10)


def test_module_entry_point_serves_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hourglass_cli.devnet.chains.embedded", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        stop_at = time.monotonic() + 60
        line = b""
        while not line.endswith(b"\n") and time.monotonic() < stop_at:
            ready, _, _ = select.select([proc.stdout], [], [], stop_at - time.monotonic())
            if ready:
                line += os.read(proc.stdout.fileno(), 4096)
        text = line.decode()
        assert text.startswith(READY_PREFIX), text
        url = text[len(READY_PREFIX) :].strip()
        assert Rpc(url)("eth_chainId") == "0x7a69"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def test_json_answers_are_compact_and_ids_echoed(server: RpcHTTPServer) -> None:
    rpc = Rpc(server.url)
    for req_id in ("abc", 0, 2**40, None, 1.5):
        body = json.dumps({"jsonrpc": "2.0", "id": req_id, "method": "eth_chainId", "params": []}).encode()
        assert rpc.post(body) == {"jsonrpc": "2.0", "id": req_id, "result": "0x7a69"}


def test_lazy_bls12_381_precompiles_still_answer() -> None:
    """The server defers py-evm's BLS12-381 imports; a call to 0x0b must still run the real code."""
    script = (
        "from hourglass_cli.devnet.chains.embedded import _lazy_bls\n"
        "assert _lazy_bls.install()\n"
        "import sys\n"
        "from hourglass_cli.devnet.chains.embedded import execution\n"
        "from hourglass_cli.devnet.chains.embedded.node import Node\n"
        "from hourglass_cli.devnet.chains.embedded.params import BlockRef, TxParams\n"
        "assert 'py_ecc.optimized_bls12_381.optimized_pairing' not in sys.modules\n"
        "node = Node()\n"
        "p = TxParams(sender=node.accounts[0], to=(11).to_bytes(20, 'big'), data=bytes(256))\n"
        "r = execution.execute(node.vm_at(BlockRef(tag='latest')), p, 100_000)\n"
        "print(r.success, r.output.hex(), r.gas_used)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    success, output, gas_used = out.stdout.split()
    node = Node()  # this process imported py-evm normally
    p = TxParams(sender=node.accounts[0], to=(11).to_bytes(20, "big"), data=bytes(256))
    r = execution.execute(node.vm_at(BlockRef(tag="latest")), p, 100_000)
    assert (success, output, int(gas_used)) == (str(r.success), r.output.hex(), r.gas_used)
    assert r.success and r.output == bytes(128)
