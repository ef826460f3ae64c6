"""The embedded chain's JSON-RPC over HTTP: a threaded stdlib server in front of one Node.

Requests are parsed and answers encoded outside the node's lock; only the method runs under it.
Anything a client sends — malformed JSON, wrong types, unknown methods, a handler bug — becomes a
JSON-RPC error object, never a dead server.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from hourglass_cli import safe_json
from hourglass_cli.devnet.chains.embedded.methods import Methods
from hourglass_cli.devnet.chains.embedded.node import Node
from hourglass_cli.devnet.chains.embedded.params import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
)

log = logging.getLogger("hourglass.devnet.embedded")

MAX_BODY_BYTES = 32 * 1024 * 1024  # a deploy of big contracts is < 1 MB; anything this large is abuse


def _error(req_id: Any, err: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "error": err.to_json()}


class Dispatcher:
    """JSON-RPC 2.0 request/batch handling on top of a Methods table."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.methods = Methods(node)

    def handle_bytes(self, body: bytes) -> bytes | None:
        """The encoded answer to one HTTP body; None when it held only notifications."""
        try:
            payload = safe_json.loads(body)
        except safe_json.TooDeepError:  # `[[[[…`: json's C decoder would overflow the stack (see safe_json)
            return _encode(_error(None, RpcError(PARSE_ERROR, "Parse error: nested too deeply")))
        except (ValueError, UnicodeDecodeError):
            return _encode(_error(None, RpcError(PARSE_ERROR, "Parse error")))
        if isinstance(payload, list):
            if not payload:
                return _encode(_error(None, RpcError(INVALID_REQUEST, "Invalid request: empty batch")))
            answers = [a for a in (self.handle(item) for item in payload) if a is not None]
            return _encode(answers) if answers else None
        answer = self.handle(payload)
        return None if answer is None else _encode(answer)

    def handle(self, req: Any) -> dict[str, Any] | None:
        """One request object's answer (None for a notification)."""
        if not isinstance(req, dict):
            return _error(None, RpcError(INVALID_REQUEST, "Invalid request: expected an object"))
        req_id = req.get("id")
        if not isinstance(req_id, (str, int, float, type(None))) or isinstance(req_id, bool):
            return _error(None, RpcError(INVALID_REQUEST, "Invalid request: bad id"))
        method = req.get("method")
        if not isinstance(method, str):
            return _error(req_id, RpcError(INVALID_REQUEST, "Invalid request: method must be a string"))
        handler = self.methods.table.get(method)
        try:
            if handler is None:
                raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}"[:200])
            params = req.get("params")
            if params is None:
                params = []
            elif not isinstance(params, list):
                raise RpcError(INVALID_PARAMS, "params must be an array")
            with self.node.lock:
                result = handler(params)
        except RpcError as err:
            answer = _error(req_id, err)
        except Exception as exc:  # noqa: BLE001 - a bug must cost one request, not the server
            log.exception("method=%s failed", method)
            answer = _error(req_id, RpcError(INTERNAL_ERROR, f"Internal error: {type(exc).__name__}: {exc}"[:500]))
        else:
            answer = {"jsonrpc": "2.0", "id": req_id, "result": result}
        return None if "id" not in req else answer


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: web3's session reuses one connection
    # Headers and body leave in one send (flushed after each request), and no Nagle delay:
    # a separate small body write waits ~40 ms for the client's delayed ACK otherwise.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: RpcHTTPServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._reply(411, b'{"error":"Content-Length required"}')
            return
        if not 0 <= length <= MAX_BODY_BYTES:
            self._reply(413, b'{"error":"request too large"}')
            self.close_connection = True
            return
        body = self.rfile.read(length)
        try:
            answer = self.server.dispatcher.handle_bytes(body)
        except Exception as exc:  # noqa: BLE001 - a body we cannot answer still gets an answer
            log.exception("request failed")
            answer = _encode(_error(None, RpcError(INTERNAL_ERROR, f"Internal error: {type(exc).__name__}")))
        self._reply(200 if answer is not None else 204, answer or b"")

    def do_GET(self) -> None:  # noqa: N802
        self._reply(405, b'{"error":"JSON-RPC: use POST"}')

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        log.debug("http %s", format % args)


class RpcHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer answering JSON-RPC for one Node."""

    daemon_threads = True
    request_queue_size = 128  # a devnet's pollers, executors and CLI calls connect in bursts
    allow_reuse_address = True  # Linux: only skips TIME_WAIT; a live listener still makes bind fail

    def __init__(self, host: str, port: int, node: Node | None = None) -> None:
        self.dispatcher = Dispatcher(node if node is not None else Node())
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def serve(host: str = "127.0.0.1", port: int = 8545, ready: Callable[[str], None] | None = None, **node_options: Any) -> None:
    """Serve a new chain on host:port until SIGTERM/SIGINT; `ready(url)` once it accepts requests.

    Port 0 binds a free port (see the URL passed to `ready`). Signal handling needs the main thread;
    from another thread, stop the server with `RpcHTTPServer.shutdown()` via `make_server`.
    """
    server = make_server(host, port, **node_options)

    def _stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    try:
        if ready is not None:
            ready(server.url)
        server.serve_forever(poll_interval=0.5)
    except SystemExit:
        pass
    finally:
        server.server_close()


def make_server(host: str = "127.0.0.1", port: int = 0, **node_options: Any) -> RpcHTTPServer:
    """A bound, listening server for a new Node (run it with serve_forever in a thread)."""
    return RpcHTTPServer(host, port, Node(**node_options))
