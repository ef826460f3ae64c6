"""Devnet chain backends: cold start, eth_getLogs over many blocks, eth_estimateGas on pairings.

Run: .venv/bin/python benchmarks/devnet_chain.py [--runs N] [--blocks N] [--skip-eth-tester]

1. cold start to ready (process spawned -> web3_clientVersion answers), anvil and embedded;
2. eth_getLogs over --blocks blocks (one log each) on the embedded chain, over HTTP, against
   eth-tester's own get_logs (in process, through web3's EthereumTesterProvider);
3. eth_estimateGas of a call running the ecPairing precompile on two pairs (what one BN254
   certificate verification costs), then of the real TaskMailbox.submitResult with a BN254
   certificate: our estimate vs py-evm's binary search, with our fast precompile and with
   py-evm's py_ecc one.
Prints medians; nothing is asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hourglass_cli.devnet.chains.anvil import AnvilBackend, find_anvil  # noqa: E402
from hourglass_cli.devnet.chains.embedded import EmbeddedBackend  # noqa: E402
from tests.devnet.chains.evm_asm import EMITTER_TOPIC0, deploy_code, emitter_runtime, pairing_runtime  # noqa: E402

ACCOUNT0 = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, result


class Client:
    """Keep-alive JSON-RPC over one HTTP connection (what web3's session does)."""

    def __init__(self, url: str) -> None:
        host, port = url.split("://")[1].rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=120)

    def close(self) -> None:
        self.conn.close()

    def __call__(self, method: str, *params: Any) -> Any:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        self.conn.request("POST", "/", body, {"Content-Type": "application/json"})
        answer = json.loads(self.conn.getresponse().read())
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]


def pairing_input() -> bytes:
    """e(P, G2) * e(P, -G2) == 1: two pairs, as in one certificate check."""
    from hourglass_cli.crypto import bn254
    from hourglass_cli.crypto.pairing import G2_GENERATOR, NEG_G2

    p = bn254.g1_mul(bn254.G1_GENERATOR, 0xC0FFEE)
    g1 = p[0].to_bytes(32, "big") + p[1].to_bytes(32, "big")

    def g2(q: Any) -> bytes:
        return b"".join(v.to_bytes(32, "big") for v in (q[0][1], q[0][0], q[1][1], q[1][0]))

    return g1 + g2(G2_GENERATOR) + g1 + g2(NEG_G2)


# --- 1. cold start -----------------------------------------------------------------------------------


def bench_cold_start(runs: int) -> None:
    print("\n== cold start to ready (spawn -> web3_clientVersion answers), median of", runs)
    backends: list[tuple[str, Callable[[], Any]]] = [("embedded", EmbeddedBackend)]
    binary = find_anvil()
    if binary is not None:
        backends.insert(0, ("anvil", lambda: AnvilBackend(binary)))
    else:
        print("  anvil: not installed, skipped")
    with tempfile.TemporaryDirectory() as tmp:
        for name, make in backends:
            times = []
            for i in range(runs):
                backend = make()
                t0 = time.perf_counter()
                handle = backend.start(None, Path(tmp) / f"{name}-{i}.log")
                times.append(time.perf_counter() - t0)
                handle.stop()
            print(f"  {name:9s} {statistics.median(times) * 1000:8.1f} ms   (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f})")


# --- 2. eth_getLogs ----------------------------------------------------------------------------------


def fill_embedded(rpc: Client, blocks: int) -> str:
    tx = rpc("eth_sendTransaction", {"from": ACCOUNT0, "data": "0x" + deploy_code(emitter_runtime()).hex(), "gas": "0x30d40"})
    emitter = rpc("eth_getTransactionReceipt", tx)["contractAddress"]
    for i in range(blocks):
        data = "0x" + (i % 100).to_bytes(32, "big").hex()
        rpc("eth_sendTransaction", {"from": ACCOUNT0, "to": emitter, "data": data, "gas": "0x186a0"})
    return emitter


def bench_get_logs(runs: int, blocks: int, skip_eth_tester: bool) -> None:
    print(f"\n== eth_getLogs over {blocks} blocks (one log per block), median of {runs}")
    with tempfile.TemporaryDirectory() as tmp:
        handle = EmbeddedBackend().start(None, Path(tmp) / "chain.log")
        try:
            rpc = Client(handle.rpc_url)
            t0 = time.perf_counter()
            emitter = fill_embedded(rpc, blocks)
            fill_s = time.perf_counter() - t0
            print(f"  embedded: mined {blocks} blocks over JSON-RPC in {fill_s:.1f} s ({fill_s / blocks * 1000:.1f} ms/tx)")
            head = rpc("eth_blockNumber")
            everything = {"fromBlock": "0x0", "toBlock": head, "address": emitter}
            one_topic = {"fromBlock": "0x0", "toBlock": head, "topics": ["0x" + EMITTER_TOPIC0.hex(), _word(7)]}
            ms_all, found = median_ms(lambda: rpc("eth_getLogs", everything), runs)
            print(f"  embedded  all {len(found)} logs of the address      {ms_all:8.2f} ms  (HTTP + JSON both ways)")
            ms_sel, found = median_ms(lambda: rpc("eth_getLogs", one_topic), runs)
            print(f"  embedded  topic-selected ({len(found)} logs)           {ms_sel:8.2f} ms")
            rpc.close()
        finally:
            handle.stop()
    if skip_eth_tester:
        return
    from web3 import Web3

    w3 = Web3(Web3.EthereumTesterProvider())
    sender = w3.eth.accounts[0]
    t0 = time.perf_counter()
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": sender, "data": deploy_code(emitter_runtime()), "gas": 200_000})
    )
    emitter = receipt["contractAddress"]
    for i in range(blocks):
        w3.eth.send_transaction({"from": sender, "to": emitter, "data": (i % 100).to_bytes(32, "big"), "gas": 100_000})
    print(f"  eth-tester: mined {blocks} blocks in {time.perf_counter() - t0:.1f} s (in process)")
    et_runs = 1  # eth-tester re-reads every block's receipts: ~90 s per query over 1000 blocks
    ms_et, found = median_ms(lambda: w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": emitter}), et_runs)
    print(f"  eth-tester all {len(found)} logs (in process, median of {et_runs})  {ms_et:8.2f} ms")
    print(f"  ratio eth-tester / embedded: {ms_et / ms_all:.0f}x")


def _word(n: int) -> str:
    return "0x" + n.to_bytes(32, "big").hex()


# --- 3. eth_estimateGas ------------------------------------------------------------------------------


def bench_estimate(runs: int) -> None:
    from eth.vm.spoof import SpoofTransaction

    from hourglass_cli.devnet.chains.embedded.node import Node
    from hourglass_cli.devnet.chains.embedded.params import BlockRef, TxParams

    print("\n== eth_estimateGas on a call running ecPairing over 2 pairs (one certificate check)")
    data = pairing_input()
    for fast in (True, False):
        node = Node(fast_precompiles=fast)
        sender = node.accounts[0]
        node.send(node.sign(TxParams(sender=sender, data=deploy_code(pairing_runtime()), gas=200_000)))
        target = node.head.contract_address(0)
        params = TxParams(sender=sender, to=target, data=data)
        latest = BlockRef(tag="latest")
        n = runs if fast else 1
        label = "fast precompile (ours)" if fast else "py_ecc precompile (stock py-evm)"
        ms_call, _ = median_ms(lambda: node.call(params, latest), n)
        ms_ours, (gas_ours, executions) = median_ms(lambda: node.estimate(params, latest), n)

        def pyevm_estimate() -> int:
            vm = node.vm_at(latest)
            unsigned = vm.get_transaction_builder().new_unsigned_dynamic_fee_transaction(
                chain_id=31337, nonce=vm.state.get_nonce(sender), max_priority_fee_per_gas=0, max_fee_per_gas=0,
                gas=30_000_000, to=target, value=0, data=data, access_list=(),
            )  # fmt: skip
            return node.chain.estimate_gas(SpoofTransaction(unsigned, from_=sender), node.head.header)

        ms_pyevm, gas_pyevm = median_ms(pyevm_estimate, n)
        print(f"  {label}:")
        print(f"    eth_call                                  {ms_call:9.1f} ms")
        print(f"    our estimate ({executions} executions)            {ms_ours:9.1f} ms  -> {gas_ours} gas")
        print(f"    py-evm's binary search estimate           {ms_pyevm:9.1f} ms  -> {gas_pyevm} gas")
    with tempfile.TemporaryDirectory() as tmp:
        handle = EmbeddedBackend().start(None, Path(tmp) / "chain.log")
        try:
            rpc = Client(handle.rpc_url)
            tx = rpc("eth_sendTransaction", {"from": ACCOUNT0, "data": "0x" + deploy_code(pairing_runtime()).hex()})
            target_hex = rpc("eth_getTransactionReceipt", tx)["contractAddress"]
            call = {"from": ACCOUNT0, "to": target_hex, "data": "0x" + data.hex()}
            ms_rpc, gas = median_ms(lambda: rpc("eth_estimateGas", call), runs)
            print(f"  over JSON-RPC on the embedded chain: eth_estimateGas {ms_rpc:.1f} ms -> {int(gas, 16)} gas")
            rpc.close()
        finally:
            handle.stop()


def bench_submit_result(runs: int) -> None:
    """The real pairing-heavy call: TaskMailbox.submitResult verifying a BN254 certificate."""
    import threading

    from eth.vm.spoof import SpoofTransaction

    from hourglass_cli.devnet.chains.embedded import execution
    from hourglass_cli.devnet.chains.embedded.evm import PyEccDevChain
    from hourglass_cli.devnet.chains.embedded.params import BlockRef, TxParams
    from hourglass_cli.devnet.chains.embedded.server import make_server

    try:
        from tests.devnet.chains.test_real_contracts import RESULT, _certified_task, _chain
    except ImportError as exc:
        print(f"\n== submitResult: skipped ({exc})")
        return
    print("\n== eth_estimateGas of TaskMailbox.submitResult (BN254 certificate, one non-signer)")
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        from hourglass_cli.devnet.chains import ChainHandle

        handle = ChainHandle("embedded", server.url, server.server_address[1], 0, Path("-"))
        chain = _chain(handle)
        t0 = time.perf_counter()
        stack, task_hash, cert = _certified_task(chain)
        print(f"  stack deployed, 4 BN254 operators registered, task created: {time.perf_counter() - t0:.1f} s")
        submit = stack.mailbox.functions.submitResult(task_hash, cert, RESULT)
        sender = chain.accounts[9]
        data = bytes.fromhex(submit._encode_transaction_data()[2:])
        node = server.dispatcher.node
        params = TxParams(sender=bytes.fromhex(sender[2:]), to=bytes.fromhex(stack.mailbox.address[2:]), data=data)
        latest = BlockRef(tag="latest")
        ms_http, gas_http = median_ms(lambda: submit.estimate_gas({"from": sender}), runs)
        print(f"  web3 estimate_gas over HTTP (ours)          {ms_http:9.1f} ms  -> {gas_http} gas")
        slow_chain = PyEccDevChain(node.chain.chaindb.db)  # same state, py-evm's py_ecc precompiles
        for label, vm_of, estimator_chain, n in (
            ("fast precompile (ours)", lambda: node.vm_at(latest), node.chain, runs),
            ("py_ecc precompile (stock py-evm)", lambda: slow_chain.get_vm(node.head.header), slow_chain, 1),
        ):
            vm = vm_of()
            ms_call, _ = median_ms(lambda: execution.call(vm, params, 30_000_000), n)
            ms_ours, (gas_ours, executions) = median_ms(
                lambda: execution.estimate_gas(lambda gas: execution.execute(vm, params, gas), 30_000_000), n
            )

            def pyevm_estimate() -> int:
                unsigned = vm.get_transaction_builder().new_unsigned_dynamic_fee_transaction(
                    chain_id=31337, nonce=vm.state.get_nonce(params.sender), max_priority_fee_per_gas=0,
                    max_fee_per_gas=0, gas=30_000_000, to=params.to, value=0, data=data, access_list=(),
                )  # fmt: skip
                spoofed = SpoofTransaction(unsigned, from_=params.sender)
                return estimator_chain.estimate_gas(spoofed, node.head.header)

            ms_pyevm, gas_pyevm = median_ms(pyevm_estimate, n)
            print(f"  {label}:")
            print(f"    eth_call                                  {ms_call:9.1f} ms")
            print(f"    our estimate ({executions} executions)            {ms_ours:9.1f} ms  -> {gas_ours} gas")
            print(f"    py-evm's binary search estimate           {ms_pyevm:9.1f} ms  -> {gas_pyevm} gas")
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="repetitions per timing (median reported)")
    parser.add_argument("--blocks", type=int, default=1000, help="blocks with logs for the eth_getLogs case")
    parser.add_argument("--skip-eth-tester", action="store_true", help="skip eth-tester's (slow) get_logs")
    args = parser.parse_args()
    bench_cold_start(args.runs)
    bench_get_logs(max(args.runs, 10), args.blocks, args.skip_eth_tester)
    bench_estimate(args.runs)
    bench_submit_result(args.runs)


if __name__ == "__main__":
    main()
