"""Starting and stopping an executor: store, keys, chain view, performer runtime + monitor, gRPC server.

:class:`Executor` is the started-on-demand form (tests, a devnet supervisor in one process);
:func:`run_executor` blocks until SIGTERM/SIGINT and shuts down gracefully (a second signal stops at once).
Start order fails fast and cheaply first: store (a corrupt file is reported, not crash-looped), keys,
chain, the listening port, then the performer; health turns SERVING when all is up.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from hourglass_cli.chain.structs import CurveType
from hourglass_cli.errors import ConfigError, HourglassError, UsageError
from hourglass_cli.executor.config import ExecutorConfig
from hourglass_cli.ports import free_port
from hourglass_cli.executor.runtimes.base import (
    PerformerRuntime,
    RuntimeContext,
    RuntimeEnv,
    RuntimeMonitor,
    build_runtime_env,
    passed_env,
)

if TYPE_CHECKING:
    from web3 import Web3

    from hourglass_cli.executor.chain_view import ChainView
    from hourglass_cli.wire.signing import Signer

log = logging.getLogger("hourglass.executor")

DEFAULT_GRACE_SECONDS = 10.0


class ExecutorStartError(HourglassError):
    """The executor could not start (port taken, performer not healthy, …)."""


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def runtime_env(config: ExecutorConfig, port: int) -> RuntimeEnv:
    """The performer's environment (WIRE.md §1) from the config: the same for every runtime."""
    c = config.contracts
    extra = {**passed_env(config.performer.pass_env, os.environ), **config.performer.env}
    return build_runtime_env(
        port, l1_rpc_url=config.chain.rpc_url, l2_rpc_url=config.chain.l2_rpc_url or config.chain.rpc_url,
        task_mailbox=c.task_mailbox, task_avs_registrar=c.task_avs_registrar,
        workflow_state_machine=c.workflow_state_machine, contracts=config.performer.contracts, extra=extra,
    )


def build_runtime(config: ExecutorConfig) -> PerformerRuntime:
    """The configured performer runtime (not started)."""
    from hourglass_cli.executor.runtimes import runtime_class

    perf = config.performer
    port = perf.port or free_port()
    name = f"hourglass-performer-{config.executor.operator_address.lower()[2:10]}"
    context = RuntimeContext(env=runtime_env(config, port), log_path=config.resolve(config.executor.log_dir) /
                             f"{name}.log", name=name, workdir=config.base_dir, where=f"{config.file}: [performer]")
    return runtime_class(perf.runtime).from_settings(config.performer_settings, context)


def load_signers(config: ExecutorConfig, chain: ChainView) -> dict[CurveType, Signer]:
    """The operator's signers from the keystores (password from the file or env var, never logged)."""
    from hourglass_cli.crypto.keystore import load_keystore
    from hourglass_cli.wire.signing import Bn254Signer, EcdsaSigner

    password = config.read_password()
    signers: dict[CurveType, Signer] = {}
    for curve, path_text in ((CurveType.BN254, config.keys.bn254_keystore),
                             (CurveType.ECDSA, config.keys.ecdsa_keystore)):
        if not path_text:
            continue
        loaded = load_keystore(config.resolve(path_text), password)
        if loaded.curve != curve.label:
            raise ConfigError(f"{config.file}: [keys].{curve.label}_keystore is a {loaded.curve} keystore")
        if curve == CurveType.BN254:
            signers[curve] = Bn254Signer(loaded.bn254_private_key())
        else:
            signers[curve] = EcdsaSigner(loaded.ecdsa_private_key(),
                                         verifier_address=config.contracts.ecdsa_certificate_verifier,
                                         domain_version=chain.ecdsa_domain_version())
    return signers


class Executor:
    """One executor, started with :meth:`start` and stopped with :meth:`stop`."""

    def __init__(self, config: ExecutorConfig, *, w3: Web3 | None = None,
                 runtime: PerformerRuntime | None = None) -> None:
        self.config = config
        self._w3 = w3
        self.runtime = runtime
        self.port: int | None = None
        self.service: Any = None
        self.monitor: RuntimeMonitor | None = None
        self.store: Any = None
        self._server: Any = None
        self._health: Any = None
        self.triggers: Any = None
        """The trigger operator (:class:`~hourglass_cli.triggers.operator.OperatorClient`) when [triggers] is
        enabled: ``.counters`` / ``.status()`` for status and metrics."""

    @property
    def address(self) -> str:
        """``host:port`` ExecutorService listens on (after :meth:`start`)."""
        return _address(self.config.executor.host, self.port or 0)

    def _set_health(self, serving: bool) -> None:
        from grpc_health.v1 import health_pb2

        from hourglass_cli.wire.services import EXECUTOR_SERVICE

        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for service in ("", EXECUTOR_SERVICE):
            self._health.set(service, status)

    def start(self) -> int:
        """Start everything; returns the bound port. Raises a HourglassError (nothing left running) on failure."""
        try:
            return self._start()
        except BaseException:
            self.stop(grace=0)
            raise

    def _start(self) -> int:
        import grpc
        from grpc_health.v1 import health, health_pb2_grpc

        from hourglass_cli.chain.connection import connect
        from hourglass_cli.executor.chain_view import ChainView
        from hourglass_cli.executor.service import ExecutorService
        from hourglass_cli.executor.store import ExecutorStore
        from hourglass_cli.wire.services import add_executor_servicer

        cfg = self.config
        ex = cfg.executor
        self.store = ExecutorStore(cfg.resolve(ex.store))
        w3 = self._w3 or connect(cfg.chain.rpc_url, timeout=cfg.chain.connect_timeout)
        chain = ChainView(w3, avs=ex.avs_address, operator=ex.operator_address,
                          key_registrar=cfg.contracts.key_registrar,
                          task_avs_registrar=cfg.contracts.task_avs_registrar,
                          ecdsa_certificate_verifier=cfg.contracts.ecdsa_certificate_verifier or None,
                          cache_seconds=cfg.chain.cache_seconds)
        chain.check_setup()
        if cfg.contracts.l2_task_mailbox:  # tasks may also come from an L2 mailbox (see chain_view)
            l2_url = cfg.chain.l2_rpc_url or cfg.chain.rpc_url
            l2_w3 = w3 if l2_url == cfg.chain.rpc_url else connect(l2_url, timeout=cfg.chain.connect_timeout)
            chain.set_l2(l2_w3, cfg.contracts.l2_task_mailbox)
        signers = load_signers(cfg, chain)
        self._warn_if_unregistered(chain, signers)
        own_runtime = self.runtime is None
        self.runtime = self.runtime or build_runtime(cfg)
        self.service = ExecutorService(operator=ex.operator_address, avs=ex.avs_address, signers=signers,
                                       chain=chain, runtime=self.runtime, store=self.store,
                                       task_timeout=ex.task_timeout, block_wait=ex.block_wait)
        self._server = grpc.server(ThreadPoolExecutor(max_workers=ex.workers, thread_name_prefix="executor"),
                                   options=[("grpc.so_reuseport", 0)])
        add_executor_servicer(self.service, self._server)
        self._health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        self._set_health(False)
        address = _address(ex.host, ex.port)
        try:
            self.port = self._server.add_insecure_port(address)
        except RuntimeError:
            self.port = 0
        if not self.port:
            raise ExecutorStartError(f"cannot listen on {address}: the port is taken or the address is not local",
                                     hint=f"choose another [executor].port in {cfg.file}")
        self._start_runtime(cfg, auto_port=own_runtime and not cfg.performer.port)
        self.monitor = RuntimeMonitor(self.runtime, on_down=lambda: self._set_health(False),
                                      on_up=lambda: self._set_health(True))
        self.monitor.start()
        self._server.start()
        self.service.ready.set()
        self._set_health(True)
        if cfg.triggers.enabled:
            self._start_triggers(cfg, w3, chain, signers)
        log.info("executor listening address=%s operator=%s avs=%s runtime=%s performer=%s curves=%s",
                 self.address, chain.operator, chain.avs, self.runtime.name, self.runtime.endpoint(),
                 ",".join(c.label for c in signers))
        return self.port

    def _start_runtime(self, cfg: ExecutorConfig, auto_port: bool) -> None:
        """Start the performer; a port we picked ourselves may be taken by someone else before the performer
        binds it (the OS's free port is free only when asked), so then retry twice on a fresh port."""
        from hourglass_cli.executor.runtimes.base import RuntimeStartError

        for attempt in range(3 if auto_port else 1):
            try:
                self.runtime.start(cfg.performer.startup_timeout)  # type: ignore[union-attr]
                return
            except RuntimeStartError:
                if not auto_port or attempt == 2:
                    raise
                log.warning("performer did not start on %s; retrying on another port", self.runtime.endpoint())
                self.runtime = build_runtime(cfg)
                self.service.runtime = self.runtime  # type: ignore[union-attr]

    def _start_triggers(self, cfg: ExecutorConfig, w3: Any, chain: ChainView, signers: dict[CurveType, Signer]) -> None:
        """The trigger operator, signing with the key of [triggers].operator_set_id's curve."""
        from hourglass_cli.triggers.operator import OperatorClient

        t = cfg.triggers
        set_ids = list(chain.avs_config().executor_operator_set_ids)
        set_id = t.operator_set_id if t.operator_set_id >= 0 else (set_ids[0] if set_ids else None)
        if set_id is None:
            raise ConfigError(f"{cfg.file}: [triggers].operator_set_id: the AVS has no executor operator set",
                              hint="set [triggers].operator_set_id to the monitoring operator set")
        curve = chain.curve_of(set_id)
        signer = signers.get(curve)
        if signer is None:
            raise ConfigError(f"{cfg.file}: [triggers]: operator set {set_id} uses {curve.name} and no "
                              f"{curve.label} key is configured", hint=f"add [keys].{curve.label}_keystore")
        self.triggers = OperatorClient(t.aggregator, operator=cfg.executor.operator_address, signer=signer,
                                       chain_id=int(w3.eth.chain_id), w3=w3, settings=t.client_settings())
        self.triggers.start()
        log.info("executor trigger operator aggregator=%s set=%s curve=%s", t.aggregator, set_id, curve.label)

    def _warn_if_unregistered(self, chain: ChainView, signers: dict[CurveType, Signer]) -> None:
        """Log (not fail: the operator may register later) if no executor set has this operator and key now."""
        from hourglass_cli.executor.chain_view import NotMember

        block = chain.latest_block()
        reasons = []
        for set_id in chain.avs_config().executor_operator_set_ids:
            signer = signers.get(chain.curve_of(set_id))
            if signer is None:
                reasons.append(f"set {set_id} uses {chain.curve_of(set_id).name}, no key for it configured")
                continue
            try:
                chain.check_membership(set_id, block, signer.public_key)
                return
            except NotMember as exc:
                reasons.append(exc.message)
        log.warning("executor not (yet) in any executor operator set: %s", "; ".join(reasons))

    def begin_shutdown(self, grace: float = DEFAULT_GRACE_SECONDS) -> threading.Event | None:
        """Refuse new tasks, report NOT_SERVING, give in-flight ones ``grace`` seconds."""
        if self.service is not None:
            self.service.stopping.set()
        if self._health is not None:
            self._health.enter_graceful_shutdown()
        return self._server.stop(grace) if self._server is not None else None

    def stop(self, grace: float = DEFAULT_GRACE_SECONDS) -> None:
        """Stop serving, the monitor, the performer and the store (idempotent)."""
        if self.triggers is not None:
            self.triggers.stop()
        stopped = self.begin_shutdown(grace)
        if stopped is not None:
            stopped.wait()
        if self.monitor is not None:
            self.monitor.stop()
        if self.runtime is not None:
            self.runtime.close()
        if self.store is not None:
            self.store.close()
            self.store = None
        log.info("executor stopped")

    def __enter__(self) -> Executor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(grace=0)


def configure_logging(level: int = logging.INFO) -> None:
    """One line per event on stderr, unless logging is configured already."""
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def run_executor(config: ExecutorConfig, *, grace: float = DEFAULT_GRACE_SECONDS, log_setup: bool = True) -> None:
    """Run an executor until SIGTERM/SIGINT, then stop gracefully; must run in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        raise UsageError("run_executor installs signal handlers and must run in the main thread",
                         hint="use Executor(config).start() / .stop() from other threads")
    if log_setup:
        configure_logging()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)

    def _on_signal(signum: int, _frame: object) -> None:
        try:
            os.write(wake_w, bytes([signum]))  # async-signal-safe: no locks, no logging
        except OSError:
            pass

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    executor = Executor(config)
    try:
        executor.start()
        signum = os.read(wake_r, 1)[0]
        log.info("executor got signal=%s", signal.Signals(signum).name)
        stopped = executor.begin_shutdown(grace)
        watcher = threading.Thread(target=lambda: (stopped.wait() if stopped else None, os.write(wake_w, b"\0")),
                                   daemon=True, name="executor-shutdown")
        watcher.start()
        if os.read(wake_r, 1) != b"\0":
            log.warning("executor second signal: stopping without waiting for in-flight tasks")
            executor.begin_shutdown(0)
        watcher.join()
    finally:
        executor.stop(grace=0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(wake_r)
        os.close(wake_w)
