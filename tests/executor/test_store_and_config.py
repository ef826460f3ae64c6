"""The executor's SQLite store and its config file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hourglass_cli.errors import ConfigError
from hourglass_cli.executor.config import load_executor_config, parse_executor_config
from hourglass_cli.executor.store import Claim, ExecutorStore, SignedAnswer, StoreError

TASK = "0x" + "ab" * 32
ADDR = "0x" + "12" * 20


def _claim(store: ExecutorStore, task_id: str = TASK) -> bool:
    kind = store.claim(task_id, digest=b"\x01" * 32, avs=ADDR, aggregator=ADDR, operator_set_id=1, task_block=7).kind
    return kind is Claim.NEW


# ------------------------------------------------------------------ store (claims: tests/executor/test_idempotence.py)


def test_two_stores_on_one_file_share_claims(tmp_path: Path) -> None:
    a, b = ExecutorStore(tmp_path / "x.db"), ExecutorStore(tmp_path / "x.db")
    assert _claim(a) and not _claim(b)
    assert not _claim(b, TASK.upper().replace("0X", "0x"))  # same id, other case
    assert a.path.with_name("x.db-wal").exists()  # WAL mode


def test_status_and_restart_marks_running_as_interrupted(tmp_path: Path) -> None:
    store = ExecutorStore(tmp_path / "x.db")
    assert _claim(store, TASK) and _claim(store, "0x" + "cd" * 32) and _claim(store, "0x" + "ef" * 32)
    store.answer(TASK, SignedAnswer(b"\x00" * 32, b"r", b"a"))
    store.fail("0x" + "cd" * 32, "DEADLINE_EXCEEDED: slow")
    record = store.get(TASK)
    assert record and record.status == "done" and record.result_bytes == 32 and record.finished_at
    store.close()
    again = ExecutorStore(tmp_path / "x.db")
    assert again.get("0x" + "ef" * 32).status == "interrupted"  # type: ignore[union-attr]
    assert again.get("0x" + "cd" * 32).error == "DEADLINE_EXCEEDED: slow"  # type: ignore[union-attr]
    assert not _claim(again, "0x" + "ef" * 32)  # claimed again as a rerun, not as a new task
    assert again.get("0x" + "ef" * 32).status == "running"  # type: ignore[union-attr]
    assert again.count() == 3 and again.count("done") == 1


def test_corrupt_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(b"this is not sqlite at all" * 200)
    with pytest.raises(StoreError) as info:
        ExecutorStore(path)
    assert str(path) in info.value.message and "corrupt" in info.value.message
    assert "move the file away" in (info.value.hint or "")


def test_other_schema_and_folder_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    ExecutorStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(StoreError, match="schema 99"):
        ExecutorStore(path)
    with pytest.raises(StoreError, match="is a folder"):
        ExecutorStore(tmp_path)


# ------------------------------------------------------------------ config


def _doc(**overrides: dict) -> dict:
    doc = {
        "executor": {"operator_address": ADDR, "avs_address": "0x" + "34" * 20},
        "keys": {"bn254_keystore": "k.json", "password_env": "MY_PW"},
        "chain": {"rpc_url": "http://127.0.0.1:8545"},
        "contracts": {"key_registrar": "0x" + "56" * 20, "task_avs_registrar": "0x" + "78" * 20},
        "performer": {"runtime": "process", "command": ["python", "-m", "perf"]},
    }
    for name, body in overrides.items():
        doc[name] = {**doc.get(name, {}), **body}
    return doc


def test_a_complete_file_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "executor.toml"
    path.write_text("""
[executor]
operator_address = "0x1212121212121212121212121212121212121212"
avs_address = "0x3434343434343434343434343434343434343434"
port = 9100
task_timeout = 5
[keys]
ecdsa_keystore = "keys/op.json"
password_file = "pw.txt"
[chain]
rpc_url = "http://127.0.0.1:8545"
[contracts]
key_registrar = "0x5656565656565656565656565656565656565656"
task_avs_registrar = "0x7878787878787878787878787878787878787878"
ecdsa_certificate_verifier = "0x9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a"
[performer]
runtime = "remote"
address = "127.0.0.1:8080"
env = { LOG_LEVEL = "debug" }
contracts = { HelloWorldL2 = "0x1111111111111111111111111111111111111111" }
""")
    (tmp_path / "pw.txt").write_text("s3cret\nignored")
    config = load_executor_config(path)
    assert config.executor.port == 9100 and config.executor.task_timeout == 5.0
    assert config.resolve(config.keys.ecdsa_keystore) == tmp_path / "keys" / "op.json"
    assert config.read_password() == "s3cret"
    assert config.performer.env == {"LOG_LEVEL": "debug"}
    assert config.performer_settings["address"] == "127.0.0.1:8080"


@pytest.mark.parametrize("overrides,message", [
    ({"executor": {"operator_address": "0x12"}}, "[executor].operator_address must be 0x followed by 40 hex"),
    ({"executor": {"port": 70000}}, "[executor].port must be from 0 to 65535"),
    ({"executor": {"prot": 1}}, "unknown key 'prot' in [executor] (did you mean 'port'?)"),
    ({"keys": {"password": "hunter2"}}, "[keys].password: the password must not be written"),
    ({"keys": {"bn254_keystore": ""}}, "[keys] needs bn254_keystore or ecdsa_keystore"),
    ({"keys": {"ecdsa_keystore": "e.json"}}, "[contracts].ecdsa_certificate_verifier is required"),
    ({"chain": {"rpc_url": "localhost:8545"}}, "[chain].rpc_url must be an http(s):// URL"),
    ({"contracts": {"key_registrar": ""}}, "[contracts].key_registrar is required"),
    ({"performer": {"runtime": "lambda"}}, "[performer].runtime must be one of"),
    ({"performer": {"command": []}}, "[performer].command must be a non-empty list"),
    ({"performer": {"runtime": "remote"}}, "[performer].address is required"),
    ({"performer": {"runtime": "remote", "address": "localhost"}}, "[performer].address must be host:port"),
    ({"performer": {"image": "x"}}, "unknown key 'image' in [performer]"),
    ({"performer": {"env": {"A": 1}}}, "[performer].env.A must be a string"),
    ({"performer": {"contracts": {"X": "0x1"}}}, "[performer].contracts.X must be 0x followed by 40 hex"),
    ({"performr": {}}, "unknown section [performr] (did you mean 'performer'?)"),
])
def test_errors_name_the_file_key_and_rule(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_executor_config(_doc(**overrides), "my-executor.toml")
    assert info.value.message.startswith("my-executor.toml: ")
    assert message in info.value.message
    assert "hunter2" not in info.value.message


def test_docker_keys_are_passed_through() -> None:
    config = parse_executor_config(_doc(performer={"runtime": "docker", "image": "my/perf:1", "cpus": 1.5}))
    assert config.performer.runtime == "docker"
    assert config.performer_settings["image"] == "my/perf:1" and config.performer_settings["cpus"] == 1.5


def test_password_from_env_and_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_executor_config(_doc())
    monkeypatch.setenv("MY_PW", "from-env")
    assert config.read_password() == "from-env"
    monkeypatch.delenv("MY_PW")
    with pytest.raises(ConfigError, match=r"\$MY_PW"):
        config.read_password()


def test_executor_with_a_corrupt_store_exits_with_a_clear_error(tmp_path: Path) -> None:
    """`python -m hourglass_cli.executor`: one error line and a hint, exit 1 — before any chain or performer."""
    import subprocess
    import sys

    (tmp_path / "executor.db").write_bytes(b"garbage" * 1000)
    (tmp_path / "executor.toml").write_text(
        '[executor]\noperator_address = "%s"\navs_address = "%s"\n'
        '[keys]\nbn254_keystore = "k.json"\n[chain]\nrpc_url = "http://127.0.0.1:1"\n'
        '[contracts]\nkey_registrar = "%s"\ntask_avs_registrar = "%s"\n'
        '[performer]\ncommand = ["python", "-m", "perf"]\n' % (ADDR, ADDR, ADDR, ADDR))
    done = subprocess.run([sys.executable, "-m", "hourglass_cli.executor", "--config", str(tmp_path / "executor.toml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "executor.db: the executor database is unreadable or corrupt" in done.stderr
    assert "hint: move the file away" in done.stderr
    assert "Traceback" not in done.stderr
