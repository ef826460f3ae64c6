"""The steps `Supervisor.start()` runs, in order: plan the chains, start them, deploy and register (both
chains at once), start the executors, (the aggregator, later).

Every process is spawned from the supervisor's main thread (PR_SET_PDEATHSIG is per thread); only the
deployments, which just talk JSON-RPC, run in worker threads.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hourglass_cli.devnet import components as comp
from hourglass_cli.devnet.chains import _process
from hourglass_cli.devnet.options import LOCALHOST, PASSWORD_ENV, executor_config
from hourglass_cli.devnet.state import ProcessRecord

if TYPE_CHECKING:
    from hourglass_cli.devnet.chains.base import ChainBackend
    from hourglass_cli.devnet.supervisor import Supervisor

CHAIN_ID = 31337
DEFAULT_WEIGHT = 10**18


@dataclass
class ChainPlan:
    role: str  # "l1" | "l2"
    name: str
    backend: ChainBackend
    port: int | None


def plan_chains(sup: Supervisor) -> list[ChainPlan]:
    """The backends (ToolNotFoundError for a missing anvil) and ports (DevnetError if taken), before any spawn."""
    from hourglass_cli.devnet.chains import get_backend
    from hourglass_cli.devnet.chains.anvil import AnvilBackend

    o = sup.options
    roles = ["l1", "l2"] if o.l2 else ["l1"]
    plans = []
    for i, role in enumerate(roles):
        backend = get_backend(o.chain)
        if o.block_time and isinstance(backend, AnvilBackend):
            backend.extra_args += ("--block-time", f"{o.block_time:g}")
        port = o.chain_port + i if o.chain_port else None
        if port is not None:
            _process.choose_port(LOCALHOST, port)
        plans.append(ChainPlan(role, "chain" if role == "l1" else f"chain-{role}", backend, port))
    if o.block_time and not isinstance(plans[0].backend, AnvilBackend):
        sup.state.warnings.append("block_time is ignored by the embedded chain (it mines on every transaction)")
    return plans


def start_chains(sup: Supervisor, plans: list[ChainPlan]) -> dict[str, str]:
    """Start each chain and wait for its JSON-RPC; {role: url}."""
    urls: dict[str, str] = {}
    for plan in plans:
        t = time.monotonic()
        record = ProcessRecord(name=plan.name, kind="chain", role=plan.role, backend=plan.backend.name,
                               log=str(sup.logs / f"{plan.name}.log"), chain_id=CHAIN_ID)
        component = comp.Component(record, restart=False)
        sup.add(component)
        handle = plan.backend.start(plan.port, Path(record.log), LOCALHOST)
        component.adopt(handle)
        component.check = comp.jsonrpc_check(handle.rpc_url)
        record.port, record.endpoint = handle.port, handle.rpc_url
        urls[plan.role] = handle.rpc_url
        sup.step(f"{plan.name}: {plan.backend.name} at {handle.rpc_url}", f"chain_{plan.role}", t)
    return urls


def operator_ports(count: int) -> list[int]:
    """`count` distinct free ports: the aggregator's socket first, then each executor's."""
    ports: list[int] = []
    while len(ports) < count:
        port = _process.free_port(LOCALHOST)
        if port not in ports:
            ports.append(port)
    return ports


def deploy(sup: Supervisor, urls: dict[str, str], ports: list[int]) -> tuple[Any, Any]:
    """deploy_core + setup_operators on every chain at once; the L1 deployment and operators."""
    o = sup.options
    sockets = [f"{LOCALHOST}:{p}" for p in ports]
    weights = [DEFAULT_WEIGHT, *(int(w) for w in o.stake_weights)] if o.stake_weights else None
    # a stop signal must not wait for these threads: the chains they talk to are stopped next
    pool = ThreadPoolExecutor(max_workers=len(urls), thread_name_prefix="deploy")
    try:
        futures = {role: pool.submit(_deploy_one, sup, role, url, sockets, weights) for role, url in urls.items()}
        results = {role: f.result() for role, f in futures.items()}
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)  # idle workers end: the executors fork from a single-threaded process
    deployment, operators = results["l1"]
    sup.state.deployment = deployment.to_json()
    sup.state.operators = operators.to_json()
    if "l2" in results:
        sup.state.l2_deployment = results["l2"][0].to_json()
    sup.save()
    return deployment, operators


def _deploy_one(sup: Supervisor, role: str, url: str, sockets: list[str], weights: list[int] | None) -> tuple[Any, Any]:
    from hourglass_cli.chain.connection import connect
    from hourglass_cli.devnet.accounts import devnet_accounts
    from hourglass_cli.devnet.deploy import deploy_core
    from hourglass_cli.devnet.operators import setup_operators

    o = sup.options
    t = time.monotonic()
    w3 = connect(url)
    accounts = devnet_accounts(o.operators)
    deployment = deploy_core(w3, accounts, curve=o.curve)
    sup.step(f"{role}: contracts deployed (TaskMailbox {deployment.task_mailbox})", f"deploy_{role}", t, save=False)
    t = time.monotonic()
    keys = sup.dir / "keys" / ("" if role == "l1" else role)
    operators = setup_operators(w3, deployment, accounts, keys, weights=weights, sockets=sockets,
                                task_sla=o.task_sla, threshold_bips=o.threshold_bips)
    sup.step(f"{role}: {len(operators.operators)} operators registered, tables pushed", f"operators_{role}", t,
             save=False)
    return deployment, operators


def child_env() -> dict[str, str]:
    """The components' environment: ours, this Python first on PATH, the devnet keystore password."""
    from hourglass_cli.devnet.operators import DEVNET_KEYSTORE_PASSWORD

    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    # the devnet's fixed, public keystore password: given by env var, never written to a file
    return {**os.environ, "PATH": path, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1",
            PASSWORD_ENV: DEVNET_KEYSTORE_PASSWORD}


def _executor_components(sup: Supervisor, deployment: Any, operators: Any,
                         urls: dict[str, str]) -> list[comp.Component]:
    """One `python -m hourglass_cli.executor --config FILE` per executor operator, listening on its socket."""
    from hourglass_cli.executor.__main__ import main as executor_main

    o = sup.options
    env = child_env()
    out = []
    for i, op in enumerate(operators.executors):
        folder = sup.dir / "executors" / op.name
        folder.mkdir(parents=True, exist_ok=True)
        port = int(op.socket.rsplit(":", 1)[1])
        performer_port = o.performer_first_port + i if o.performer_first_port else 0
        config = folder / "executor.toml"
        config.write_text(executor_config(operator=op, deployment=deployment, rpc_url=urls["l1"],
                                          l2_rpc_url=urls.get("l2", urls["l1"]), port=port,
                                          performer=o.performer, performer_port=performer_port,
                                          log_dir=sup.logs, task_timeout=o.task_timeout))
        record = ProcessRecord(name=op.name, kind="executor", port=port, endpoint=op.socket,
                               log=str(sup.logs / f"{op.name}.log"), config=str(config))
        argv = [sys.executable, "-m", "hourglass_cli.executor", "--config", str(config), "--grace", "2"]
        out.append(comp.Component(record, argv, env, comp.grpc_health_check(op.socket), restart=True,
                                  fork_entry=executor_main))
    return out


def start_executors(sup: Supervisor, deployment: Any, operators: Any, urls: dict[str, str]) -> None:
    """Start every executor (forked while that is safe), then wait until all of them serve."""
    t = time.monotonic()
    executors = _executor_components(sup, deployment, operators, urls)
    if not executors:
        return
    for c in executors:
        sup.add(c)
        c.start(close_fds=sup.inherited_fds())
    sup.save()
    comp.wait_ready(executors, sup.options.ready_deadline_s, "executors")
    for c in executors:
        c.record.children = comp.child_processes(c.pid or 0)
    sup.step(f"{len(executors)} executors serving", "executors", t)


def _aggregator_components(sup: Supervisor, deployment: Any, operators: Any,
                           urls: dict[str, str]) -> list[comp.Component]:
    """The aggregator's component, once `hourglass aggregator run --config FILE` exists (a later issue).

    It will write the aggregator's config (its operator's keystore, the executors' sockets, both chains)
    and return one Component (restart=True, readiness = its health endpoint). Until then: nothing.
    """
    return []


def start_aggregator(sup: Supervisor, deployment: Any, operators: Any, urls: dict[str, str]) -> None:
    for c in _aggregator_components(sup, deployment, operators, urls):
        sup.add(c)
        c.start()
        comp.wait_ready([c], sup.options.ready_deadline_s, "the aggregator")
