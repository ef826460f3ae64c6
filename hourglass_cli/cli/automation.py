"""`hourglass automation` and `hourglass secret`: the client API's automations ("tasks" on its wire, kept apart
from TaskMailbox tasks) and secrets, through the same gRPC API the Ava SDK uses.

Where: ``--api HOST:PORT`` and an API key (or token) in ``$HOURGLASS_API_KEY`` (``--key-env``); by default the
running devnet's API and the CLI key the devnet minted for its app account.

An automation file is JSON (or TOML) in the protobuf JSON form of ``CreateTaskReq`` — ``trigger``, ``nodes``,
``edges``, ``inputVariables``, ``maxExecution``, ``expiredAt``, ``startAt`` — with conveniences: ``name`` and
``runner`` at the top level become ``inputVariables.settings`` (runner: your salt-0 smart wallet by default), ids
are made for the trigger and nodes that have none, node ``type`` follows from its configuration, and without
``edges`` the nodes run one after the other.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import typer

from hourglass_cli.cli._app import make_app
from hourglass_cli.errors import HourglassError, UsageError

app = make_app()
secret_app = make_app()

_STATUS = {0: "enabled", 1: "completed", 2: "failed", 4: "running", 5: "disabled"}
_EXEC_STATUS = {0: "unspecified", 1: "pending", 2: "success", 3: "failed", 4: "partial"}


class Session:
    """A client of the API with the caller's key, and who the caller is."""

    def __init__(self, api: str | None, key_env: str) -> None:
        from hourglass_cli.api.server import ApiClient

        key = os.environ.get(key_env, "").strip()
        address = api
        if address is None or not key:
            from hourglass_cli.cli.api import devnet_api_state

            state = devnet_api_state()
            address = address or state["address"]
            if not key:
                try:
                    key = Path(state["cli_key_file"]).read_text(encoding="utf-8").strip()
                except (KeyError, OSError):
                    raise UsageError("no API key", hint=f"export {key_env}=<key from `hourglass api key create`>") \
                        from None
        self.client = ApiClient(address, key)
        import jwt

        self.owner = jwt.decode(key, options={"verify_signature": False}).get("sub", "")

    def call(self, method: str, request: Any) -> Any:
        import grpc

        try:
            return self.client.call(method, request)
        except grpc.RpcError as exc:
            raise HourglassError(f"{method}: {exc.details()} ({exc.code().name})",
                                 hint="check the id, or `hourglass automation list`") from None

    def default_wallet(self) -> str:
        from hourglass_cli.wire.gen import avs_pb2 as pb

        return self.call("GetWallet", pb.GetWalletReq(salt="0")).address


def _opts():
    return (typer.Option(None, "--api", help="HOST:PORT of the client API (default: the running devnet's)."),
            typer.Option("HOURGLASS_API_KEY", "--key-env", help="Environment variable with your API key or token."))


API_OPT, KEY_OPT = _opts()
JSON_OPT = typer.Option(False, "--json", help="Print JSON (the protobuf JSON form).")


@app.callback()
def _group() -> None:
    """Create, run and inspect automations (triggers and a graph of steps) on the client API."""


@secret_app.callback()
def _secret_group() -> None:
    """Set, list and remove secrets your automations read as apContext.configVars (encrypted at rest)."""


def _read_definition(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    from hourglass_cli.safe_json import loads

    try:
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
        raise UsageError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'} ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: an automation is an object with trigger and nodes")
    return data


def build_request(data: dict[str, Any], default_runner: str) -> Any:
    """A CreateTaskReq from an automation definition (see the module docstring)."""
    from google.protobuf import json_format
    from ulid import ULID

    from hourglass_cli.api.engine import FIELD_TO_TYPE, TRIGGER_FIELDS
    from hourglass_cli.wire.gen import avs_pb2 as pb

    data = dict(data)
    name = data.pop("name", None)
    runner = data.pop("runner", None)
    inputs = dict(data.get("inputVariables") or data.get("input_variables") or {})
    data.pop("input_variables", None)
    settings = dict(inputs.get("settings") or {})
    settings.setdefault("name", name or "automation")
    settings.setdefault("runner", runner or default_runner)
    inputs["settings"] = settings
    data["inputVariables"] = inputs
    try:
        request = json_format.ParseDict(data, pb.CreateTaskReq())
    except json_format.ParseError as exc:
        raise UsageError(f"the automation does not fit the CreateTask message: {exc}",
                         hint="fields are trigger, nodes, edges, inputVariables, maxExecution, expiredAt, startAt") \
            from None
    if not request.trigger.id:
        request.trigger.id = str(ULID())
    if not request.trigger.name:
        request.trigger.name = "trigger"
    which = request.trigger.WhichOneof("trigger_type")
    if which and request.trigger.type == pb.TRIGGER_TYPE_UNSPECIFIED:
        request.trigger.type = TRIGGER_FIELDS[which][0]
    for node in request.nodes:
        node.id = node.id or str(ULID())
        kind = node.WhichOneof("task_type")
        if kind and node.type == pb.NODE_TYPE_UNSPECIFIED:
            node.type = FIELD_TO_TYPE[kind]
    if not request.edges:
        previous = request.trigger.id
        for node in request.nodes:
            request.edges.add(id=str(ULID()), source=previous, target=node.id)
            previous = node.id
    return request


def _print_json(message: Any) -> None:
    from google.protobuf import json_format

    typer.echo(json_format.MessageToJson(message, indent=2))


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) if ms else "-"


@app.command("create")
def create(
    file: Path = typer.Argument(..., help="The automation: JSON or TOML (see `hourglass automation --help`).",
                                exists=True, dir_okay=False),
    api: str = API_OPT, key_env: str = KEY_OPT, as_json: bool = JSON_OPT,
) -> None:
    """Create an automation from FILE; prints its id."""
    session = Session(api, key_env)
    data = _read_definition(file)
    default_runner = "" if (data.get("runner") or (data.get("inputVariables") or {}).get("settings", {}).get(
        "runner")) else session.default_wallet()
    from hourglass_cli.wire.gen import avs_pb2 as pb

    resp = session.call("CreateTask", build_request(data, default_runner))
    if as_json:
        typer.echo(json.dumps({"id": resp.id}))
        return
    typer.echo(resp.id)
    del pb


@app.command("list")
def list_(
    wallet: str = typer.Option(None, "--wallet", help="A smart wallet of yours (default: all of them)."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="How many (newest first)."),
    api: str = API_OPT, key_env: str = KEY_OPT, as_json: bool = JSON_OPT,
) -> None:
    """Your automations, newest first."""
    from hourglass_cli.wire.gen import avs_pb2 as pb

    session = Session(api, key_env)
    wallets = [wallet] if wallet else [w.address for w in session.call("ListWallets", pb.ListWalletReq()).items]
    resp = session.call("ListTasks", pb.ListTasksReq(smart_wallet_address=wallets, limit=limit))
    if as_json:
        _print_json(resp)
        return
    from rich.table import Table

    from hourglass_cli.cli._output import console

    table = Table(title=f"automations of {session.owner}", title_justify="left")
    for column in ("id", "name", "trigger", "status", "runs", "last run"):
        table.add_column(column)
    for t in resp.items:
        runs = f"{t.execution_count}" + (f"/{t.max_execution}" if t.max_execution else "")
        table.add_row(t.id, t.name, t.trigger.WhichOneof("trigger_type") or "-", _STATUS.get(t.status, "?"), runs,
                      _when(t.last_ran_at))
    console().print(table)


@app.command("show")
def show(automation_id: str = typer.Argument(..., help="The automation's id."),
         api: str = API_OPT, key_env: str = KEY_OPT, as_json: bool = JSON_OPT) -> None:
    """One automation: trigger, nodes, edges, status."""
    from hourglass_cli.wire.gen import avs_pb2 as pb

    session = Session(api, key_env)
    task = session.call("GetTask", pb.IdReq(id=automation_id))
    if as_json:
        _print_json(task)
        return
    from hourglass_cli.cli._output import console, print_fields

    print_fields(f"automation {task.id}", [
        ("name", task.name), ("status", _STATUS.get(task.status, "?")), ("owner", task.owner),
        ("runner", task.smart_wallet_address), ("trigger", f"{task.trigger.name} "
                                                           f"({task.trigger.WhichOneof('trigger_type')})"),
        ("runs", f"{task.execution_count}" + (f" of {task.max_execution}" if task.max_execution else "")),
        ("last run", _when(task.last_ran_at)), ("expires", _when(task.expired_at))])
    for node in task.nodes:
        console().print(f"  • {node.name} [dim]({node.WhichOneof('task_type')}, {node.id})[/dim]")


def _print_steps(steps) -> None:
    from rich.table import Table

    from hourglass_cli.api.engine import from_value
    from hourglass_cli.cli._output import console

    table = Table(title_justify="left")
    for column in ("step", "type", "ok", "ms", "output / error"):
        table.add_column(column, overflow="fold")
    for step in steps:
        which = step.WhichOneof("output_data")
        output = json.dumps(from_value(getattr(step, which).data)) if which and step.success else step.error
        table.add_row(step.name or step.id, step.type.replace("NODE_TYPE_", "").replace("TRIGGER_TYPE_", ""),
                      "✓" if step.success else "✗", str(step.end_at - step.start_at), (output or "")[:400])
    console().print(table)


@app.command("trigger")
def trigger(
    automation_id: str = typer.Argument(..., help="The automation's id."),
    data: str = typer.Option(None, "--data", help="Trigger data as JSON (a manual trigger's output)."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Block until the run ends and show its steps."),
    api: str = API_OPT, key_env: str = KEY_OPT, as_json: bool = JSON_OPT,
) -> None:
    """Run an automation now (its trigger's output: --data, or the manual trigger's configured data)."""
    from hourglass_cli.api.engine import to_value
    from hourglass_cli.wire.gen import avs_pb2 as pb

    session = Session(api, key_env)
    request = pb.TriggerTaskReq(task_id=automation_id, trigger_type=pb.TRIGGER_TYPE_MANUAL, is_blocking=wait)
    if data is not None:
        from hourglass_cli.safe_json import loads

        try:
            request.manual_trigger.data.CopyFrom(to_value(loads(data)))
        except ValueError as exc:
            raise UsageError(f"--data is not JSON ({exc})") from None
    resp = session.call("TriggerTask", request)
    if as_json:
        _print_json(resp)
        return
    typer.echo(f"execution {resp.execution_id}: {_EXEC_STATUS.get(resp.status, '?')}")
    if resp.steps:
        _print_steps(resp.steps)
    if resp.HasField("error") and resp.error:
        typer.echo(f"error: {resp.error}", err=True)
    if wait and resp.status not in (pb.EXECUTION_STATUS_SUCCESS,):
        raise typer.Exit(1)


def _toggle(automation_id: str, enabled: bool, api: str | None, key_env: str) -> None:
    from hourglass_cli.wire.gen import avs_pb2 as pb

    session = Session(api, key_env)
    resp = session.call("SetTaskEnabled", pb.SetTaskEnabledReq(id=automation_id, enabled=enabled))
    typer.echo(f"{automation_id}: {resp.message}")
    if not resp.success:
        raise typer.Exit(1)


@app.command("enable")
def enable(automation_id: str = typer.Argument(...), api: str = API_OPT, key_env: str = KEY_OPT) -> None:
    """Enable an automation (its trigger fires again)."""
    _toggle(automation_id, True, api, key_env)


@app.command("disable")
def disable(automation_id: str = typer.Argument(...), api: str = API_OPT, key_env: str = KEY_OPT) -> None:
    """Disable an automation (kept, not run)."""
    _toggle(automation_id, False, api, key_env)


@app.command("delete")
def delete(automation_id: str = typer.Argument(...), api: str = API_OPT, key_env: str = KEY_OPT) -> None:
    """Delete an automation (its executions stay readable by id)."""
    from hourglass_cli.wire.gen import avs_pb2 as pb

    resp = Session(api, key_env).call("DeleteTask", pb.IdReq(id=automation_id))
    typer.echo(f"{automation_id}: {resp.message}")
    if not resp.success:
        raise typer.Exit(1)


@app.command("executions")
def executions(
    automation_id: str = typer.Argument(..., help="The automation's id."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000, help="How many (newest first)."),
    api: str = API_OPT, key_env: str = KEY_OPT, as_json: bool = JSON_OPT,
) -> None:
    """An automation's runs, newest first."""
    from hourglass_cli.wire.gen import avs_pb2 as pb

    resp = Session(api, key_env).call("ListExecutions", pb.ListExecutionsReq(task_ids=[automation_id], limit=limit))
    if as_json:
        _print_json(resp)
        return
    from rich.table import Table

    from hourglass_cli.cli._output import console

    table = Table(title=f"executions of {automation_id}", title_justify="left")
    for column in ("id", "#", "status", "started", "ms", "steps", "error"):
        table.add_column(column, overflow="fold")
    for e in resp.items:
        table.add_row(e.id, str(e.index), _EXEC_STATUS.get(e.status, "?"), _when(e.start_at),
                      str(e.end_at - e.start_at) if e.end_at else "-", str(len(e.steps)), e.error[:200])
    console().print(table)


@app.command("execution")
def execution(
    automation_id: str = typer.Argument(..., help="The automation's id."),
    execution_id: str = typer.Argument(..., help="The execution's id."),
    api: str = API_OPT, key_env: str = KEY_OPT, as_json: bool = JSON_OPT,
) -> None:
    """One run with every step: inputs, output, log, error, timings, gas."""
    from hourglass_cli.wire.gen import avs_pb2 as pb

    e = Session(api, key_env).call("GetExecution", pb.ExecutionReq(task_id=automation_id, execution_id=execution_id))
    if as_json:
        _print_json(e)
        return
    typer.echo(f"execution {e.id} (run #{e.index}): {_EXEC_STATUS.get(e.status, '?')}"
               + (f" — {e.error}" if e.error else ""))
    _print_steps(e.steps)
    for step in e.steps:
        if step.log:
            typer.echo(f"--- log of {step.name or step.id}\n{step.log}")


@secret_app.command("set")
def secret_set(
    name: str = typer.Argument(..., help="The secret's name (apContext.configVars.NAME)."),
    value_env: str = typer.Option(None, "--value-env", help="Read the value from this environment variable "
                                                           "(default: stdin)."),
    workflow: str = typer.Option("", "--workflow", help="Only for this automation id (default: all of yours)."),
    api: str = API_OPT, key_env: str = KEY_OPT,
) -> None:
    """Create or replace a secret; the value comes from stdin or an environment variable, never an argument."""
    from hourglass_cli.wire.gen import avs_pb2 as pb

    if value_env:
        if value_env not in os.environ:
            raise UsageError(f"${value_env} is not set")
        value = os.environ[value_env]
    else:
        if sys.stdin.isatty():
            import getpass

            value = getpass.getpass(f"value of {name}: ")
        else:
            value = sys.stdin.read().rstrip("\n")
    session = Session(api, key_env)
    request = pb.CreateOrUpdateSecretReq(name=name, secret=value, workflow_id=workflow)
    import grpc

    try:
        session.client.call("CreateSecret", request)
        typer.echo(f"secret {name} created")
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise HourglassError(f"CreateSecret: {exc.details()}") from None
        session.call("UpdateSecret", request)
        typer.echo(f"secret {name} updated")


@secret_app.command("list")
def secret_list(api: str = API_OPT, key_env: str = KEY_OPT, as_json: bool = JSON_OPT) -> None:
    """Your secrets' names and scopes (values are never returned)."""
    from hourglass_cli.wire.gen import avs_pb2 as pb

    resp = Session(api, key_env).call("ListSecrets", pb.ListSecretsReq(include_timestamps=True, limit=1000))
    if as_json:
        _print_json(resp)
        return
    for s in resp.items:
        typer.echo(f"{s.name}\t{s.scope}{(' ' + s.workflow_id) if s.workflow_id else ''}\tupdated {_when(s.updated_at)}")


@secret_app.command("rm")
def secret_rm(name: str = typer.Argument(...), workflow: str = typer.Option("", "--workflow"),
              api: str = API_OPT, key_env: str = KEY_OPT) -> None:
    """Remove a secret."""
    from hourglass_cli.wire.gen import avs_pb2 as pb

    resp = Session(api, key_env).call("DeleteSecret", pb.DeleteSecretReq(name=name, workflow_id=workflow))
    typer.echo(f"{name}: {resp.message}")
    if not resp.success:
        raise typer.Exit(1)
