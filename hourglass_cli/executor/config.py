"""The executor's config file (TOML), declared and checked like ``hourglass.toml`` (:mod:`hourglass_cli.config`).

Sections: ``[executor]`` (identity, listen address, limits, store), ``[keys]`` (keystore paths and where the
password comes from — never the password itself), ``[chain]``, ``[contracts]``, ``[performer]`` (runtime and
its settings; a ``docker`` runtime's own keys are passed through to ``runtimes.docker``), ``[triggers]`` (watching
the client API's triggers for the aggregator's Node service, off by default: docs/triggers-operator.md). Relative paths are
resolved against the config file's folder. Errors name the file, the key and the rule. A minimal file::

    [executor]
    operator_address = "0x…"          # this operator
    avs_address = "0x…"
    port = 9001
    [keys]
    bn254_keystore = "keys/executor-1.bn254.keystore.json"
    password_env = "HOURGLASS_KEYSTORE_PASSWORD"   # or password_file = "…"
    [chain]
    rpc_url = "http://127.0.0.1:8545"
    [contracts]
    key_registrar = "0x…"
    task_avs_registrar = "0x…"
    task_mailbox = "0x…"
    [performer]
    runtime = "process"
    command = ["python", "-m", "my_avs.performer"]
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hourglass_cli.config import (
    ADDRESS_RE,
    ADDRESS_RULE,
    DEFAULT_PASSWORD_ENV,
    ENV_NAME_RE,
    check_performer_env,
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

_HOSTPORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):\d{1,5}$")


@dataclass(frozen=True)
class ExecutorSection:
    """[executor]: who this executor is and how it serves."""

    operator_address: str = address_setting("The operator's address (its account in the executor operator set).")
    avs_address: str = address_setting("The AVS this executor serves; submissions for another AVS are refused.")
    host: str = setting("127.0.0.1", "Address ExecutorService listens on (0.0.0.0 for other machines).")
    port: int = setting(9001, "Port ExecutorService listens on (0 = a free one).", min=0, max=65535)
    task_timeout: float = setting(30.0, "Seconds the performer gets per task (less if the aggregator's "
                                        "deadline is sooner).", min=0.01, max=3600)
    block_wait: float = setting(5.0, "Seconds to wait for the task's block when the aggregator's chain view "
                                     "is ahead of ours.", min=0, max=600)
    store: str = setting("executor.db", "SQLite file of processed task ids (relative to this file).")
    log_dir: str = setting("logs", "Folder of the performer's log file (relative to this file).")
    workers: int = setting(32, "Submissions handled at once.", min=1, max=1024)


@dataclass(frozen=True)
class KeysSection:
    """[keys]: the operator's signing keys; give the keystore of the executor operator set's curve."""

    bn254_keystore: str = setting("", "EIP-2335 BN254 keystore (relative to this file).")
    ecdsa_keystore: str = setting("", "Web3 v3 ECDSA keystore of the signing key (relative to this file).")
    password_file: str = setting("", "File whose first line is the keystores' password.")
    password_env: str = setting(DEFAULT_PASSWORD_ENV, "Environment variable holding the password "
                                                      "(used when password_file is empty).",
                                pattern=ENV_NAME_RE, rule="an environment variable name")


@dataclass(frozen=True)
class ChainSection:
    """[chain]: where the executor reads keys and operator sets."""

    rpc_url: str = setting("", "JSON-RPC URL of the chain holding KeyRegistrar and TaskAVSRegistrar (L1).",
                           pattern=URL_RE, rule=URL_RULE)
    l2_rpc_url: str = setting("", "L2 JSON-RPC URL given to the performer as L2_RPC_URL (default: rpc_url).",
                              pattern=URL_RE, rule=URL_RULE)
    connect_timeout: float = setting(30.0, "Seconds to wait for the chain at start.", min=0.1, max=600)
    cache_seconds: float = setting(10.0, "How long aggregator keys and the AVS config are cached.",
                                   min=0, max=3600)


@dataclass(frozen=True)
class ContractsSection:
    """[contracts]: the Hourglass contracts (WIRE.md §3)."""

    key_registrar: str = address_setting("KeyRegistrar (operator keys).")
    task_avs_registrar: str = address_setting("The AVS's TaskAVSRegistrar (AvsConfig, operator sets).")
    task_mailbox: str = address_setting("TaskMailbox (given to the performer as TASK_MAILBOX).")
    l2_task_mailbox: str = address_setting("The L2's TaskMailbox, if tasks also come from an L2 ([chain].l2_rpc_url): "
                                    "such tasks are recognised there and checked against L1 membership.")
    workflow_state_machine: str = address_setting("WorkflowStateMachine (given to the performer as "
                                                  "WORKFLOW_STATE_MACHINE; empty: no workflows).")
    bn254_certificate_verifier: str = address_setting("BN254CertificateVerifier.")
    ecdsa_certificate_verifier: str = address_setting("ECDSACertificateVerifier (its address is in the ECDSA "
                                               "result digest; required for ECDSA operator sets).")


@dataclass(frozen=True)
class PerformerSection:
    """[performer]: how the AVS's performer runs. Other keys are the docker runtime's own."""

    runtime: str = setting("process", "process (run `command`), docker, or remote (`address`).",
                           choices=("process", "docker", "remote"))
    command: list = setting([], "process: the command serving the performer (gets PORT and the chain env).")
    cwd: str = setting("", "process: working folder (relative to this file; default: this file's folder).")
    env: dict = setting({}, "Extra environment variables for the performer (string values).")
    pass_env: list = setting([], "Names of variables copied from the executor's environment into the performer's; "
                                 "nothing else of it is (never the keystore password variable).")
    contracts: dict = setting({}, "AVS contracts given to the performer as <NAME_UPPER_SNAKE>=address.")
    port: int = setting(0, "Port the performer listens on (0 = a free one).", min=0, max=65535)
    address: str = setting("", "remote: host:port of a performer someone else runs.", pattern=_HOSTPORT,
                           rule="host:port, e.g. 127.0.0.1:8080")
    startup_timeout: float = setting(30.0, "Seconds to wait for the performer's health SERVING.", min=0.1, max=600)


@dataclass(frozen=True)
class TriggersSection:
    """[triggers]: watch the client API's triggers (time, cron, block, event) and report hits to its Node service."""

    enabled: bool = setting(False, "Run the trigger operator (needs `aggregator`).")
    aggregator: str = setting("", "host:port of the aggregator's Node service (insecure channel: loopback or a "
                                  "tunnel).", pattern=_HOSTPORT, rule="host:port, e.g. 127.0.0.1:2206")
    operator_set_id: int = setting(-1, "Operator set whose key signs reports (its curve picks the keystore); "
                                       "-1 = the AVS's first executor operator set.", min=-1, max=2**32 - 1)
    poll_interval: float = setting(0.5, "Seconds between chain-head polls for block and event triggers.",
                                   min=0.01, max=60)
    ping_interval: float = setting(15.0, "Seconds between check-ins (Ping).", min=0.1, max=3600)
    time_grace: float = setting(60.0, "Seconds in the past a fixed/cron time may be and still be reported when "
                                      "the task is received (a late joiner).", min=0, max=86400)
    max_events_per_block: int = setting(100, "Matching logs of one query in one block above which the task is "
                                             "reported as overloaded instead (when the query sets no limit).",
                                        min=1, max=1_000_000)
    reconnect_min: float = setting(1.0, "First wait (s) before reconnecting a failed stream; doubles per failure.",
                                   min=0.01, max=600)
    reconnect_max: float = setting(30.0, "Longest wait (s) between reconnects.", min=0.01, max=3600)
    event_monitoring: bool = setting(True, "Watch event triggers (a capability told to the aggregator).")
    block_monitoring: bool = setting(True, "Watch block triggers.")
    time_monitoring: bool = setting(True, "Watch fixed-time and cron triggers.")
    report_patience: float = setting(600.0, "Seconds a hit's report is retried while the aggregator is unreachable "
                                            "(a restart loses nothing).", min=0, max=86400)

    def client_settings(self) -> Any:
        """The OperatorClient's settings from this section."""
        from hourglass_cli.triggers.operator import TriggerSettings

        return TriggerSettings(poll_interval=self.poll_interval, ping_interval=self.ping_interval,
                               time_grace=self.time_grace, max_events_per_block=self.max_events_per_block,
                               reconnect_min=self.reconnect_min, reconnect_max=self.reconnect_max,
                               event_monitoring=self.event_monitoring, block_monitoring=self.block_monitoring,
                               time_monitoring=self.time_monitoring, report_patience=self.report_patience)


_SECTIONS: dict[str, type] = {
    "executor": ExecutorSection,
    "keys": KeysSection,
    "chain": ChainSection,
    "contracts": ContractsSection,
    "performer": PerformerSection,
    "triggers": TriggersSection,
}


@dataclass(frozen=True)
class ExecutorConfig(FileConfigMixin):
    """The whole executor config file."""

    executor: ExecutorSection = field(default_factory=ExecutorSection)
    keys: KeysSection = field(default_factory=KeysSection)
    chain: ChainSection = field(default_factory=ChainSection)
    contracts: ContractsSection = field(default_factory=ContractsSection)
    performer: PerformerSection = field(default_factory=PerformerSection)
    triggers: TriggersSection = field(default_factory=TriggersSection)
    performer_settings: dict = field(default_factory=dict)
    """The raw ``[performer]`` table (all keys, docker's included), for ``RuntimeClass.from_settings``."""
    path: Path | None = None
    file: str = "executor.toml"

def _check_performer(raw: Any, file: str) -> tuple[PerformerSection, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [performer] must be a table, got {raw!r}")
    known = {f.name for f in dataclasses.fields(PerformerSection)}
    runtime = raw.get("runtime", "process")
    # A docker runtime has keys of its own (image, …): its module checks them in from_settings.
    mine = {k: v for k, v in raw.items() if k in known} if runtime == "docker" else raw
    section = _build_section(file, "performer", PerformerSection, mine)
    where = f"{file}: [performer]"
    for key in ("env", "contracts"):
        table = getattr(section, key)
        if not isinstance(table, dict):
            raise ConfigError(f"{where}.{key} must be a table of strings, got {table!r}")
        for name, value in table.items():
            if not isinstance(value, str):
                raise ConfigError(f"{where}.{key}.{name} must be a string, got {value!r}")
            if key == "contracts" and not ADDRESS_RE.match(value):
                raise ConfigError(f"{where}.contracts.{name} must be {ADDRESS_RULE}, got {value!r}")
    if section.runtime == "process" and not (section.command and all(isinstance(a, str) and a for a in
                                                                      section.command)):
        raise ConfigError(f"{where}.command must be a non-empty list of strings when runtime = 'process'")
    if section.runtime == "remote" and not section.address:
        raise ConfigError(f"{where}.address is required when runtime = 'remote'")
    return section, dict(raw)


def _require(config: ExecutorConfig, file: str) -> None:
    required = (("executor", "operator_address"), ("executor", "avs_address"), ("chain", "rpc_url"),
                ("contracts", "key_registrar"), ("contracts", "task_avs_registrar"))
    for section, key in required:
        if not getattr(getattr(config, section), key):
            raise ConfigError(f"{file}: [{section}].{key} is required")
    if not (config.keys.bn254_keystore or config.keys.ecdsa_keystore):
        raise ConfigError(f"{file}: [keys] needs bn254_keystore or ecdsa_keystore (the executor operator set's "
                          "curve)")
    check_performer_env(f"{file}: [performer]", config.performer.env, config.performer.pass_env,
                        forbidden=(config.keys.password_env,))
    t = config.triggers
    if t.enabled and not t.aggregator:
        raise ConfigError(f"{file}: [triggers].aggregator is required when [triggers].enabled = true",
                          hint="the host:port of the client API's Node service, e.g. aggregator = \"127.0.0.1:2206\"")
    if t.reconnect_max < t.reconnect_min:
        raise ConfigError(f"{file}: [triggers].reconnect_max ({t.reconnect_max:g}) must be at least reconnect_min "
                          f"({t.reconnect_min:g})")
    if config.keys.ecdsa_keystore and not config.contracts.ecdsa_certificate_verifier:
        raise ConfigError(f"{file}: [contracts].ecdsa_certificate_verifier is required with an ECDSA key "
                          "(ECDSA result signatures are bound to the verifier's address)")


def parse_executor_config(data: dict[str, Any], file: str = "executor.toml", path: Path | None = None) -> ExecutorConfig:
    """Validate a parsed TOML document into an ExecutorConfig."""
    sections: dict[str, Any] = {}
    performer_settings: dict[str, Any] = {}
    for name, raw in data.items():
        if name not in _SECTIONS:
            raise ConfigError(f"{file}: unknown section [{name}]{_suggest(name, list(_SECTIONS))}; "
                              f"allowed sections: {', '.join('[' + s + ']' for s in _SECTIONS)}")
        if name == "keys" and isinstance(raw, dict) and "password" in raw:
            raise ConfigError(f"{file}: [keys].password: the password must not be written in the config file",
                              hint="put it in a file named by [keys].password_file, or in the environment "
                                   "variable named by [keys].password_env")
        if name == "performer":
            sections[name], performer_settings = _check_performer(raw, file)
        else:
            sections[name] = _build_section(file, name, _SECTIONS[name], raw)
    config = ExecutorConfig(**sections, performer_settings=performer_settings, path=path, file=file)
    _require(config, file)
    return config


def load_executor_config(path: str | Path) -> ExecutorConfig:
    """Read and validate an executor config file."""
    p = Path(path)
    data = read_toml(p, "pass the executor's config with --config FILE")
    return parse_executor_config(data, str(p), p.resolve())
