"""The aggregator's config file (TOML), declared and checked like the executor's.

Sections: ``[aggregator]`` (identity, limits, store, health/metrics port), ``[keys]`` (the signing key's
keystore, the transaction key, where the password comes from — never secrets themselves), ``[l1]`` (the
chain holding the AVS's TaskAVSRegistrar: executor sockets), and one ``[[chains]]`` table per chain whose
TaskMailbox is watched. Relative paths are resolved against the config file's folder. Errors name the file,
the key and the rule. A minimal file::

    [aggregator]
    operator_address = "0x…"          # the aggregator operator (aggregator operator set)
    avs_address = "0x…"
    metrics_port = 9090               # GET /healthz and /metrics on 127.0.0.1 (0 = a free one)
    [keys]
    bn254_keystore = "keys/aggregator.bn254.keystore.json"   # or ecdsa_keystore: signs TaskSubmissions
    tx_key_env = "HOURGLASS_AGGREGATOR_TX_KEY"               # or tx_keystore: sends submitResult
    password_file = "password.txt"                           # or password_env
    [l1]
    rpc_url = "http://127.0.0.1:8545"
    task_avs_registrar = "0x…"
    [[chains]]
    name = "l1"
    rpc_url = "http://127.0.0.1:8545"
    task_mailbox = "0x…"
    start_block = 0
    confirmations = 0
    poll_interval = 0.05
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hourglass_cli.config import (
    DEFAULT_PASSWORD_ENV,
    ENV_NAME_RE,
    URL_RE,
    URL_RULE,
    FileConfigMixin,
    _build_section,
    _suggest,
    address_setting,
    read_toml,
    setting,
)
from hourglass_cli.errors import ConfigError

_CHAIN_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class AggregatorSection:
    """[aggregator]: who this aggregator is and how much it does at once."""

    operator_address: str = address_setting("The aggregator operator's address (member of the AVS's aggregator set).")
    avs_address: str = address_setting("The AVS whose tasks this aggregator serves.")
    store: str = setting("aggregator.db", "SQLite file of blocks, tasks, responses and submissions "
                                          "(relative to this file).")
    host: str = setting("127.0.0.1", "Address of the health/metrics HTTP server.")
    metrics_port: int = setting(9090, "Port of GET /healthz and /metrics (0 = a free one).", min=0, max=65535)
    max_concurrent_tasks: int = setting(64, "Tasks in flight at once (more wait in a queue).", min=1, max=4096)
    executor_timeout: float = setting(0.0, "Seconds an executor call may take (0 = until the task's deadline).",
                                      min=0, max=86400)
    retry_interval: float = setting(0.5, "Seconds before an unreachable executor is called again (doubling, "
                                         "until the deadline).", min=0.01, max=600)
    socket_cache_seconds: float = setting(10.0, "How long executor sockets are cached.", min=0, max=3600)
    submit_attempts: int = setting(5, "Attempts at submitResult on transient errors (with backoff).",
                                   min=1, max=100)
    log_format: str = setting("text", "Log lines as key=value text or JSON.", choices=("text", "json"))
    project_artifacts: str = setting("", "An AVS project's compiled contracts (its contracts/out, relative to this "
                                         "file): reverts of its own contracts, e.g. its task hook, are named in "
                                         "logs and task failures (empty = only hourglass's contracts).")


@dataclass(frozen=True)
class KeysSection:
    """[keys]: the aggregator's signing key (aggregator operator set's curve) and transaction key."""

    bn254_keystore: str = setting("", "EIP-2335 BN254 keystore of the signing key (relative to this file).")
    ecdsa_keystore: str = setting("", "Web3 v3 ECDSA keystore of the signing key (relative to this file).")
    tx_keystore: str = setting("", "Web3 v3 keystore of the account that sends submitResult (same password).")
    tx_key_env: str = setting("", "Environment variable holding the sending account's private key (0x hex), "
                                  "used when tx_keystore is empty.", pattern=ENV_NAME_RE,
                              rule="an environment variable name")
    password_file: str = setting("", "File whose first line is the keystores' password.")
    password_env: str = setting(DEFAULT_PASSWORD_ENV, "Environment variable holding the password "
                                                      "(used when password_file is empty).",
                                pattern=ENV_NAME_RE, rule="an environment variable name")


@dataclass(frozen=True)
class L1Section:
    """[l1]: where the AVS's operators publish their executor sockets."""

    rpc_url: str = setting("", "JSON-RPC URL of the chain holding the TaskAVSRegistrar.", pattern=URL_RE,
                           rule=URL_RULE)
    task_avs_registrar: str = address_setting("The AVS's TaskAVSRegistrar (executor sockets).")
    connect_timeout: float = setting(30.0, "Seconds to wait for each chain at start.", min=0.1, max=600)


@dataclass(frozen=True)
class ChainSection:
    """[[chains]]: one chain whose TaskMailbox is watched for the AVS's tasks."""

    name: str = setting("", "A short name for logs and metrics (lowercase letters, digits, '-', '_').",
                        pattern=_CHAIN_NAME, rule="lowercase letters, digits, '-' or '_', starting with a letter")
    rpc_url: str = setting("", "JSON-RPC URL of the chain.", pattern=URL_RE, rule=URL_RULE)
    task_mailbox: str = address_setting("TaskMailbox on this chain (its certificate verifiers are read from it).")
    workflow_state_machine: str = address_setting(
        "WorkflowStateMachine on this chain, driven by this aggregator (empty: no workflows here).")
    start_block: int = setting(0, "First block to scan when the store has none for this chain.", min=0)
    confirmations: int = setting(0, "Blocks a task's block must be buried under before it is served.",
                                 min=0, max=1000)
    poll_interval: float = setting(0.05, "Seconds between looks at the chain head.", min=0.001, max=600)
    max_block_range: int = setting(2000, "Most blocks one eth_getLogs call covers (catch-up goes in steps).",
                                   min=1, max=1_000_000)
    reorg_depth: int = setting(64, "How many recent head checkpoints are kept to find a fork point.",
                               min=1, max=100_000)


_SECTIONS: dict[str, type] = {"aggregator": AggregatorSection, "keys": KeysSection, "l1": L1Section}


@dataclass(frozen=True)
class AggregatorConfig(FileConfigMixin):
    """The whole aggregator config file."""

    aggregator: AggregatorSection = field(default_factory=AggregatorSection)
    keys: KeysSection = field(default_factory=KeysSection)
    l1: L1Section = field(default_factory=L1Section)
    chains: tuple[ChainSection, ...] = ()
    path: Path | None = None
    file: str = "aggregator.toml"
    api: Any = None  # the client API's ApiConfig when the file has an [api] section (hourglass_cli.api.config)

    def read_tx_key(self) -> bytes:
        """The sending account's private key, from ``tx_keystore`` or ``tx_key_env`` (never logged)."""
        keys = self.keys
        if keys.tx_keystore:
            from hourglass_cli.crypto.keystore import load_keystore

            return load_keystore(self.resolve(keys.tx_keystore), self.read_password()).ecdsa_private_key()
        value = os.environ.get(keys.tx_key_env, "")
        text = value.strip().removeprefix("0x")
        if len(text) != 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
            raise ConfigError(f"{self.file}: ${keys.tx_key_env} must hold the sending account's private key as "
                              "64 hex digits" + (" (it is not set)" if not value else ""),
                              hint=f"export {keys.tx_key_env}=0x… or set [keys].tx_keystore")
        return bytes.fromhex(text)


def _parse_chains(raw: Any, file: str) -> tuple[ChainSection, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(c, dict) for c in raw):
        raise ConfigError(f"{file}: [[chains]] must be one or more tables (write [[chains]] per chain)")
    chains = []
    for i, table in enumerate(raw):
        chain = _build_section(file, f"chains.{i}", ChainSection, table)
        for key in ("name", "rpc_url", "task_mailbox"):
            if not getattr(chain, key):
                raise ConfigError(f"{file}: [[chains]] #{i + 1}: {key} is required")
        chains.append(chain)
    names = [c.name for c in chains]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ConfigError(f"{file}: two [[chains]] are named {duplicate!r}; chain names must be unique")
    return tuple(chains)


def _require(config: AggregatorConfig, file: str) -> None:
    for section, key in (("aggregator", "operator_address"), ("aggregator", "avs_address"), ("l1", "rpc_url"),
                         ("l1", "task_avs_registrar")):
        if not getattr(getattr(config, section), key):
            raise ConfigError(f"{file}: [{section}].{key} is required")
    keys = config.keys
    if bool(keys.bn254_keystore) == bool(keys.ecdsa_keystore):
        raise ConfigError(f"{file}: [keys] needs exactly one of bn254_keystore or ecdsa_keystore (the aggregator "
                          "operator set's curve)")
    if not (keys.tx_keystore or keys.tx_key_env):
        raise ConfigError(f"{file}: [keys] needs tx_keystore or tx_key_env (the account that sends submitResult)")
    if not config.chains:
        raise ConfigError(f"{file}: at least one [[chains]] table is required (the chains whose mailbox to watch)")


def parse_aggregator_config(data: dict[str, Any], file: str = "aggregator.toml",
                            path: Path | None = None) -> AggregatorConfig:
    """Validate a parsed TOML document into an AggregatorConfig."""
    sections: dict[str, Any] = {}
    chains: tuple[ChainSection, ...] = ()
    allowed = [*_SECTIONS, "chains", "api"]
    api = None
    for name, raw in data.items():
        if name == "chains":
            chains = _parse_chains(raw, file)
            continue
        if name == "api":
            from hourglass_cli.api.config import parse_api_section

            api = parse_api_section(raw, file, path)
            continue
        if name not in _SECTIONS:
            raise ConfigError(f"{file}: unknown section [{name}]{_suggest(name, allowed)}; allowed sections: "
                              "[aggregator], [keys], [l1], [[chains]], [api]")
        if name == "keys" and isinstance(raw, dict) and ({"password", "tx_key", "private_key"} & set(raw)):
            raise ConfigError(f"{file}: [keys]: secrets must not be written in the config file",
                              hint="use password_file / password_env and tx_keystore / tx_key_env")
        sections[name] = _build_section(file, name, _SECTIONS[name], raw)
    config = AggregatorConfig(**sections, chains=chains, path=path, file=file, api=api)
    _require(config, file)
    return config


def load_aggregator_config(path: str | Path) -> AggregatorConfig:
    """Read and validate an aggregator config file."""
    p = Path(path)
    data = read_toml(p, "pass the aggregator's config with --config FILE")
    return parse_aggregator_config(data, str(p), p.resolve())


def render_aggregator_config(*, operator_address: str, avs_address: str, keystore: str, curve: str,
                             tx_keystore: str = "", tx_key_env: str = "", password_file: str = "",
                             password_env: str = DEFAULT_PASSWORD_ENV, l1_rpc_url: str, task_avs_registrar: str,
                             chains: list[dict[str, Any]], api: dict[str, Any] | None = None,
                             **aggregator: Any) -> str:
    """The TOML text of an aggregator config (for a supervisor writing one); checked by parsing it back.

    `chains`: one dict per chain with name, rpc_url, task_mailbox and optionally start_block, confirmations,
    poll_interval, max_block_range, reorg_depth. `aggregator`: any other [aggregator] key (store, metrics_port…).
    """
    import json

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return repr(v) if isinstance(v, (int, float)) else json.dumps(v)

    keys: dict[str, Any] = {f"{curve}_keystore": keystore, "password_env": password_env}
    keys.update({k: v for k, v in (("tx_keystore", tx_keystore), ("tx_key_env", tx_key_env),
                                   ("password_file", password_file)) if v})
    sections: list[tuple[str, dict[str, Any]]] = [
        ("[aggregator]", {"operator_address": operator_address, "avs_address": avs_address, **aggregator}),
        ("[keys]", keys), ("[l1]", {"rpc_url": l1_rpc_url, "task_avs_registrar": task_avs_registrar}),
        *(("[[chains]]", chain) for chain in chains), *((("[api]", api),) if api is not None else ())]
    text = "\n".join(head + "\n" + "".join(f"{k} = {value(v)}\n" for k, v in body.items()) for head, body in sections)
    parse_aggregator_config(tomllib.loads(text))  # fail here, not in the aggregator, if a value is wrong
    return text
