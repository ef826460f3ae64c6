"""The performer gRPC server: ``PerformerService`` plus standard ``grpc.health.v1.Health``.

Behaviour matches the Go ``PonosPerformer`` an executor expects (WIRE.md §1): ``ExecuteTask`` runs
``validate_task`` then ``handle_task`` and echoes ``task_id`` unchanged; failures are ``INTERNAL`` with
"task is invalid: …" or "failed to handle task: …"; ``StartSync`` is a no-op; the health status (for the
empty service name, which the executor asks for, and for ``PerformerService``) is SERVING once the port is
open and NOT_SERVING from the moment shutdown starts. Requests run concurrently on a thread pool.

It listens on 127.0.0.1 unless told otherwise: pass ``host="0.0.0.0"`` to accept connections from other
machines or containers (a performer in Docker must, and then the port mapping decides who can reach it).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from hourglass_cli.errors import HourglassError, UsageError
from hourglass_cli.performer.base import Performer, TaskRequest, TaskResponse
from hourglass_cli.performer.phase import is_envelope, parse_envelope
from hourglass_cli.wire.services import PERFORMER_SERVICE, add_performer_servicer, performer_pb2

log = logging.getLogger("hourglass.performer")

DEFAULT_PORT = 8080
DEFAULT_HOST = "127.0.0.1"
DEFAULT_WORKERS = 16
DEFAULT_GRACE_SECONDS = 30.0
PORT_ENV = "PORT"
MAX_RESULT_BYTES = 3 * 512 * 1024  # the aggregator drops results of 1.5 MiB or more (WIRE.md §1)
_MAX_STATUS_MESSAGE = 2000  # grpc-message travels in an HTTP/2 header: keep it well under header limits


class PerformerError(HourglassError):
    """The performer server could not start (port taken, bad address)."""


def resolve_port(port: int | None) -> int:
    """``port`` if given, else ``$PORT``, else 8080 (0 asks the OS for a free port)."""
    if port is None:
        text = os.environ.get(PORT_ENV, "").strip()
        if not text:
            return DEFAULT_PORT
        if not text.isdigit():
            raise UsageError(f"${PORT_ENV} must be a port number, got {text!r}",
                             hint=f"unset {PORT_ENV} or pass --port")
        port = int(text)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise UsageError(f"a port is 0..65535, got {port!r}")
    return port


def _show_id(task_id: bytes) -> str:
    """A task id safe to put in a log line: the text if it is short printable ASCII, else hex."""
    if 0 < len(task_id) <= 80 and all(0x21 <= b <= 0x7E for b in task_id):
        return task_id.decode("ascii")
    return "hex:" + task_id[:40].hex() + ("…" if len(task_id) > 40 else "")


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= _MAX_STATUS_MESSAGE else text[:_MAX_STATUS_MESSAGE] + "…"


class _ResultError(Exception):
    """``handle_task`` returned something the wire cannot carry."""


def _result_bytes(task: TaskRequest, returned: object) -> bytes:
    if isinstance(returned, (bytes, bytearray, memoryview)):
        return bytes(returned)
    if isinstance(returned, TaskResponse):
        if bytes(returned.task_id) != task.task_id:
            raise _ResultError(
                f"the handler answered for task {_show_id(bytes(returned.task_id))}, not {_show_id(task.task_id)}"
            )
        return _result_bytes(task, returned.result)
    raise _ResultError(f"the handler returned {type(returned).__name__}; return bytes or a TaskResponse")


class _PerformerServicer:
    """Maps ``PerformerService`` calls onto a :class:`Performer`."""

    def __init__(self, performer: Performer) -> None:
        self._performer = performer
        self._validate: Callable[[TaskRequest], object] = getattr(performer, "validate_task", lambda _r: None)
        self._lock = threading.Lock()
        self.in_flight = 0

    def StartSync(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC method name)
        start_sync = getattr(self._performer, "start_sync", None)
        if start_sync is not None:
            try:
                start_sync(bytes(request.payload))
            except Exception as exc:
                log.warning("start_sync status=error error=%r", _describe(exc))
                context.abort(grpc.StatusCode.INTERNAL, f"failed to start sync: {_describe(exc)}")
        return performer_pb2.StartSyncResponse()

    def _run(self, task: TaskRequest) -> tuple[bytes | None, str | None, BaseException | None]:
        if is_envelope(task.payload):  # a workflow phase: handle_phase, not validate_task/handle_task
            try:
                phase = parse_envelope(task.payload, task.task_id)
            except Exception as exc:
                return None, f"task is invalid: {_describe(exc)}", exc
            try:
                return _result_bytes(task, self._performer.handle_phase(phase)), None, None
            except Exception as exc:
                return None, f"failed to handle phase {phase.phase_name!r}: {_describe(exc)}", exc
        try:
            self._validate(task)
        except Exception as exc:
            return None, f"task is invalid: {_describe(exc)}", exc
        try:
            return _result_bytes(task, self._performer.handle_task(task)), None, None
        except Exception as exc:
            return None, f"failed to handle task: {_describe(exc)}", exc

    def ExecuteTask(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        started = time.monotonic()
        task = TaskRequest(task_id=bytes(request.task_id), payload=bytes(request.payload))
        with self._lock:
            self.in_flight += 1
        try:
            result, error, exc = self._run(task)
        finally:
            with self._lock:
                self.in_flight -= 1
        elapsed_ms = (time.monotonic() - started) * 1000
        # One line per task; the payload and result are never logged, only their sizes.
        if error is not None:
            # The traceback goes to the performer's log (the developer's: which line raised); the caller gets
            # only the message.
            log.warning("task task_id=%s status=error duration_ms=%.1f payload_bytes=%d error=%r",
                        _show_id(task.task_id), elapsed_ms, len(task.payload), error, exc_info=exc)
            context.abort(grpc.StatusCode.INTERNAL, error)
        assert result is not None
        too_big = " warning=result_of_1.5MiB_or_more_is_refused_by_the_executor" if len(result) >= MAX_RESULT_BYTES else ""
        log.info("task task_id=%s status=ok duration_ms=%.1f payload_bytes=%d result_bytes=%d%s",
                 _show_id(task.task_id), elapsed_ms, len(task.payload), len(result), too_big)
        return performer_pb2.TaskResponse(task_id=task.task_id, result=result)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


class PerformerServer:
    """A started-on-demand performer server; use :func:`serve` for the blocking, signal-handling form."""

    def __init__(
        self,
        performer: Performer,
        *,
        host: str = DEFAULT_HOST,
        port: int | None = None,
        max_workers: int = DEFAULT_WORKERS,
    ) -> None:
        if not callable(getattr(performer, "handle_task", None)):
            raise UsageError(f"{type(performer).__name__} is not a performer: it has no handle_task method",
                             hint="subclass hourglass_cli.performer.Performer")
        if max_workers < 1:
            raise UsageError(f"max_workers must be at least 1, got {max_workers}")
        self.performer = performer
        self.host = host
        self.requested_port = resolve_port(port)
        self.port: int | None = None
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="performer")
        # grpcio sets SO_REUSEPORT by default: a second performer on a taken port would silently share it.
        self._server = grpc.server(self._pool, options=[("grpc.so_reuseport", 0)])
        self._servicer = _PerformerServicer(performer)
        add_performer_servicer(self._servicer, self._server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)

    def _set_health(self, status: int) -> None:
        for service in ("", PERFORMER_SERVICE):
            self.health.set(service, status)

    def start(self) -> int:
        """Bind, start serving, report SERVING; returns the bound port."""
        address = _address(self.host, self.requested_port)
        try:
            bound = self._server.add_insecure_port(address)
        except RuntimeError:  # grpcio >= 1.5x raises; older ones return 0
            bound = 0
        if not bound:
            self._pool.shutdown(wait=False)
            raise PerformerError(f"cannot listen on {address}: the port is taken or the address is not local",
                                 hint="choose another --port (or $PORT), or stop whatever listens there")
        self._server.start()
        self.port = bound
        self._set_health(health_pb2.HealthCheckResponse.SERVING)
        log.info("performer listening address=%s performer=%s",
                 _address(self.host, bound), type(self.performer).__name__)
        return bound

    def begin_shutdown(self, grace: float | None = DEFAULT_GRACE_SECONDS) -> threading.Event:
        """Report NOT_SERVING, refuse new calls, let in-flight ones finish for ``grace`` seconds."""
        self.health.enter_graceful_shutdown()
        log.info("performer shutting down grace_s=%s", grace)
        return self._server.stop(grace)

    def stop(self, grace: float | None = DEFAULT_GRACE_SECONDS) -> None:
        """:meth:`begin_shutdown` and wait until the server has stopped."""
        self.begin_shutdown(grace).wait()
        self._release_pool()

    def _release_pool(self) -> None:
        # Idle workers exit now; a handler still running keeps its thread until it returns.
        self._pool.shutdown(wait=False, cancel_futures=True)

    def in_flight(self) -> int:
        """``ExecuteTask`` handlers running now (after a grace period, ones that ignored cancellation)."""
        return self._servicer.in_flight

    def __enter__(self) -> PerformerServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(grace=0)


def configure_logging(level: int = logging.INFO) -> None:
    """One line per event on stderr, unless the application configured logging already."""
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")


def serve(
    performer: Performer,
    port: int | None = None,
    host: str = DEFAULT_HOST,
    *,
    max_workers: int = DEFAULT_WORKERS,
    grace_period: float = DEFAULT_GRACE_SECONDS,
    log_setup: bool = True,
) -> None:
    """Serve ``performer`` until SIGTERM or SIGINT, then shut down gracefully and return.

    Port: ``port``, else ``$PORT``, else 8080. Host: 127.0.0.1 unless you pass ``"0.0.0.0"``. On the first
    signal, health turns NOT_SERVING, new calls are refused and in-flight ones get ``grace_period`` seconds;
    a second signal stops at once. Must run in the main thread (signal handlers live there).
    """
    if threading.current_thread() is not threading.main_thread():
        raise UsageError("serve() installs signal handlers and must run in the main thread",
                         hint="use PerformerServer(...).start() / .stop() from other threads")
    if log_setup:
        configure_logging()
    server = PerformerServer(performer, host=host, port=port, max_workers=max_workers)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)

    def _on_signal(signum: int, _frame: object) -> None:
        # Only an async-signal-safe write here: no locks, no logging.
        try:
            os.write(wake_w, bytes([signum]))
        except OSError:
            pass

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        signum = os.read(wake_r, 1)[0]
        log.info("performer got signal=%s", signal.Signals(signum).name)
        stopped = server.begin_shutdown(grace_period)
        # Wake the main thread when the server has stopped, so a second signal can still cut the wait short.
        watcher = threading.Thread(target=lambda: (stopped.wait(), os.write(wake_w, b"\0")), daemon=True,
                                   name="performer-shutdown")
        watcher.start()
        if os.read(wake_r, 1) != b"\0":
            log.warning("performer second signal: stopping without waiting for in-flight tasks")
            server.begin_shutdown(0).wait()
        watcher.join()  # it has written (or is about to write) to wake_w: close only after that
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(wake_r)
        os.close(wake_w)
    _finish(server)


def _finish(server: PerformerServer) -> None:
    """Return once stopped; if a handler ignored cancellation past the grace period, exit anyway."""
    server._release_pool()
    stuck = server.in_flight()
    if not stuck:
        log.info("performer stopped")
        return
    # ThreadPoolExecutor workers are joined at interpreter exit, so a handler that never returns would
    # keep the process alive forever: its call is already cancelled, so leave without it.
    log.warning("performer stopped with %d handler(s) still running after the grace period; exiting", stuck)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
