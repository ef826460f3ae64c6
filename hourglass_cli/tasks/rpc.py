"""JSON-RPC for the task commands without web3: one keep-alive HTTP connection (stdlib `http.client`).

`hourglass task submit/status/list` need a handful of calls (eth_chainId, a block, the nonce,
eth_sendRawTransaction, receipts, eth_call, log filters). Importing web3 for them costs more CPU than a whole
task's round trip on a devnet (web3 brings aiohttp, requests, and eth-account → eth-keyfile → py_ecc, whose
BLS12-381 tables are computed at import: ~0.7 s per command on a 2-core machine, see
benchmarks/cli_startup.py), so the task path speaks JSON-RPC itself. URLs this transport does not cover —
IPC paths, and http(s) URLs the environment routes through a proxy — go through web3's own provider instead
(`Web3Transport`, the same interface).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import threading
from typing import Any, Protocol
from urllib.parse import urlsplit

from hourglass_cli.chain import connection
from hourglass_cli.errors import ChainError

DEFAULT_REQUEST_TIMEOUT = 60.0
PROBE_TIMEOUT = 5.0  # per request while waiting for a node to come up (as chain.connection.connect)
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class RpcError(ChainError):
    """The node answered with a JSON-RPC error; `code`, `rpc_message` and `data` (revert bytes, as hex) kept.

    `resent`: the transport sent the request twice (the first copy may have reached the node too)."""

    def __init__(self, method: str, error: Any, resent: bool = False) -> None:
        super().__init__(f"{method} failed: {error}", hint="check the RPC URL and that the chain is running")
        self.error = error
        self.resent = resent
        fields = error if isinstance(error, dict) else {}
        self.code = fields.get("code")
        self.rpc_message = str(fields.get("message", error))
        self.data = fields.get("data")  # read by chain.reverts.revert_data


class Transport(Protocol):
    url: str

    def request(self, method: str, params: list[Any], timeout: float | None = None) -> Any: ...

    def close(self) -> None: ...


class HttpTransport:
    """JSON-RPC 2.0 over one persistent HTTP/1.1 connection; safe to share between threads (one call at a time)."""

    def __init__(self, url: str, timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ChainError(f"unsupported RPC URL {shown_url(url)!r}",
                             hint="use an http:// or https:// URL (e.g. http://127.0.0.1:8545) or a .ipc path")
        self.url = url
        self._shown = shown_url(url)
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json",
                         "User-Agent": "hourglass-cli"}
        if parts.username is not None:  # http://user:pass@host — as requests (web3's transport) sends it
            from urllib.parse import unquote

            secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(secret).decode()
        self._conn: Any = None
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _connection(self, timeout: float) -> Any:
        import http.client

        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=timeout)
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        self._conn.timeout = timeout
        if self._conn.sock is not None:
            self._conn.sock.settimeout(timeout)
        return self._conn

    def _post(self, body: bytes, timeout: float) -> tuple[int, bytes]:
        conn = self._connection(timeout)
        # http.client sends headers and a bytes body in one write (no Nagle/delayed-ACK stall).
        conn.request("POST", self._path, body, self._headers)
        response = conn.getresponse()
        data = response.read()
        if response.will_close:
            self.close()
        return response.status, data

    def request(self, method: str, params: list[Any], timeout: float | None = None) -> Any:
        """The result of `method(params)`; RpcError for a JSON-RPC error, ChainError when the node is unreachable."""
        import http.client

        request_id = next(self._ids)
        body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params},
                          separators=(",", ":")).encode()
        wait = self.timeout if timeout is None else timeout
        resent = False
        with self._lock:
            reused = self._conn is not None and self._conn.sock is not None
            try:
                try:
                    status, data = self._post(body, wait)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    # A kept-alive connection the server closed meanwhile: once more on a fresh one. (A raw
                    # transaction sent twice is the same transaction; the sender recognises its own by hash.)
                    self.close()
                    if not reused:
                        raise
                    resent = True
                    status, data = self._post(body, wait)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise ChainError(f"{method}: no answer from {self._shown} ({type(exc).__name__}: {exc})",
                                 hint="check the RPC URL and that the chain is running") from exc
        try:
            answer = json.loads(data)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ChainError(f"{method}: {self._shown} answered HTTP {status} without a JSON-RPC response",
                             hint="check the RPC URL: it should be a node's JSON-RPC endpoint")
        error, answer_id = answer.get("error"), answer.get("id")
        # A node that could not read the request's id answers its error with id null: the error still stands.
        if answer_id != request_id and not (error is not None and answer_id is None):
            self.close()  # whatever is mixing up answers, do not read the next one from this connection
            raise ChainError(f"{method}: {self._shown} answered request {request_id} with the answer to "
                             f"{answer_id!r}", hint="check the RPC URL: a proxy in between may be mixing up answers")
        if error is not None:
            raise RpcError(method, error, resent)
        if status >= 400:
            raise ChainError(f"{method}: {self._shown} answered HTTP {status}", hint="check the RPC URL")
        return _result(method, answer, self._shown)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class Web3Transport:
    """The same interface over web3's provider (IPC paths, proxies), built by `chain.connection.make_web3`."""

    def __init__(self, url: str, timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        from hourglass_cli.chain.connection import make_web3

        self.url = url
        self._provider = make_web3(url, timeout).provider
        # Probes go without web3's retry-with-backoff (its sleeps would overshoot the caller's deadline).
        self._probe = make_web3(url, min(timeout, PROBE_TIMEOUT), retries=False).provider

    def request(self, method: str, params: list[Any], timeout: float | None = None) -> Any:
        provider = self._probe if timeout is not None else self._provider
        try:
            response = provider.make_request(method, params)
        except Exception as exc:  # noqa: BLE001 - web3 and requests raise their own errors
            raise ChainError(f"{method}: no answer from {shown_url(self.url)} ({type(exc).__name__}: {exc})",
                             hint="check the RPC URL and that the chain is running") from exc
        if response.get("error") is not None:
            raise RpcError(method, response["error"])
        return _result(method, response, shown_url(self.url))

    def close(self) -> None:
        pass


def _result(method: str, answer: dict[str, Any], shown: str) -> Any:
    """The answer's result (null is one: no receipt yet); an answer with neither result nor error is an error."""
    if "result" not in answer:
        raise ChainError(f"{method}: {shown} answered with neither a result nor an error",
                         hint="check the RPC URL: it should be a node's JSON-RPC endpoint")
    return answer["result"]


shown_url = connection.shown_url  # a password, or a user without one (an API key), as ***


def _proxied(url: str) -> bool:
    """Whether the environment routes `url` through a proxy (requests, web3's transport, would use it)."""
    host = urlsplit(url).hostname or ""
    if host in _LOOPBACK:
        return False
    names = {k.lower() for k, v in os.environ.items() if v and k.lower() in ("http_proxy", "https_proxy", "all_proxy")}
    if not names:
        return False
    from urllib.request import proxy_bypass_environment

    return not proxy_bypass_environment(host)


def transport(url: str, timeout: float = DEFAULT_REQUEST_TIMEOUT) -> Transport:
    """A JSON-RPC transport for `url`: our HTTP client for http(s), web3's provider for IPC or proxies."""
    if url.startswith(("http://", "https://")) and not _proxied(url):
        return HttpTransport(url, timeout)
    return Web3Transport(url, timeout)


def wait_ready(rpc: Transport, timeout: float) -> int:
    """Wait until the node answers eth_chainId (as `chain.connection.wait_ready`); the chain id."""
    return connection.wait_answer(
        lambda: quantity(rpc.request("eth_chainId", [], timeout=min(PROBE_TIMEOUT, timeout))), timeout,
        shown_url(rpc.url))


def quantity(value: Any) -> int:
    """A JSON-RPC quantity ("0x1b") as an int (ints pass through)."""
    return int(value, 16) if isinstance(value, str) else int(value)

