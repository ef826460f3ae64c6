"""A tiny HTTP server on loopback: ``GET /healthz`` (JSON, 200 or 503) and ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class HealthServer:
    """Serves `health()` at /healthz and `metrics()` at /metrics until `stop()`."""

    def __init__(self, host: str, port: int, health: Callable[[], tuple[bool, dict[str, Any]]],
                 metrics: Callable[[], str]) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                try:
                    if path in ("/healthz", "/health", "/"):
                        ok, body = outer.health()
                        self._send(200 if ok else 503, "application/json", json.dumps(body).encode())
                    elif path == "/metrics":
                        self._send(200, "text/plain; version=0.0.4; charset=utf-8", outer.metrics().encode())
                    else:
                        self._send(404, "text/plain", b"not found: try /healthz or /metrics\n")
                except Exception as exc:  # noqa: BLE001 - a scrape never takes the aggregator down
                    self._send(500, "text/plain", f"error: {type(exc).__name__}\n".encode())

            def _send(self, code: int, kind: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: no line per scrape
                return

        self.health, self.metrics = health, metrics
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="aggregator-http", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
