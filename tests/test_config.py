"""hourglass.toml: defaults, validation messages, and the documented example."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hourglass_cli.config import ProjectConfig, describe_schema, find_config, load_config, parse_config
from hourglass_cli.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_example_documents_every_key_with_its_default() -> None:
    example = tomllib.loads((ROOT / "hourglass.toml.example").read_text())
    for section, key, default, _doc in describe_schema():
        assert key in example.get(section, {}), f"[{section}].{key} missing from hourglass.toml.example"
        assert example[section][key] == default, f"[{section}].{key}: example shows a value other than the default"
    for section, table in example.items():
        for key in table:
            assert any(s == section and k == key for s, k, _, _ in describe_schema()), f"[{section}].{key} unknown"
    assert parse_config(example) == ProjectConfig()


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    p = tmp_path / "hourglass.toml"
    p.write_text("")
    cfg = load_config(p)
    assert cfg.devnet.operators == 4 and cfg.performer.runtime == "process" and cfg.path == p.resolve()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[devnet]\noperators = 'four'", "[devnet].operators must be a whole number"),
        ("[devnet]\noperators = 0", "[devnet].operators must be from 1 to 64"),
        ("[devnet]\nchain = 'geth'", "[devnet].chain must be one of 'auto', 'anvil', 'embedded'"),
        ("[devnet]\nopertors = 3", "unknown key 'opertors' in [devnet] (did you mean 'operators'?)"),
        ("[devnett]\n", "unknown section [devnett] (did you mean 'devnet'?)"),
        ("[project]\nname = 'My AVS'", "[project].name must be lowercase letters"),
        ("[performer]\nruntime = 'remote'", "[performer].address is required when runtime = 'remote'"),
        ("[performer]\nmemory = 'lots'", "[performer].memory must be a number with an optional k/m/g suffix"),
        ("[task]\nthreshold_bips = 10001", "[task].threshold_bips must be from 1 to 10000"),
        ("[devnet]\nl2 = 'yes'", "[devnet].l2 must be true or false"),
        ("[devnet]\noperators = 2\nstake_weights = [1, 2, 3]", "has 3 entries but [devnet].operators is 2"),
        ("devnet = 3", "[devnet] must be a table"),
        ("[devnet\n", "not valid TOML"),
    ],
)
def test_invalid_files_name_file_key_and_rule(tmp_path: Path, text: str, expected: str) -> None:
    p = tmp_path / "hourglass.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert str(p) in str(info.value)
    assert expected in str(info.value)
    assert info.value.hint


def test_missing_file_hints_at_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml")
    assert "no such file" in str(info.value) and "avs init" in (info.value.hint or "")


def test_float_fields_accept_ints_and_find_config_walks_up(tmp_path: Path) -> None:
    (tmp_path / "hourglass.toml").write_text("[performer]\nstartup_timeout = 5\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    found = find_config(sub)
    assert found == tmp_path / "hourglass.toml"
    assert load_config(found).performer.startup_timeout == 5.0
