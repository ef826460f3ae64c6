"""The task commands' web3-free path: JSON-RPC over http.client (tasks/rpc.py) and the TaskMailbox client
(tasks/mailbox.py).

Transport edge cases run against a scripted JSON-RPC server on 127.0.0.1 (http.server); the mailbox runs
against a real stack (deploy_core + setup_operators) on anvil and on the embedded chain and is compared with
what web3 and TxSender do on the same chain. Missing anvil fails.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hourglass_cli.chain.reverts import RevertError, revert_data
from hourglass_cli.errors import ChainError
from hourglass_cli.tasks.rpc import HttpTransport, RpcError, transport, wait_ready

SECRET = "hunter2-pw"
USER_URL = "http://alice:p%40ss-" + SECRET + "@127.0.0.1:{port}/rpc"  # password "p@ss-hunter2-pw"
PAYLOAD = b"\x00" * 31 + b"\x05"
ZERO_HASH = b"\x00" * 32

# ---------------------------------------------------------------------------------------------------------
# A scripted JSON-RPC server on 127.0.0.1


Reply = Callable[[dict[str, Any]], "tuple[int, Any, bool] | None"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as nodes serve it

    def setup(self) -> None:
        super().setup()
        node: ScriptedNode = self.server  # type: ignore[assignment]
        with node.cond:
            node.connections += 1
            node.open.add(self.connection)

    def do_POST(self) -> None:
        node: ScriptedNode = self.server  # type: ignore[assignment]
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with node.cond:
            node.calls.append((request, dict(self.headers)))
            node.cond.notify_all()
        reply = node.reply(request)
        if reply is None:  # read the request, then hang up without an answer
            self.close_connection = True
            return
        status, payload, close = reply
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        # close=True: the server drops the connection after answering without announcing it (no
        # "Connection: close"), which is what a client sees when a server's idle timeout closed it.
        self.close_connection = close

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ScriptedNode(ThreadingHTTPServer):
    """Answers each JSON-RPC request with `reply(request)`: (HTTP status, body, close after) or None (hang up)."""

    daemon_threads = True

    def __init__(self, reply: Reply) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.reply = reply
        self.cond = threading.Condition()
        self.connections = 0  # accepted
        self.closed = 0  # closed by the server
        self.open: set[socket.socket] = set()
        self.calls: list[tuple[dict[str, Any], dict[str, str]]] = []
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def methods(self) -> list[str]:
        with self.cond:
            return [request["method"] for request, _ in self.calls]

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self.cond:
            self.closed += 1
            self.open.discard(request)
            self.cond.notify_all()

    def wait_closed(self, count: int, timeout: float = 10.0) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.closed >= count, timeout), \
                f"the server closed {self.closed} connection(s), expected {count}"

    def stop(self) -> None:
        """Gone: no more connections, and the kept-alive ones are cut."""
        self.shutdown()
        self.server_close()
        with self.cond:
            live = list(self.open)
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def answer(result: Any, status: int = 200, close: bool = False) -> Callable[[dict[str, Any]], tuple[int, Any, bool]]:
    return lambda request: (status, {"jsonrpc": "2.0", "id": request["id"], "result": result}, close)


@pytest.fixture
def nodes() -> Iterator[Callable[[Reply], ScriptedNode]]:
    started: list[ScriptedNode] = []

    def start(reply: Reply) -> ScriptedNode:
        node = ScriptedNode(reply)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()


def _everything_shown(exc: BaseException) -> str:
    """All a user or a log could see of `exc`: the traceback chain with messages, and the hint."""
    return "".join(traceback.format_exception(exc)) + str(getattr(exc, "hint", ""))


# ---------------------------------------------------------------------------------------------------------
# Transport


def test_results_and_json_rpc_errors_map_to_values_and_rpc_errors(nodes: Callable[[Reply], ScriptedNode]) -> None:
    revert = "0x0b5b2a85"  # a custom error's selector as a node reports it
    script: dict[str, Callable[[dict[str, Any]], tuple[int, Any, bool]]] = {
        "eth_chainId": answer("0x7a69"),
        "eth_getBlockByNumber": answer({"number": "0x2a", "baseFeePerGas": "0x7"}),
        "eth_getTransactionReceipt": answer(None),
        "eth_call": lambda r: (200, {"jsonrpc": "2.0", "id": r["id"],
                                     "error": {"code": 3, "message": "execution reverted", "data": revert}}, False),
        "eth_sendRawTransaction": lambda r: (200, {"jsonrpc": "2.0", "id": r["id"],
                                                   "error": {"code": -32000, "message": "nonce too low"}}, False),
        "error_as_text": lambda r: (200, {"jsonrpc": "2.0", "id": r["id"], "error": "boom"}, False),
        "error_with_500": lambda r: (500, {"jsonrpc": "2.0", "id": r["id"],
                                           "error": {"code": -32603, "message": "internal"}}, False),
        "html_502": lambda r: (502, b"<html>Bad Gateway</html>", False),
        "result_with_429": answer("0x1", status=429),
        "batch_shaped": lambda r: (200, [], False),
    }
    node = nodes(lambda r: script[r["method"]](r))
    rpc = HttpTransport(node.url)

    assert rpc.request("eth_chainId", []) == "0x7a69"
    assert rpc.request("eth_getBlockByNumber", ["latest", False]) == {"number": "0x2a", "baseFeePerGas": "0x7"}
    assert rpc.request("eth_getTransactionReceipt", ["0x" + "11" * 32]) is None

    with pytest.raises(RpcError) as reverted:
        rpc.request("eth_call", [{"to": "0x" + "22" * 20, "data": "0x"}, "latest"])
    err = reverted.value
    assert isinstance(err, ChainError)
    assert (err.code, err.rpc_message, err.data) == (3, "execution reverted", revert)
    assert str(err).startswith("eth_call failed: ") and "execution reverted" in str(err)
    assert revert_data(err) == bytes.fromhex(revert[2:])  # what chain.reverts decodes the custom error from

    with pytest.raises(RpcError) as rejected:
        rpc.request("eth_sendRawTransaction", ["0x01"])
    assert (rejected.value.code, rejected.value.rpc_message, rejected.value.data) == (-32000, "nonce too low", None)
    assert revert_data(rejected.value) is None

    with pytest.raises(RpcError) as text:
        rpc.request("error_as_text", [])
    assert (text.value.code, text.value.rpc_message, str(text.value)) == (None, "boom", "error_as_text failed: boom")

    with pytest.raises(RpcError, match="error_with_500 failed: .*internal"):  # the node's error wins over HTTP 500
        rpc.request("error_with_500", [])

    for method, status in (("html_502", 502), ("batch_shaped", 200)):
        with pytest.raises(ChainError) as no_rpc:
            rpc.request(method, [])
        assert not isinstance(no_rpc.value, RpcError)
        assert str(no_rpc.value) == f"{method}: {node.url} answered HTTP {status} without a JSON-RPC response"
        assert "JSON-RPC endpoint" in (no_rpc.value.hint or "")

    with pytest.raises(ChainError) as limited:
        rpc.request("result_with_429", [])
    assert str(limited.value) == f"result_with_429: {node.url} answered HTTP 429"

    # On the wire: JSON-RPC 2.0 POSTs with increasing ids, the params as given, all on one kept-alive connection.
    bodies = [request for request, _ in node.calls]
    assert [b["id"] for b in bodies] == list(range(1, len(bodies) + 1))
    assert all(b["jsonrpc"] == "2.0" for b in bodies)
    assert bodies[1]["params"] == ["latest", False]
    assert node.calls[0][1]["Content-Type"] == "application/json"
    assert node.connections == 1


def _failures(rpc: Any, node: Any, url: str, methods: tuple[str, ...]) -> list[BaseException]:
    """The errors of: each failing `methods` call, the node gone, waiting for it, and the URL with a bad scheme."""
    failures: list[BaseException] = []
    for method in methods:
        with pytest.raises(ChainError) as caught:
            rpc.request(method, [])
        failures.append(caught.value)
    node.stop()
    node.wait_closed(1)
    with pytest.raises(ChainError) as gone:
        rpc.request("eth_chainId", [])
    failures.append(gone.value)
    with pytest.raises(ChainError) as silent:
        wait_ready(transport(url), 0.3)
    failures.append(silent.value)
    with pytest.raises(ChainError) as bad_scheme:
        HttpTransport(url.replace("http://", "ftp://"))
    failures.append(bad_scheme.value)
    return failures


def test_a_password_in_the_url_is_sent_as_basic_auth_and_never_shown(
        nodes: Callable[[Reply], ScriptedNode]) -> None:
    script = {"eth_chainId": answer("0x7a69"), "html_502": lambda r: (502, b"<html>Bad Gateway</html>", False),
              "result_with_503": answer("0x1", status=503)}
    node = nodes(lambda r: script[r["method"]](r))
    url = USER_URL.format(port=node.server_port)
    rpc = transport(url)
    assert isinstance(rpc, HttpTransport)
    assert rpc.request("eth_chainId", []) == "0x7a69"
    # As requests (web3's transport) sends it: the user info percent-decoded, path and query kept.
    headers = node.calls[0][1]
    assert headers["Authorization"] == "Basic " + base64.b64encode(f"alice:p@ss-{SECRET}".encode()).decode()
    assert node.calls[0][0]["method"] == "eth_chainId"

    failures = _failures(rpc, node, url, ("html_502", "result_with_503"))

    for failure in failures:
        shown = _everything_shown(failure)
        assert SECRET not in shown and "p@ss" not in shown, shown
    gone, silent = failures[2], failures[3]  # the node gone, then waiting for it
    assert "alice:***@127.0.0.1" in str(gone) and "alice:***@127.0.0.1" in str(silent)


def test_a_password_in_a_proxied_url_is_not_shown_either(monkeypatch: pytest.MonkeyPatch) -> None:
    """URLs the environment proxies go through web3's provider (`Web3Transport`): its errors hide it too."""
    with socket.create_server(("127.0.0.1", 0)) as refused:
        proxy_port = refused.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    rpc = transport("http://alice:p%40ss-" + SECRET + "@127.0.0.2:8545")  # loopback, not in the no-proxy list
    assert type(rpc).__name__ == "Web3Transport"
    with pytest.raises(ChainError) as caught:
        rpc.request("eth_chainId", [], timeout=2.0)
    shown = _everything_shown(caught.value)
    assert SECRET not in shown and "alice:***@127.0.0.2" in str(caught.value), shown


def test_the_cli_does_not_print_the_password_either(nodes: Callable[[Reply], ScriptedNode]) -> None:
    script = {"eth_chainId": answer("0x7a69"), "eth_call": lambda r: (502, b"<html>Bad Gateway</html>", False)}
    node = nodes(lambda r: script[r["method"]](r))
    out = subprocess.run(
        [sys.executable, "-m", "hourglass_cli", "task", "status", "0x" + "ab" * 32,
         "--rpc", USER_URL.format(port=node.server_port), "--mailbox", "0x" + "11" * 20, "--avs", "0x" + "22" * 20],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 1, out
    assert "eth_call: http://alice:***@127.0.0.1" in out.stderr and "HTTP 502" in out.stderr, out.stderr
    assert SECRET not in out.stdout + out.stderr


def test_a_connection_the_server_closed_while_idle_is_retried_once_on_a_fresh_one(
        nodes: Callable[[Reply], ScriptedNode]) -> None:
    node = nodes(answer("0x7a69", close=True))  # answers, then drops the connection unannounced
    rpc = HttpTransport(node.url)
    assert rpc.request("eth_chainId", []) == "0x7a69"
    node.wait_closed(1)  # the client still holds the (now dead) connection
    assert rpc.request("eth_blockNumber", []) == "0x7a69"
    node.wait_closed(2)
    assert rpc.request("eth_gasPrice", []) == "0x7a69"
    assert node.methods() == ["eth_chainId", "eth_blockNumber", "eth_gasPrice"]  # nothing sent twice
    assert node.connections == 3


def test_the_retry_happens_once_and_only_on_a_reused_connection(nodes: Callable[[Reply], ScriptedNode]) -> None:
    hang_up = threading.Event()
    node = nodes(lambda r: None if hang_up.is_set() else answer("0x7a69")(r))
    rpc = HttpTransport(node.url)
    assert rpc.request("eth_chainId", []) == "0x7a69"
    hang_up.set()  # from now on every request is read and the connection closed without an answer
    with pytest.raises(ChainError) as reused:
        rpc.request("eth_blockNumber", [])
    assert str(reused.value).startswith(f"eth_blockNumber: no answer from {node.url} (RemoteDisconnected")
    assert node.methods().count("eth_blockNumber") == 2  # the kept connection, then one fresh one
    assert node.connections == 2

    with pytest.raises(ChainError, match="no answer"):
        HttpTransport(node.url).request("eth_gasPrice", [])  # a fresh connection failing is not retried
    assert node.methods().count("eth_gasPrice") == 1


def test_a_server_that_is_gone_or_silent_gives_a_clear_error_at_once(nodes: Callable[[Reply], ScriptedNode]) -> None:
    node = nodes(answer("0x7a69"))
    rpc = HttpTransport(node.url)
    assert rpc.request("eth_chainId", []) == "0x7a69"
    node.stop()
    node.wait_closed(1)
    started = time.monotonic()
    with pytest.raises(ChainError) as gone:
        rpc.request("eth_chainId", [])
    assert time.monotonic() - started < 5
    assert str(gone.value).startswith(f"eth_chainId: no answer from {node.url} (ConnectionRefusedError")
    assert gone.value.hint == "check the RPC URL and that the chain is running"

    started = time.monotonic()
    with pytest.raises(ChainError) as never:
        wait_ready(rpc, 0.3)
    assert time.monotonic() - started < 5
    assert str(never.value) == (f"the chain at {node.url} did not answer within 0.3 s "
                                "(last error: ConnectionRefusedError)")
    assert "hourglass devnet start" in (never.value.hint or "")

    # Accepts the connection (the kernel's backlog does) and never answers: the request's timeout ends it.
    with socket.create_server(("127.0.0.1", 0)) as mute:
        url = f"http://127.0.0.1:{mute.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(ChainError) as silent:
            HttpTransport(url).request("eth_chainId", [], timeout=0.3)
        assert time.monotonic() - started < 5
        assert str(silent.value).startswith(f"eth_chainId: no answer from {url} (TimeoutError")


# ---------------------------------------------------------------------------------------------------------
# The mailbox on real chains


@dataclass
class Devnet:
    """A chain process with the core contracts and operators deployed, and a web3 view of it."""

    kind: str
    url: str
    w3: Any
    core: Any
    accounts: Any

    def rpc(self, method: str, *params: Any) -> Any:
        answer = self.w3.provider.make_request(method, list(params))
        assert answer.get("error") is None, answer
        return answer["result"]


@dataclass
class Light:
    """The task commands' client objects for one devnet: transport, Mailbox, Sender of the app account."""

    rpc: Any
    mailbox: Any
    sender: Any


def light(net: Devnet) -> Light:
    from hourglass_cli.tasks.mailbox import Mailbox, Sender

    rpc = transport(net.url)
    chain_id = wait_ready(rpc, 10)
    return Light(rpc, Mailbox(rpc, net.core.task_mailbox), Sender(rpc, net.accounts.app.private_key, chain_id))


def web3_side(net: Devnet) -> tuple[Any, Any, Any]:
    """A fresh Web3 (its own fee cache and nonce counters), the mailbox as a web3 contract, a TxSender of the app."""
    from hourglass_cli.chain.connection import make_web3
    from hourglass_cli.chain.contracts import contract
    from hourglass_cli.chain.sender import TxSender

    w3 = make_web3(net.url)
    return w3, contract(w3, "TaskMailbox", net.core.task_mailbox), TxSender(w3, net.accounts.app.private_key)


@pytest.fixture(scope="module")
def devnets() -> Iterator[Callable[[str], Devnet]]:
    """Devnets started on first use, one per chain kind, stopped with the module."""
    from hourglass_cli.chain.connection import make_web3
    from hourglass_cli.devnet.accounts import devnet_accounts
    from hourglass_cli.devnet.chains.anvil import AnvilBackend, find_anvil
    from hourglass_cli.devnet.chains.embedded import EmbeddedBackend
    from hourglass_cli.devnet.deploy import deploy_core
    from hourglass_cli.devnet.operators import setup_operators

    started: dict[str, Devnet] = {}
    handles: list[Any] = []
    folder = Path(tempfile.mkdtemp(prefix="hourglass-light-rpc-"))

    def get(kind: str) -> Devnet:
        if kind not in started:
            if kind == "anvil":
                binary = find_anvil()
                if binary is None:
                    pytest.fail("anvil is not installed: `make test` installs it "
                                "(npm @foundry-rs/anvil into ./node_modules)")
                backend: Any = AnvilBackend(binary)
            else:
                backend = EmbeddedBackend()
            handle = backend.start(None, folder / f"{kind}.log")
            handles.append(handle)
            w3 = make_web3(handle.rpc_url)
            accounts = devnet_accounts(1)
            core = deploy_core(w3, accounts, curve="ecdsa")
            setup_operators(w3, core, accounts, folder / f"{kind}-keys")
            started[kind] = Devnet(kind, handle.rpc_url, w3, core, accounts)
        return started[kind]

    yield get
    for handle in handles:
        handle.stop()


@pytest.fixture(params=["anvil", "embedded"])
def net(request: pytest.FixtureRequest, devnets: Callable[[str], Devnet]) -> Iterator[Devnet]:
    """A deployed devnet, rolled back after the test."""
    found = devnets(request.param)
    snapshot = found.rpc("evm_snapshot")
    yield found
    assert found.rpc("evm_revert", snapshot) is True


def test_create_task_is_the_same_transaction_and_event_as_through_web3(net: Devnet) -> None:
    from hourglass_cli.chain import avs as calls
    from hourglass_cli.chain.events import decode_logs
    from hourglass_cli.tasks.mailbox import create_task

    ours = light(net)
    before = net.rpc("evm_snapshot")
    event, receipt = create_task(ours.sender, ours.mailbox, net.core.avs, 1, PAYLOAD, gas=3_000_000)

    w3, mailbox, tx_sender = web3_side(net)
    w3_receipt = w3.eth.get_transaction_receipt(receipt["transactionHash"])
    (w3_event,) = decode_logs(mailbox, w3_receipt, "TaskCreated")
    assert event.args == w3_event.args
    assert (event.name, event.address, event.block_number) == (w3_event.name, w3_event.address, w3_event.block_number)
    assert event["creator"] == net.accounts.app.address and event["payload"] == PAYLOAD
    assert event["avs"] == net.core.avs and event["executorOperatorSetId"] == 1
    for key in ("status", "blockNumber", "gasUsed", "transactionHash"):
        assert receipt[key] == w3_receipt[key], key

    # Views decode as web3 decodes them: the Task struct (nested tuples, checksummed addresses), the status.
    task_hash = bytes(event["taskHash"])
    for view in ("getTaskInfo", "getTaskStatus"):
        for key in (task_hash, ZERO_HASH):
            assert ours.mailbox.call(view, key) == getattr(mailbox.functions, view)(key).call(), (view, key)
    assert ours.mailbox.call("getTaskStatus", task_hash) == 1  # CREATED
    info = ours.mailbox.call("getTaskInfo", task_hash)
    assert (info[0], info[4], info[11]) == (net.accounts.app.address, net.accounts.app.address, PAYLOAD)

    # The same createTask through TxSender from the same state: byte for byte the same signed transaction
    # (nonce, fees, gas, calldata), hence the same transaction hash and task hash.
    assert net.rpc("evm_revert", before) is True
    w3_task_hash, w3_created = calls.create_task(tx_sender, mailbox, net.core.avs, 1, PAYLOAD, gas=3_000_000)
    assert w3_task_hash == task_hash
    assert bytes(w3_created["transactionHash"]) == receipt["transactionHash"]


@pytest.mark.parametrize("case", ["revert", "out of gas"])
def test_a_failed_create_task_reads_as_txsenders_error(net: Devnet, case: str) -> None:
    from hourglass_cli.chain import avs as calls
    from hourglass_cli.tasks.mailbox import create_task

    payload, gas = (b"", 3_000_000) if case == "revert" else (PAYLOAD, 100_000)
    ours = light(net)
    before = net.rpc("evm_snapshot")
    with pytest.raises(ChainError) as light_error:
        create_task(ours.sender, ours.mailbox, net.core.avs, 1, payload, gas=gas)
    # The failed transaction was mined: the light sender's nonce counter moved on with the node's.
    assert ours.sender._nonce == int(net.rpc("eth_getTransactionCount", net.accounts.app.address, "pending"), 16)
    assert net.rpc("evm_revert", before) is True  # the same block number for both messages
    _, mailbox, tx_sender = web3_side(net)
    with pytest.raises(ChainError) as web3_error:
        calls.create_task(tx_sender, mailbox, net.core.avs, 1, payload, gas=gas)

    assert type(light_error.value) is type(web3_error.value)
    assert str(light_error.value) == str(web3_error.value)
    assert light_error.value.hint == web3_error.value.hint
    if case == "revert":
        assert str(light_error.value) == "TaskMailbox.createTask reverted: PayloadIsEmpty()"
        assert isinstance(light_error.value, RevertError) and light_error.value.error_name == "PayloadIsEmpty"
    else:
        assert str(light_error.value).startswith("TaskMailbox.createTask ran out of gas (limit 100,000) in block ")


def test_nonces_stay_right_when_the_light_sender_and_a_txsender_take_turns(net: Devnet) -> None:
    from hourglass_cli.chain import avs as calls
    from hourglass_cli.chain.events import decode_logs
    from hourglass_cli.tasks.mailbox import create_task

    ours = light(net)
    w3, mailbox, tx_sender = web3_side(net)
    first = int(w3.eth.get_transaction_count(net.accounts.app.address))
    sent: list[tuple[bytes, bytes]] = []  # (payload, transaction hash) in sending order
    for turn in range(3):
        mine = (2 * turn).to_bytes(32, "big")
        _, receipt = create_task(ours.sender, ours.mailbox, net.core.avs, 1, mine)
        sent.append((mine, receipt["transactionHash"]))
        theirs = (2 * turn + 1).to_bytes(32, "big")
        _, w3_receipt = calls.create_task(tx_sender, mailbox, net.core.avs, 1, theirs, gas=3_000_000)
        sent.append((theirs, bytes(w3_receipt["transactionHash"])))

    assert int(w3.eth.get_transaction_count(net.accounts.app.address)) == first + 6
    for position, (payload, tx_hash) in enumerate(sent):
        assert int(w3.eth.get_transaction(tx_hash)["nonce"]) == first + position
        (created,) = decode_logs(mailbox, w3.eth.get_transaction_receipt(tx_hash), "TaskCreated")
        assert created["payload"] == payload  # each sender's own task, none adopted from the other


# ---------------------------------------------------------------------------------------------------------
# The task commands do not import web3


_GUARD = """
import sys
sys.argv = ["hourglass", *{args!r}]
from hourglass_cli.cli import main
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
print("EXIT", code)
print("LOADED", sorted({{name.split(".")[0] for name in sys.modules}} & {forbidden!r}))
"""


@pytest.mark.parametrize(("command", "forbidden"), [
    ("status", {"web3", "eth_account"}),
    ("list", {"web3", "eth_account"}),
    ("watch", {"web3", "eth_account"}),
    ("submit", {"web3"}),  # signing a createTask needs eth-account
])
def test_task_commands_do_not_import_web3(devnets: Callable[[str], Devnet], tmp_path: Path, command: str,
                                          forbidden: set[str]) -> None:
    """Each command runs to success against a real devnet (so the whole path is walked), then sys.modules is read."""
    from hourglass_cli.aggregator import store as st
    from hourglass_cli.tasks.mailbox import create_task

    net = devnets("embedded")
    ours = light(net)
    event, receipt = create_task(ours.sender, ours.mailbox, net.core.avs, 1, PAYLOAD)
    task_hash = "0x" + bytes(event["taskHash"]).hex()
    store = st.SqliteStore(tmp_path / "aggregator.db")  # the aggregator's record of the task, for list/watch
    store.record_scan("l1", st.Checkpoint(receipt["blockNumber"], "0x" + "00" * 32), [st.NewTask(
        task_hash, receipt["blockNumber"], "0x" + "00" * 32, 0, net.core.avs, 1, 0, 0, 0, PAYLOAD)], keep=5)
    store.close()

    where = ["--rpc", net.url, "--mailbox", net.core.task_mailbox, "--avs", net.core.avs]
    args, expect = {
        "status": (["task", "status", task_hash, "--json", *where], '"status": "CREATED"'),
        "list": (["task", "list", "--json", "--store", str(tmp_path / "aggregator.db"), *where],
                 '"on_chain": "CREATED"'),
        "watch": (["task", "watch", "--once", "--store", str(tmp_path / "aggregator.db"), *where], "pending"),
        "submit": (["task", "submit", "0x" + PAYLOAD.hex(), "--no-wait", "--json", "--key-env", "APP_KEY", *where],
                   '"status": "CREATED"'),
    }[command]
    env = {**os.environ, "COLUMNS": "200", "APP_KEY": "0x" + net.accounts.app.private_key.hex()}
    code = _GUARD.format(args=args, forbidden=forbidden)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert "EXIT 0" in out.stdout and expect in out.stdout, out.stdout + out.stderr
    assert "LOADED []" in out.stdout, out.stdout


# ---------------------------------------------------------------------------------------------------------
# Review fixes: racing submits, decoded reverts, no contract at --mailbox, strict answers, user-only URL secrets


class _HoldFirstSend:
    """The real transport, holding a sender's first eth_sendRawTransaction until every racer has signed its own
    (a test shim for "two processes at the same time": both read the same nonce and fees before either sends)."""

    def __init__(self, rpc: Any, barrier: threading.Barrier) -> None:
        self.rpc, self.url, self.barrier = rpc, rpc.url, barrier
        self.raw: list[str] = []

    def request(self, method: str, params: list[Any], timeout: float | None = None) -> Any:
        if method == "eth_sendRawTransaction":
            self.raw.append(params[0])
            if len(self.raw) == 1:
                self.barrier.wait(60)
        return self.rpc.request(method, params, timeout)

    def close(self) -> None:
        self.rpc.close()


def test_two_submits_racing_the_same_payload_from_one_key_create_two_tasks(net: Devnet) -> None:
    """Both sign byte-identical createTasks; the one the node turns away must re-sign, not adopt the other's."""
    from hourglass_cli.tasks.mailbox import Mailbox, Sender, create_task

    barrier = threading.Barrier(2)
    racers: list[_HoldFirstSend] = []
    results: dict[int, Any] = {}

    def submit(index: int) -> None:
        rpc = _HoldFirstSend(transport(net.url), barrier)
        racers.append(rpc)
        try:
            sender = Sender(rpc, net.accounts.app.private_key, wait_ready(rpc.rpc, 10))
            results[index] = create_task(sender, Mailbox(rpc, net.core.task_mailbox), net.core.avs, 1, PAYLOAD)
        except BaseException as exc:  # noqa: BLE001 - reported below
            barrier.abort()
            results[index] = exc

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    errors = [f"{type(r).__name__}: {r}" for r in results.values() if isinstance(r, BaseException)]
    assert not errors and len(results) == 2, errors
    assert racers[0].raw[0] == racers[1].raw[0]  # the race happened: the same signed transaction from both

    (first, first_receipt), (second, second_receipt) = results[0], results[1]
    assert first["taskHash"] != second["taskHash"]
    assert first_receipt["transactionHash"] != second_receipt["transactionHash"]
    _, mailbox, _ = web3_side(net)
    for event in (first, second):
        assert event["payload"] == PAYLOAD and event["creator"] == net.accounts.app.address
        assert mailbox.functions.getTaskStatus(bytes(event["taskHash"])).call() == 1  # CREATED, both


def test_a_reverting_view_reads_as_txsenders_error(net: Devnet) -> None:
    from hourglass_cli.chain.sender import call

    ours = light(net)
    _, mailbox, _ = web3_side(net)
    with pytest.raises(ChainError) as light_error:
        ours.mailbox.call("getTaskResult", ZERO_HASH)
    with pytest.raises(ChainError) as web3_error:
        call(mailbox.functions.getTaskResult(ZERO_HASH))
    assert str(light_error.value) == "TaskMailbox.getTaskResult reverted: InvalidTaskStatus(expected=2, actual=0)"
    assert str(light_error.value) == str(web3_error.value)
    assert type(light_error.value) is type(web3_error.value) is RevertError
    assert light_error.value.error_name == "InvalidTaskStatus"
    assert light_error.value.hint == web3_error.value.hint


def test_a_mailbox_address_without_code_is_named_as_such(net: Devnet) -> None:
    from hourglass_cli.tasks.client import TaskClient
    from hourglass_cli.tasks.target import Target

    empty = "0x" + "11" * 20
    assert net.rpc("eth_getCode", empty, "latest") == "0x"
    client = TaskClient(Target(rpc_url=net.url, mailbox=empty, avs=net.core.avs,
                               key=net.accounts.app.private_key))
    for read in (lambda: client.outcome("0x" + "ab" * 32), lambda: client.chain_result("0x" + "ab" * 32)):
        with pytest.raises(ChainError) as caught:
            read()
        assert str(caught.value).startswith(f"no contract at {client.task_mailbox.address}"), caught.value
        assert "--mailbox" in (caught.value.hint or "") and "devnet" in (caught.value.hint or "")
    # createTask to it is a plain transfer (mined, no TaskCreated): the same error, not an unpacking failure
    with pytest.raises(ChainError) as created:
        client.submit(PAYLOAD)
    assert str(created.value).startswith(f"no contract at {client.task_mailbox.address}"), created.value


def test_the_cli_says_there_is_no_mailbox_contract(devnets: Callable[[str], Devnet]) -> None:
    net = devnets("embedded")
    out = subprocess.run(
        [sys.executable, "-m", "hourglass_cli", "task", "status", "0x" + "ab" * 32,
         "--rpc", net.url, "--mailbox", "0x" + "11" * 20, "--avs", net.core.avs],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 1, out
    assert "no contract at 0x1111111111111111111111111111111111111111" in out.stderr, out.stderr
    assert "unexpected" not in out.stderr and "bug in hourglass" not in out.stderr, out.stderr


def test_answers_must_match_the_request_and_carry_a_result_or_an_error(
        nodes: Callable[[Reply], ScriptedNode]) -> None:
    script: dict[str, Callable[[dict[str, Any]], tuple[int, Any, bool]]] = {
        "eth_chainId": answer("0x7a69"),
        "wrong_id": lambda r: (200, {"jsonrpc": "2.0", "id": r["id"] + 1000, "result": "0x1"}, False),
        "no_id": lambda r: (200, {"jsonrpc": "2.0", "result": "0x1"}, False),
        "empty": lambda r: (200, {"jsonrpc": "2.0", "id": r["id"]}, False),
        "null_result": answer(None),
        "error_without_id": lambda r: (200, {"jsonrpc": "2.0", "id": None,
                                             "error": {"code": -32600, "message": "invalid request"}}, False),
    }
    node = nodes(lambda r: script[r["method"]](r))
    rpc = HttpTransport(node.url)
    assert rpc.request("eth_chainId", []) == "0x7a69"
    for method in ("wrong_id", "no_id"):
        with pytest.raises(ChainError) as mismatched:
            rpc.request(method, [])
        assert not isinstance(mismatched.value, RpcError)
        assert str(mismatched.value).startswith(f"{method}: {node.url} answered request ") and \
            "with the answer to " in str(mismatched.value), mismatched.value
    with pytest.raises(ChainError) as empty:
        rpc.request("empty", [])
    assert str(empty.value) == f"empty: {node.url} answered with neither a result nor an error"
    assert rpc.request("null_result", []) is None  # a null result is a result (e.g. no receipt yet)
    with pytest.raises(RpcError, match="invalid request"):  # the node could not read the id: its error stands
        rpc.request("error_without_id", [])
    assert rpc.request("eth_chainId", []) == "0x7a69"  # the connection is still usable


def test_a_secret_given_as_the_url_user_is_never_shown(nodes: Callable[[Reply], ScriptedNode],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Providers put API keys in the user part (https://KEY@host/): masked as a password is."""
    script = {"eth_chainId": answer("0x7a69"), "html_502": lambda r: (502, b"<html>Bad Gateway</html>", False),
              "empty": lambda r: (200, {"jsonrpc": "2.0", "id": r["id"]}, False)}
    node = nodes(lambda r: script[r["method"]](r))
    url = f"http://{SECRET}@127.0.0.1:{node.server_port}/rpc"
    rpc = transport(url)
    assert rpc.request("eth_chainId", []) == "0x7a69"
    assert node.calls[0][1]["Authorization"] == "Basic " + base64.b64encode(f"{SECRET}:".encode()).decode()

    failures = _failures(rpc, node, url, ("html_502", "empty"))

    with socket.create_server(("127.0.0.1", 0)) as refused:  # a proxied URL goes through web3's provider
        proxy_port = refused.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    proxied = transport(f"http://{SECRET}@127.0.0.2:8545")
    assert type(proxied).__name__ == "Web3Transport"
    with pytest.raises(ChainError) as via_web3:
        proxied.request("eth_chainId", [], timeout=2.0)
    failures.append(via_web3.value)

    for failure in failures:
        shown = _everything_shown(failure)
        assert SECRET not in shown, shown
    gone, silent = failures[2], failures[3]  # the node gone, then waiting for it
    assert "http://***@127.0.0.1" in str(gone) and "http://***@127.0.0.1" in str(silent)
    assert "http://***@127.0.0.2" in str(via_web3.value)


def test_only_a_transaction_the_transport_resent_is_recognised_as_ours(
        nodes: Callable[[Reply], ScriptedNode]) -> None:
    """A raw transaction the transport sent twice (kept-alive connection dropped) is ours when the node knows it;
    a node saying "already known" to a first send means someone else sent it: resync the nonce and re-sign."""
    from hourglass_cli.tasks.mailbox import Sender

    state: dict[str, Any] = {"drop_first_send": True, "sent": [], "nonce_reads": 0}

    def reply(r: dict[str, Any]) -> tuple[int, Any, bool] | None:
        method = r["method"]
        if method == "eth_sendRawTransaction":
            state["sent"].append(r["params"][0])
            if state["drop_first_send"] and len(state["sent"]) == 1:
                return None  # took it, then the connection dropped before the answer
            if len(set(state["sent"])) == 1:
                return 200, {"jsonrpc": "2.0", "id": r["id"],
                             "error": {"code": -32000, "message": "already known"}}, False
            return answer("0x" + "cd" * 32)(r)
        if method == "eth_getTransactionCount":  # 5, then 6 once another process's transaction took 5
            state["nonce_reads"] += 1
            return answer(hex(4 + state["nonce_reads"]))(r)
        results = {"eth_getBlockByNumber": {"number": "0x2", "baseFeePerGas": "0x7"},
                   "eth_getTransactionByHash": {"hash": "0x" + "ab" * 32}}
        return answer(results[method])(r)

    node = nodes(reply)
    key = b"\x01" * 32
    sender = Sender(HttpTransport(node.url), key, 31337)
    tx_hash, _ = sender.send("0x" + "11" * 20, b"\x01", 100_000, "TaskMailbox.createTask")
    assert len(state["sent"]) == 2 and state["sent"][0] == state["sent"][1]  # the transport's resend
    from eth_utils import keccak

    assert tx_hash == keccak(bytes.fromhex(state["sent"][0][2:]))  # recognised as ours
    assert node.methods().count("eth_getTransactionCount") == 1

    state.update(drop_first_send=False, sent=[], nonce_reads=0)  # "already known" to our first (only) send
    node.calls.clear()
    other = Sender(HttpTransport(node.url), key, 31337)
    tx_hash, _ = other.send("0x" + "11" * 20, b"\x01", 100_000, "TaskMailbox.createTask")
    assert tx_hash == bytes.fromhex("cd" * 32)  # the node's answer to the re-signed transaction
    assert len(state["sent"]) == 2 and state["sent"][0] != state["sent"][1]
    assert node.methods().count("eth_getTransactionCount") == 2  # the nonce was read again


def test_a_view_reverting_without_data_or_with_nested_data_is_named_too(
        nodes: Callable[[Reply], ScriptedNode]) -> None:
    from hourglass_cli.tasks.mailbox import Mailbox

    errors = {"0x" + "01" * 32: {"code": 3, "message": "execution reverted"},
              "0x" + "02" * 32: {"code": -32000, "message": "execution reverted",
                                 "data": {"data": "0x81236312" + "00" * 31 + "02" + "00" * 32}},
              "0x" + "03" * 32: {"code": -32602, "message": "invalid argument 0"}}

    def reply(r: dict[str, Any]) -> tuple[int, Any, bool]:
        key = "0x" + r["params"][0]["data"][10:]
        return 200, {"jsonrpc": "2.0", "id": r["id"], "error": errors[key]}, False

    mailbox = Mailbox(HttpTransport(nodes(reply).url), "0x" + "11" * 20)
    with pytest.raises(RevertError) as bare:
        mailbox.call("getTaskStatus", b"\x01" * 32)
    assert str(bare.value) == "TaskMailbox.getTaskStatus reverted: without a reason"
    with pytest.raises(RevertError) as nested:
        mailbox.call("getTaskStatus", b"\x02" * 32)
    assert str(nested.value) == "TaskMailbox.getTaskStatus reverted: InvalidTaskStatus(expected=2, actual=0)"
    with pytest.raises(RpcError, match="invalid argument 0"):  # not a revert: the node's error as it is
        mailbox.call("getTaskStatus", b"\x03" * 32)


@pytest.mark.parametrize("size", [4_000, 40_000])
def test_create_task_estimates_its_gas_for_any_payload_that_fits(net: Devnet, size: int) -> None:
    """Issue #12: a fixed 3,000,000 gas ran out for payloads above ~3.4 KB (the payload is stored on chain)."""
    from hourglass_cli.tasks.mailbox import create_task

    ours = light(net)
    payload = bytes(range(256)) * (size // 256) + b"\x01" * (size % 256)
    event, receipt = create_task(ours.sender, ours.mailbox, net.core.avs, 1, payload)
    assert event["payload"] == payload
    assert ours.mailbox.call("getTaskInfo", bytes(event["taskHash"]))[11] == payload
    assert receipt["gasUsed"] > 3_000_000 if size == 40_000 else receipt["gasUsed"] > 22_000 * (size // 32)


def test_a_payload_too_large_for_a_block_is_refused_before_sending(net: Devnet) -> None:
    from hourglass_cli.tasks.mailbox import create_task

    ours = light(net)
    nonce = net.rpc("eth_getTransactionCount", net.accounts.app.address, "pending")
    with pytest.raises(ChainError) as info:
        create_task(ours.sender, ours.mailbox, net.core.avs, 1, b"\x07" * 204_800)  # ~150M gas; a block holds 30M
    assert str(info.value).startswith("TaskMailbox.createTask with a 204,800-byte payload needs more gas than a "
                                      "block of this chain holds (block gas limit 30,000,000")
    assert "[devnet].block_gas_limit" in info.value.hint
    assert net.rpc("eth_getTransactionCount", net.accounts.app.address, "pending") == nonce  # nothing was sent


def test_a_reverting_create_task_is_named_at_estimation_and_nothing_is_sent(net: Devnet) -> None:
    from hourglass_cli.chain.reverts import RevertError
    from hourglass_cli.tasks.mailbox import create_task

    ours = light(net)
    nonce = net.rpc("eth_getTransactionCount", net.accounts.app.address, "pending")
    with pytest.raises(RevertError, match=r"TaskMailbox.createTask reverted: PayloadIsEmpty\(\)"):
        create_task(ours.sender, ours.mailbox, net.core.avs, 1, b"")
    assert net.rpc("eth_getTransactionCount", net.accounts.app.address, "pending") == nonce
