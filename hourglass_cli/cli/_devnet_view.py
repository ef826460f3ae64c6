"""Rich renderings of a devnet: the live view (components and tasks), the ready summary, `devnet status`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import RenderableType

    from hourglass_cli.devnet.state import DevnetState
    from hourglass_cli.tasks.progress import Progress

_STYLE = {"healthy": "green", "starting": "yellow", "down": "red", "stopped": "dim"}
_CONTRACTS = (("TaskMailbox", "task_mailbox"), ("TaskAVSRegistrar", "task_avs_registrar"),
              ("KeyRegistrar", "key_registrar"), ("BN254CertificateVerifier", "bn254_certificate_verifier"),
              ("ECDSACertificateVerifier", "ecdsa_certificate_verifier"), ("AVSTaskHook", "avs_task_hook"),
              ("OperatorTableUpdater", "operator_table_updater"), ("WorkflowStateMachine", "workflow_state_machine"),
              ("EntryPoint (v0.6)", "entry_point"), ("SimpleAccountFactory", "wallet_factory"),
              ("VerifyingPaymaster", "wallet_paymaster"))


def _uptime(started_at: float | None) -> str:
    if not started_at:
        return "-"
    seconds = int(max(0, time.time() - started_at))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _status(text: str) -> str:
    return f"[{_STYLE.get(text, 'white')}]{text}[/]"


def components_table(rows: list[dict[str, Any]], title: str | None = None) -> RenderableType:
    """One row per component: name, status, pid, endpoint, uptime, restarts."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", header_style="bold")
    for column in ("component", "status", "pid", "endpoint", "uptime", "restarts"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(row["name"], _status(row["status"]), str(row.get("pid") or "-"), row.get("endpoint") or "-",
                      _uptime(row.get("started_at")) if row.get("pid") else "-", str(row.get("restarts", 0)))
    return table


def live_table(state: DevnetState) -> RenderableType:
    """The foreground supervisor's component table, from its own state."""
    rows = [{"name": r.name, "status": r.status, "pid": r.pid, "endpoint": r.endpoint, "started_at": r.started_at,
             "restarts": r.restarts} for r in state.records()]
    return components_table(rows, title=f"devnet {state.status} — Ctrl-C stops everything")


class LiveTasks:
    """The tasks the devnet's aggregator recorded, for the live view: read from its store, read-only.

    A store that does not exist yet, is being created, is locked past READ_TIMEOUT or cannot be read for any
    other reason keeps the last rows read (the supervisor's loop must never wait on it, nor fail because of it).
    """

    READ_TIMEOUT = 0.05

    def __init__(self, store: Path | None, operators: dict[str, str]) -> None:
        from hourglass_cli.tasks.store_view import StoreView

        self.operators = operators  # executor address (lower case) → name
        self.sizes: dict[int, int] = {}  # executor set id → its executors (several sets: k/n per set)
        self.store = StoreView(store, "l1", self.READ_TIMEOUT)  # the chain `hourglass task` targets
        self.rows: list[Progress] = []

    @classmethod
    def of(cls, state: DevnetState) -> LiveTasks:
        """The tasks of the devnet described by `state` (its aggregator's store, its executors' names)."""
        from hourglass_cli.tasks.target import executor_names, set_sizes, store_of

        tasks = cls(store_of(state), executor_names(state))
        tasks.sizes = set_sizes(state)
        return tasks

    def refresh(self, limit: int) -> list[Progress]:
        from hourglass_cli.aggregator import store as st
        from hourglass_cli.tasks.progress import progress
        from hourglass_cli.tasks.store_view import name_operators

        try:
            views = self.store.try_recent(limit)
            if views is not None:
                now = time.time()
                self.rows = [progress(v, on_chain=None, operators=self.sizes.get(v.task.operator_set_id,
                                                                                 len(self.operators)), now=now,
                                      reason=name_operators(v.task.reason or v.task.status, self.operators)
                                      if v.task.status in st.FINAL and v.task.status != st.COMPLETED else "")
                             for v in views]
        except Exception:  # noqa: BLE001 - a view must never stop the supervisor; the last rows stay
            pass
        return self.rows


def live_view(state: DevnetState, tasks: LiveTasks | None, width: int, limit: int = 10) -> RenderableType:
    """The foreground view: the components, then the latest tasks (like `task watch`), `width` columns wide."""
    from rich.console import Group
    from rich.text import Text

    from hourglass_cli.cli._task_view import task_table

    parts: list[RenderableType] = [live_table(state)]
    rows = tasks.refresh(limit) if tasks is not None else []
    if rows:
        parts.append(task_table(rows, width, "tasks (newest first)"))
    else:
        parts.append(Text('no tasks yet: from another shell, `hourglass task submit --signature "(uint256)" '
                          '--args "(5)"`', style="dim"))
    return Group(*parts)


def contract_rows(deployment: dict[str, Any] | None, project: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(label, address) of our contracts, then the project's own (L1); the task hook row names the project's hook
    when it is the one configured."""
    if not deployment:
        return []
    own = dict(project or {})
    rows = []
    for label, key in _CONTRACTS:
        address = str(deployment.get(key, ""))
        if not address:
            continue  # e.g. no workflow contract
        mine = next((name for name, at in own.items() if key in ("avs_task_hook", "workflow_state_machine")
                     and at.lower() == address.lower()), None)
        if mine is not None:  # short labels: a wide label column would fold addresses at 80 columns
            label = f"{mine} (task hook)" if key == "avs_task_hook" else f"{mine} (workflows)"
            del own[mine]
        rows.append((label, address))
    if deployment.get("wallet_controller"):  # signs and bundles the smart wallets' UserOps (not a contract)
        rows.append(("wallet controller", str(deployment["wallet_controller"])))
    rows += [(f"{name} (project)", address) for name, address in own.items()]
    return rows


def workflow_row(deployment: dict[str, Any] | None) -> list[tuple[str, str]]:
    """How phase results reach the workflow contract: push (it is the sets' task hook) or pull (completePhase)."""
    if not deployment or not deployment.get("workflow_state_machine"):
        return []
    if deployment.get("workflow_path") == "push":
        return [("workflows", "push: the executor sets' task hook")]
    return [("workflows", "pull: the driver calls completePhase")]


def set_rows(deployment: dict[str, Any] | None, operators: dict[str, Any] | None) -> list[tuple[str, str]]:
    """One row per executor set: its id, operators, curve and threshold."""
    if not deployment:
        return []
    members = (operators or {}).get("operators", [])
    configs = (operators or {}).get("taskConfigs", {})
    sets = deployment.get("executor_sets") or [{"id": deployment.get("executor_operator_set_id", 1),
                                                 "curve": deployment.get("curve")}]
    rows = []
    for entry in sets:
        count = sum(1 for op in members if op.get("role") == "executor" and op.get("operator_set_id") == entry["id"])
        bips = (configs.get(str(entry["id"])) or {}).get("bips")
        threshold = f", threshold {bips / 100:g}%" if isinstance(bips, int) else ""
        rows.append((f"executor set {entry['id']}",
                     f"{count} operator{'' if count == 1 else 's'}, {entry['curve']}{threshold}"))
    return rows


def _pairs(rows: list[tuple[str, str]]) -> RenderableType:
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")  # values are whole words (URLs, addresses, commands): never wrapped at spaces
    for label, value in rows:
        table.add_row(label, Text(value, no_wrap=False, overflow="fold"))
    return table


def summary(state: DevnetState) -> RenderableType:
    """Where everything is and what to do next, in sections that fit 80 columns: each address, URL and command
    whole on its own line, also when the output is piped (a pipe gets 80 columns)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    places = [(f"{chain.name} ({chain.backend})", f"{chain.endpoint}  chain id {chain.chain_id}")
              for chain in state.chains]
    if state.api:
        places.append(("client API", f"{state.api['address']} (Ava SDK: AVS_RPC_URL={state.api['address']})"))
    places += contract_rows(state.deployment, state.project_contracts.get("l1"))
    places += workflow_row(state.deployment)
    if state.deployment:
        sets = set_rows(state.deployment, state.operators)
        curve = str(state.deployment.get("curve"))  # the aggregator set's; with several sets each row has its own
        places += [("AVS", str(state.deployment.get("avs"))),
                   ("curve", curve) if len(sets) == 1 else ("aggregator set", f"0, {curve}")]
        places += sets
    parts: list[Any] = [_pairs(places)]
    operators = (state.operators or {}).get("operators", [])
    if operators:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("operator", "set", "address", "socket"):
            table.add_column(column, no_wrap=True)
        for op in operators:
            table.add_row(op["name"], str(op.get("operator_set_id", "")), op["address"], op["socket"])
        parts.append(table)
    for warning in state.warnings:
        parts.append(Text.assemble(("warning: ", "yellow"), warning))
    parts.append(_pairs([("state", f"{state.project_dir}/.hourglass/devnet/state.json"),
                         ("logs", "hourglass devnet logs -f"),
                         ("next", 'hourglass task submit --signature "(uint256)" --args "(5)"'),
                         ("stop", "hourglass devnet stop")]))
    return Group(*parts)


def status_view(doc: dict[str, Any]) -> RenderableType:
    """`hourglass devnet status` from control.devnet_status()."""
    from rich.console import Group

    # The start time tells devnets apart: a fresh devnet makes the same contract addresses and task hashes.
    started = (f", started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(doc['started_at']))}"
               if doc.get("started_at") else "")
    parts: list[Any] = [components_table(doc["components"], title=f"devnet {doc['status']} (supervisor pid "
                                                                   f"{doc['supervisor_pid']}{started})")]
    rows = [(f"{c['name']} chain id", str(c["chain_id"])) for c in doc["components"] if c.get("chain_id")]
    if doc.get("api"):
        rows.append(("client API", f"{doc['api']['address']}  chain id {doc['api']['chain_id']}"))
    rows += contract_rows(doc.get("deployment"), (doc.get("project_contracts") or {}).get("l1"))
    rows += workflow_row(doc.get("deployment"))
    rows += [(label, text) for label, text in set_rows(doc.get("deployment"), {
        "operators": doc.get("operators") or [], "taskConfigs": doc.get("task_configs") or {}})]
    if rows:
        from rich.table import Table

        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for label, address in rows:
            table.add_row(label, address)
        parts.append(table)
    performance = [p for p in doc.get("operator_performance") or [] if p.get("answered") or p.get("missed")]
    if performance:
        from rich.table import Table

        table = Table("operator", "answered", "agreed", "late", "missed", "invalid", "median answer",
                      title="operators (tasks and workflow phases)", title_justify="left")
        for p in performance:
            latency = p.get("median_latency_s")
            table.add_row(p["name"], str(p["answered"]), str(p["agreed"]), str(p["late"]), str(p["missed"]),
                          str(p["invalid"]), f"{latency * 1000:.0f} ms" if latency is not None else "-")
        parts.append(table)
    return Group(*parts)
