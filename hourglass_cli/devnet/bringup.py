"""The steps `Supervisor.start()` runs, in order: plan the chains, start them, deploy and register (both
chains at once), start the aggregator and the executors.

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
from hourglass_cli.devnet.chains.chain_id import DEFAULT_CHAIN_ID
from hourglass_cli.devnet.options import LOCALHOST, PASSWORD_ENV, executor_config
from hourglass_cli.devnet.state import ProcessRecord

if TYPE_CHECKING:
    from hourglass_cli.devnet.chains.base import ChainBackend
    from hourglass_cli.devnet.supervisor import Supervisor

CHAIN_ID = DEFAULT_CHAIN_ID  # the default; a devnet's chains get options.chain_id_of(role), records what they answer
DEFAULT_WEIGHT = 10**18
TX_KEY_ENV = "HOURGLASS_DEVNET_AGGREGATOR_TX_KEY"
# `hourglass aggregator run` (restarts spawn it like this; the first start is a fork running _aggregator_main)
AGGREGATOR_CLI = "from hourglass_cli.cli.aggregator import app\napp(prog_name='hourglass aggregator')\n"


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
        backend.block_gas_limit = o.block_gas_limit
        backend.chain_id = o.chain_id_of(role)
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
                               log=str(sup.logs / f"{plan.name}.log"), chain_id=plan.backend.chain_id)
        component = comp.Component(record, restart=False)
        sup.add(component)
        handle = plan.backend.start(plan.port, Path(record.log), LOCALHOST)
        component.adopt(handle)
        component.check = comp.jsonrpc_check(handle.rpc_url)
        record.port, record.endpoint = handle.port, handle.rpc_url
        record.chain_id = handle.chain_id  # what it answered to eth_chainId (start() checked it is the one asked)
        urls[plan.role] = handle.rpc_url
        sup.step(f"{plan.name}: {plan.backend.name} at {handle.rpc_url} (chain id {handle.chain_id})",
                 f"chain_{plan.role}", t)
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
    from hourglass_cli.devnet.project_contracts import load_project_contracts

    o = sup.options
    sockets = [f"{LOCALHOST}:{p}" for p in ports]
    weights = [DEFAULT_WEIGHT, *(int(w) for w in o.stake_weights)] if o.stake_weights else None
    t = time.monotonic()
    project = load_project_contracts(o.project_dir)  # compiles stale sources first
    if project is not None:
        from hourglass_cli.chain.abi import add_project_artifacts

        add_project_artifacts(project_artifacts(o.project_dir))  # its reverts named in the supervisor's errors
        sup.state.warnings.extend(project.skipped)
        names = ", ".join(c.name for c in project.all) or "none deployable"
        sup.step(f"project contracts: {names}", "project_contracts", t, save=False)
    # a stop signal must not wait for these threads: the chains they talk to are stopped next
    pool = ThreadPoolExecutor(max_workers=len(urls), thread_name_prefix="deploy")
    try:
        futures = {role: pool.submit(_deploy_one, sup, role, url, sockets, weights, project)
                   for role, url in urls.items()}
        results = {role: f.result() for role, f in futures.items()}
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)  # idle workers end: the executors fork from a single-threaded process
    deployment, operators, _ = results["l1"]
    sup.state.deployment = deployment.to_json()
    sup.state.operators = operators.to_json()
    sup.state.project_contracts = {role: r[2] for role, r in results.items() if r[2]}
    if "l2" in results:
        sup.state.l2_deployment = results["l2"][0].to_json()
    sup.save()
    return deployment, operators


def _deploy_one(sup: Supervisor, role: str, url: str, sockets: list[str], weights: list[int] | None,
                project: Any = None) -> tuple[Any, Any, dict[str, str]]:
    from hourglass_cli.chain.connection import connect
    from hourglass_cli.devnet.accounts import devnet_accounts
    from hourglass_cli.devnet.deploy import deploy_core
    from hourglass_cli.devnet.operators import setup_operators

    o = sup.options
    t = time.monotonic()
    w3 = connect(url)
    sets = o.sets
    accounts = devnet_accounts(sum(spec.operators for spec in sets))
    own_workflow = project.workflow if project is not None else None  # deployed instead of ours
    deployment = deploy_core(w3, accounts, curve=o.curve, same_second_results=o.same_second_results,
                             max_task_sla=devnet_max_task_sla(o.task_sla),
                             executor_sets=[(spec.id, spec.curve) for spec in sets], workflow=own_workflow is None)
    own: dict[str, str] = {}
    if project is not None and project.all:
        from dataclasses import replace

        from hourglass_cli.devnet.project_contracts import deploy_project_contracts

        own = deploy_project_contracts(accounts.deployer.sender(w3), project, deployment.task_mailbox,
                                       deployment.avs)
        changes: dict[str, str] = {}
        if own_workflow is not None:  # the sets' hook (push) unless the project has a hook of its own
            address = own[own_workflow.name]
            changes.update(workflow_state_machine=address, workflow_contract=own_workflow.name, task_hook=address)
        if project.hook is not None:  # the executor sets' task config (setup_operators) names this hook: pull
            changes.update(avs_task_hook=own[project.hook.name], task_hook=own[project.hook.name])
        deployment = replace(deployment, **changes)
    workflow = (f", {deployment.workflow_contract} {deployment.workflow_state_machine}"
                if deployment.workflow_state_machine else "")
    sup.step(f"{role}: contracts deployed (TaskMailbox {deployment.task_mailbox}{workflow})", f"deploy_{role}", t,
             save=False)
    t = time.monotonic()
    keys = sup.dir / "keys" / ("" if role == "l1" else role)
    operators = setup_operators(w3, deployment, accounts, keys, weights=weights, sockets=sockets,
                                task_sla=o.task_sla, threshold_bips=o.threshold_bips, executor_sets=sets)
    described = ", ".join(f"set {spec.id}: {spec.operators} {spec.curve}" for spec in sets)
    sup.step(f"{role}: {len(operators.operators)} operators registered ({described}), tables pushed",
             f"operators_{role}", t, save=False)
    return deployment, operators, own


def devnet_max_task_sla(task_sla: int) -> int:
    """The devnet mailbox's SLA cap: the usual 3600 s, or the project's [task].sla_seconds when that is more
    (anything the config accepts works on the devnet)."""
    from hourglass_cli.devnet.deploy import DEFAULT_MAX_TASK_SLA

    return max(DEFAULT_MAX_TASK_SLA, int(task_sla))


def project_artifacts(project_dir: Path) -> Path:
    """The project's compiled contracts (``contracts/out``), whose custom errors revert messages name."""
    return Path(project_dir) / "contracts" / "out"


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
    performer = dict(o.performer)
    own = sup.state.project_contracts.get("l1", {})
    if own:  # the project's contracts reach the performer as <CONTRACT_NAME_UPPER_SNAKE> (WIRE.md §1)
        performer["contracts"] = {**performer.get("contracts", {}), **own}
    out = []
    api = sup.state.api or {}
    watch_set = api.get("trigger_set_id")
    for i, op in enumerate(operators.executors):
        folder = sup.dir / "executors" / op.name
        folder.mkdir(parents=True, exist_ok=True)
        port = int(op.socket.rsplit(":", 1)[1])
        performer_port = o.performer_first_port + i if o.performer_first_port else 0
        config = folder / "executor.toml"
        config.write_text(executor_config(operator=op, deployment=deployment, rpc_url=urls["l1"],
                                          l2_rpc_url=urls.get("l2", urls["l1"]), port=port,
                                          performer=performer, performer_port=performer_port,
                                          log_dir=sup.logs, task_timeout=o.task_timeout,
                                          l2_task_mailbox=(sup.state.l2_deployment or {}).get("task_mailbox", ""),
                                          # the monitoring set's executors watch the client API's triggers
                                          triggers=api.get("address", "") if op.operator_set_id == watch_set
                                          else ""))
        record = ProcessRecord(name=op.name, kind="executor", port=port, endpoint=op.socket,
                               log=str(sup.logs / f"{op.name}.log"), config=str(config))
        args = ["--config", str(config), "--grace", "2"]
        out.append(comp.Component(record, [sys.executable, "-m", "hourglass_cli.executor", *args], env,
                                  comp.check_for(record), restart=True, fork_entry=executor_main, fork_args=args))
    return out


def _aggregator_main(args: list[str]) -> int:
    """`hourglass aggregator run --config FILE` without the CLI around it (what a forked aggregator runs)."""
    from hourglass_cli.aggregator.config import load_aggregator_config
    from hourglass_cli.aggregator.server import run_aggregator

    run_aggregator(load_aggregator_config(args[args.index("--config") + 1]))
    return 0


def _workflow_key(address: str) -> dict[str, str]:
    """[[chains]].workflow_state_machine: the workflow contract the aggregator's driver runs on that chain."""
    return {"workflow_state_machine": address} if address else {}


def _aggregator_components(sup: Supervisor, deployment: Any, operators: Any,
                           urls: dict[str, str]) -> list[comp.Component]:
    """The aggregator: watches every chain's mailbox, fans tasks out to the executors, submits certificates.

    Its signing key is the aggregator operator's keystore; it sends submitResult from the aggregator operator's
    (funded, public-mnemonic) account, whose key it gets in an environment variable, never in a file.
    """
    try:
        from hourglass_cli.aggregator.config import render_aggregator_config
    except ImportError:  # a build without the aggregator: the devnet runs executors only
        return []
    from hourglass_cli.devnet.accounts import derive_account

    op = operators.aggregator
    folder = sup.dir / "aggregator"
    folder.mkdir(parents=True, exist_ok=True)
    port = operator_ports(1)[0]
    chains = [{"name": "l1", "rpc_url": urls["l1"], "task_mailbox": deployment.task_mailbox,
               "start_block": deployment.deployed_at_block,
               **_workflow_key(deployment.workflow_state_machine)}]
    if "l2" in urls and sup.state.l2_deployment:
        l2 = sup.state.l2_deployment
        chains.append({"name": "l2", "rpc_url": urls["l2"], "task_mailbox": l2["task_mailbox"],
                       "start_block": int(l2.get("deployed_at_block", 0)),
                       **_workflow_key(str(l2.get("workflow_state_machine") or ""))})
    extra = ({"project_artifacts": str(project_artifacts(sup.options.project_dir))}
             if sup.state.project_contracts else {})
    api, api_port = _api_section(deployment, urls, sup)
    config = folder / "aggregator.toml"
    config.write_text(render_aggregator_config(
        operator_address=op.address, avs_address=deployment.avs, keystore=op.keystore, curve=op.curve,
        tx_key_env=TX_KEY_ENV, password_env=PASSWORD_ENV, l1_rpc_url=urls["l1"],
        task_avs_registrar=deployment.task_avs_registrar, chains=chains, store="aggregator.db",
        metrics_port=port, api=api, **extra))
    sup.state.api = {"address": f"{LOCALHOST}:{api_port}", "chain_id": api["chain_id"], "config": str(config),
                     "cli_key_file": str(folder / "cli-api.key"), "store": str(folder / "api.db"),
                     "trigger_set_id": api["executor_operator_set_id"]}
    record = ProcessRecord(name="aggregator", kind="aggregator", port=port, endpoint=f"{LOCALHOST}:{port}",
                           log=str(sup.logs / "aggregator.log"), config=str(config))
    # the aggregator operator's account key: public devnet mnemonic, handed over in the environment only
    env = {**child_env(), TX_KEY_ENV: "0x" + derive_account(op.account_index).private_key.hex()}
    if deployment.wallet_controller:  # the client API signs and bundles UserOps with the controller's key
        from hourglass_cli.devnet.accounts import CONTROLLER_INDEX

        env[API_CONTROLLER_ENV] = "0x" + derive_account(CONTROLLER_INDEX).private_key.hex()
    args = ["run", "--config", str(config)]
    argv = [sys.executable, "-c", AGGREGATOR_CLI, *args]
    return [comp.Component(record, argv, env, comp.check_for(record), restart=True, fork_entry=_aggregator_main,
                           fork_args=args)]


API_CONTROLLER_ENV = "HOURGLASS_API_CONTROLLER_KEY"
API_DEFAULT_PORT = 2206


def _api_section(deployment: Any, urls: dict[str, str], sup: Supervisor) -> tuple[dict[str, Any], int]:
    """[api] of the devnet's aggregator: the client API on 2206 (a free port when 2206 is taken), the devnet's
    wallets, HOURGLASS_TASK steps on its mailbox and first executor set."""
    from hourglass_cli.ports import port_in_use

    port = API_DEFAULT_PORT if not port_in_use(LOCALHOST, API_DEFAULT_PORT) else operator_ports(1)[0]
    chain = sup.state.chain("l1")
    section: dict[str, Any] = {
        "port": port, "chain_id": int(chain.chain_id if chain and chain.chain_id else CHAIN_ID),
        "rpc_url": urls["l1"], "store": "api.db", "jwt_secret_file": "api-jwt.secret",
        "secrets_key_file": "api-secrets.key", "task_mailbox": deployment.task_mailbox,
        "avs_address": deployment.avs, "executor_operator_set_id": int(deployment.executor_set_ids[0]),
        # one developer on a local devnet: a load test of theirs should not meet the shared-server limit
        "requests_per_second": 10_000.0, "burst": 20_000}
    if deployment.entry_point and deployment.wallet_factory:
        section.update(entry_point=deployment.entry_point, wallet_factory=deployment.wallet_factory,
                       controller_key_env=API_CONTROLLER_ENV)
    return section, port


def mint_cli_key(sup: Supervisor) -> None:
    """An admin API key for the devnet's app account, for `hourglass automation …` (file mode 0600)."""
    from hourglass_cli.api.config import load_api_config
    from hourglass_cli.cli.api import _store_and_auth
    from hourglass_cli.devnet.accounts import APP_INDEX, derive_account

    api = sup.state.api
    if not api:
        return
    config = load_api_config(api["config"])
    store, auth = _store_and_auth(config)
    try:
        _, key = auth.create_api_key(derive_account(APP_INDEX).address, ("admin",), 365 * 86400, "devnet CLI")
    finally:
        store.close()
    path = Path(api["cli_key_file"])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(key + "\n")


def start_components(sup: Supervisor, deployment: Any, operators: Any, urls: dict[str, str]) -> None:
    """Start the aggregator and every executor (forked while that is safe), then wait until all of them serve."""
    from hourglass_cli.devnet.images import ensure_performer_image

    ensure_performer_image(sup)  # docker runtime: built once here, not by every executor
    t = time.monotonic()
    started = [*_aggregator_components(sup, deployment, operators, urls),
               *_executor_components(sup, deployment, operators, urls)]
    if not started:
        return
    for c in started:
        sup.add(c)
        c.start(close_fds=sup.inherited_fds())
    sup.save()
    comp.wait_ready(started, sup.options.ready_deadline_s, "the aggregator and executors")
    if any(c.record.kind == "aggregator" for c in started):
        mint_cli_key(sup)
    for c in started:
        c.record.children = comp.child_processes(c.pid or 0)
    names = ", ".join(sorted({c.record.kind for c in started}))
    sup.step(f"{len(started)} components serving ({names})", "executors", t)
