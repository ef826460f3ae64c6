"""The `hourglass.toml` schema: typed sections, defaults in one place, validation with clear messages.

Every field is declared once with its default, its documentation and what is allowed; `load_config`
turns a file into a `ProjectConfig` or raises `ConfigError` naming the file, the key and the rule.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hourglass_cli.errors import ConfigError

CONFIG_FILENAME = "hourglass.toml"

_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_HOSTPORT_RE = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$")
_SIZE_RE = re.compile(r"^\d+(\.\d+)?[kmg]?$", re.IGNORECASE)

# Shared by the service configs (executor, aggregator) and the CLI's password handling.
DEFAULT_PASSWORD_ENV = "HOURGLASS_KEYSTORE_PASSWORD"
ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
ADDRESS_RULE = "0x followed by 40 hex digits"
URL_RE = re.compile(r"^(https?://\S+|\S+\.ipc)$")
URL_RULE = "an http(s):// URL or a .ipc path"
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Variables of hourglass's own (keystore passwords, the devnet's sending key, test switches): never a performer's.
OWN_ENV_PREFIX = "HOURGLASS_"


def check_performer_env(where: str, env: Any, pass_env: Any, forbidden: tuple[str, ...] = ()) -> None:
    """[performer].env (a table of strings) and .pass_env (names to copy from the executor's environment):
    ConfigError unless every name is a variable name that is not hourglass's own nor in `forbidden` (the
    executor's password variable)."""
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ConfigError(f"{where}.env must be a table of strings, got {env!r}")
    if not isinstance(pass_env, list) or not all(isinstance(n, str) for n in pass_env):
        raise ConfigError(f"{where}.pass_env must be a list of variable names, got {pass_env!r}")
    for key, names in (("env", list(env)), ("pass_env", pass_env)):
        for name in names:
            if not ENV_NAME_RE.match(name):
                raise ConfigError(f"{where}.{key}: {name!r} is not an environment variable name")
            if name.upper().startswith(OWN_ENV_PREFIX) or name in forbidden:
                raise ConfigError(f"{where}.{key}: {name} is the executor's own (a keystore password or key); "
                                  "a performer never gets it",
                                  hint="give the performer what it needs under another name")


def setting(default: Any, doc: str, *, choices: tuple[Any, ...] | None = None,
            min: float | None = None, max: float | None = None,
            pattern: re.Pattern[str] | None = None, rule: str | None = None) -> Any:
    """Declare a config field with its documentation and what is allowed."""
    meta = {"doc": doc, "choices": choices, "min": min, "max": max, "pattern": pattern, "rule": rule}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def address_setting(doc: str) -> Any:
    """A config field holding an Ethereum address (empty by default)."""
    return setting("", doc, pattern=ADDRESS_RE, rule=ADDRESS_RULE)


@dataclass(frozen=True)
class ProjectSection:
    """[project]: the AVS project itself."""

    name: str = setting("my-avs", "Project name: lowercase letters, digits and '-', starting with a letter.",
                        pattern=_NAME_RE, rule="lowercase letters, digits and '-', starting with a letter")
    version: str = setting("0.1.0", "Project version, free text.")


@dataclass(frozen=True)
class PerformerSection:
    """[performer]: how executors run the AVS's performer."""

    runtime: str = setting("process", "Where the performer runs.", choices=("process", "docker", "remote"))
    command: list = setting(["python", "-m", "performer"],
                            "process runtime: the command that serves the performer (gets PORT in its env).")
    image: str = setting("", "docker runtime: image tag to run; built from `dockerfile` when empty or missing.")
    dockerfile: str = setting("Dockerfile", "docker runtime: Dockerfile used by `hourglass avs build`.")
    address: str = setting("", "remote runtime: host:port of a performer someone else runs.",
                           rule="host:port", pattern=_HOSTPORT_RE)
    port: int = setting(0, "First port given to the devnet's performers, each executor's the next one (0 = a free "
                           "port for each, so two devnets never collide).", min=0, max=65535)
    startup_timeout: float = setting(30.0, "Seconds to wait for the performer's gRPC health to say SERVING.",
                                     min=0.1, max=600)
    task_timeout: float = setting(30.0, "Seconds a single ExecuteTask call may take.", min=0.1, max=3600)
    cpus: float = setting(0.0, "docker runtime: CPU limit (0 = no limit).", min=0, max=256)
    memory: str = setting("", "docker runtime: memory limit such as '512m' or '2g' (empty = no limit).",
                          rule="a number with an optional k/m/g suffix", pattern=_SIZE_RE)
    docker_host: str = setting("", "docker runtime: the dockerd `avs build`, the devnet and its executors use, e.g. "
                                   "'unix:///run/docker.sock' (empty = $DOCKER_HOST, else the default socket).")
    env: dict = setting({}, "Environment variables given to every performer (besides PORT, the RPC URLs and the "
                            "contract addresses).")
    pass_env: list = setting([], "Names of variables copied from the executor's environment into the performer's "
                                 "(nothing else of it is: never a keystore password).")


@dataclass(frozen=True)
class DevnetSection:
    """[devnet]: the local network `hourglass devnet start` brings up."""

    chain: str = setting("auto", "Chain backend: anvil when installed (auto), anvil, or the embedded py-evm chain.",
                         choices=("auto", "anvil", "embedded"))
    curve: str = setting("bn254", "Signature scheme of the executor operator set.", choices=("bn254", "ecdsa"))
    operators: int = setting(4, "Number of executor operators (each runs one executor).", min=1, max=64)
    chain_port: int = setting(0, "JSON-RPC port of the L1 chain (0 = pick a free one).", min=0, max=65535)
    chain_id: int = setting(31337, "Chain id of the L1 chain (eth_chainId, CHAINID, what transactions are signed "
                                   "for), e.g. 11155111 (Sepolia's) for clients that expect it; the L2 chain's is "
                                   "one more (one less at the top of the range).", min=1, max=2**53 - 1)
    l2: bool = setting(False, "Also start a second chain with the mailbox and verifiers deployed there.")
    block_time: float = setting(0.0, "Seconds between blocks (0 = mine on every transaction).", min=0, max=60)
    stake_weights: list = setting([], "Stake weight of each executor operator, in operator order: every set's, the "
                                      "sets in order (empty = all equal).")
    executor_sets: list = setting(
        [], "Executor operator sets, each a table: id (1 or more, unique; 0 is the aggregator's set), operators "
            "(default: operators above), curve (default: curve above), threshold (basis points; default: "
            "[task].threshold_bips), e.g. [{ id = 1, operators = 4, curve = \"bn254\" }, { id = 2, operators = 3, "
            "curve = \"ecdsa\" }] (empty = one set, id 1, of `operators` operators on `curve`).")
    block_gas_limit: int = setting(
        300_000_000, "Gas per block on the devnet's chains: room for ~200 KB task payloads and results (storing 32 "
                     "bytes costs ~22,000 gas); set your target chain's (Ethereum: 36M-60M) to see what fits there.",
        min=10_000_000, max=2**62)  # the workflow contract alone takes ~8.3M gas to deploy
    same_second_results: bool = setting(
        True, "Let a result land in its task's creation second, from the next block on (false: EigenLayer's rule, "
              "a later second, which costs ~0.5 s per task on a devnet).")


@dataclass(frozen=True)
class TaskSection:
    """[task]: the executor operator set's task configuration on the mailbox."""

    sla_seconds: int = setting(120, "Task SLA: seconds after creation before a task expires.", min=1, max=86400)
    threshold_bips: int = setting(6667, "Stake proportion (basis points) that must sign a result.",
                                  min=1, max=10000)
    result_abi: str = setting("", "ABI type list used to decode results for display, e.g. '(uint256)'.")


@dataclass(frozen=True)
class ProjectConfig:
    """The whole `hourglass.toml`."""

    project: ProjectSection = field(default_factory=ProjectSection)
    performer: PerformerSection = field(default_factory=PerformerSection)
    devnet: DevnetSection = field(default_factory=DevnetSection)
    task: TaskSection = field(default_factory=TaskSection)
    path: Path | None = None


_SECTIONS: dict[str, type] = {
    "project": ProjectSection,
    "performer": PerformerSection,
    "devnet": DevnetSection,
    "task": TaskSection,
}


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _check_value(where: str, f: dataclasses.Field, value: Any) -> Any:
    """Return the value converted to the field's type, or raise ConfigError saying what is allowed."""
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
    meta = f.metadata
    kind = type(default)
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be a whole number, got {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        value = float(value)
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
    elif kind is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
    elif kind is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table, got {value!r}")
    if meta.get("choices") and value not in meta["choices"]:
        allowed = ", ".join(repr(c) for c in meta["choices"])
        raise ConfigError(f"{where} must be one of {allowed}, got {value!r}")
    lo, hi = meta.get("min"), meta.get("max")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            def shown(bound: float) -> str:  # whole numbers as written (1000000, not 1e+06)
                return str(int(bound)) if float(bound).is_integer() else f"{bound:g}"

            raise ConfigError(f"{where} must be from {shown(lo)} to {shown(hi)}, got {value!r}")
    pattern = meta.get("pattern")
    if pattern is not None and isinstance(value, str) and value and not pattern.match(value):
        raise ConfigError(f"{where} must be {meta.get('rule') or pattern.pattern}, got {value!r}")
    return value


def _build_section(file: str, name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [{name}] must be a table, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(f"{file}: unknown key '{key}' in [{name}]{_suggest(key, list(fields))}; "
                              f"allowed keys: {', '.join(fields)}")
        values[key] = _check_value(f"{file}: [{name}].{key}", fields[key], value)
    return cls(**values)


def parse_config(data: dict[str, Any], file: str = CONFIG_FILENAME) -> ProjectConfig:
    """Validate a parsed TOML document into a ProjectConfig."""
    sections: dict[str, Any] = {}
    for name, raw in data.items():
        if name not in _SECTIONS:
            raise ConfigError(f"{file}: unknown section [{name}]{_suggest(name, list(_SECTIONS))}; "
                              f"allowed sections: {', '.join('[' + s + ']' for s in _SECTIONS)}")
        sections[name] = _build_section(file, name, _SECTIONS[name], raw)
    config = ProjectConfig(**sections)
    _check_cross_field(config, file)
    return config


def _check_cross_field(config: ProjectConfig, file: str) -> None:
    perf = config.performer
    check_performer_env(f"{file}: [performer]", perf.env, perf.pass_env)
    if perf.runtime == "remote" and not perf.address:
        raise ConfigError(f"{file}: [performer].address is required when runtime = 'remote'")
    if perf.runtime == "process" and not perf.command:
        raise ConfigError(f"{file}: [performer].command must not be empty when runtime = 'process'")
    if perf.runtime == "process" and not all(isinstance(a, str) for a in perf.command):
        raise ConfigError(f"{file}: [performer].command must be a list of strings")
    dev = config.devnet
    sets = executor_sets_of(dev, file)
    weights = dev.stake_weights
    if weights:
        total = sum(spec.operators for spec in sets) if sets else dev.operators
        if len(weights) != total:
            counted = (f"the executor sets have {total} operators" if sets else
                       f"[devnet].operators is {dev.operators}")
            raise ConfigError(f"{file}: [devnet].stake_weights has {len(weights)} entries but {counted}; give one "
                              "weight per operator")
        if not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in weights):
            raise ConfigError(f"{file}: [devnet].stake_weights must be positive whole numbers")


def executor_sets_of(devnet: DevnetSection, file: str = CONFIG_FILENAME, curve: str | None = None) -> tuple[Any, ...]:
    """[devnet].executor_sets as `operator_sets.ExecutorSetSpec`s (() when the key is empty: the single default set);
    entries without a curve get `curve` (default [devnet].curve), without operators [devnet].operators."""
    from hourglass_cli.operator_sets import parse_executor_sets

    try:
        return parse_executor_sets(devnet.executor_sets, f"{file}: [devnet].executor_sets",
                                   default_operators=devnet.operators, default_curve=curve or devnet.curve)
    except ValueError as exc:
        raise ConfigError(str(exc), hint="see `hourglass config example` for the form of executor_sets") from None


def read_toml(path: Path, missing_hint: str) -> dict[str, Any]:
    """A TOML file's document; ConfigError naming the file when it is missing, unreadable or not TOML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file", hint=missing_hint) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.__class__.__name__}: {exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib nests by recursion: `a = [[[[…` thousands deep
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None


def load_config(path: str | Path) -> ProjectConfig:
    """Read and validate a config file."""
    p = Path(path)
    data = read_toml(p, "run it in an AVS project (`hourglass avs init NAME` creates one), or give its folder "
                        "with -C FOLDER")
    config = parse_config(data, str(p))
    return dataclasses.replace(config, path=p.resolve())


def find_config(start: str | Path = ".") -> Path | None:
    """The nearest hourglass.toml at or above `start`, if any."""
    here = Path(start).resolve()
    for d in (here, *here.parents):
        candidate = d / CONFIG_FILENAME
        if candidate.is_file():
            return candidate
    return None


def describe_schema() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, doc) for every key: used to document and check hourglass.toml.example."""
    rows = []
    for section, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            rows.append((section, f.name, default, f.metadata["doc"]))
    return rows


class FileConfigMixin:
    """Path resolution and password reading shared by the service configs (executor, aggregator).

    Expects ``path`` (the file, or None), ``file`` (its name for messages) and ``keys`` with ``password_file`` and
    ``password_env``.
    """

    path: Path | None
    file: str
    keys: Any

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are resolved against."""
        return self.path.parent if self.path is not None else Path.cwd()

    def resolve(self, value: str) -> Path:
        """A path from the file, relative to the file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def read_password(self) -> str:
        """The keystore password from ``password_file`` or ``password_env`` (never logged)."""
        keys = self.keys
        if keys.password_file:
            path = self.resolve(keys.password_file)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"{self.file}: [keys].password_file {path}: cannot read it "
                                  f"({type(exc).__name__})") from None
            lines = text.splitlines()
            return lines[0] if lines else ""
        value = os.environ.get(keys.password_env)
        if value is None:
            raise ConfigError(f"{self.file}: the keystore password is in neither [keys].password_file nor "
                              f"${keys.password_env}",
                              hint=f"export {keys.password_env}=… or set [keys].password_file")
        return value
