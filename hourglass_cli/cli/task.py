"""`hourglass task …`: create tasks on the devnet (or any chain), wait for TaskVerified, inspect and watch them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hourglass_cli.cli._app import make_app

if TYPE_CHECKING:
    from hourglass_cli.tasks.client import Outcome, TaskClient
    from hourglass_cli.tasks.progress import Progress
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
    """The JSON of `submit` and `status`: numbers as numbers, every timing key present (None: not reached)."""
    from hourglass_cli.tasks.payload import decode_result
    from hourglass_cli.tasks.progress import rounded

    doc: dict[str, Any] = {"task_hash": out.task_hash, "outcome": out.word, "status": out.status,
                           "payload": "0x" + out.payload.hex(), "result": None, "decoded": None,
                           "responses": {"ok": out.responses_ok, "total": out.operators} if out.view else None,
                           "reason": out.reason or None, "timings": rounded(out.timings),
                           "timings_from": out.timings_from, "aggregator": None}
    if out.result is not None:
        doc["result"] = "0x" + out.result.hex()
        if result_abi:
            doc["decoded"] = decode_result(result_abi, out.result)
    if out.view is not None:
        doc["aggregator"] = {"status": out.view.task.status, "block": out.view.task.block_number,
                             "deadline": out.view.task.deadline}
    return doc


@contextmanager
def _json_errors(as_json: bool) -> Iterator[None]:
    """With --json a failure also prints {"error": …, "hint": …} on stdout (the red line still goes to stderr)."""
    from hourglass_cli.errors import HourglassError

    try:
        yield
    except HourglassError as exc:
        if as_json and not getattr(exc, "json_printed", False):
            typer.echo(json.dumps({"error": exc.message, "hint": exc.hint}))
        raise
    except Exception as exc:
        import click

        if as_json and not isinstance(exc, (click.exceptions.Exit, click.exceptions.Abort, click.ClickException)):
            # cli.main reports it as a bug; scripts still get JSON
            typer.echo(json.dumps({"error": f"unexpected {exc.__class__.__name__}: {exc}",
                                   "hint": "this is a bug in hourglass; rerun with --debug and report the traceback"}))
        raise


def _render(out: Outcome, result_abi: str, client: TaskClient) -> None:
    """What happened first (status, then why), then the result, the task, and where the time went."""
    from hourglass_cli.cli._output import console
    from hourglass_cli.cli._task_view import outcome_fields
    from hourglass_cli.tasks.payload import decode_result

    decoded = ""
    if out.result is not None and result_abi:
        decoded = f"  ({', '.join(map(str, decode_result(result_abi, out.result)))} as {result_abi})"
    names = {r.operator: client.target.name_of(r.operator) for r in (out.view.responses if out.view else [])}
    console().print(outcome_fields(out, decoded, names))


def _status_command(task_hash: str, project: Path | None, rpc: str | None, mailbox: str | None, avs: str | None,
                    store: str | None) -> str:
    """The `hourglass task status …` to run next, with the same target as this command."""
    import shlex

    words = ["hourglass", "task", "status", task_hash]
    if rpc:
        words += ["--rpc", rpc, "--mailbox", str(mailbox), "--avs", str(avs)] + (["--store", store] if store else [])
    elif project is not None:
        words += ["-C", str(project)]
    return shlex.join(words)


@app.command()
def submit(
    payload: str | None = typer.Argument(None, metavar="PAYLOAD",
                                         help="The raw payload as 0x-hex (or use --signature/--args)."),
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
    """Create a task and wait until its certificate is verified on chain; print the result and the timings.

    Timings are seconds since the aggregator recorded the task (as `task status` prints them).
    """
    with _json_errors(as_json):
        _submit(payload, signature, args, wait, timeout, operator_set, result_abi, as_json, rpc, mailbox, avs,
                key_env, store, project, payload_file=payload_file, gas_limit=gas_limit)


def _submit(payload: str | None, signature: str | None, args: str | None, wait: bool, timeout: float,
            operator_set: int, result_abi: str | None, as_json: bool, rpc: str | None, mailbox: str | None,
            avs: str | None, key_env: str | None, store: str | None, project: Path | None, *,
            payload_file: str | None = None, gas_limit: int | None = None) -> None:
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
    mined = f"createTask mined in {(sub.created_at - sub.sent_at) * 1e3:.0f} ms"
    if not wait:
        next_command = _status_command(sub.task_hash, project, rpc, mailbox, avs, store)
        if as_json:
            typer.echo(json.dumps({"task_hash": sub.task_hash, "status": "CREATED", "block": sub.block_number,
                                   "tx_hash": sub.tx_hash, "payload": "0x" + data.hex(),
                                   "mined_in": round(sub.created_at - sub.sent_at, 4), "next": next_command}))
        else:
            out = console()
            out.print(f"task {sub.task_hash} created in block {sub.block_number} ({mined})", highlight=False,
                      soft_wrap=True)
            out.print(f"next: {next_command}", highlight=False, soft_wrap=True)
        return
    if not as_json:
        console().print(f"task {sub.task_hash} created in block {sub.block_number} ({mined}); "
                        "waiting for TaskVerified…", highlight=False, soft_wrap=True)
    try:
        done = client.wait(sub, timeout)
    except TaskFailedError as exc:
        if as_json:
            outcome = getattr(exc, "outcome", None)
            doc = _outcome_doc(outcome, abi) if outcome is not None else {"task_hash": sub.task_hash}
            typer.echo(json.dumps({**doc, "mined_in": round(sub.created_at - sub.sent_at, 4), "error": exc.message,
                                   "hint": exc.hint}))
            exc.json_printed = True  # type: ignore[attr-defined]
        raise
    if as_json:
        typer.echo(json.dumps({**_outcome_doc(done, abi), "mined_in": round(sub.created_at - sub.sent_at, 4)}))
    else:
        _render(done, abi, client)


def _full_hash(client: TaskClient, given: str) -> str:
    """`given` as a whole task hash; a short one (`0x1a2b3c4d…ef01`, a prefix) is looked up in the store."""
    from hourglass_cli.errors import HourglassError, UsageError

    text = given.lower()
    if len(text) == 66 and "…" not in text:
        return text
    found = client.resolve(text)
    if len(found) == 1:
        return found[0]
    if not found:
        where = "the aggregator's store" if client.target.store_path else "(no aggregator's store to look in)"
        raise HourglassError(f"no task matching {given} in {where}",
                             hint="give the whole hash: `hourglass task list --json` prints them")
    raise UsageError(f"{given} matches {len(found)} tasks ({', '.join(found[:3])}{', …' if len(found) > 3 else ''})",
                     hint="give more of the hash")


def _hash_form(text: str) -> bool:
    """0x + 64 hex digits, or a short hash as `task list` prints it (0x + 8 or more digits, then …digits)."""
    import re

    text = text.lower().replace("...", "…")
    return bool(re.fullmatch(r"0x[0-9a-f]{64}", text) or re.fullmatch(r"0x[0-9a-f]{8,63}(…[0-9a-f]{1,56})?", text))


@app.command()
def status(
    task_hash: str = typer.Argument(..., metavar="TASK_HASH",
                                    help="The task hash (0x + 64 hex digits), or the short one `task list` "
                                         "prints (0x1a2b3c4d…ef01)."),
    result_abi: str | None = _RESULT_ABI,
    as_json: bool = _JSON,
    rpc: str | None = _RPC, mailbox: str | None = _MAILBOX, avs: str | None = _AVS, store: str | None = _STORE,
    project: Path | None = _PROJECT,
) -> None:
    """What happened to a task (and why), its result, and what the aggregator recorded: responses, timings.

    Timings are seconds since the aggregator recorded the task (as `task submit` prints them).
    """
    from hourglass_cli.errors import UsageError
    from hourglass_cli.tasks.client import TaskClient

    with _json_errors(as_json):
        if not _hash_form(task_hash):
            raise UsageError(f"{task_hash!r} is not a task hash",
                             hint="a task hash is 0x followed by 64 hex digits (or the short 0x1a2b3c4d…ef01 "
                                  "`hourglass task list` shows)")
        target = _target(project, rpc, mailbox, avs, None, store)
        client = TaskClient(target)
        out = client.outcome(_full_hash(client, task_hash))
        abi = _result_abi(target, result_abi)
        doc = _outcome_doc(out, abi) if as_json else None
    if doc is not None:
        typer.echo(json.dumps(doc))
    else:
        _render(out, abi, client)
    if out.status == "NONE" and out.view is None:
        raise typer.Exit(1)


def _progress(client: TaskClient, limit: int) -> list[Progress]:
    """The most recent tasks in the aggregator's store, each with the mailbox's status."""
    import time

    from hourglass_cli.aggregator import store as st
    from hourglass_cli.tasks.client import STATUS_NAMES
    from hourglass_cli.tasks.progress import progress

    rows = []
    for view in client.store.recent(limit):
        t = view.task
        try:
            status = client.chain_status(t.task_hash)
            chain: str | None = STATUS_NAMES.get(status, str(status))
        except Exception:  # noqa: BLE001 - the chain may be gone; the store still has the story
            chain = None
        reason = client.explain(view) if t.status in st.FINAL and t.status != st.COMPLETED else ""
        rows.append(progress(view, on_chain=chain, operators=client.target.executors_of(t.operator_set_id),
                             reason=reason, now=time.time()))
    return rows


def _list_client(project: Path | None, rpc: str | None, mailbox: str | None, avs: str | None,
                 store: str | None) -> TaskClient:
    from hourglass_cli.errors import UsageError
    from hourglass_cli.tasks.client import TaskClient

    client = TaskClient(_target(project, rpc, mailbox, avs, None, store))
    if client.target.store_path is None:
        raise UsageError("listing tasks reads the aggregator's store, and none is known for --rpc",
                         hint="give --store PATH: the aggregator's [aggregator].store file")
    return client


_NO_TASKS = 'no tasks yet: create one with `hourglass task submit --signature "(uint256)" --args "(5)"`'


@app.command("list")
def list_tasks(
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many recent tasks to show."),
    as_json: bool = _JSON,
    rpc: str | None = _RPC, mailbox: str | None = _MAILBOX, avs: str | None = _AVS, store: str | None = _STORE,
    project: Path | None = _PROJECT,
) -> None:
    """Recent tasks as the aggregator recorded them, with their on-chain status (newest first)."""
    from hourglass_cli.cli._output import console
    from hourglass_cli.cli._task_view import task_table

    with _json_errors(as_json):
        rows = _progress(_list_client(project, rpc, mailbox, avs, store), limit)
        if as_json:
            typer.echo(json.dumps([row.to_json() for row in rows]))
            return
    out = console()
    if not rows:
        out.print(_NO_TASKS, highlight=False, soft_wrap=True)
        return
    out.print(task_table(rows, out.width, f"{len(rows)} most recent task{'s' if len(rows) > 1 else ''}"))


@app.command()
def watch(
    limit: int = typer.Option(15, "--limit", "-n", min=1, help="How many recent tasks to show."),
    once: bool = typer.Option(False, "--once", help="Print the current view and exit."),
    interval: float = typer.Option(0.25, "--interval", min=0.05, help="Seconds between refreshes."),
    rpc: str | None = _RPC, mailbox: str | None = _MAILBOX, avs: str | None = _AVS, store: str | None = _STORE,
    project: Path | None = _PROJECT,
) -> None:
    """A live view of tasks and their stages (distributed → k/n → certificate → verified); Ctrl-C ends."""
    import threading

    from rich.live import Live
    from rich.text import Text

    from hourglass_cli.cli._output import console
    from hourglass_cli.cli._task_view import task_table

    client = _list_client(project, rpc, mailbox, avs, store)
    out = console()

    def view(title: str) -> Any:
        rows = _progress(client, limit)
        return task_table(rows, out.width, title) if rows else Text(f"{title}\n{_NO_TASKS}")

    if once:
        out.print(view("tasks"))
        return
    pause = threading.Event()
    title = "tasks (Ctrl-C to stop)"
    try:
        with Live(view(title), console=out, auto_refresh=False) as live:
            while True:
                pause.wait(interval)
                live.update(view(title), refresh=True)
    except KeyboardInterrupt:
        return
