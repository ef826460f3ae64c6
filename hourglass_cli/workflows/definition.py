"""Workflow definition files (TOML) compiled to WorkflowStateMachine's `PhaseDefinition[]`.

```toml
name = "price-oracle"
authorized_triggers = ["0x…"]          # who may trigger CONDITIONAL phases (the creator always may)

[[phase]]
name = "monitor"
type = "continuous"                    # immediate | coordination | continuous | conditional | aggregation
interval = "30s"                       # continuous: one update task per interval …
updates = 3                            # … until this many are verified
timeout = "10m"                        # from the phase's start

[[phase]]
name = "agree"
type = "coordination"
depends_on = ["monitor"]               # earlier phases, by name
consensus = "66.67%"                   # signed stake share the certificate must reach

[[phase]]
name = "update"
type = "conditional"
depends_on = ["agree"]
condition = { price_above = 5000 }     # see CONDITIONS
trigger_from = "agree"                 # optional: the driver opens it with that phase's certified result
```

Every phase has `name`, `type` and `timeout`; `operator_set` (default 1; 0 for an AGGREGATION phase that
combines its dependencies' results without a task), `required_stake` (default 0) and `metadata` ("0x…", free
for types other than continuous) are optional. Every error names the file, the phase and the rule — the rules
are the contract's (shared/docs/WORKFLOWS.md), checked here first so nothing is sent that it would refuse.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from hourglass_cli.config import _suggest
from hourglass_cli.errors import ConfigError

PHASE_TYPES = ("immediate", "coordination", "continuous", "conditional", "aggregation")
CONDITION_TYPES = ("none", "price_threshold", "time_threshold", "data_hash", "multi_sig", "oracle_value")
MAX_PHASES, MAX_DEPENDENCIES, MAX_NAME = 50, 10, 64
_UINT32 = 2**32 - 1
_PHASE_KEYS = ("name", "type", "timeout", "depends_on", "operator_set", "consensus", "interval", "updates",
               "condition", "trigger_from", "required_stake", "metadata")
# A conditional phase's metadata when the driver opens it from an earlier phase's verified task (`trigger_from`):
# abi.encode(string TRIGGER_FROM, uint32 phaseIndex).
TRIGGER_FROM = "hourglass:trigger_from"
_TOP_KEYS = ("name", "authorized_triggers", "phase")
_DURATION = re.compile(r"(?:(\d+)\s*([smhd]))", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_OWNERS = {"consensus": "coordination", "interval": "continuous", "updates": "continuous", "condition": "conditional",
           "trigger_from": "conditional"}

# condition table → (type, how its data is encoded)
CONDITIONS = """condition tables: { none = true } (any authorized trigger), { price_above = N } or { price_below = N }
(abi uint256 trigger data), { not_before = <unix seconds or a TOML date-time> }, { data_hash = "0x<32 bytes>" },
{ signers = ["0x…", …], required = K } (K distinct signatures), { oracle_value = N, tolerance = T }"""


class WorkflowDefinitionError(ConfigError):
    """A workflow definition file breaks a rule."""

    default_hint = "see `hourglass workflow --help` and docs/workflows.md for the definition format"


@dataclass(frozen=True)
class PhaseDef:
    """One phase, as the contract's PhaseDefinition struct orders it."""

    name: str
    phase_type: int
    timeout: int
    dependencies: tuple[int, ...]
    trigger_condition: bytes
    operator_set_id: int
    metadata: bytes
    required_stake: int
    consensus_threshold: int

    def to_abi(self) -> tuple[Any, ...]:
        return (self.name, self.phase_type, self.timeout, list(self.dependencies), self.trigger_condition,
                self.operator_set_id, self.metadata, self.required_stake, self.consensus_threshold)


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str
    phases: tuple[PhaseDef, ...]
    authorized_triggers: tuple[str, ...] = ()
    source: str = ""
    names: dict[str, int] = field(default_factory=dict, compare=False)

    def phases_abi(self) -> list[tuple[Any, ...]]:
        return [p.to_abi() for p in self.phases]


def parse_duration(value: Any, where: str) -> int:
    """Seconds from 90, "90s", "10m", "1h30m", "2d"."""
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and value.strip():
        text = value.strip().replace(" ", "")
        if text.isdigit():
            seconds = int(text)
        else:
            parts = _DURATION.findall(text)
            if not parts or "".join(n + u for n, u in parts).lower() != text.lower():
                raise WorkflowDefinitionError(f"{where} must be a duration like 90, \"30s\", \"10m\" or \"1h30m\", "
                                              f"got {value!r}")
            seconds = sum(int(n) * _UNITS[u.lower()] for n, u in parts)
    else:
        raise WorkflowDefinitionError(f"{where} must be a duration like 90, \"30s\", \"10m\" or \"1h30m\", got {value!r}")
    if not 0 < seconds <= _UINT32:
        raise WorkflowDefinitionError(f"{where} must be more than 0 seconds (and fit 32 bits), got {value!r}")
    return seconds


def parse_percent(value: Any, where: str) -> int:
    """Basis points from "66.67%" (or a whole number of basis points, 6667)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            bips = round(float(value.strip()[:-1]) * 100)
        except ValueError:
            bips = -1
    elif isinstance(value, int) and not isinstance(value, bool):
        bips = value
    else:
        bips = -1
    if not 0 < bips <= 10_000:
        raise WorkflowDefinitionError(f"{where} must be a share above 0 and at most 100%, e.g. \"66.67%\" (or basis "
                                      f"points 1-10000), got {value!r}")
    return bips


def _uint(value: Any, where: str, maximum: int = 2**256 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise WorkflowDefinitionError(f"{where} must be a whole number from 0 to {maximum}, got {value!r}")
    return value


def _hex(value: Any, where: str, length: int | None = None) -> bytes:
    if not isinstance(value, str) or not re.fullmatch(r"0x(?:[0-9a-fA-F]{2})*", value):
        raise WorkflowDefinitionError(f"{where} must be 0x-hex bytes, got {value!r}")
    data = bytes.fromhex(value[2:])
    if length is not None and len(data) != length:
        raise WorkflowDefinitionError(f"{where} must be {length} bytes, got {len(data)}")
    return data


def _unknown(keys: Any, allowed: tuple[str, ...], where: str) -> None:
    for key in keys:
        if key not in allowed:
            raise WorkflowDefinitionError(f"{where}: unknown key '{key}'{_suggest(key, list(allowed))}; allowed: "
                                          f"{', '.join(allowed)}")


def encode_condition(table: Any, where: str) -> bytes:
    """A condition table → abi.encode(uint8 TriggerConditionType, bytes conditionData)."""
    from eth_abi import encode

    if not isinstance(table, dict) or not table:
        raise WorkflowDefinitionError(f"{where} must be a table; {CONDITIONS}")
    keys = set(table)

    def data(kind: str, types: list[str], values: list[Any]) -> bytes:
        return encode(["uint8", "bytes"], [CONDITION_TYPES.index(kind), encode(types, values)])

    if keys == {"none"} and table["none"] is True:
        return encode(["uint8", "bytes"], [0, b""])
    if keys in ({"price_above"}, {"price_below"}):
        (key,) = keys
        return data("price_threshold", ["uint256", "bool"], [_uint(table[key], f"{where}.{key}"),
                                                             key == "price_above"])
    if keys == {"not_before"}:
        value = table["not_before"]
        if isinstance(value, datetime):
            value = int((value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp())
        elif isinstance(value, date):
            value = int(datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp())
        return data("time_threshold", ["uint256"], [_uint(value, f"{where}.not_before")])
    if keys == {"data_hash"}:
        return data("data_hash", ["bytes32"], [_hex(table["data_hash"], f"{where}.data_hash", 32)])
    if keys == {"signers", "required"}:
        signers = table["signers"]
        if not isinstance(signers, list) or not signers or not all(isinstance(s, str) and _ADDRESS.fullmatch(s)
                                                                   for s in signers):
            raise WorkflowDefinitionError(f"{where}.signers must be a non-empty list of 0x addresses")
        if len({s.lower() for s in signers}) != len(signers):
            raise WorkflowDefinitionError(f"{where}.signers lists an address twice")
        required = _uint(table["required"], f"{where}.required", 255)
        if not 0 < required <= len(signers):
            raise WorkflowDefinitionError(f"{where}.required must be from 1 to the number of signers "
                                          f"({len(signers)}), got {required}")
        from eth_utils import to_checksum_address

        return data("multi_sig", ["address[]", "uint8"], [[to_checksum_address(s) for s in signers], required])
    if keys == {"oracle_value", "tolerance"}:
        return data("oracle_value", ["uint256", "uint256"], [_uint(table["oracle_value"], f"{where}.oracle_value"),
                                                             _uint(table["tolerance"], f"{where}.tolerance")])
    raise WorkflowDefinitionError(f"{where} {dict(table)!r} is not a condition; {CONDITIONS}")


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not 0 < len(value.encode()) <= MAX_NAME or any(
            not 0x20 <= ord(c) <= 0x7E or c in '"\\' for c in value):
        raise WorkflowDefinitionError(f"{where} must be 1-{MAX_NAME} printable ASCII characters without \" or \\, "
                                      f"got {value!r}")
    return value


def compile_definition(doc: dict[str, Any], file: str = "workflow.toml") -> WorkflowDefinition:
    """A parsed TOML document → WorkflowDefinition; WorkflowDefinitionError naming the file, phase and rule."""
    from eth_abi import encode

    _unknown(doc, _TOP_KEYS, file)
    name = _name(doc.get("name"), f"{file}: name")
    triggers = doc.get("authorized_triggers", [])
    if not isinstance(triggers, list) or not all(isinstance(t, str) and _ADDRESS.fullmatch(t) for t in triggers):
        raise WorkflowDefinitionError(f"{file}: authorized_triggers must be a list of 0x addresses")
    raw = doc.get("phase")
    if not isinstance(raw, list) or not raw:
        raise WorkflowDefinitionError(f"{file}: no phases — add one [[phase]] table per phase")
    if len(raw) > MAX_PHASES:
        raise WorkflowDefinitionError(f"{file}: {len(raw)} phases; a workflow has at most {MAX_PHASES}")
    names: dict[str, int] = {}
    phases: list[PhaseDef] = []
    for index, table in enumerate(raw):
        label = table.get("name") if isinstance(table, dict) and isinstance(table.get("name"), str) else f"#{index}"
        where = f"{file}: phase {index} ('{label}')"
        if not isinstance(table, dict):
            raise WorkflowDefinitionError(f"{where} must be a table ([[phase]])")
        _unknown(table, _PHASE_KEYS, where)
        phase_name = _name(table.get("name"), f"{where}: name")
        if phase_name in names:
            raise WorkflowDefinitionError(f"{where}: the name is also phase {names[phase_name]}'s; names are unique")
        kind = table.get("type")
        if kind not in PHASE_TYPES:
            raise WorkflowDefinitionError(f"{where}: type must be one of {', '.join(PHASE_TYPES)}, got {kind!r}")
        if "timeout" not in table:
            raise WorkflowDefinitionError(f"{where}: timeout is required (e.g. timeout = \"10m\"; the phase fails "
                                          "when it has not completed that long after it started)")
        timeout = parse_duration(table["timeout"], f"{where}: timeout")
        deps: list[int] = []
        depends = table.get("depends_on", [])
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise WorkflowDefinitionError(f"{where}: depends_on must be a list of phase names")
        for dep in depends:
            if dep not in names:
                later = any(isinstance(t, dict) and t.get("name") == dep for t in raw[index:])
                why = ("comes later: list phases so that each comes after the phases it depends on" if later else
                       f"is not a phase of this workflow{_suggest(dep, list(names))}")
                raise WorkflowDefinitionError(f"{where}: depends on '{dep}', which {why}")
            if names[dep] in deps:
                raise WorkflowDefinitionError(f"{where}: depends on '{dep}' twice")
            deps.append(names[dep])
        if len(deps) > MAX_DEPENDENCIES:
            raise WorkflowDefinitionError(f"{where}: {len(deps)} dependencies; at most {MAX_DEPENDENCIES}")
        default_set = 0 if kind == "aggregation" else 1
        operator_set = _uint(table.get("operator_set", default_set), f"{where}: operator_set", _UINT32)
        stake = _uint(table.get("required_stake", 0), f"{where}: required_stake")
        metadata = _hex(table["metadata"], f"{where}: metadata") if "metadata" in table else b""
        threshold, condition = 0, b""
        for key, owner in _OWNERS.items():
            if key in table and kind != owner:
                raise WorkflowDefinitionError(f"{where}: '{key}' is for {owner} phases, not {kind}")
        if kind == "coordination":
            if "consensus" not in table:
                raise WorkflowDefinitionError(f"{where}: consensus is required (e.g. consensus = \"66.67%\")")
            threshold = parse_percent(table["consensus"], f"{where}: consensus")
        elif kind == "continuous":
            for key in ("interval", "updates"):
                if key not in table:
                    raise WorkflowDefinitionError(f"{where}: {key} is required (e.g. interval = \"30s\", updates = 3)")
            if "metadata" in table:
                raise WorkflowDefinitionError(f"{where}: a continuous phase's metadata is its interval and updates")
            interval = parse_duration(table["interval"], f"{where}: interval")
            updates = _uint(table["updates"], f"{where}: updates", _UINT32)
            if updates == 0:
                raise WorkflowDefinitionError(f"{where}: updates must be at least 1")
            metadata = encode(["uint32", "uint32"], [interval, updates])
        elif kind == "conditional":
            if "condition" not in table:
                raise WorkflowDefinitionError(f"{where}: condition is required; {CONDITIONS}")
            condition = encode_condition(table["condition"], f"{where}: condition")
            if "trigger_from" in table:
                source = table["trigger_from"]
                if not isinstance(source, str) or source not in names or names[source] not in deps:
                    raise WorkflowDefinitionError(f"{where}: trigger_from must name one of this phase's dependencies "
                                                  f"(depends_on), got {source!r}")
                if "metadata" in table:
                    raise WorkflowDefinitionError(f"{where}: trigger_from is kept in the phase's metadata; give one")
                metadata = encode(["string", "uint32"], [TRIGGER_FROM, names[source]])
        if kind != "aggregation" and operator_set == 0:
            raise WorkflowDefinitionError(f"{where}: operator_set 0 (no task) is only for aggregation phases")
        names[phase_name] = index
        phases.append(PhaseDef(phase_name, PHASE_TYPES.index(kind), timeout, tuple(deps), condition, operator_set,
                               metadata, stake, threshold))
    return WorkflowDefinition(name, tuple(phases), tuple(triggers), file, names)


def trigger_from_metadata(metadata: bytes) -> int | None:
    """The source phase a conditional phase's metadata names (`trigger_from`), or None for other metadata."""
    from eth_abi import decode

    if not metadata:
        return None
    try:
        tag, index = decode(["string", "uint32"], bytes(metadata))
    except Exception:  # noqa: BLE001 - free metadata of another shape: not ours
        return None
    return int(index) if tag == TRIGGER_FROM else None


def trigger_source(phase: PhaseDef) -> int | None:
    """The phase whose verified task opens this conditional phase (`trigger_from`), or None."""
    if phase.phase_type != PHASE_TYPES.index("conditional"):
        return None
    return trigger_from_metadata(phase.metadata)


def uses_trigger_from(definition: WorkflowDefinition) -> bool:
    return any(trigger_source(p) is not None for p in definition.phases)


def load_definition(path: str | Path) -> WorkflowDefinition:
    """Read and compile a workflow definition file."""
    from hourglass_cli.config import read_toml

    p = Path(path)
    return compile_definition(read_toml(p, "give the workflow's definition file (TOML)"), str(p))


def loads_definition(text: str, file: str = "workflow.toml") -> WorkflowDefinition:
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise WorkflowDefinitionError(f"{file}: not valid TOML: {exc}") from None
    return compile_definition(doc, file)
