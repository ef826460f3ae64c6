"""Secrets at rest: AES-256-GCM bound to its row, key rotation, and what a wrong key or an altered row does."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

import pytest

from hourglass_cli.api.secrets import SecretBox, SecretsKeyError, key_id
from hourglass_cli.api.store import SecretRow, SqliteApiStore
from tests.api.conftest import make_config
from tests.devnet._helpers import ok, run


def _put(store: SqliteApiStore, box: SecretBox, name: str, value: str, owner: str = "0xA") -> None:
    key, nonce, sealed = box.seal(owner, name, "", "", value)
    store.put_secret(SecretRow(owner, name, "", "", key, nonce, sealed, 1, 1, owner), create=True)


def test_seal_open_and_a_ciphertext_moved_to_another_row_does_not_open(tmp_path: Path) -> None:
    store = SqliteApiStore(tmp_path / "api.db")
    box = SecretBox([secrets.token_bytes(32)])
    _put(store, box, "a", "value-a")
    row = store.secrets("0xA")[0]
    assert box.open(row) == "value-a" and b"value-a" not in row.ciphertext
    moved = SecretRow("0xB", row.name, "", "", row.key_id, row.nonce, row.ciphertext, 1, 1, "0xB")
    with pytest.raises(SecretsKeyError, match="altered"):
        box.open(moved)
    with pytest.raises(SecretsKeyError, match="not configured"):
        SecretBox([secrets.token_bytes(32)]).open(row)
    store.close()


def test_rotation_cli_reencrypts_under_the_newest_key(tmp_path: Path) -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    (tmp_path / "api-secrets.key").write_text(old.hex() + "\n")
    config = make_config(tmp_path)
    store = SqliteApiStore(config.store_path)
    box = SecretBox(config.secrets_keys())
    for i in range(3):
        _put(store, box, f"s{i}", f"value-{i}")
    store.close()
    (tmp_path / "api.toml").write_text('[api]\nport = 0\nchain_id = 31337\n')
    (tmp_path / "api-secrets.key").write_text(new.hex() + "\n" + old.hex() + "\n")
    result = ok(run(tmp_path, "api", "secrets", "rotate", "--config", str(tmp_path / "api.toml")))
    assert "re-encrypted 3 secrets" in result.stdout
    db = sqlite3.connect(tmp_path / "api.db")
    assert {r[0] for r in db.execute("SELECT key_id FROM secrets")} == {key_id(new)}
    db.close()
    (tmp_path / "api-secrets.key").write_text(new.hex() + "\n")  # the old key dropped
    store = SqliteApiStore(config.store_path)
    only_new = SecretBox([new])
    assert sorted(only_new.open(r) for r in store.secrets("0xA")) == ["value-0", "value-1", "value-2"]
    store.close()
    again = ok(run(tmp_path, "api", "secrets", "rotate", "--config", str(tmp_path / "api.toml")))
    assert "re-encrypted 0 secrets" in again.stdout


def test_a_malformed_key_file_is_a_clear_config_error(tmp_path: Path) -> None:
    from hourglass_cli.errors import ConfigError

    (tmp_path / "api-secrets.key").write_text("not-hex\n")
    with pytest.raises(ConfigError, match="not 64 hex digits"):
        make_config(tmp_path).secrets_keys()
