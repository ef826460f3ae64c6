"""The client API's config: ``[api]`` in the aggregator's config file, or the whole of ``api.toml`` for
``hourglass api run --config api.toml``. Secrets (the JWT secret, the secrets-encryption key, the wallet
controller's key) come from files or environment variables, never from the file itself. A minimal file::

    [api]
    port = 2206                      # on 127.0.0.1 unless host says otherwise
    chain_id = 31337                 # the chain id signed messages and tokens must name
    rpc_url = "http://127.0.0.1:8545"
    jwt_secret_file = "api-jwt.secret"        # or jwt_secret_env (created with 0600 if the file is missing)
    secrets_key_file = "api-secrets.key"      # or secrets_key_env: AES-256 key(s) for secrets at rest
    entry_point = "0x…"              # ERC-4337 v0.6 EntryPoint and the SimpleAccountFactory of smart wallets
    wallet_factory = "0x…"
    controller_key_env = "HOURGLASS_API_CONTROLLER_KEY"   # signs UserOps for the wallets (or controller_keystore)
"""

from __future__ import annotations

import os
import secrets as _secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hourglass_cli.config import (
    ENV_NAME_RE,
    FileConfigMixin,
    URL_RE,
    URL_RULE,
    _build_section,
    _suggest,
    address_setting,
    read_toml,
    setting,
)
from hourglass_cli.errors import ConfigError

DEFAULT_PORT = 2206
_SECRET_KEYS = {"jwt_secret", "secret", "secrets_key", "controller_key", "private_key", "password"}


@dataclass(frozen=True)
class ApiSection:
    """[api]: the client API server (AvaProtocol's aggregator.Aggregator service)."""

    enabled: bool = setting(True, "Serve the client API (in the aggregator process: false leaves it off).")
    host: str = setting("127.0.0.1", "Address to bind (loopback unless you mean to expose it).")
    port: int = setting(DEFAULT_PORT, "gRPC port of the client API (0 = a free one).", min=0, max=65535)
    chain_id: int = setting(31337, "The chain id signed auth messages and tokens must name.", min=1,
                            max=2**53 - 1)
    store: str = setting("api.db", "SQLite file of wallets, automations, executions, secrets and keys "
                                   "(relative to this file).")
    jwt_secret_file: str = setting("api-jwt.secret", "File holding the HS256 secret of auth tokens (created, "
                                                     "mode 0600, when missing).")
    jwt_secret_env: str = setting("", "Environment variable holding the HS256 secret (used instead of "
                                      "jwt_secret_file when set).", pattern=ENV_NAME_RE,
                                  rule="an environment variable name")
    token_issuer: str = setting("hourglass", "The iss claim of the tokens this service mints.")
    max_token_lifetime: int = setting(86400, "Longest lifetime (seconds) of a token minted from a signed "
                                             "message; a longer Expire At is cut to this.", min=60,
                                      max=365 * 86400)
    signature_message_lifetime: int = setting(
        86400, "How long (seconds) a message from GetSignatureFormat stays valid to sign.", min=60,
        max=30 * 86400)
    message_uri: str = setting("https://app.avaprotocol.org", "The URI line of the message to sign.")
    secrets_key_file: str = setting("api-secrets.key", "File holding the AES-256-GCM key(s) of secrets at rest, "
                                                       "one hex key per line, newest first (created when missing).")
    secrets_key_env: str = setting("", "Environment variable holding the key(s), comma-separated, newest "
                                       "first (used instead of secrets_key_file when set).",
                                   pattern=ENV_NAME_RE, rule="an environment variable name")
    rpc_url: str = setting("", "JSON-RPC URL of the chain of wallets, contract reads and writes (empty: "
                               "no chain steps).", pattern=URL_RE, rule=URL_RULE)
    entry_point: str = address_setting("ERC-4337 v0.6 EntryPoint of the smart wallets.")
    wallet_factory: str = address_setting("SimpleAccountFactory-compatible factory of the smart wallets.")
    controller_key_env: str = setting("", "Environment variable holding the wallet controller's private key "
                                          "(signs UserOps).", pattern=ENV_NAME_RE,
                                      rule="an environment variable name")
    controller_keystore: str = setting("", "Web3 v3 keystore of the controller (password from "
                                           "controller_password_env).")
    controller_password_env: str = setting("HOURGLASS_KEYSTORE_PASSWORD", "Password variable of "
                                                                          "controller_keystore.",
                                           pattern=ENV_NAME_RE, rule="an environment variable name")
    bundler_url: str = setting("", "An external ERC-4337 bundler: not supported yet, must stay empty (the service "
                                   "bundles UserOps itself with handleOps).", pattern=URL_RE, rule=URL_RULE)
    task_mailbox: str = address_setting("TaskMailbox of HOURGLASS_TASK steps (empty: none).")
    avs_address: str = address_setting("AVS of HOURGLASS_TASK steps.")
    executor_operator_set_id: int = setting(1, "Executor operator set of HOURGLASS_TASK steps.", min=0,
                                            max=2**32 - 1)
    max_wallets_per_owner: int = setting(1000, "Smart wallets one owner may register (upstream: 5).", min=1,
                                         max=1_000_000)
    max_tasks_per_owner: int = setting(10_000, "Automations one owner may keep.", min=1, max=10_000_000)
    max_request_bytes: int = setting(4 * 1024 * 1024, "Largest request message accepted (bytes).",
                                     min=1024, max=64 * 1024 * 1024)
    max_nodes: int = setting(256, "Most nodes in one automation.", min=1, max=100_000)
    max_code_bytes: int = setting(256 * 1024, "Largest CUSTOM_CODE source, REST body or expression (bytes).",
                                  min=1024, max=16 * 1024 * 1024)
    requests_per_second: float = setting(50.0, "Sustained requests per second per user (token bucket).",
                                         min=0.1, max=1_000_000)
    burst: int = setting(200, "Requests a user may make at once before the rate applies.", min=1,
                         max=10_000_000)
    workers: int = setting(16, "Threads serving RPCs.", min=1, max=1024)
    engine_workers: int = setting(8, "Threads running steps of executions (shared by all users).", min=1,
                                  max=1024)
    step_timeout: float = setting(30.0, "Default seconds a step may take.", min=0.1, max=3600)
    js_timeout: float = setting(2.0, "Seconds a CUSTOM_CODE step's JavaScript may run.", min=0.01, max=600)
    js_memory_mb: int = setting(64, "Memory (MiB) a CUSTOM_CODE step's JavaScript may use.", min=4, max=4096)
    http_timeout: float = setting(10.0, "Seconds a REST_API / GRAPHQL_QUERY request may take.", min=0.1,
                                  max=600)
    allow_private_http: bool = setting(True, "REST_API / GRAPHQL_QUERY may call loopback and private "
                                             "addresses (a devnet needs it; turn off on a shared server).")


@dataclass(frozen=True)
class TriggersSection:
    """[api.triggers]: operators watch the automations' triggers (``aggregator.Node``); a quorum fires them."""

    enabled: bool = setting(True, "Serve aggregator.Node so operators watch time, cron, block and event triggers.")
    operator_set_id: int = setting(-1, "The AVS's operator set whose members watch (-1: [api].executor_operator_set_id).",
                                   min=-1, max=2**32 - 1)
    quorum: float = setting(2 / 3, "Share of the set's weight whose matching reports start an execution.",
                            min=0.01, max=1.0)
    redundancy: int = setting(0, "Operators assigned to watch each trigger (0: every connected member).",
                              min=0, max=10_000)
    auth_window: float = setting(60.0, "Seconds a signed stream/ping epoch may be off the server's clock.",
                                 min=1, max=3600)
    resend_seconds: float = setting(5.0, "Seconds before an unacknowledged message is sent again.", min=0.1,
                                    max=3600)
    max_report_bytes: int = setting(64 * 1024, "Largest trigger report accepted (bytes).", min=1024,
                                    max=16 * 1024 * 1024)
    reports_per_second: float = setting(200.0, "Sustained reports per second per operator (token bucket).",
                                        min=0.1, max=1_000_000)
    report_burst: int = setting(2000, "Reports an operator may send at once before the rate applies.", min=1,
                                max=10_000_000)
    default_cooldown: int = setting(300, "Seconds between two executions of an event trigger without "
                                         "cooldown_seconds (upstream's default).", min=0, max=86400 * 365)
    future_slack: float = setting(60.0, "Seconds (time triggers) or blocks (block triggers) a report may be "
                                        "ahead of the server.", min=0, max=86400)
    report_ttl: float = setting(3600.0, "Seconds reports that never reached a quorum are kept.", min=1,
                                max=86400 * 30)
    registry_ttl: float = setting(10.0, "Seconds the operator set's members and keys are cached.", min=0, max=3600)
    max_streams: int = setting(64, "Operator streams served at once (each holds a server thread).", min=1,
                               max=10_000)


@dataclass(frozen=True)
class ApiConfig(FileConfigMixin):
    """The [api] section with where its file lives (for relative paths and messages)."""

    api: ApiSection = field(default_factory=ApiSection)
    triggers: TriggersSection = field(default_factory=TriggersSection)
    path: Path | None = None
    file: str = "api.toml"

    @property
    def store_path(self) -> Path:
        return self.resolve(self.api.store)

    def _secret_from(self, env: str, file_key: str, *, what: str, make: bool) -> str:
        if env:
            value = os.environ.get(env, "")
            if not value.strip():
                raise ConfigError(f"{self.file}: ${env} (the {what}) is not set or empty",
                                  hint=f"export {env}=… or leave [api].{file_key.replace('_file', '_env')} empty "
                                       f"to use [api].{file_key}")
            return value.strip()
        path = self.resolve(getattr(self.api, file_key))
        if not path.exists() and make:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(_secrets.token_hex(32) + "\n")
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{self.file}: [api].{file_key} {path}: cannot read it ({type(exc).__name__})",
                              hint=f"point [api].{file_key} at a readable file") from None
        if not text:
            raise ConfigError(f"{self.file}: [api].{file_key} {path} is empty",
                              hint="delete it to have a new one made, or write the secret into it")
        return text

    def jwt_secret(self) -> bytes:
        """The HS256 secret of tokens (never logged)."""
        text = self._secret_from(self.api.jwt_secret_env, "jwt_secret_file", what="JWT secret", make=True)
        if len(text) < 32:
            raise ConfigError(f"{self.file}: the JWT secret is {len(text)} characters; at least 32 are needed",
                              hint="use a long random secret, e.g. `openssl rand -hex 32`")
        return text.encode()

    def secrets_keys(self) -> list[bytes]:
        """AES-256 keys of secrets at rest, newest first (the first encrypts, all decrypt)."""
        text = self._secret_from(self.api.secrets_key_env, "secrets_key_file", what="secrets key", make=True)
        keys = []
        for n, part in enumerate(p.strip() for p in text.replace(",", "\n").splitlines()):
            if not part:
                continue
            try:
                key = bytes.fromhex(part.removeprefix("0x"))
            except ValueError:
                key = b""
            if len(key) != 32:
                raise ConfigError(f"{self.file}: secrets key #{n + 1} is not 64 hex digits (an AES-256 key)",
                                  hint="make one with `openssl rand -hex 32`; list keys newest first")
            keys.append(key)
        return keys

    def controller_key(self) -> bytes | None:
        """The wallet controller's private key, or None when none is configured (then no chain writes)."""
        api = self.api
        if api.controller_keystore:
            from hourglass_cli.crypto.keystore import load_keystore

            password = os.environ.get(api.controller_password_env)
            if password is None:
                raise ConfigError(f"{self.file}: ${api.controller_password_env} (the controller keystore's "
                                  "password) is not set", hint=f"export {api.controller_password_env}=…")
            return load_keystore(self.resolve(api.controller_keystore), password).ecdsa_private_key()
        if not api.controller_key_env:
            return None
        value = os.environ.get(api.controller_key_env, "")
        text = value.strip().removeprefix("0x")
        if len(text) != 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
            raise ConfigError(f"{self.file}: ${api.controller_key_env} must hold the controller's private key as "
                              "64 hex digits" + (" (it is not set)" if not value else ""),
                              hint=f"export {api.controller_key_env}=0x…")
        return bytes.fromhex(text)


def parse_api_section(raw: Any, file: str, path: Path | None = None) -> ApiConfig:
    """Validate an [api] table."""
    if isinstance(raw, dict):
        leaked = sorted(_SECRET_KEYS & set(raw))
        if leaked:
            raise ConfigError(f"{file}: [api].{leaked[0]}: secrets must not be written in the config file",
                              hint="use jwt_secret_file / jwt_secret_env, secrets_key_file / secrets_key_env and "
                                   "controller_key_env / controller_keystore")
    triggers = TriggersSection()
    if isinstance(raw, dict) and "triggers" in raw:
        raw = dict(raw)
        triggers = _build_section(file, "api.triggers", TriggersSection, raw.pop("triggers"))
    section = _build_section(file, "api", ApiSection, raw)
    return ApiConfig(api=section, triggers=triggers, path=path, file=file)


def load_api_config(path: str | Path) -> ApiConfig:
    """Read ``api.toml`` (or any file with an ``[api]`` table, e.g. the aggregator's)."""
    p = Path(path)
    data = read_toml(p, "pass the API's config with --config FILE (`hourglass api run --help`)")
    if "api" not in data:
        raise ConfigError(f"{p}: no [api] section" + _suggest(next(iter(data), ""), ["api"]),
                          hint="write the client API's settings under [api]")
    return parse_api_section(data["api"], str(p), p.resolve())


def render_api_section(values: dict[str, Any]) -> str:
    """TOML text of an [api] table (checked by parsing it back)."""
    import json
    import tomllib

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return repr(v) if isinstance(v, (int, float)) else json.dumps(v)

    tables = {k: v for k, v in values.items() if isinstance(v, dict)}
    text = "[api]\n" + "".join(f"{k} = {value(v)}\n" for k, v in values.items() if k not in tables)
    for name, table in tables.items():
        text += f"\n[api.{name}]\n" + "".join(f"{k} = {value(v)}\n" for k, v in table.items())
    parse_api_section(tomllib.loads(text)["api"], "api.toml")
    return text
