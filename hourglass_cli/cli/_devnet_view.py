"""Rich renderings of a devnet: the live component table, the ready summary, `devnet status`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import RenderableType

    from hourglass_cli.devnet.state import DevnetState

_STYLE = {"healthy": "green", "starting": "yellow", "down": "red", "stopped": "dim"}
_CONTRACTS = (("TaskMailbox", "task_mailbox"), ("TaskAVSRegistrar", "task_avs_registrar"),
              ("KeyRegistrar", "key_registrar"), ("BN254CertificateVerifier", "bn254_certificate_verifier"),
              ("ECDSACertificateVerifier", "ecdsa_certificate_verifier"), ("AVSTaskHook", "avs_task_hook"),
              ("OperatorTableUpdater", "operator_table_updater"))


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
    """The foreground supervisor's table, from its own state."""
    rows = [{"name": r.name, "status": r.status, "pid": r.pid, "endpoint": r.endpoint, "started_at": r.started_at,
             "restarts": r.restarts} for r in state.records()]
    return components_table(rows, title=f"devnet {state.status} — Ctrl-C stops everything")


def contract_rows(deployment: dict[str, Any] | None, project: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(label, address) of our contracts, then the project's own (L1); the task hook row names the project's hook
    when it is the one configured."""
    if not deployment:
        return []
    own = dict(project or {})
    rows = []
    for label, key in _CONTRACTS:
        address = str(deployment.get(key, ""))
        hook = next((name for name, at in own.items() if key == "avs_task_hook" and at.lower() == address.lower()),
                    None)
        if hook is not None:
            label = f"{hook} (the project's task hook)"
            del own[hook]
        rows.append((label, address))
    rows += [(f"{name} (project)", address) for name, address in own.items()]
    return rows


def summary(state: DevnetState) -> RenderableType:
    """Where everything is and what to do next."""
    from rich.console import Group
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")
    for chain in state.chains:
        table.add_row(f"{chain.name} ({chain.backend})", f"{chain.endpoint}  chain id {chain.chain_id}")
    for label, address in contract_rows(state.deployment, state.project_contracts.get("l1")):
        table.add_row(label, address)
    if state.deployment:
        table.add_row("AVS", str(state.deployment.get("avs")))
        table.add_row("curve", str(state.deployment.get("curve")))
    for op in (state.operators or {}).get("operators", []):
        table.add_row(op["name"], f"{op['address']}  socket {op['socket']}")
    lines: list[Any] = [table]
    for warning in state.warnings:
        lines.append(f"[yellow]warning:[/] {warning}")
    lines.append(f"[dim]state: {state.project_dir}/.hourglass/devnet/state.json · logs: `hourglass devnet logs -f`"
                 " · next: `hourglass task submit …` · stop: `hourglass devnet stop`[/]")
    return Group(*lines)


def status_view(doc: dict[str, Any]) -> RenderableType:
    """`hourglass devnet status` from control.devnet_status()."""
    from rich.console import Group

    # The start time tells devnets apart: a fresh devnet makes the same contract addresses and task hashes.
    started = (f", started {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(doc['started_at']))}"
               if doc.get("started_at") else "")
    parts: list[Any] = [components_table(doc["components"], title=f"devnet {doc['status']} (supervisor pid "
                                                                   f"{doc['supervisor_pid']}{started})")]
    rows = contract_rows(doc.get("deployment"), (doc.get("project_contracts") or {}).get("l1"))
    if rows:
        from rich.table import Table

        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for label, address in rows:
            table.add_row(label, address)
        parts.append(table)
    return Group(*parts)
