"""`hourglass workflow`: register definitions, start executions and follow them phase by phase.

On a running devnet everything is found from its state (the WorkflowStateMachine, the chain, the devnet's task
creator account); elsewhere give --rpc, --workflow-contract and --key-env. Every command takes --json. Exit codes:
0 when the execution completed (or, for status, is still running), 1 when it failed, timed out or was cancelled,
2 for a usage error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hourglass_cli.cli._app import make_app

if TYPE_CHECKING:
    from hourglass_cli.workflows.client import ExecutionView, WorkflowClient

app = make_app()

_PROJECT = typer.Option(None, "--project", "-C", "-p", file_okay=False,
                        help="The project folder (default: the nearest one with hourglass.toml).")
_RPC = typer.Option(None, "--rpc", help="A chain's JSON-RPC URL (default: the running devnet's).")
_CONTRACT = typer.Option(None, "--workflow-contract", help="With --rpc: the WorkflowStateMachine address.")
_KEY_ENV = typer.Option(None, "--key-env", help="With --rpc: environment variable holding the sender's key.")
_JSON = typer.Option(False, "--json", help="Print JSON instead of text.")


def _client(project: Path | None, rpc: str | None, contract: str | None, key_env: str | None,
            *, with_key: bool = False) -> WorkflowClient:
    from hourglass_cli.errors import DevnetError, UsageError
    from hourglass_cli.workflows.client import WorkflowClient

    if rpc:
        if not contract:
            raise UsageError("--rpc needs --workflow-contract ADDRESS")
        key = None
        if with_key:
            if not key_env or not os.environ.get(key_env):
                raise UsageError("sending needs a key", hint="give --key-env VAR with the private key in VAR")
            key = bytes.fromhex(os.environ[key_env].removeprefix("0x"))
        return WorkflowClient(rpc, contract, key)
    from hourglass_cli.devnet.state import devnet_dir, load_state, project_root
    from hourglass_cli.tasks.target import devnet_target

    target = devnet_target(project or ".", with_key=with_key)
    state = load_state(devnet_dir(project_root(project or ".")))
    deployment = (state.deployment if state else None) or {}
    address = contract or deployment.get("workflow_state_machine")
    if not address:
        raise DevnetError("this devnet has no WorkflowStateMachine",
                          hint="restart it with this hourglass (`hourglass devnet stop && hourglass devnet start "
                               "--detach`): devnets deploy it")
    return WorkflowClient(target.rpc_url, address, target.key if with_key else None,
                          int(deployment.get("deployed_at_block", 0) or 0))


def _echo(doc: Any) -> None:
    typer.echo(json.dumps(doc))


def _execution_doc(view: ExecutionView) -> dict[str, Any]:
    return {"execution_id": view.execution_id, "workflow_id": view.workflow_id, "workflow": view.workflow_name,
            "status": view.status, "started_at": view.started_at, "ended_at": view.ended_at or None,
            "failure": view.failure() or None,
            "phases": [{"index": p.index, "name": p.name, "type": p.phase_type, "status": p.status,
                        "depends_on": p.dependencies, "operator_set": p.operator_set, "started_at": p.started_at or None,
                        "ended_at": p.ended_at or None, "deadline": p.deadline or None, "updates": p.updates,
                        "task_hashes": p.task_hashes, "result": "0x" + p.result.hex() if p.result else None,
                        "failure": p.failure or None} for p in view.phases]}


_STYLE = {"COMPLETED": "green", "FAILED": "red", "TIMED_OUT": "red", "CANCELLED": "yellow", "ACTIVE": "cyan",
          "RUNNING": "cyan", "WAITING": "magenta", "PENDING": "dim"}


def _tree(view: ExecutionView) -> Any:
    from rich.markup import escape
    from rich.tree import Tree

    def styled(status: str) -> str:
        return f"[{_STYLE.get(status, 'white')}]{status.lower().replace('_', ' ')}[/]"

    tree = Tree(f"[bold]{escape(view.workflow_name)}[/] execution {view.execution_id} — {styled(view.status)}")
    for p in view.phases:
        after = f" after {', '.join(str(d) for d in p.dependencies)}" if p.dependencies else ""
        head = f"{p.index} [bold]{escape(p.name)}[/] {p.phase_type.lower()}{after}: {styled(p.status)}"
        if p.phase_type == "CONTINUOUS":
            head += f" ({p.updates} verified update{'s' if p.updates != 1 else ''})"
        if p.started_at and p.ended_at:
            head += f" in {p.ended_at - p.started_at} s"
        node = tree.add(head)
        for task in p.task_hashes:
            node.add(f"[dim]task[/] {task}")
        if p.result:
            shown = p.result.hex()
            node.add(f"[dim]result[/] 0x{shown[:64]}{'…' if len(shown) > 64 else ''} ({len(p.result)} bytes)")
        if p.failure:
            node.add(f"[red]{escape(p.failure)}[/]")
    return tree


def _payload(input_hex: str | None, input_file: Path | None) -> bytes:
    from hourglass_cli.errors import UsageError
    from hourglass_cli.tasks.payload import parse_payload, read_payload_file

    if input_hex is not None and input_file is not None:
        raise UsageError("give --input or --input-file, not both")
    if input_file is not None:
        return read_payload_file(str(input_file))
    return parse_payload(input_hex) if input_hex else b""


def _phase_index(view: ExecutionView, phase: str) -> int:
    from hourglass_cli.errors import UsageError

    if phase.isdigit() and int(phase) < len(view.phases):
        return int(phase)
    for p in view.phases:
        if p.name == phase:
            return p.index
    names = ", ".join(f"{p.index} {p.name!r}" for p in view.phases)
    raise UsageError(f"no phase {phase!r} in this execution's workflow ({names})")


@app.command()
def register(
    file: Path = typer.Argument(..., metavar="FILE", dir_okay=False, help="The workflow's definition (TOML)."),
    trigger: list[str] = typer.Option([], "--trigger", metavar="ADDRESS",
                                      help="Also authorize this address to trigger conditional phases (repeatable)."),
    as_json: bool = _JSON, rpc: str | None = _RPC, contract: str | None = _CONTRACT, key_env: str | None = _KEY_ENV,
    project: Path | None = _PROJECT,
) -> None:
    """Compile a definition file and register the workflow on chain (the creation fee is paid).

    On a devnet, a workflow with a `trigger_from` phase also authorizes the aggregator's account, whose workflow
    driver opens such phases."""
    from dataclasses import replace

    from hourglass_cli.cli._output import console
    from hourglass_cli.workflows.definition import load_definition, uses_trigger_from

    definition = load_definition(file)
    triggers = list(definition.authorized_triggers) + list(trigger)
    if not rpc and uses_trigger_from(definition):
        from hourglass_cli.devnet.accounts import devnet_accounts

        triggers.append(devnet_accounts(1).aggregator.address)
    if triggers != list(definition.authorized_triggers):
        definition = replace(definition, authorized_triggers=tuple(dict.fromkeys(triggers)))
    client = _client(project, rpc, contract, key_env, with_key=True)
    workflow_id, receipt = client.register(definition)
    if as_json:
        _echo({"workflow_id": workflow_id, "name": definition.name, "phases": len(definition.phases),
               "block": int(receipt["blockNumber"]), "gas_used": int(receipt["gasUsed"])})
        return
    console().print(f"registered [bold]{definition.name}[/] ({len(definition.phases)} phases) as {workflow_id}",
                    highlight=False, soft_wrap=True)
    console().print(f"next: hourglass workflow start {definition.name} --wait", highlight=False, soft_wrap=True)


@app.command("list")
def list_(as_json: bool = _JSON, rpc: str | None = _RPC, contract: str | None = _CONTRACT,
          project: Path | None = _PROJECT) -> None:
    """The registered workflows, with their executions."""
    from rich.table import Table

    from hourglass_cli.cli._output import console

    client = _client(project, rpc, contract, None)
    rows = [(w, client.executions(w.workflow_id)) for w in client.workflows()]
    if as_json:
        _echo([{"workflow_id": w.workflow_id, "name": w.name, "creator": w.creator, "phases": w.phases,
                "block": w.block, "executions": ex} for w, ex in rows])
        return
    if not rows:
        console().print("no workflows yet: `hourglass workflow register FILE`", highlight=False)
        return
    table = Table("name", "workflow id", "phases", "executions", box=None, pad_edge=False)
    table.columns[1].no_wrap = True
    for w, ex in rows:
        table.add_row(w.name, w.workflow_id, str(w.phases), str(len(ex)))
    console().print(table)


@app.command()
def start(
    workflow: str = typer.Argument(..., metavar="NAME|ID", help="A registered workflow's name or id."),
    input_hex: str | None = typer.Option(None, "--input", help="The execution's input payload as 0x-hex."),
    input_file: Path | None = typer.Option(None, "--input-file", dir_okay=False, help="The input from a file."),
    wait: bool = typer.Option(False, "--wait", help="Follow the phases until the execution ends."),
    timeout: float = typer.Option(600.0, "--timeout", min=1, help="With --wait: seconds before giving up."),
    as_json: bool = _JSON, rpc: str | None = _RPC, contract: str | None = _CONTRACT, key_env: str | None = _KEY_ENV,
    project: Path | None = _PROJECT,
) -> None:
    """Start an execution (the execution fee is paid); with --wait, a live tree of its phases until it ends."""
    from hourglass_cli.cli._output import console

    payload = _payload(input_hex, input_file)
    client = _client(project, rpc, contract, key_env, with_key=True)
    execution_id, _receipt = client.start(workflow, payload)
    if not wait:
        if as_json:
            _echo({"execution_id": execution_id, "status": "RUNNING"})
        else:
            console().print(f"execution {execution_id} started", highlight=False, soft_wrap=True)
            console().print(f"next: hourglass workflow status {execution_id}", highlight=False, soft_wrap=True)
        return
    view = _follow(client, execution_id, timeout, as_json)
    _finish(view, as_json)


def _follow(client: WorkflowClient, execution_id: str, timeout: float, as_json: bool) -> ExecutionView:
    from hourglass_cli.cli._output import console

    out = console()
    if as_json or not out.is_terminal:
        return client.wait(execution_id, timeout, None if as_json else lambda v: out.print(_tree(v)))
    from rich.live import Live

    with Live(console=out, auto_refresh=False, transient=False) as live:
        return client.wait(execution_id, timeout, lambda v: live.update(_tree(v), refresh=True))


def _finish(view: ExecutionView, as_json: bool) -> None:
    from hourglass_cli.cli._output import console

    if as_json:
        _echo(_execution_doc(view))
    else:
        reason = view.failure()
        line = f"execution {view.execution_id} {view.status.lower()}" + (f": {reason}" if reason else "")
        console().print(line, highlight=False, soft_wrap=True)
    if view.status in ("FAILED", "CANCELLED"):
        raise typer.Exit(1)


@app.command()
def status(
    execution: str = typer.Argument(..., metavar="EXECUTION_ID", help="The execution id (0x + 64 hex digits)."),
    as_json: bool = _JSON, rpc: str | None = _RPC, contract: str | None = _CONTRACT, project: Path | None = _PROJECT,
) -> None:
    """An execution and each of its phases: status, tasks, results, times, why it failed."""
    from hourglass_cli.cli._output import console

    view = _client(project, rpc, contract, None).execution(execution)
    if as_json:
        _echo(_execution_doc(view))
    else:
        console().print(_tree(view))
        if view.failure():
            console().print(f"[red]{view.failure()}[/]", highlight=False, soft_wrap=True)
    if view.status in ("FAILED", "CANCELLED"):
        raise typer.Exit(1)


@app.command()
def trigger(
    execution: str = typer.Argument(..., metavar="EXECUTION_ID", help="The execution id."),
    phase: str = typer.Argument(..., metavar="PHASE", help="The conditional phase: its name or index."),
    data: str | None = typer.Option(None, "--data", help="Trigger data as 0x-hex."),
    price: int | None = typer.Option(None, "--price", min=0, help="A price: the data is abi.encode(uint256 price)."),
    from_task: str | None = typer.Option(None, "--from-task", help="A verified task whose result is the data."),
    as_json: bool = _JSON, rpc: str | None = _RPC, contract: str | None = _CONTRACT, key_env: str | None = _KEY_ENV,
    project: Path | None = _PROJECT,
) -> None:
    """Open a waiting conditional phase: the contract checks its condition against the data."""
    from eth_abi import encode

    from hourglass_cli.cli._output import console
    from hourglass_cli.errors import UsageError
    from hourglass_cli.tasks.payload import parse_payload

    given = [x for x in (data, price, from_task) if x is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of --data HEX, --price N or --from-task HASH")
    client = _client(project, rpc, contract, key_env, with_key=True)
    index = _phase_index(client.execution(execution), phase)
    if from_task is not None:
        receipt = client.trigger_from_task(execution, index, from_task)
    else:
        payload = parse_payload(data) if data is not None else encode(["uint256"], [price])
        receipt = client.trigger(execution, index, payload)
    if as_json:
        _echo({"execution_id": execution, "phase": index, "block": int(receipt["blockNumber"])})
    else:
        console().print(f"phase {index} triggered (block {int(receipt['blockNumber'])})", highlight=False)


@app.command()
def cancel(
    execution: str = typer.Argument(..., metavar="EXECUTION_ID", help="The execution id."),
    as_json: bool = _JSON, rpc: str | None = _RPC, contract: str | None = _CONTRACT, key_env: str | None = _KEY_ENV,
    project: Path | None = _PROJECT,
) -> None:
    """Cancel a running execution (its creator only); its open phases stop."""
    from hourglass_cli.cli._output import console

    client = _client(project, rpc, contract, key_env, with_key=True)
    receipt = client.cancel(execution)
    if as_json:
        _echo({"execution_id": execution, "status": "CANCELLED", "block": int(receipt["blockNumber"])})
    else:
        console().print(f"execution {execution} cancelled", highlight=False, soft_wrap=True)


@app.command()
def logs(
    execution: str = typer.Argument(..., metavar="EXECUTION_ID", help="The execution id."),
    phase: str | None = typer.Option(None, "--phase", help="Only this phase (its name or index)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the execution ends."),
    timeout: float = typer.Option(600.0, "--timeout", min=1, help="With -f: seconds before giving up."),
    as_json: bool = _JSON, rpc: str | None = _RPC, contract: str | None = _CONTRACT, project: Path | None = _PROJECT,
) -> None:
    """The execution's story by phase: its events, each task's journey, and the devnet's log lines for those tasks."""
    import threading
    import time

    from hourglass_cli.cli._output import console

    client = _client(project, rpc, contract, None)
    seen: set[tuple[Any, ...]] = set()
    end = time.monotonic() + timeout
    pause = threading.Event()
    root = _devnet_root(project) if not rpc else None
    while True:
        view = client.execution(execution)
        index = _phase_index(view, phase) if phase is not None else None
        story = _story(client, view, index, root)
        fresh = [entry for entry in story if entry["key"] not in seen]
        seen.update(entry["key"] for entry in fresh)
        for entry in fresh:
            if as_json:
                _echo({k: v for k, v in entry.items() if k != "key"})
            else:
                console().print(entry["text"], highlight=False, soft_wrap=True)
        if not follow or view.done or time.monotonic() > end:
            break
        pause.wait(0.5)  # polling chain state and log files for new lines, with a deadline
    if view.status in ("FAILED", "CANCELLED"):
        raise typer.Exit(1)


def _devnet_root(project: Path | None) -> Path | None:
    from hourglass_cli.devnet.state import project_root

    try:
        return project_root(project or ".")
    except Exception:  # noqa: BLE001 - logs from chain state alone
        return None


def _story(client: WorkflowClient, view: ExecutionView, only: int | None, root: Path | None) -> list[dict[str, Any]]:
    """Events (per phase), each phase task's aggregator record, and devnet log lines naming those tasks."""
    from hourglass_cli.workflows.client import execution_events

    entries: list[dict[str, Any]] = []
    for event in execution_events(client, view.execution_id):
        if only is not None and event.phase not in (None, only):
            continue
        where = f"phase {event.phase} ('{view.phases[event.phase].name}')" if event.phase is not None else "execution"
        detail = {k: ("0x" + bytes(v).hex() if isinstance(v, (bytes, bytearray)) else v)
                  for k, v in event.args.items() if k not in ("executionId", "phaseIndex")}
        shown = ", ".join(f"{k}={v if len(str(v)) <= 70 else str(v)[:67] + '…'}" for k, v in detail.items())
        entries.append({"key": ("event", event.block, event.name, event.phase, shown), "kind": "event",
                        "block": event.block, "event": event.name, "phase": event.phase, "args": detail,
                        "text": f"block {event.block}  {where}  {event.name}  {shown}"})
    tasks = {t: p for p in view.phases if only is None or p.index == only for t in p.task_hashes}
    store = _store(root)
    for task, p in tasks.items():
        record = store.task(task) if store is not None else None
        if record is not None:
            responses = len(record.ok_responses)
            text = (f"phase {p.index} ('{p.name}')  task {task}  aggregator: {record.task.status}, {responses} "
                    f"answer(s){'; ' + record.task.reason if record.task.reason else ''}")
            entries.append({"key": ("task", task, record.task.status, responses), "kind": "task", "task": task,
                            "phase": p.index, "aggregator": record.task.status, "answers": responses,
                            "reason": record.task.reason, "text": text})
    for name, line in _log_lines(root, set(tasks)):
        entries.append({"key": ("log", name, line), "kind": "log", "log": name, "line": line,
                        "text": f"{name} | {line}"})
    return entries


def _store(root: Path | None) -> Any:
    if root is None:
        return None
    from hourglass_cli.devnet.state import devnet_dir, load_state
    from hourglass_cli.tasks.store_view import StoreView
    from hourglass_cli.tasks.target import store_of

    state = load_state(devnet_dir(root))
    return StoreView(store_of(state), "l1") if state is not None else None


def _log_lines(root: Path | None, tasks: set[str]) -> list[tuple[str, str]]:
    """The aggregator's and executors' log lines that name one of `tasks`."""
    if root is None or not tasks:
        return []
    from hourglass_cli.cli._devnet_logs import _names

    found = []
    for name, path in _names(root).items():
        if not (name == "aggregator" or name.startswith("executor-")) or name.endswith(".performer"):
            continue
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        found += [(name, line) for line in lines if any(t in line for t in tasks)]
    return found


@app.command()
def debug(
    execution: str | None = typer.Argument(None, metavar="EXECUTION_ID",
                                           help="The execution (default: every running one)."),
    as_json: bool = _JSON, rpc: str | None = _RPC, contract: str | None = _CONTRACT, project: Path | None = _PROJECT,
) -> None:
    """Timeout analysis: each open phase's elapsed time against its timeout, what it waits on (dependencies, a
    trigger, its task, a task's missing answers) and which executors have not answered."""
    from hourglass_cli.cli._output import console

    client = _client(project, rpc, contract, None)
    ids = [execution] if execution else [e for w in client.workflows() for e in client.executions(w.workflow_id)]
    root = _devnet_root(project) if not rpc else None
    rows = []
    for ex in ids:
        view = client.execution(ex)
        if execution is None and view.done:
            continue
        rows += _analysis(client, view, root)
    if as_json:
        _echo(rows)
        return
    if not rows:
        console().print("nothing open: no running execution has a phase waiting", highlight=False)
    for row in rows:
        over = " [red](past its timeout)[/]" if row["overdue"] else ""
        console().print(f"{row['execution'][:18]}… phase {row['phase']} ('{row['name']}') {row['status'].lower()}: "
                        f"{row['elapsed']} s of {row['timeout']} s{over} — waits on {row['waits_on']}",
                        highlight=False, soft_wrap=True)
        if row["missing"]:
            console().print(f"    no answer yet from {', '.join(row['missing'])}", highlight=False, soft_wrap=True)


def _analysis(client: WorkflowClient, view: ExecutionView, root: Path | None) -> list[dict[str, Any]]:
    import time

    block_time = int(client.w3.eth.get_block("latest")["timestamp"])
    store = _store(root)
    names = _operator_names(root)
    rows = []
    for p in view.phases:
        if p.status in ("COMPLETED", "FAILED", "TIMED_OUT"):
            continue
        timeout = p.timeout
        elapsed = block_time - p.started_at if p.started_at else 0
        missing: list[str] = []
        if p.status == "PENDING":
            open_deps = [view.phases[d].name for d in p.dependencies if view.phases[d].status != "COMPLETED"]
            waits = "dependencies " + ", ".join(repr(n) for n in open_deps)
        elif p.status == "WAITING":
            waits = "a trigger (`hourglass workflow trigger` or the phase's trigger_from)"
        elif not p.task_hashes:
            waits = "its task, not created yet (the aggregator's workflow driver creates it)"
        else:
            task = p.task_hashes[-1]
            record = store.task(task) if store is not None else None
            if record is None:
                waits = f"task {task} (not seen by the aggregator yet)"
            else:
                answered = {r.operator.lower() for r in record.responses}
                missing = [n for a, n in names.items() if a not in answered]
                waits = f"task {task}: {len(record.ok_responses)} answer(s), aggregator {record.task.status}"
            if p.phase_type == "CONTINUOUS":
                waits += f"; {p.updates} update(s) verified"
        rows.append({"execution": view.execution_id, "phase": p.index, "name": p.name, "status": p.status,
                     "elapsed": elapsed, "timeout": timeout, "overdue": bool(p.deadline and block_time > p.deadline),
                     "waits_on": waits, "missing": missing, "checked_at": int(time.time())})
    return rows


def _operator_names(root: Path | None) -> dict[str, str]:
    if root is None:
        return {}
    from hourglass_cli.devnet.state import devnet_dir, load_state
    from hourglass_cli.tasks.target import executor_names

    state = load_state(devnet_dir(root))
    return executor_names(state) if state is not None else {}
