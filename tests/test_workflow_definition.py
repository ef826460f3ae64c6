"""Workflow definition files: TOML with names and human units compiled to PhaseDefinition[], and every rule's
error naming the file, the phase and the rule (issue #13)."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_abi import decode

from hourglass_cli.errors import ConfigError
from hourglass_cli.workflows.definition import (
    WorkflowDefinitionError,
    load_definition,
    loads_definition,
    parse_duration,
    parse_percent,
)

ORACLE = '''
name = "price-oracle"
authorized_triggers = ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]

[[phase]]
name = "monitor"
type = "continuous"
interval = "30s"
updates = 3
timeout = "10m"

[[phase]]
name = "agree"
type = "coordination"
depends_on = ["monitor"]
consensus = "66.67%"
timeout = "5m"

[[phase]]
name = "update"
type = "conditional"
depends_on = ["agree"]
condition = { price_above = 5000 }
timeout = "1h"

[[phase]]
name = "combine"
type = "aggregation"
depends_on = ["monitor", "update"]
timeout = 600
'''


def test_the_oracle_example_compiles_to_the_contracts_structs() -> None:
    wf = loads_definition(ORACLE)
    assert wf.name == "price-oracle" and wf.names == {"monitor": 0, "agree": 1, "update": 2, "combine": 3}
    monitor, agree, update, combine = wf.phases
    assert (monitor.phase_type, monitor.timeout, monitor.operator_set_id) == (2, 600, 1)
    assert decode(["uint32", "uint32"], monitor.metadata) == (30, 3)
    assert (agree.phase_type, agree.dependencies, agree.consensus_threshold) == (1, (0,), 6667)
    kind, data = decode(["uint8", "bytes"], update.trigger_condition)
    assert kind == 1 and decode(["uint256", "bool"], data) == (5000, True)
    assert (combine.phase_type, combine.dependencies, combine.operator_set_id) == (4, (0, 2), 0)
    assert wf.phases_abi()[1] == ("agree", 1, 300, [0], b"", 1, b"", 0, 6667)


@pytest.mark.parametrize("text, seconds", [(90, 90), ("90", 90), ("30s", 30), ("10m", 600), ("1h30m", 5400),
                                           ("2d", 172800), ("1H 5M", 3900)])
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text, "x") == seconds


@pytest.mark.parametrize("text, bips", [("66.67%", 6667), ("100%", 10000), ("0.01%", 1), (5000, 5000)])
def test_percentages(text: object, bips: int) -> None:
    assert parse_percent(text, "x") == bips


@pytest.mark.parametrize("condition, kind, types, values", [
    ("{ none = true }", 0, None, None),
    ("{ price_below = 7 }", 1, ["uint256", "bool"], (7, False)),
    ("{ not_before = 1700000000 }", 2, ["uint256"], (1700000000,)),
    ("{ not_before = 2024-01-01T00:00:00Z }", 2, ["uint256"], (1704067200,)),
    ('{ data_hash = "0x' + "ab" * 32 + '" }', 3, ["bytes32"], (b"\xab" * 32,)),
    ('{ signers = ["0x' + "11" * 20 + '", "0x' + "22" * 20 + '"], required = 2 }', 4, ["address[]", "uint8"],
     (("0x" + "11" * 20, "0x" + "22" * 20), 2)),
    ("{ oracle_value = 100, tolerance = 5 }", 5, ["uint256", "uint256"], (100, 5)),
])
def test_each_condition_type_encodes(condition: str, kind: int, types: list[str] | None, values: tuple) -> None:
    text = f'name = "w"\n[[phase]]\nname = "c"\ntype = "conditional"\ntimeout = "1m"\ncondition = {condition}\n'
    got_kind, data = decode(["uint8", "bytes"], loads_definition(text).phases[0].trigger_condition)
    assert got_kind == kind
    if types is None:
        assert data == b""
    else:
        got = decode(types, data)
        assert tuple(v.lower() if isinstance(v, str) else tuple(x.lower() for x in v) if isinstance(v, tuple) else v
                     for v in got) == values


PHASE = 'name = "w"\n[[phase]]\nname = "a"\ntype = "immediate"\ntimeout = "1m"\n'


@pytest.mark.parametrize("text, message", [
    ('name = "w"\n', "no phases"),
    (PHASE + '[[phase]]\nname = "b"\ntype = "immediate"\ntimeout = "1m"\ndepends_on = ["c"]\n'
             '[[phase]]\nname = "c"\ntype = "immediate"\ntimeout = "1m"\n',
     "phase 1 ('b'): depends on 'c', which comes later"),
    (PHASE + '[[phase]]\nname = "b"\ntype = "immediate"\ntimeout = "1m"\ndepends_on = ["aa"]\n',
     "phase 1 ('b'): depends on 'aa', which is not a phase of this workflow (did you mean 'a'?)"),
    (PHASE.replace('timeout = "1m"', 'timeout = "0s"'), "phase 0 ('a'): timeout must be more than 0 seconds"),
    (PHASE.replace('timeout = "1m"\n', ''), "phase 0 ('a'): timeout is required"),
    (PHASE.replace('timeout = "1m"', 'timeout = "soon"'), "timeout must be a duration like"),
    (PHASE.replace('"immediate"', '"coordination"'), "phase 0 ('a'): consensus is required"),
    (PHASE.replace('"immediate"', '"coordination"') + 'consensus = "120%"', "consensus must be a share above 0"),
    (PHASE.replace('"immediate"', '"coordination"') + 'consensus = "0%"', "consensus must be a share above 0"),
    (PHASE.replace('"immediate"', '"continuous"') + 'interval = "5s"\n', "phase 0 ('a'): updates is required"),
    (PHASE.replace('"immediate"', '"continuous"') + 'interval = "5s"\nupdates = 0\n', "updates must be at least 1"),
    (PHASE.replace('"immediate"', '"conditional"'), "phase 0 ('a'): condition is required"),
    (PHASE.replace('"immediate"', '"conditional"') + "condition = { price_above = -1 }",
     "condition.price_above must be a whole number"),
    (PHASE.replace('"immediate"', '"conditional"') + 'condition = { price_near = 5 }', "is not a condition"),
    (PHASE.replace('"immediate"', '"conditional"') + 'condition = { signers = ["0x' + "11" * 20 + '"], required = 2 }',
     "required must be from 1 to the number of signers (1)"),
    (PHASE + 'consensus = "50%"\n', "'consensus' is for coordination phases, not immediate"),
    (PHASE.replace('"immediate"', '"sometimes"'), "type must be one of immediate, coordination"),
    (PHASE + 'timout = "1m"\n', "unknown key 'timout' (did you mean 'timeout'?)"),
    (PHASE + '[[phase]]\nname = "a"\ntype = "immediate"\ntimeout = "1m"\n', "the name is also phase 0's"),
    (PHASE.replace('name = "a"', 'name = "a\\"b"'), "name must be 1-64 printable ASCII"),
    (PHASE + "operator_set = 0\n", "operator_set 0 (no task) is only for aggregation phases"),
    (PHASE + 'depends_on = ["a"]\n', "phase 0 ('a'): depends on 'a', which comes later"),
    ('name = "w"\n' + "".join(f'[[phase]]\nname = "p{i}"\ntype = "immediate"\ntimeout = 1\n' for i in range(51)),
     "51 phases; a workflow has at most 50"),
    ("name = [", "not valid TOML"),
])
def test_every_rule_names_the_file_the_phase_and_the_rule(text: str, message: str) -> None:
    with pytest.raises(WorkflowDefinitionError) as info:
        loads_definition(text, "oracle.toml")
    assert str(info.value).startswith("oracle.toml"), str(info.value)
    assert message in str(info.value), str(info.value)


def test_more_than_ten_dependencies_is_refused() -> None:
    phases = "".join(f'[[phase]]\nname = "p{i}"\ntype = "immediate"\ntimeout = 1\n' for i in range(11))
    deps = ", ".join(f'"p{i}"' for i in range(11))
    text = f'name = "w"\n{phases}[[phase]]\nname = "all"\ntype = "aggregation"\ntimeout = 1\ndepends_on = [{deps}]\n'
    with pytest.raises(WorkflowDefinitionError, match="phase 11 \\('all'\\): 11 dependencies; at most 10"):
        loads_definition(text)


def test_a_file_is_read_and_a_missing_one_is_named(tmp_path: Path) -> None:
    path = tmp_path / "oracle.toml"
    path.write_text(ORACLE)
    assert load_definition(path).name == "price-oracle"
    with pytest.raises(ConfigError, match="no such file"):
        load_definition(tmp_path / "missing.toml")


def test_trigger_from_names_a_dependency_and_is_kept_in_the_metadata() -> None:
    from hourglass_cli.workflows.definition import TRIGGER_FROM

    text = ORACLE.replace("condition = { price_above = 5000 }", 'condition = { price_above = 5000 }\n'
                                                                'trigger_from = "agree"')
    update = loads_definition(text).phases[2]
    assert decode(["string", "uint32"], update.metadata) == (TRIGGER_FROM, 1)
    with pytest.raises(WorkflowDefinitionError, match="trigger_from must name one of this phase's dependencies"):
        loads_definition(ORACLE.replace("condition = { price_above = 5000 }",
                                        'condition = { price_above = 5000 }\ntrigger_from = "monitor"'))


def test_the_templates_example_workflow_compiles() -> None:
    example = Path(__file__).resolve().parents[1] / "templates" / "python" / "workflows" / "price-oracle.toml"
    wf = load_definition(example)
    assert [p.name for p in wf.phases] == ["monitor", "agree", "update", "summary"]
