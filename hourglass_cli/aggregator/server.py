"""Starting and stopping an aggregator: store, keys, chains, pollers, the session pool, health and metrics.

:class:`Aggregator` is the started-on-demand form (tests, a supervisor in one process); :func:`run_aggregator`
blocks until SIGTERM/SIGINT. On start, tasks the store still has in flight are resumed first (a session
re-reads the mailbox: expired ones are marked so, verified ones completed), then the pollers catch up from
their stored heads. Sessions run in a bounded thread pool (``max_concurrent_tasks``); more tasks wait in its
queue. Health is SERVING once every poller has looked at its chain.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from hourglass_cli.aggregator import store as st
from hourglass_cli.aggregator.config import AggregatorConfig
from hourglass_cli.errors import ConfigError, HourglassError, UsageError

if TYPE_CHECKING:
    from web3 import Web3

    from hourglass_cli.aggregator.poller import ChainPoller
    from hourglass_cli.aggregator.session import TaskSession
    from hourglass_cli.aggregator.workflow_driver import WorkflowDriver

log = logging.getLogger("hourglass.aggregator")


class AggregatorStartError(HourglassError):
    """The aggregator could not start (port taken, chain unreachable, …)."""


def load_signer(config: AggregatorConfig) -> Any:
    """The aggregator's off-chain signer from its keystore (password never logged)."""
    from hourglass_cli.crypto.keystore import load_keystore
    from hourglass_cli.wire.signing import Bn254Signer, EcdsaSigner

    keys = config.keys
    path = keys.bn254_keystore or keys.ecdsa_keystore
    loaded = load_keystore(config.resolve(path), config.read_password())
    want = "bn254" if keys.bn254_keystore else "ecdsa"
    if loaded.curve != want:
        raise ConfigError(f"{config.file}: [keys].{want}_keystore is a {loaded.curve} keystore")
    return Bn254Signer(loaded.bn254_private_key()) if want == "bn254" else EcdsaSigner(loaded.ecdsa_private_key())


class Aggregator:
    """One aggregator, started with :meth:`start` and stopped with :meth:`stop`."""

    def __init__(self, config: AggregatorConfig, *, web3s: dict[str, Web3] | None = None) -> None:
        self.config = config
        self._web3s = dict(web3s or {})  # rpc_url -> Web3 (tests may hand in their own)
        self.store: st.Store | None = None
        self.pollers: list[ChainPoller] = []
        self.drivers: list[WorkflowDriver] = []
        self.sessions: dict[tuple[str, str], TaskSession] = {}
        self._sessions_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._http: Any = None
        self.api: Any = None  # the client API server ([api]), hourglass_cli.api.server.ApiServer
        self.deps: Any = None
        self.metrics: Any = None
        self.port: int | None = None
        self.stopping = threading.Event()

    def _web3(self, url: str) -> Web3:
        from hourglass_cli.chain.connection import connect

        if url not in self._web3s:
            self._web3s[url] = connect(url, timeout=self.config.l1.connect_timeout)
        return self._web3s[url]

    def start(self) -> int:
        """Start everything; returns the health/metrics port. Nothing is left running on failure."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> int:
        from eth_utils import to_checksum_address

        from hourglass_cli.aggregator.fanout import Channels
        from hourglass_cli.aggregator.health import HealthServer
        from hourglass_cli.aggregator.metrics import Metrics
        from hourglass_cli.aggregator.operators import ChainContracts, OperatorSetReader
        from hourglass_cli.aggregator.poller import ChainPoller
        from hourglass_cli.aggregator.session import SessionDeps
        from hourglass_cli.aggregator.submitter import Submitter
        from hourglass_cli.aggregator.verify import PAIRINGS
        from hourglass_cli.chain.contracts import contract
        from hourglass_cli.chain.sender import TxSender

        cfg, agg = self.config, self.config.aggregator
        if agg.project_artifacts:
            from hourglass_cli.chain.abi import add_project_artifacts

            add_project_artifacts(cfg.resolve(agg.project_artifacts))
        self.store = st.SqliteStore(cfg.resolve(agg.store))
        signer = load_signer(cfg)
        tx_key = cfg.read_tx_key()
        avs = to_checksum_address(agg.avs_address)
        l1 = self._web3(cfg.l1.rpc_url)
        registrar = contract(l1, "TaskAVSRegistrar", cfg.l1.task_avs_registrar)
        if not bytes(l1.eth.get_code(registrar.address)):
            raise ConfigError(f"{cfg.file}: no contract at [l1].task_avs_registrar {registrar.address}")
        served = registrar.functions.avs().call()
        if to_checksum_address(served) != avs:
            raise ConfigError(f"{cfg.file}: the TaskAVSRegistrar at {registrar.address} serves AVS {served}, not {avs}")
        chains = {c.name: ChainContracts.discover(c.name, self._web3(c.rpc_url), c.task_mailbox) for c in cfg.chains}
        senders = {name: TxSender(c.w3, tx_key, label=f"aggregator on {name}") for name, c in chains.items()}
        self.metrics = Metrics(task_counts=self.store.counts, pairings=PAIRINGS.snapshot)
        self.metrics.in_flight.set(value=0.0)
        submitter = Submitter(chains, senders, self.store, self.metrics, attempts=agg.submit_attempts)
        self.deps = SessionDeps(
            store=self.store, reader=OperatorSetReader(chains, registrar, agg.socket_cache_seconds), chains=chains,
            submitter=submitter, channels=Channels(), metrics=self.metrics, sign=signer.sign_offchain,
            aggregator=to_checksum_address(agg.operator_address), call_timeout=agg.executor_timeout,
            retry_interval=agg.retry_interval)
        try:
            self._http = HealthServer(agg.host, agg.metrics_port, self.health, self.metrics.render)
        except OSError as exc:
            raise AggregatorStartError(f"cannot listen on {agg.host}:{agg.metrics_port} ({exc.strerror})",
                                       hint=f"choose another [aggregator].metrics_port in {cfg.file}") from None
        self.port = self._http.port
        self._pool = ThreadPoolExecutor(max_workers=agg.max_concurrent_tasks, thread_name_prefix="task")
        resumed = self.store.in_flight()
        self.dispatch(resumed)
        for section in cfg.chains:
            c = chains[section.name]
            poller = ChainPoller(section, c.w3, c.mailbox, avs, self.store, on_tasks=self.dispatch,
                                 on_verified=self.on_verified, on_orphaned=self.on_orphaned, metrics=self.metrics)
            self.pollers.append(poller)
            poller.start()
        for section in cfg.chains:
            if section.workflow_state_machine:
                self.drivers.append(self._driver(section, chains[section.name], senders[section.name]))
        for driver in self.drivers:
            driver.start()
        if cfg.api is not None and cfg.api.api.enabled:  # before /healthz answers: ready means the API serves too
            from hourglass_cli.api.run import start_api

            self.api = start_api(cfg.api)
        self._http.start()
        log.info("aggregator started operator=%s avs=%s chains=%s resumed=%d http=%s:%d signer=%s sender=%s "
                 "workflows=%s", agg.operator_address, avs, ",".join(chains), len(resumed), agg.host, self.port,
                 signer.curve.value, next(iter(senders.values())).address,
                 ",".join(d.chain for d in self.drivers) or "-")
        return self.port

    def _driver(self, section: Any, contracts: Any, sender: Any) -> WorkflowDriver:
        """The workflow driver of one chain; its contract must be a WorkflowStateMachine on this mailbox."""
        from eth_utils import to_checksum_address

        from hourglass_cli.aggregator.workflow_driver import WorkflowDriver

        cfg = self.config
        where = f"{cfg.file}: [[chains]] {section.name}: workflow_state_machine {section.workflow_state_machine}"
        if not bytes(contracts.w3.eth.get_code(to_checksum_address(section.workflow_state_machine))):
            raise ConfigError(f"{where}: no contract at that address")
        try:
            driver = WorkflowDriver(section, contracts.w3, section.workflow_state_machine, sender, self.store,
                                    metrics=self.metrics, mailbox=contracts.mailbox)
            mailbox = driver.wsm.functions.mailbox().call()
        except Exception as exc:  # noqa: BLE001 - not a WorkflowStateMachine
            raise ConfigError(f"{where}: not a WorkflowStateMachine ({str(exc)[:200]})") from None
        if to_checksum_address(mailbox) != to_checksum_address(contracts.mailbox.address):
            raise ConfigError(f"{where}: it uses the mailbox {mailbox}, not this chain's {contracts.mailbox.address}")
        return driver

    # -- tasks --

    def dispatch(self, records: list[st.TaskRecord]) -> None:
        """Start a session for each task not already running (bounded pool; others queue)."""
        from hourglass_cli.aggregator.session import TaskSession

        for record in records:
            with self._sessions_lock:
                if self.stopping.is_set() or record.key in self.sessions or self._pool is None:
                    continue
                session = self.sessions[record.key] = TaskSession(self.deps, record)
            self._pool.submit(self._run, session)

    def _run(self, session: TaskSession) -> None:
        self.metrics.in_flight.set(value=float(len(self.sessions)))
        try:
            session.run()
        finally:
            with self._sessions_lock:
                self.sessions.pop(session.key, None)
                self.metrics.in_flight.set(value=float(len(self.sessions)))

    def _session(self, chain: str, task_hash: str) -> TaskSession | None:
        with self._sessions_lock:
            return self.sessions.get((chain, task_hash))

    def on_verified(self, chain: str, task_hash: str) -> None:
        """TaskVerified seen: a session not yet submitting stops; a task without one is completed."""
        session = self._session(chain, task_hash)
        if session is not None:
            if not session.submitting:
                session.cancel("verified on chain (TaskVerified seen)", st.COMPLETED)
            return
        if self.store is not None and self.store.transition(chain, task_hash, st.COMPLETED, only_from=st.IN_FLIGHT,
                                                            reason="verified on chain (TaskVerified seen)"):
            log.info("task completed chain=%s task=%s reason='TaskVerified seen'", chain, task_hash)

    def on_orphaned(self, task: st.TaskRecord, reason: str) -> None:
        """A task's block left the chain: cancel it, never submit it."""
        session = self._session(task.chain, task.task_hash)
        if self.store is not None:
            self.store.transition(task.chain, task.task_hash, st.CANCELLED, only_from=st.IN_FLIGHT, reason=reason)
        if session is not None:
            session.cancel(reason)
        log.warning("task cancelled chain=%s task=%s reason=%r", task.chain, task.task_hash, reason)

    # -- health and stop --

    def health(self) -> tuple[bool, dict[str, Any]]:
        chains = {}
        ok = bool(self.pollers) and not self.stopping.is_set()
        for p in self.pollers:
            max_age = max(5.0, 20 * p.section.poll_interval)
            healthy = p.last_ok > 0 and p.healthy(max_age)
            ok = ok and healthy
            chains[p.chain] = {"healthy": healthy, "last_poll_age_s": round(time.monotonic() - p.last_ok, 3)
                               if p.last_ok else None, "error": p.last_error}
        for d in self.drivers:
            chains.setdefault(d.chain, {})["workflow"] = {
                "last_round_age_s": round(time.monotonic() - d.last_ok, 3) if d.last_ok else None,
                "error": d.last_error}
        with self._sessions_lock:
            running = len(self.sessions)
        return ok, {"status": "ok" if ok else "unhealthy", "chains": chains, "sessions": running}

    def stop(self, timeout: float = 10.0) -> None:
        """Stop pollers, cancel sessions (they stay in flight in the store and resume next start), close all."""
        self.stopping.set()
        if self.api is not None:
            self.api.stop()
            self.api = None
        for d in self.drivers:
            d.close(timeout)
        for p in self.pollers:
            p.close(timeout)
        with self._sessions_lock:
            sessions = list(self.sessions.values())
        for s in sessions:
            s.cancel("the aggregator is stopping", st.PENDING)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._http is not None:
            self._http.stop()
            self._http = None
        if self.deps is not None:
            self.deps.channels.close()
        if self.store is not None:
            self.store.close()
            self.store = None
        log.info("aggregator stopped")

    def __enter__(self) -> Aggregator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and its key=value fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        doc: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname, "logger": record.name,
                               "msg": message}
        for token in message.split(" "):
            key, sep, value = token.partition("=")
            if sep and key.isidentifier() and key not in doc:
                doc[key] = value.strip("'\"")
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc)


def configure_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    """One line per event on stderr (key=value text or JSON), unless logging is configured already."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


def serve_until_signal(start: Any, stop: Any, name: str) -> None:
    """`start()`, wait for SIGTERM/SIGINT (a self-pipe: nothing runs in the handler), then `stop()`; main thread only."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)

    def _on_signal(signum: int, _frame: object) -> None:
        try:
            os.write(wake_w, bytes([signum]))
        except OSError:
            pass

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        start()
        signum = os.read(wake_r, 1)[0]
        log.info("%s got signal=%s", name, signal.Signals(signum).name)
    finally:
        stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(wake_r)
        os.close(wake_w)


def run_aggregator(config: AggregatorConfig, *, log_setup: bool = True) -> None:
    """Run an aggregator until SIGTERM/SIGINT; must run in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        raise UsageError("run_aggregator installs signal handlers and must run in the main thread",
                         hint="use Aggregator(config).start() / .stop() from other threads")
    if log_setup:
        configure_logging(config.aggregator.log_format)
    aggregator = Aggregator(config)
    serve_until_signal(aggregator.start, aggregator.stop, "aggregator")
