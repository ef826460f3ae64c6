"""The performer runtime interface, the shared ``execute`` client, health waiting and the restart monitor.

A runtime (``process``, ``docker``, ``remote``) only has to say how the performer is started, stopped,
checked and reached: :meth:`PerformerRuntime.start` / :meth:`~PerformerRuntime.stop` /
:meth:`~PerformerRuntime.is_alive` / :meth:`~PerformerRuntime.endpoint` (and optionally
:meth:`~PerformerRuntime.restart`). Calling the performer (``ExecuteTask`` over a cached channel, echoed
task id check, gRPC error mapping), waiting for ``grpc.health.v1`` SERVING and restarting a dead performer
with capped exponential backoff (:class:`RuntimeMonitor`, in ``monitor.py``) are shared here.

A runtime module is loaded by name (``hourglass_cli.executor.runtimes.<kind>``) and builds its runtime
from its config section with ``RuntimeClass.from_settings(settings, context)``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from hourglass_cli.config import OWN_ENV_PREFIX
from hourglass_cli.errors import HourglassError

log = logging.getLogger("hourglass.executor.runtime")

MAX_RESULT_BYTES = 3 * 512 * 1024
"""Results of 1.5 MiB or more are dropped by the aggregator (WIRE.md §1); the executor refuses them."""

# Room for the echoed task id and protobuf framing on top of the largest result we accept, so an oversize
# result is cut off by the channel instead of being buffered whole.
_MAX_RECEIVE_BYTES = MAX_RESULT_BYTES + 64 * 1024

CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    # gRPC's default reconnect backoff starts at 1 s: a performer that opens its port 50 ms after the first
    # attempt would only be seen a second later. Keep reconnects quick and bounded.
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 1000),
    ("grpc.max_receive_message_length", _MAX_RECEIVE_BYTES),
    ("grpc.enable_retries", 0),
)


# --- errors ---------------------------------------------------------------------------------------------


class RuntimeStartError(HourglassError):
    """The performer could not be started or did not report SERVING in time."""

    default_hint = "check the performer's log file and its command/image; it must serve gRPC health on $PORT"


class PerformerError(HourglassError):
    """The performer answered with an error (its gRPC status and message are kept) or answered wrongly."""

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.code = code  # the performer's gRPC status code name, e.g. "INTERNAL", if it sent one


class PerformerTimeout(PerformerError):
    """The performer did not answer before the task's deadline."""


class PerformerUnavailable(PerformerError):
    """The performer could not be reached (not running, restarting, connection lost)."""


class PerformerResultTooLarge(PerformerError):
    """The performer's result is 1.5 MiB or more."""


class PerformerCancelled(PerformerError):
    """The call was cancelled (the aggregator gave up on the task)."""


# --- environment ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuntimeEnv:
    """What the performer is started with: the port it listens on and its environment (WIRE.md §1).

    ``env`` holds ``PORT`` plus ``L1_RPC_URL``, ``L2_RPC_URL``, ``TASK_MAILBOX``, ``TASK_AVS_REGISTRAR``,
    ``WORKFLOW_STATE_MACHINE`` (when there is one) and one ``<CONTRACT_NAME_UPPER_SNAKE>`` per AVS contract, plus
    any user-configured variables. For a container
    ``port`` is the port inside the container; the runtime decides how it is published.
    """

    port: int
    env: dict[str, str] = field(default_factory=dict)


# What a performer *process* takes from the executor's environment to run at all on this machine: where programs
# are, whose home, the locale and time zone, the temp folder, and Python's output settings. Nothing else — the
# executor's keystore password variable, the devnet's keys, cloud credentials, proxies with passwords — reaches
# it; `[performer].pass_env` names more on purpose. Containers get none of these (the image has its own).
PROCESS_BASE_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
                    "NO_COLOR", "PYTHONUNBUFFERED", "PYTHONIOENCODING", "PYTHONDONTWRITEBYTECODE", "SYSTEMROOT")
PROCESS_BASE_PREFIXES = ("LC_",)


def process_environment(env: RuntimeEnv, source: Mapping[str, str]) -> dict[str, str]:
    """A performer process's whole environment: the base variables of `source` (the executor's), then ``env``."""
    base = {k: v for k, v in source.items()
            if (k in PROCESS_BASE_ENV or k.startswith(PROCESS_BASE_PREFIXES)) and not k.startswith(OWN_ENV_PREFIX)}
    return {**base, **env.env}


def upper_snake(name: str) -> str:
    """``TaskAVSRegistrar`` → ``TASK_AVS_REGISTRAR``; ``helloWorld-l2`` → ``HELLO_WORLD_L2``."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def build_runtime_env(
    port: int,
    *,
    l1_rpc_url: str = "",
    l2_rpc_url: str = "",
    task_mailbox: str = "",
    task_avs_registrar: str = "",
    workflow_state_machine: str = "",
    contracts: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> RuntimeEnv:
    """The environment of WIRE.md §1 (empty values left out); ``extra`` (user settings) wins on conflicts."""
    env: dict[str, str] = {}
    for name, address in (contracts or {}).items():
        env[upper_snake(name)] = address
    for key, value in (("L1_RPC_URL", l1_rpc_url), ("L2_RPC_URL", l2_rpc_url),
                       ("TASK_MAILBOX", task_mailbox), ("TASK_AVS_REGISTRAR", task_avs_registrar),
                       ("WORKFLOW_STATE_MACHINE", workflow_state_machine)):
        if value:
            env[key] = value
    env.update(extra or {})
    env["PORT"] = str(port)
    return RuntimeEnv(port=port, env=env)


def passed_env(names: Sequence[str], source: Mapping[str, str]) -> dict[str, str]:
    """The variables `names` (``[performer].pass_env``) that are set in `source`; never hourglass's own."""
    return {n: source[n] for n in names if n in source and not n.upper().startswith(OWN_ENV_PREFIX)}


@dataclass(frozen=True)
class RuntimeContext:
    """What every runtime gets besides its own settings."""

    env: RuntimeEnv
    log_path: Path
    """Where the performer's stdout/stderr (or container logs) go."""
    name: str = "performer"
    """A short name for logs, process titles and container names (e.g. ``hourglass-performer-<operator>``)."""
    workdir: Path = field(default_factory=Path.cwd)
    """Relative paths in the settings are resolved against this (the config file's folder)."""
    where: str = "[performer]"
    """How to name the settings in a ConfigError, e.g. ``executor.toml: [performer]``."""


# --- health ---------------------------------------------------------------------------------------------


def _channel(endpoint: str) -> Any:
    import grpc

    return grpc.insecure_channel(endpoint, options=list(CHANNEL_OPTIONS))


def check_health(endpoint: str, timeout: float = 1.0, service: str = "") -> bool:
    """One ``grpc.health.v1.Health/Check``: True if SERVING, False on any other answer or no answer."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with _channel(endpoint) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def wait_for_health(
    endpoint: str,
    deadline_s: float,
    *,
    service: str = "",
    alive: Callable[[], bool] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Wait until ``endpoint`` answers health SERVING, for at most ``deadline_s`` seconds.

    Asks ``Health/Check`` with ``wait_for_ready`` (the call itself waits for the port, with quick reconnects). Fails early if
    ``alive()`` turns False (the process/container is gone) or ``stop`` is set. Raises RuntimeStartError.
    """
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    end = time.monotonic() + deadline_s
    pause = threading.Event() if stop is None else stop
    delay = 0.02
    last = "no answer"
    with _channel(endpoint) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if stop is not None and stop.is_set():
                raise RuntimeStartError(f"stopped while waiting for the performer at {endpoint}")
            if alive is not None and not alive():
                raise RuntimeStartError(f"the performer exited before it reported SERVING at {endpoint}")
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise RuntimeStartError(
                    f"the performer at {endpoint} did not report SERVING within {deadline_s:g} s ({last})")
            # wait_for_ready: the call waits for the channel to connect (quick reconnects, see CHANNEL_OPTIONS)
            # instead of failing at once; short slices so a dead process or a stop request is noticed.
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=service),
                                   timeout=min(remaining, 0.25), wait_for_ready=True)
            except grpc.RpcError as exc:
                code = exc.code()
                last = "port not answering" if code == grpc.StatusCode.DEADLINE_EXCEEDED else \
                    f"health check failed: {code.name}"
                if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                    continue
            else:
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = f"health status {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
            # Connected but not SERVING yet: ask again shortly (interruptible by ``stop``).
            pause.wait(min(delay, max(0.0, end - time.monotonic())))
            delay = min(delay * 2, 0.25)


# --- the runtime ----------------------------------------------------------------------------------------


class PerformerRuntime(ABC):
    """Runs (or reaches) one performer. Subclasses implement start/stop/endpoint/is_alive (and may override
    restart); :meth:`execute` is shared. Call ``super().__init__()`` in subclasses."""

    name: ClassVar[str]
    start_deadline_s: float = 60.0
    """How long :meth:`restart` (used by the monitor) waits for SERVING."""

    def __init__(self) -> None:
        self._channel_lock = threading.Lock()
        self._channel: Any = None
        self._channel_endpoint: str | None = None
        self.exited = threading.Event()
        """Set by a runtime that learns its process/container ended, to wake the monitor at once."""

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], context: RuntimeContext) -> PerformerRuntime:
        """Build from the ``[performer]`` config section; raise ConfigError naming the key on bad settings."""
        raise NotImplementedError(f"runtime {cls.name!r} cannot be built from settings")

    # -- what a runtime implements --

    @abstractmethod
    def start(self, deadline_s: float) -> None:
        """Start the performer (if this runtime manages it) and wait for health SERVING; RuntimeStartError."""

    @abstractmethod
    def stop(self, timeout: float = 10.0) -> None:
        """Stop the performer (if managed): terminate, wait up to ``timeout``, then kill. Idempotent."""

    @abstractmethod
    def endpoint(self) -> str:
        """``host:port`` of the performer's gRPC server (may change after a restart)."""

    @abstractmethod
    def is_alive(self) -> bool:
        """Whether the process/container is still running (remote: whether health answers SERVING)."""

    def restart(self) -> None:
        """Stop what is left and start again (used by the monitor)."""
        self.stop()
        self.exited.clear()
        self.start(self.start_deadline_s)

    # -- shared --

    def close(self) -> None:
        """Stop the performer and close the cached channel."""
        try:
            self.stop()
        finally:
            self.reset_channel()

    def reset_channel(self) -> None:
        """Drop the cached channel (the next call connects afresh)."""
        with self._channel_lock:
            channel, self._channel, self._channel_endpoint = self._channel, None, None
        if channel is not None:
            channel.close()

    def _stub(self) -> Any:
        from hourglass_cli.wire.services import PerformerStub

        endpoint = self.endpoint()
        with self._channel_lock:
            if self._channel is None or self._channel_endpoint != endpoint:
                if self._channel is not None:
                    self._channel.close()
                self._channel = _channel(endpoint)
                self._channel_endpoint = endpoint
                self._stub_cache = PerformerStub(self._channel)
            return self._stub_cache

    def execute(self, task_id: bytes, payload: bytes, timeout: float, *,
                cancel_on: Callable[[Callable[[], Any]], Any] | None = None) -> bytes:
        """``ExecuteTask`` with ``timeout`` seconds; returns the result bytes.

        Waits for a (re)starting performer within the timeout. ``cancel_on`` receives a function that cancels
        the call (the executor passes ``context.add_callback``, so a call the aggregator abandons is cancelled
        at the performer too). Raises PerformerTimeout, PerformerUnavailable, PerformerResultTooLarge,
        PerformerCancelled or PerformerError (with the performer's status code and message).
        """
        import grpc

        from hourglass_cli.wire.services import performer_pb2

        if timeout <= 0:
            raise PerformerTimeout("no time left to run the task", code="DEADLINE_EXCEEDED")
        request = performer_pb2.TaskRequest(task_id=task_id, payload=payload)
        call = self._stub().ExecuteTask.future(request, timeout=timeout, wait_for_ready=True)
        if cancel_on is not None and cancel_on(call.cancel) is False:
            call.cancel()  # add_callback answers False when the caller is already gone
        try:
            reply = call.result()
        except grpc.FutureCancelledError:
            raise PerformerCancelled("the call to the performer was cancelled", code="CANCELLED") from None
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED and call.cancelled():
                raise PerformerCancelled("the call to the performer was cancelled", code="CANCELLED") from None
            raise _map_rpc_error(exc, timeout) from None
        if bytes(reply.task_id) != task_id:
            raise PerformerError("the performer answered for another task id", code=None)
        result = bytes(reply.result)
        if len(result) >= MAX_RESULT_BYTES:
            raise PerformerResultTooLarge(
                f"the performer's result is {len(result):,} bytes; the executor does not sign results of "
                f"{MAX_RESULT_BYTES:,} bytes (1.5 MiB) or more (the Hourglass wire limit)", code="RESOURCE_EXHAUSTED")
        return result


def _map_rpc_error(exc: Any, timeout: float) -> PerformerError:
    import grpc

    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    details = (exc.details() if callable(getattr(exc, "details", None)) else None) or ""
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return PerformerTimeout(f"the performer did not answer within {timeout:.3g} s", code=code.name)
    if code == grpc.StatusCode.UNAVAILABLE:
        return PerformerUnavailable(f"the performer is unavailable: {details}", code=code.name)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return PerformerResultTooLarge(f"the performer's answer is too large: {details}", code=code.name)
    return PerformerError(details or f"the performer failed with {code.name}", code=code.name)


# The restart monitor lives in its own module; importable from here too (the runtimes' one-stop interface).
from hourglass_cli.executor.runtimes.monitor import RuntimeMonitor  # noqa: E402

__all__ = [
    "CHANNEL_OPTIONS", "MAX_RESULT_BYTES", "PerformerCancelled", "PerformerError", "PerformerResultTooLarge",
    "PerformerRuntime", "PerformerTimeout", "PerformerUnavailable", "RuntimeContext", "RuntimeEnv", "RuntimeMonitor",
    "RuntimeStartError", "build_runtime_env", "passed_env", "process_environment", "check_health", "upper_snake", "wait_for_health",
]
