"""`hourglass keys` through the real CLI process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hourglass_cli.crypto.keystore import load_keystore
from tests.cli.test_cli_basics import run_cli

INTEROP = Path(__file__).resolve().parents[2].parent / "shared" / "interop" / "keystores"
SECRET = "correct horse battery staple"


@pytest.fixture()
def pwfile(tmp_path: Path) -> Path:
    p = tmp_path / "pw.txt"
    p.write_text(SECRET + "\n")
    return p


@pytest.mark.parametrize("curve", ["bn254", "ecdsa"])
def test_generate_show_verify_list(tmp_path: Path, pwfile: Path, curve: str) -> None:
    out = tmp_path / f"{curve}.json"
    gen = run_cli("keys", "generate", "--curve", curve, "--out", str(out), "--password-file", str(pwfile),
                  "--light-kdf")
    assert gen.returncode == 0, gen.stderr
    loaded = load_keystore(out, SECRET)
    assert loaded.curve == curve
    shown = run_cli("keys", "show", str(out))
    assert shown.returncode == 0
    ident = loaded.public_key if isinstance(loaded.public_key, str) else loaded.public_key.hex()
    assert ident.removeprefix("0x").lower()[:16] in shown.stdout.lower()
    verified = run_cli("keys", "show", str(out), "--verify", "--password-file", str(pwfile))
    assert verified.returncode == 0 and "password ok" in verified.stdout
    listed = run_cli("keys", "list", str(tmp_path))
    assert out.name in listed.stdout and curve in listed.stdout
    for text in (gen.stdout + gen.stderr, shown.stdout, verified.stdout, listed.stdout):
        assert SECRET not in text


def test_generate_refuses_overwrite_without_force(tmp_path: Path, pwfile: Path) -> None:
    out = tmp_path / "k.json"
    out.write_text("{}")
    res = run_cli("keys", "generate", "--out", str(out), "--password-file", str(pwfile), "--light-kdf")
    assert res.returncode == 2 and "already exists" in res.stderr and "--force" in res.stderr
    assert out.read_text() == "{}"
    forced = run_cli("keys", "generate", "--out", str(out), "--password-file", str(pwfile), "--light-kdf", "--force")
    assert forced.returncode == 0
    assert json.loads(out.read_text())["curveType"] == "bn254"


def test_wrong_password_is_clear_error_without_secret(tmp_path: Path) -> None:
    res = run_cli("keys", "show", str(INTEROP / "devkit-operator1-bn254.json"), "--verify",
                  env={"HOURGLASS_KEYSTORE_PASSWORD": "not-the-password"})
    assert res.returncode == 1
    assert "wrong password" in res.stderr and "Traceback" not in res.stderr
    assert "not-the-password" not in res.stderr


def test_password_from_env_and_no_tty_without_source(tmp_path: Path) -> None:
    ok = run_cli("keys", "show", str(INTEROP / "devkit-operator3-bn254.json"), "--verify",
                 env={"HOURGLASS_KEYSTORE_PASSWORD": "testpass"})
    assert ok.returncode == 0 and "password ok" in ok.stdout
    no_source = run_cli("keys", "generate", "--out", str(tmp_path / "x.json"), stdin="")
    assert no_source.returncode == 2
    assert "--password-file" in no_source.stderr


def test_corrupt_keystore_is_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"crypto": ')
    res = run_cli("keys", "show", str(bad))
    assert res.returncode == 1 and "bad.json" in res.stderr and "Traceback" not in res.stderr
    listed = run_cli("keys", "list", str(tmp_path))
    assert listed.returncode == 0 and "no keystores" in listed.stdout


def test_list_at_80_columns_shows_whole_addresses_and_says_what_it_skipped(tmp_path: Path) -> None:
    """Issue #12: addresses were cut at 80 columns and non-keystore files vanished without a word."""
    from hourglass_cli.crypto.keystore import LIGHT_SCRYPT, save_ecdsa_keystore

    save_ecdsa_keystore(tmp_path / "operator-with-a-rather-long-name.ecdsa.keystore.json", bytes.fromhex("4c" * 32),
                        "pw", kdf=LIGHT_SCRYPT)
    (tmp_path / "package.json").write_text('{"name": "not a keystore"}')
    listed = run_cli("keys", "list", str(tmp_path), env={"COLUMNS": "80"})
    assert listed.returncode == 0, listed.stderr
    assert "0xdB00079cad3e665853Bf766eFe26F4C38cdbdCDA" in listed.stdout, listed.stdout
    assert "skipped package.json: not a keystore (missing field 'crypto')" in " ".join(listed.stdout.split())
    assert all(len(line) <= 80 for line in listed.stdout.splitlines()), listed.stdout
