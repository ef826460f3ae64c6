"""Fuzzing config parsing: the project's hourglass.toml, the executor's and the aggregator's config files.

A valid file of each kind is mutated — any value replaced by a TOML value of another type or shape (strings
of any content, huge or negative numbers, floats, booleans, dates, arrays, tables), keys removed, unknown keys
and sections added — or its text truncated or replaced by random bytes. Loading must give a config or raise a
ConfigError that names the file (an error the CLI prints with its hint); never another exception.
"""

from __future__ import annotations

import copy
import datetime
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import given
from hypothesis import strategies as st

from hourglass_cli.aggregator.config import load_aggregator_config, render_aggregator_config
from hourglass_cli.config import load_config
from hourglass_cli.errors import ConfigError
from hourglass_cli.executor.config import load_executor_config
from tests.fuzz.strategies import big_int, fuzz_settings, key_paths, nasty_text, truncations

pytestmark = [pytest.mark.fuzz]

REPO = Path(__file__).resolve().parents[2]
A = "0x" + "11" * 20
EXECUTOR = f"""
[executor]
operator_address = "{A}"
avs_address = "{A}"
port = 0
store = "executor.db"
task_timeout = 30.0

[keys]
bn254_keystore = "keys/executor.json"
password_file = "password.txt"

[chain]
rpc_url = "http://127.0.0.1:8545"

[contracts]
key_registrar = "{A}"
task_avs_registrar = "{A}"
task_mailbox = "{A}"
bn254_certificate_verifier = "{A}"
ecdsa_certificate_verifier = "{A}"

[performer]
runtime = "process"
command = ["python", "-m", "my_avs"]
env = {{ MODE = "fast" }}
pass_env = ["LANG"]
"""


def _aggregator() -> str:
    return render_aggregator_config(
        operator_address=A, avs_address=A, keystore="keys/aggregator.json", curve="bn254", tx_key_env="TX_KEY",
        password_file="password.txt", l1_rpc_url="http://127.0.0.1:8545", task_avs_registrar=A,
        chains=[{"name": "l1", "rpc_url": "http://127.0.0.1:8545", "task_mailbox": A, "confirmations": 0}])


KINDS = {
    "project": (lambda: (REPO / "hourglass.toml.example").read_text(), load_config),
    "executor": (lambda: EXECUTOR, load_executor_config),
    "aggregator": (_aggregator, load_aggregator_config),
}

toml_scalar = st.one_of(nasty_text, big_int.filter(lambda n: -(2**63) <= n < 2**63), st.booleans(),
                        st.floats(allow_nan=True, allow_infinity=True), st.dates(), st.datetimes(),
                        st.times(), st.sampled_from([0, -1, 2**63 - 1, 65536, 0.0, -0.5, 1e308, ""]))
toml_value: st.SearchStrategy[Any] = st.recursive(
    toml_scalar, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(nasty_text, inner, max_size=3)),
    max_leaves=10)


@st.composite
def mutated(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(key_paths(doc)))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        how = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if how == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(nasty_text)] = draw(toml_value)
        else:
            parent[path[-1]] = draw(toml_value)
    return doc


def _load(kind: str, path: Path) -> None:
    try:
        KINDS[kind][1](path)
    except ConfigError as exc:
        assert str(path) in str(exc), f"the error does not name the file: {exc}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz-config")
    for kind, (text, load) in KINDS.items():
        (root / f"{kind}.toml").write_text(text())
        load(root / f"{kind}.toml")  # each base file is valid
    return root


@fuzz_settings(120)
@given(data=st.data(), kind=st.sampled_from(sorted(KINDS)))
def test_mutated_values(folder: Path, data: st.DataObject, kind: str) -> None:
    doc = tomllib.loads(KINDS[kind][0]())
    changed = data.draw(mutated(doc))
    try:
        text = tomlkit.dumps(changed)
        tomllib.loads(text)
    except Exception:  # noqa: BLE001 - a value TOML cannot write (or tomlkit writes wrongly): not our parser's input
        return
    path = folder / f"fuzzed-{kind}.toml"
    path.write_text(text)
    _load(kind, path)


@fuzz_settings(60)
@given(data=st.data(), kind=st.sampled_from(sorted(KINDS)))
def test_truncated_or_random_text(folder: Path, data: st.DataObject, kind: str) -> None:
    raw = data.draw(st.one_of(truncations(KINDS[kind][0]().encode()), st.binary(max_size=400),
                              st.sampled_from([b"", b"\xff", b"a = [" * 3000, b"a = " + b"{b = " * 3000,
                                               b"[" * 5000, b"x = 1\nx = 2"])))
    path = folder / f"fuzzed-{kind}.toml"
    path.write_bytes(raw)
    _load(kind, path)


def test_dates_are_refused_where_strings_belong(folder: Path) -> None:
    """A TOML date where a string belongs (an easy slip: unquoted `2024-01-01`) is a ConfigError."""
    doc = tomllib.loads(EXECUTOR)
    doc["chain"]["rpc_url"] = datetime.date(2024, 1, 1)
    path = folder / "dated.toml"
    path.write_text(tomlkit.dumps(doc))
    with pytest.raises(ConfigError, match="rpc_url"):
        load_executor_config(path)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_deeply_nested_toml_is_a_config_error(folder: Path, kind: str) -> None:
    """Found by this fuzz: `a = [[[[…` thousands deep raised RecursionError out of every config loader."""
    path = folder / f"deep-{kind}.toml"
    path.write_text("a = " + "[" * 100_000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        KINDS[kind][1](path)
