"""`hourglass api`: run the client API (AvaProtocol's aggregator.Aggregator wire) and manage its API keys."""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path

import typer

from hourglass_cli.cli._app import make_app
from hourglass_cli.errors import DevnetError, UsageError

app = make_app()
key_app = make_app()
app.add_typer(key_app, name="key", help="Create, list and revoke API keys (admin keys act for any wallet).")

_DURATION = re.compile(r"^(\d+)([smhdw]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class Role(str, Enum):
    admin = "admin"
    readonly = "readonly"


@app.callback()
def _group() -> None:
    """Run the client API (AvaProtocol's aggregator.Aggregator wire) and manage its API keys."""


def parse_duration(text: str) -> int:
    """Seconds of '90', '15m', '12h', '30d', '2w'."""
    match = _DURATION.match(text.strip().lower())
    if not match or int(match.group(1)) <= 0:
        raise UsageError(f"--expires {text!r} is not a duration", hint="write e.g. 3600, 15m, 12h, 30d or 2w")
    return int(match.group(1)) * _UNITS[match.group(2)]


def load_config(config: Path | None, project: Path | None = None):
    """The API config from --config (api.toml or the aggregator's config), or the running devnet's."""
    from hourglass_cli.api.config import load_api_config

    if config is not None:
        return load_api_config(config)
    state = devnet_api_state(project)
    return load_api_config(state["config"])


def devnet_api_state(project: Path | None = None) -> dict:
    """The client API entry of the running devnet's state (address, config, chain id, CLI key file)."""
    from hourglass_cli.devnet.state import devnet_dir, load_state, project_root

    root = project_root(project or Path.cwd())
    state = load_state(devnet_dir(root))
    if state is None or not state.is_running():
        raise DevnetError(f"no devnet is running in {root}",
                          hint="start one with `hourglass devnet start --detach`, or pass --config FILE")
    api = getattr(state, "api", None) or {}
    if not api.get("address"):
        raise DevnetError("the running devnet has no client API", hint="restart it with a current hourglass")
    return api


@app.command()
def run(
    config: Path = typer.Option(..., "--config", "-c", help="TOML file with an [api] section (api.toml).",
                                dir_okay=False),
) -> None:
    """Serve the client API on [api].host:[api].port (127.0.0.1:2206 by default) until SIGTERM."""
    from hourglass_cli.api.config import load_api_config
    from hourglass_cli.api.run import run_api

    run_api(load_api_config(config))


def _store_and_auth(config):
    from hourglass_cli.api.auth import Authenticator
    from hourglass_cli.api.store import SqliteApiStore

    api = config.api
    store = SqliteApiStore(config.store_path)
    auth = Authenticator(store, secret=config.jwt_secret(), chain_id=api.chain_id, issuer=api.token_issuer,
                         max_lifetime=api.max_token_lifetime, message_lifetime=api.signature_message_lifetime,
                         uri=api.message_uri)
    return store, auth


@key_app.command("create")
def key_create(
    subject: str = typer.Option(..., "--subject", help="The wallet (EOA) the key acts as; admin keys may act for "
                                                        "any wallet through GetKey."),
    role: Role = typer.Option(Role.admin, "--role", help="admin or readonly."),
    expires: str = typer.Option("30d", "--expires", help="Lifetime: seconds, or 15m, 12h, 30d, 2w."),
    label: str = typer.Option("", "--label", help="A note to find the key by in `api key list`."),
    config: Path = typer.Option(None, "--config", "-c", help="The API's config (default: the running devnet's)."),
    as_json: bool = typer.Option(False, "--json", help="Print {id, key, subject, expires_at} as JSON."),
) -> None:
    """Mint an API key: pass it to the SDK's authWithAPIKey, or as the authkey of any RPC. Shown once."""
    from eth_utils import is_hex_address

    if not is_hex_address(subject):
        raise UsageError(f"--subject {subject!r} is not an address", hint="give the wallet as 0x + 40 hex digits")
    seconds = parse_duration(expires)
    cfg = load_config(config)
    store, auth = _store_and_auth(cfg)
    try:
        key_id, key = auth.create_api_key(subject, (role.value,), seconds, label)
        row = store.api_key(key_id)
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps({"id": key_id, "key": key, "subject": row.subject, "roles": list(row.roles),
                               "expires_at": int(row.expires_at)}))
        return
    from hourglass_cli.cli._output import console

    console().print(f"[bold]API key {key_id}[/bold] for {row.subject} ({role.value}, expires in {expires})")
    typer.echo(key)


@key_app.command("list")
def key_list(
    config: Path = typer.Option(None, "--config", "-c", help="The API's config (default: the running devnet's)."),
    as_json: bool = typer.Option(False, "--json", help="Print the keys as JSON (never the keys themselves)."),
) -> None:
    """Every API key: id, subject, roles, expiry, revoked (the keys themselves are never stored)."""
    import time

    cfg = load_config(config)
    store, _ = _store_and_auth(cfg)
    try:
        rows = store.api_keys()
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([{"id": r.id, "subject": r.subject, "roles": list(r.roles), "label": r.label,
                                "created_at": int(r.created_at), "expires_at": int(r.expires_at),
                                "revoked_at": int(r.revoked_at) if r.revoked_at else None} for r in rows]))
        return
    from rich.table import Table

    from hourglass_cli.cli._output import console

    table = Table(title="API keys", title_justify="left")
    for column in ("id", "subject", "roles", "label", "expires", "state"):
        table.add_column(column)
    now = time.time()
    for r in rows:
        state = "revoked" if r.revoked_at else ("expired" if r.expires_at < now else "active")
        table.add_row(r.id, r.subject, ",".join(r.roles), r.label,
                      time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.expires_at)), state)
    console().print(table)


@key_app.command("revoke")
def key_revoke(
    key_id: str = typer.Argument(..., help="The key's id (ak_…, from `api key list`)."),
    config: Path = typer.Option(None, "--config", "-c", help="The API's config (default: the running devnet's)."),
) -> None:
    """Revoke an API key: it, and every token minted from it, stop working at once."""
    import time

    cfg = load_config(config)
    store, _ = _store_and_auth(cfg)
    try:
        known = store.api_key(key_id)
        if known is None:
            raise UsageError(f"no API key {key_id}", hint="`hourglass api key list` shows the ids")
        changed = store.revoke_api_key(key_id, time.time())
    finally:
        store.close()
    typer.echo(f"revoked {key_id}" if changed else f"{key_id} was already revoked")


secrets_app = make_app()
app.add_typer(secrets_app, name="secrets", help="Operate on the encrypted secrets store (key rotation).")


@secrets_app.command("rotate")
def secrets_rotate(
    config: Path = typer.Option(None, "--config", "-c", help="The API's config (default: the running devnet's)."),
) -> None:
    """Re-encrypt every secret under the newest key of [api].secrets_key_file / secrets_key_env.

    Rotation: put a new key on the first line (keep the old ones below), restart the API, run this, then drop the
    old keys."""
    from hourglass_cli.api.secrets import SecretBox

    cfg = load_config(config)
    store, _ = _store_and_auth(cfg)
    try:
        done = SecretBox(cfg.secrets_keys()).rotate(store)
    finally:
        store.close()
    typer.echo(f"re-encrypted {done} secret{'' if done == 1 else 's'} under the newest key")
