"""`hourglass task …`: create tasks on the devnet (or any chain), wait for TaskVerified, inspect and watch them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hourglass_cli.cli._app import make_app

if TYPE_CHECKING:
    from hourglass_cli.tasks.client import Outcome, TaskClient
    from hourglass_cli.tasks.target import Target

app = make_app()

_PROJECT = typer.Option(None, "--project", "-C", "-p", file_okay=False,
                        help="The project folder (default: the nearest hourglass.toml, else the current folder).")
_RPC = typer.Option(None, "--rpc", help="A chain's JSON-RPC URL (default: the running devnet's).")
_MAILBOX = typer.Option(None, "--mailbox", help="With --rpc: the TaskMailbox address.")
_AVS = typer.Option(None, "--avs", help="With --rpc: the AVS address.")
_KEY_ENV = typer.Option(None, "--key-env", help="With --rpc: environment variable holding the task creator's key.")
_STORE = typer.Option(None, "--store", help="With --rpc: the aggregator's SQLite store, for timings and reasons.")
_JSON = typer.Option(False, "--json", help="Print JSON instead of text.")
_RESULT_ABI = typer.Option(None, "--result-abi", help='Decode the result as these types, e.g. "(uint256)" '
                           "(default: [task].result_abi in hourglass.toml).")


@app.callback()
def _group() -> None:
    """Create tasks, wait for their certificates on chain, inspect and watch them."""


def _target(project: Path | None, rpc: str | None, mailbox: str | None, avs: str | None, key_env: str | None,
            store: str | None = None, *, with_key: bool = False) -> Target:
    """Where the command goes; the devnet's task-creator key only for `submit` (deriving it imports eth-account)."""
    from hourglass_cli.tasks.target import devnet_target, explicit_target

    if rpc:
        return explicit_target(rpc, mailbox, avs, key_env, store)
    return devnet_target(project or ".", with_key=with_key)


def _result_abi(target: Target, given: str | None) -> str:
    if given is not None:
        return given
    from hourglass_cli.config import find_config, load_config

    found = find_config(target.project_dir or ".")
    return load_config(found).task.result_abi if found is not None else ""


def _outcome_doc(out: Outcome, result_abi: str) -> dict[str, Any]:
    from hourglass_cli.tasks.payload import decode_result

    doc: dict[str, Any] = {"task_hash": out.task_hash, "status": out.status, "payload": "0x" + out.payload.hex(),
                           "result": None, "decoded": None, "responses": out.responses, "reason": out.reason or None,
                           "timings": {k: round(v, 4) for k, v in out.timings.items()}}
    if out.result is not None:
        doc["result"] = "0x" + out.result.hex()
        if result_abi:
            doc["decoded"] = decode_result(result_abi, out.result)
    if out.view is not None:
        doc["aggregator"] = {"status": out.view.task.status, "block": out.view.task.block_number,
                             "deadline": out.view.task.deadline}
    return doc


def _render(out: Outcome, result_abi: str, client: TaskClient) -> None:
    from hourglass_cli.cli._output import console, print_fields
    from hourglass_cli.tasks.payload import decode_result

    rows = [("task", out.task_hash), ("status", out.status)]
    if out.result is not None:
        decoded = f"  ({', '.join(map(str, decode_result(result_abi, out.result)))} as {result_abi})" \
            if result_abi else ""
        rows.append(("result", "0x" + out.result.hex() + decoded))
    if out.responses:
        rows.append(("responses", out.responses))
    if out.reason:
        rows.append(("reason", out.reason))
    if out.view is not None:
        for r in out.view.responses:
            if r.outcome != "ok":
                rows.append((client.target.name_of(r.operator), f"{r.outcome}: {r.detail}"))
    print_fields("", rows)
    if out.timings:
        console().print("  ".join(f"{stage} +{seconds * 1e3:.0f} ms" for stage, seconds in out.timings.items()),
                        highlight=False)


@app.command()
def submit(
    payload: str | None = typer.Argument(None, metavar="PAYLOAD", help="The raw payload as 0x-hex (or use --signature/--args)."),
    signature: str | None = typer.Option(None, "--signature", help='ABI types of the payload, e.g. "(uint256)".'),
    args: str | None = typer.Option(None, "--args", help='The values, e.g. "(5)" or "(5,\\"hi\\",[1,2])".'),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for TaskVerified (default) or return at once."),
    timeout: float = typer.Option(90.0, "--timeout", min=0.1, help="Seconds to wait for TaskVerified."),
    operator_set: int = typer.Option(1, "--operator-set", min=0, help="The executor operator set."),
    payload_file: str | None = typer.Option(None, "--payload-file", metavar="FILE",
                                            help="Send this file's bytes as the payload ('-': standard input)."),
    gas_limit: int | None = typer.Option(None, "--gas-limit", min=21_000,
                                         help="Gas limit of createTask (default: estimated, with headroom)."),
    result_abi: str | None = _RESULT_ABI,
    as_json: bool = _JSON,
    rpc: str | None = _RPC, mailbox: str | None = _MAILBOX, avs: str | None = _AVS, key_env: str | None = _KEY_ENV,
    store: str | None = _STORE,
    project: Path | None = _PROJECT,
) -> None:
    """Create a task and wait until its certificate is verified on chain; print the result and the timings."""
    from hourglass_cli.cli._output import console
    from hourglass_cli.tasks.client import TaskClient, TaskFailedError
    from hourglass_cli.tasks.payload import payload_from_options, split_types

    data = payload_from_options(payload, signature, args, payload_file)
    target = _target(project, rpc, mailbox, avs, key_env, store, with_key=True)
    abi = _result_abi(target, result_abi)
    if abi:
        split_types(abi)  # a bad --result-abi fails before the task is created
    client = TaskClient(target)
    sub = client.submit(data, operator_set, gas_limit=gas_limit)
    if not wait:
        if as_json:
            typer.echo(json.dumps({"task_hash": sub.task_hash, "status": "CREATED", "block": sub.block_number,
                                   "tx_hash": sub.tx_hash, "payload": "0x" + data.hex()}))
        else:
            console().print(f"task {sub.task_hash} created in block {sub.block_number}", highlight=False)
        return
    if not as_json:
        console().print(f"task {sub.task_hash} created in block {sub.block_number} "
                        f"(+{(sub.created_at - sub.sent_at) * 1e3:.0f} ms); waiting for TaskVerified…", highlight=False)
    try:
        out = client.wait(sub, timeout)
    except TaskFailedError as exc:
        if as_json:
            doc = _outcome_doc(exc.outcome, abi) if hasattr(exc, "outcome") else {"task_hash": sub.task_hash}
            typer.echo(json.dumps({**doc, "error": exc.message}))
        raise
    if as_json:
        typer.echo(json.dumps(_outcome_doc(out, abi)))
    else:
        _render(out, abi, client)


@app.command()
def status(
    task_hash: str = typer.Argument(..., metavar="TASK_HASH", help="The task hash (0x + 64 hex digits)."),
    result_abi: str | None = _RESULT_ABI,
    as_json: bool = _JSON,
    rpc: str | None = _RPC, mailbox: str | None = _MAILBOX, avs: str | None = _AVS, store: str | None = _STORE,
    project: Path | None = _PROJECT,
) -> None:
    """A task's on-chain status and result, with what the aggregator recorded (responses, reason, timings)."""
    from hourglass_cli.errors import UsageError
    from hourglass_cli.tasks.client import TaskClient

    text = task_hash.lower()
    if not (text.startswith("0x") and len(text) == 66 and all(c in "0123456789abcdef" for c in text[2:])):
        raise UsageError(f"{task_hash!r} is not a task hash", hint="a task hash is 0x followed by 64 hex digits")
    target = _target(project, rpc, mailbox, avs, None, store)
    client = TaskClient(target)
    out = client.outcome(text)
    abi = _result_abi(target, result_abi)
    if as_json:
        typer.echo(json.dumps(_outcome_doc(out, abi)))
    else:
        _render(out, abi, client)
    if out.status == "NONE" and out.view is None:
        raise typer.Exit(1)


def _rows(client: TaskClient, limit: int) -> list[list[str]]:
    """One row per recent task: hash, block, chain status, aggregator status, responses, stages, reason."""
    import time

    from hourglass_cli.aggregator import store as st

    rows = []
    for view in client.store.recent(limit):
        t = view.task
        try:
            chain = client.outcome(t.task_hash).status
        except Exception:  # noqa: BLE001 - the chain may be gone; the store still has the story
            chain = "?"
        n = len(client.target.operators) or len(view.responses)
        stages = ["distributed"]
        if view.ok_responses:
            stages.append(f"{len(view.ok_responses)}/{n}")
        if view.submissions:
            stages.append("certificate")
        if chain == "VERIFIED":
            stages.append("verified")
        end = t.updated_at if t.status in st.FINAL else time.time()
        reason = client.explain(view) if t.status in st.FINAL and t.status != st.COMPLETED else ""
        rows.append([t.task_hash[:10] + "…" + t.task_hash[-4:], str(t.block_number), chain, t.status,
                     f"{len(view.ok_responses)}/{n}", " → ".join(stages), f"{end - t.seen_at:.2f} s", reason])
    return rows


def _table(rows: list[list[str]], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name in ("task", "block", "on chain", "aggregator", "responses", "stages", "time", "reason"):
        table.add_column(name, overflow="fold", no_wrap=name in ("task", "stages"))
    for row in rows:
        table.add_row(*row)
    return table


@app.command("list")
def list_tasks(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many recent tasks to show."),
    as_json: bool = _JSON,
    rpc: str | None = _RPC, mailbox: str | None = _MAILBOX, avs: str | None = _AVS, store: str | None = _STORE,
    project: Path | None = _PROJECT,
) -> None:
    """Recent tasks as the aggregator recorded them, with their on-chain status."""
    from hourglass_cli.cli._output import console
    from hourglass_cli.tasks.client import TaskClient

    client = TaskClient(_target(project, rpc, mailbox, avs, None, store))
    rows = _rows(client, limit)
    if as_json:
        keys = ("task", "block", "on_chain", "aggregator", "responses", "stages", "time", "reason")
        full = [v.task.task_hash for v in client.store.recent(limit)]
        typer.echo(json.dumps([{**dict(zip(keys, r)), "task": h} for r, h in zip(rows, full)]))
        return
    if not rows:
        console().print("no tasks yet: create one with `hourglass task submit --signature \"(uint256)\" "
                        "--args \"(5)\"`")
        return
    console().print(_table(rows, f"{len(rows)} most recent task(s)"))


@app.command()
def watch(
    limit: int = typer.Option(15, "--limit", "-n", min=1, help="How many recent tasks to show."),
    once: bool = typer.Option(False, "--once", help="Print the current view and exit."),
    interval: float = typer.Option(0.25, "--interval", min=0.05, help="Seconds between refreshes."),
    rpc: str | None = _RPC, mailbox: str | None = _MAILBOX, avs: str | None = _AVS, store: str | None = _STORE,
    project: Path | None = _PROJECT,
) -> None:
    """A live view of tasks and their stages (created → distributed → k/n → certificate → verified); Ctrl-C ends."""
    import threading

    from rich.live import Live

    from hourglass_cli.cli._output import console
    from hourglass_cli.tasks.client import TaskClient

    client = TaskClient(_target(project, rpc, mailbox, avs, None, store))
    title = "tasks (Ctrl-C to stop)"
    if once:
        console().print(_table(_rows(client, limit), "tasks"))
        return
    pause = threading.Event()
    try:
        with Live(_table(_rows(client, limit), title), console=console(), auto_refresh=False) as live:
            while True:
                pause.wait(interval)
                live.update(_table(_rows(client, limit), title), refresh=True)
    except KeyboardInterrupt:
        return
