"""Starting the client API from its config: standalone (``hourglass api run``) or inside the aggregator."""

from __future__ import annotations

import logging
import threading

from hourglass_cli.api.config import ApiConfig
from hourglass_cli.errors import UsageError

log = logging.getLogger("hourglass.api")


def make_chain(config: ApiConfig):
    """The ApiChain of `config`, or None when no rpc_url is set."""
    api = config.api
    if not api.rpc_url:
        return None
    from hourglass_cli.api.chain import ApiChain
    from hourglass_cli.errors import ConfigError

    if api.bundler_url:
        raise ConfigError(f"{config.file}: [api].bundler_url: an external bundler is not supported yet",
                          hint="leave it empty: the service signs UserOps and sends them with handleOps itself")

    chain = ApiChain(api.rpc_url, entry_point=api.entry_point, factory=api.wallet_factory,
                     controller_key=config.controller_key(), bundler_url=api.bundler_url)
    try:
        answered = int(chain.w3.eth.chain_id)
    except Exception as exc:  # noqa: BLE001 - an unreachable node is reported, the API is not started half-way
        raise ConfigError(f"{config.file}: [api].rpc_url {api.rpc_url} does not answer ({type(exc).__name__})",
                          hint="start the chain, or fix [api].rpc_url") from None
    if answered != api.chain_id:
        raise ConfigError(f"{config.file}: [api].chain_id is {api.chain_id} but the chain at [api].rpc_url is "
                          f"{answered}", hint=f"set chain_id = {answered} (tokens and signed messages name it)")
    return chain


def make_hourglass(config: ApiConfig, chain):
    """HOURGLASS_TASK support when a mailbox and an AVS are configured."""
    api = config.api
    if chain is None or not (api.task_mailbox and api.avs_address):
        return None
    from hourglass_cli.api.hourglass_task import HourglassTasks

    return HourglassTasks(chain.w3, mailbox=api.task_mailbox, avs=api.avs_address,
                          executor_set_id=api.executor_operator_set_id, key=config.controller_key())


def start_api(config: ApiConfig):
    """A started ApiServer for `config`."""
    from hourglass_cli.api.server import ApiServer

    chain = make_chain(config)
    server = ApiServer(config, chain=chain, hourglass=make_hourglass(config, chain)).start()
    log.info("client API listening address=%s chain_id=%s", server.address, config.api.chain_id)
    return server


def run_api(config: ApiConfig) -> None:
    """Serve until SIGTERM/SIGINT (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        raise UsageError("run_api installs signal handlers and must run in the main thread")
    from hourglass_cli.aggregator.server import configure_logging, serve_until_signal

    configure_logging()
    servers = []
    serve_until_signal(lambda: servers.append(start_api(config)), lambda: [s.stop() for s in servers], "client API")
