"""Fuzzing the embedded chain's JSON-RPC server over HTTP on 127.0.0.1 (what any client may send a devnet).

Requests for every method with params drawn from Ethereum-shaped values (hex quantities of any size, data,
addresses, block tags, transaction and filter objects with wrong types inside), batches, and bodies that are
no JSON-RPC at all. Every body gets an HTTP answer; every request object a JSON-RPC result or an error that is
not the server's "Internal error" (an exception nobody meant); afterwards the node still mines a real
transaction and its chain is consistent.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from hourglass_cli.devnet.chains.embedded.server import RpcHTTPServer, make_server
from tests.fuzz.strategies import big_int, fuzz_settings, hex_text, json_value, nasty_text

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

# Mining takes a block count (up to 100 000 per call, bounded on purpose): legitimate work, not a finding.
SKIPPED = {"evm_mine", "anvil_mine", "hardhat_mine"}
INTERNAL_ERROR = -32603


class Client:
    def __init__(self, server: RpcHTTPServer) -> None:
        host, port = server.server_address[:2]
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def post(self, body: bytes) -> tuple[int, bytes]:
        try:
            self.conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
            response = self.conn.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()  # the server closed a connection it would not read on (a refused body): reconnect
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            raise

    def call(self, method: str, *params: Any) -> Any:
        status, body = self.post(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                                             "params": list(params)}).encode())
        answer = json.loads(body)
        assert status == 200 and "result" in answer, answer
        return answer["result"]


@pytest.fixture(scope="module")
def server() -> Iterator[RpcHTTPServer]:
    srv = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv
        # Still a working chain: a signed transfer mines, its receipt and the balances agree.
        client = Client(srv)
        account = Account.create()
        client.call("anvil_setBalance", account.address, hex(10**18))
        nonce = int(client.call("eth_getTransactionCount", account.address, "latest"), 16)
        gas_price = int(client.call("eth_gasPrice"), 16)
        tx = account.sign_transaction({"to": "0x" + "42" * 20, "value": 1234, "gas": 21000, "nonce": nonce,
                                       "gasPrice": gas_price * 2, "chainId": int(client.call("eth_chainId"), 16)})
        client.call("evm_setAutomine", True)
        tx_hash = client.call("eth_sendRawTransaction", "0x" + tx.raw_transaction.hex())
        receipt = client.call("eth_getTransactionReceipt", tx_hash)
        assert receipt is not None and int(receipt["status"], 16) == 1
        assert int(client.call("eth_getBalance", "0x" + "42" * 20, "latest"), 16) >= 1234
        head = client.call("eth_getBlockByNumber", "latest", False)
        parent = client.call("eth_getBlockByNumber", hex(int(head["number"], 16) - 1), False)
        assert head["parentHash"] == parent["hash"]
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(scope="module")
def client(server: RpcHTTPServer) -> Client:
    return Client(server)


def _methods(server_methods: list[str]) -> list[str]:
    return [m for m in server_methods if m not in SKIPPED]


address = st.one_of(st.just("0x" + "00" * 20), st.just("0x" + "42" * 20), hex_text, nasty_text)
quantity = st.one_of(big_int.map(lambda n: hex(n)), hex_text, big_int, st.sampled_from(["latest", "earliest",
                     "pending", "safe", "finalized", "0x", "0x0", "0x00"]))
data_hex = st.one_of(st.binary(max_size=64).map(lambda b: "0x" + b.hex()), hex_text)
tx_object = st.fixed_dictionaries({}, optional={
    "from": address, "to": st.one_of(address, st.none()), "gas": quantity, "gasPrice": quantity, "value": quantity,
    "data": data_hex, "input": data_hex, "nonce": quantity, "maxFeePerGas": quantity, "type": quantity,
    "maxPriorityFeePerGas": quantity, "accessList": json_value, "chainId": quantity})
filter_object = st.fixed_dictionaries({}, optional={
    "fromBlock": quantity, "toBlock": quantity, "address": st.one_of(address, st.lists(address, max_size=3)),
    "topics": st.one_of(json_value, st.lists(st.one_of(st.none(), data_hex, st.lists(data_hex, max_size=2)),
                                             max_size=5)),
    "blockHash": data_hex})
param = st.one_of(quantity, address, data_hex, tx_object, filter_object, json_value, st.booleans())


@st.composite
def requests(draw: st.DrawFn, methods: list[str]) -> dict[str, Any]:
    request: dict[str, Any] = {"jsonrpc": "2.0", "method": draw(st.one_of(st.sampled_from(methods), nasty_text))}
    if draw(st.booleans()):
        request["id"] = draw(st.one_of(st.integers(), nasty_text, st.none(), json_value))
    params = draw(st.one_of(st.lists(param, max_size=4), json_value))
    if draw(st.integers(0, 9)):
        request["params"] = params
    return request


def _check_answer(request: Any, answer: Any) -> None:
    assert isinstance(answer, dict) and answer.get("jsonrpc") == "2.0", answer
    assert ("result" in answer) != ("error" in answer), answer
    if "error" in answer:
        error = answer["error"]
        assert isinstance(error.get("code"), int) and isinstance(error.get("message"), str), answer
        assert error["code"] != INTERNAL_ERROR and "Internal error" not in error["message"], (request, answer)


@fuzz_settings(300)
@given(data=st.data())
def test_requests_with_fuzzed_params(server: RpcHTTPServer, client: Client, data: st.DataObject) -> None:
    methods = _methods(sorted(server.dispatcher.methods.table))
    request = data.draw(requests(methods))
    status, body = client.post(json.dumps(request).encode())
    if "id" not in request and isinstance(request.get("method"), str):
        assert status in (200, 204), (status, body)
        if status == 204:
            return
    assert status == 200, (status, body)
    _check_answer(request, json.loads(body))


@fuzz_settings(60)
@given(data=st.data())
def test_batches(server: RpcHTTPServer, client: Client, data: st.DataObject) -> None:
    methods = _methods(sorted(server.dispatcher.methods.table))
    batch = data.draw(st.lists(st.one_of(requests(methods).map(lambda r: {**r, "id": 7}), json_value), max_size=6))
    status, body = client.post(json.dumps(batch).encode())
    assert status == 200, (status, body)
    answer = json.loads(body)
    if not batch:
        _check_answer(batch, answer)
        return
    assert isinstance(answer, list) and len(answer) == len(batch), (batch, answer)
    for request, one in zip(batch, answer):
        _check_answer(request, one)


@fuzz_settings(100)
@given(body=st.one_of(st.binary(max_size=500), st.text(max_size=300).map(str.encode),
                      json_value.map(lambda v: json.dumps(v).encode()),
                      st.sampled_from([b"", b"{", b"[", b"[]", b"{}", b"null", b'{"method":', b"\xff\xfe",
                                       b'[' * 5000 + b']' * 5000, b'{"a":' * 2000 + b'1' + b'}' * 2000])))
def test_bodies_that_are_not_json_rpc(client: Client, body: bytes) -> None:
    status, answer = client.post(body)
    assert status in (200, 204), (status, answer)
    if status == 200:
        decoded = json.loads(answer)
        for one in decoded if isinstance(decoded, list) else [decoded]:
            _check_answer(body, one)


def test_deeply_nested_json_is_a_parse_error(client: Client) -> None:
    """Found by this fuzz: a body nested thousands deep made json raise RecursionError and the request died."""
    for body in (b"[" * 100_000, b'{"a":' * 50_000):
        status, answer = client.post(body)
        assert status == 200 and json.loads(answer)["error"]["code"] == -32700, answer
