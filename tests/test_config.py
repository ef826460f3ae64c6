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


# ------------------------------------------------------------------ [devnet].executor_sets (issue #13)

SETS_TOML = '''
[devnet]
curve = "ecdsa"
operators = 2
executor_sets = [{ id = 1, operators = 4, curve = "bn254" }, { id = 2, operators = 3, curve = "ecdsa" },
                 { id = 3 }, { id = 7, operators = 1, threshold = 5000 }]
'''


def test_executor_sets_default_to_the_single_set() -> None:
    from hourglass_cli.config import executor_sets_of

    assert ProjectConfig().devnet.executor_sets == []
    assert executor_sets_of(ProjectConfig().devnet) == ()


def test_executor_sets_parse_with_defaults_from_operators_and_curve() -> None:
    from hourglass_cli.config import executor_sets_of
    from hourglass_cli.operator_sets import ExecutorSetSpec

    config = parse_config(tomllib.loads(SETS_TOML))
    assert executor_sets_of(config.devnet) == (
        ExecutorSetSpec(1, 4, "bn254"), ExecutorSetSpec(2, 3, "ecdsa"), ExecutorSetSpec(3, 2, "ecdsa"),
        ExecutorSetSpec(7, 1, "ecdsa", 5000))
    # --curve on the command line gives the curve of the sets that name none
    assert [s.curve for s in executor_sets_of(config.devnet, curve="bn254")] == ["bn254", "ecdsa", "bn254", "bn254"]


@pytest.mark.parametrize(("sets", "message"), [
    ('{ id = 1 }', "must be a list"),
    ('[1, 2]', "entry 1 must be a table"),
    ('[{ operators = 4 }]', "entry 1: id is required"),
    ('[{ id = 0 }]', "id 0 is the aggregator's operator set"),
    ('[{ id = -1 }]', "id must be from 1 to 4294967295"),
    ('[{ id = 4294967296 }]', "id must be from 1 to 4294967295"),
    ('[{ id = true }]', "id must be a whole number"),
    ('[{ id = "2" }]', "id must be a whole number"),
    ('[{ id = 1 }, { id = 2 }, { id = 1 }]', "two entries have id 1"),
    ('[{ id = 1, operators = 0 }]', "operators must be from 1 to 64"),
    ('[{ id = 1, operators = 65 }]', "operators must be from 1 to 64"),
    ('[{ id = 1, operators = 40 }, { id = 2, operators = 25 }]', "65 executor operators in all"),
    ('[{ id = 1, curve = "secp256r1" }]', "curve must be one of 'bn254', 'ecdsa'"),
    ('[{ id = 1, threshold = 0 }]', "threshold must be from 1 to 10000"),
    ('[{ id = 1, threshold = 10001 }]', "threshold must be from 1 to 10000"),
    ('[{ id = 1, threshold = 66.7 }]', "threshold must be a whole number"),
    ('[{ id = 1 }, { id = 2, operater = 3 }]', "entry 2: unknown key 'operater' (did you mean 'operators'?)"),
])
def test_bad_executor_sets_are_refused_naming_the_file_entry_and_rule(tmp_path: Path, sets: str,
                                                                      message: str) -> None:
    p = tmp_path / "hourglass.toml"
    p.write_text(f"[devnet]\nexecutor_sets = {sets}\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert message in info.value.message and str(p) in info.value.message
    assert "[devnet].executor_sets" in info.value.message


def test_stake_weights_count_every_sets_operators(tmp_path: Path) -> None:
    base = '[devnet]\nexecutor_sets = [{ id = 1, operators = 2 }, { id = 2, operators = 3 }]\n'
    p = tmp_path / "hourglass.toml"
    p.write_text(base + "stake_weights = [1, 2, 3, 4, 5]\n")
    assert load_config(p).devnet.stake_weights == [1, 2, 3, 4, 5]
    p.write_text(base + "stake_weights = [1, 2, 3, 4]\n")
    with pytest.raises(ConfigError, match="4 entries but the executor sets have 5 operators"):
        load_config(p)


def test_devnet_options_carry_the_sets(tmp_path: Path) -> None:
    from hourglass_cli.devnet.options import DevnetOptions, resolve_options
    from hourglass_cli.errors import UsageError
    from hourglass_cli.operator_sets import ExecutorSetSpec

    (tmp_path / "hourglass.toml").write_text(SETS_TOML)
    options = resolve_options(tmp_path)
    assert options.operators == 10 and options.curve == "ecdsa"
    assert [s.id for s in options.sets] == [1, 2, 3, 7] and options.sets[3] == ExecutorSetSpec(7, 1, "ecdsa", 5000)
    assert DevnetOptions.from_json(options.to_json()) == options
    with pytest.raises(UsageError, match="--operators sets the size of the single executor set"):
        resolve_options(tmp_path, operators=3)
    (tmp_path / "hourglass.toml").write_text("[devnet]\noperators = 3\n")
    single = resolve_options(tmp_path, operators=5, curve="ecdsa")
    assert single.executor_sets == () and single.sets == (ExecutorSetSpec(1, 5, "ecdsa"),)
    assert DevnetOptions.from_json(single.to_json()) == single


def test_a_block_gas_limit_too_small_to_deploy_the_devnet_is_refused_up_front(tmp_path: Path) -> None:
    """The devnet's contracts (the workflow contract alone ~8.3M gas) could not deploy below ~9M."""
    path = tmp_path / "hourglass.toml"
    path.write_text("[devnet]\nblock_gas_limit = 5_000_000\n")
    with pytest.raises(ConfigError, match=r"\[devnet\].block_gas_limit must be from 10000000"):
        load_config(path)
