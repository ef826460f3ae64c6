"""What a devnet is started with: hourglass.toml's [devnet]/[task]/[performer], CLI flags on top.

Also writes the per-operator executor config files (`hourglass_cli.executor.config` format) the
supervisor starts executors with. The keystore password never goes into a file: executors read it
from an environment variable the supervisor sets for them.
"""

from __future__ import annotations

import json
import sys
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from hourglass_cli.devnet.chains.chain_id import DEFAULT_CHAIN_ID, check_chain_id, l2_chain_id
from hourglass_cli.errors import UsageError
from hourglass_cli.operator_sets import ExecutorSetSpec, default_sets, total_operators

LOCALHOST = "127.0.0.1"
PASSWORD_ENV = "HOURGLASS_DEVNET_KEYSTORE_PASSWORD"
SQUARE_PERFORMER = "hourglass_cli.performer.examples.square:SquarePerformer"


def default_performer_command() -> list[str]:
    """The example square performer, served by this Python (`python -m hourglass_cli.performer SPEC`)."""
    return [sys.executable, "-m", "hourglass_cli.performer", SQUARE_PERFORMER]


@dataclass(frozen=True)
class DevnetOptions:
    """Everything the supervisor needs to bring a devnet up (JSON round-trips: no secrets)."""

    project_dir: str
    chain: str = "auto"
    curve: str = "bn254"  # the aggregator set's, and the executor sets' that name none
    operators: int = 4  # executor operators in all (every set's)
    chain_port: int = 0
    chain_id: int = DEFAULT_CHAIN_ID  # the L1 chain's; the L2's is l2_chain_id
    l2: bool = False
    block_time: float = 0.0
    block_gas_limit: int = 300_000_000
    stake_weights: tuple[int, ...] = ()
    same_second_results: bool = True
    task_sla: int = 120
    threshold_bips: int = 6667
    task_timeout: float = 30.0
    performer: dict[str, Any] = field(default_factory=dict)  # the executors' [performer] table
    performer_first_port: int = 0  # 0: each performer gets a free port
    ready_deadline_s: float = 120.0  # how long every component together may take to report ready
    config_file: str = ""
    executor_sets: tuple[ExecutorSetSpec, ...] = ()  # () = one set, id 1, of `operators` operators on `curve`

    @property
    def l2_chain_id(self) -> int:
        """The --l2 chain's id: next to the L1's, never the same (chain_id.l2_chain_id)."""
        return l2_chain_id(self.chain_id)

    def chain_id_of(self, role: str) -> int:
        """The chain id of the chain with `role` ("l1" | "l2")."""
        return self.l2_chain_id if role == "l2" else self.chain_id

    @property
    def sets(self) -> tuple[ExecutorSetSpec, ...]:
        """Every executor set the devnet creates, in order."""
        return self.executor_sets or default_sets(self.operators, self.curve)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["stake_weights"] = list(self.stake_weights)
        doc["executor_sets"] = [spec.to_json() for spec in self.executor_sets]
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> DevnetOptions:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in doc.items() if k in names}
        values["stake_weights"] = tuple(values.get("stake_weights", ()))
        values["executor_sets"] = tuple(ExecutorSetSpec.from_json(e) for e in values.get("executor_sets", ()))
        return cls(**values)


def _raw_table(path: Path | None, section: str) -> dict[str, Any]:
    """The keys a file really sets in [section] (the typed config cannot tell a default from a choice)."""
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    table = data.get(section, {})
    return table if isinstance(table, dict) else {}


def performer_table(config: Any, config_path: Path | None, project_dir: Path) -> tuple[dict[str, Any], int]:
    """The executors' [performer] table from hourglass.toml's [performer], and the first performer port.

    Without a `command` in hourglass.toml the devnet runs the example square performer; with `port` 0 (the
    default) every performer gets a free port (so two devnets never collide).
    """
    perf = config.performer
    raw = _raw_table(config_path, "performer")
    table: dict[str, Any] = {"runtime": perf.runtime, "startup_timeout": perf.startup_timeout}
    if perf.env:
        table["env"] = dict(perf.env)
    if perf.pass_env:
        table["pass_env"] = list(perf.pass_env)
    if perf.runtime == "process":
        table["command"] = list(perf.command) if "command" in raw else default_performer_command()
        table["cwd"] = str(project_dir)
    elif perf.runtime == "remote":
        table["address"] = perf.address
    else:  # docker: its own keys go through to the runtime; the image is the one `hourglass avs build` tags
        from hourglass_cli.scaffold.docker import default_image_tag

        table.update({"image": perf.image or default_image_tag(config.project.name),
                      "build_context": str(project_dir), "dockerfile": perf.dockerfile, "cpus": perf.cpus,
                      "memory": perf.memory})
        if perf.docker_host:
            table["docker_host"] = perf.docker_host
    return table, perf.port


def resolve_options(project_dir: str | Path, *, chain: str | None = None, curve: str | None = None,
                    operators: int | None = None, port: int | None = None, l2: bool | None = None,
                    chain_id: int | str | None = None) -> DevnetOptions:
    """hourglass.toml (if the project has one) with the given CLI flags on top."""
    from hourglass_cli.config import CONFIG_FILENAME, ProjectConfig, executor_sets_of, load_config

    project = Path(project_dir).resolve()
    path = project / CONFIG_FILENAME
    config = load_config(path) if path.is_file() else ProjectConfig()
    dev = config.devnet
    sets = executor_sets_of(dev, str(path), curve)  # --curve: the curve of the sets that name none
    if sets and operators is not None:
        raise UsageError(f"--operators sets the size of the single executor set, but {CONFIG_FILENAME} lists "
                         f"{len(sets)} executor sets",
                         hint="change `operators` in each entry of [devnet].executor_sets instead")
    n = total_operators(sets) if sets else (operators if operators is not None else dev.operators)
    if n < 1:
        raise UsageError(f"--operators must be at least 1, got {n}")
    weights = tuple(dev.stake_weights)
    if weights and len(weights) != n:
        raise UsageError(f"[devnet].stake_weights has {len(weights)} entries but the devnet has {n} operators",
                         hint="give one weight per operator, or leave stake_weights empty for equal stakes")
    performer, first_port = performer_table(config, path if path.is_file() else None, project)
    return DevnetOptions(
        project_dir=str(project),
        chain=chain or dev.chain,
        curve=curve or dev.curve,
        operators=n,
        chain_port=dev.chain_port if port is None else port,
        chain_id=dev.chain_id if chain_id is None else check_chain_id(chain_id),
        l2=dev.l2 if l2 is None else l2,
        block_time=dev.block_time,
        block_gas_limit=dev.block_gas_limit,
        stake_weights=weights,
        same_second_results=dev.same_second_results,
        task_sla=config.task.sla_seconds,
        threshold_bips=config.task.threshold_bips,
        task_timeout=config.performer.task_timeout,
        performer=performer,
        performer_first_port=first_port,
        ready_deadline_s=max(60.0, config.performer.startup_timeout + 60.0),
        config_file=str(path) if path.is_file() else "",
        executor_sets=tuple(sets),
    )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)  # strings and lists of strings: JSON is valid TOML here


def to_toml(sections: dict[str, dict[str, Any]]) -> str:
    """A flat TOML document (one level of tables)."""
    return "".join(f"[{name}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in body.items()) + "\n"
                   for name, body in sections.items())


def executor_config(*, operator: Any, deployment: Any, rpc_url: str, l2_rpc_url: str, port: int,
                    performer: dict[str, Any], performer_port: int, log_dir: Path, task_timeout: float,
                    l2_task_mailbox: str = "", triggers: str = "") -> str:
    """The TOML of one operator's executor (keys by path, password by env var name); `triggers`: the
    aggregator.Node address it watches automation triggers for (empty: it does not)."""
    perf = dict(performer)
    if perf.get("runtime") != "remote":
        perf["port"] = performer_port
    keys = {f"{operator.curve}_keystore": operator.keystore, "password_env": PASSWORD_ENV}
    return to_toml({
        "executor": {"operator_address": operator.address, "avs_address": deployment.avs, "host": LOCALHOST,
                     "port": port, "store": "executor.db", "log_dir": str(log_dir), "task_timeout": task_timeout},
        "keys": keys,
        "chain": {"rpc_url": rpc_url, "l2_rpc_url": l2_rpc_url},
        "contracts": {"key_registrar": deployment.key_registrar, "task_avs_registrar": deployment.task_avs_registrar,
                      "task_mailbox": deployment.task_mailbox,
                      "bn254_certificate_verifier": deployment.bn254_certificate_verifier,
                      "ecdsa_certificate_verifier": deployment.ecdsa_certificate_verifier,
                      **({"workflow_state_machine": deployment.workflow_state_machine}
                         if getattr(deployment, "workflow_state_machine", "") else {}),
                      **({"l2_task_mailbox": l2_task_mailbox} if l2_task_mailbox else {})},
        "performer": perf,
        **({"triggers": {"enabled": True, "aggregator": triggers, "operator_set_id": operator.operator_set_id}}
           if triggers else {}),
    })
