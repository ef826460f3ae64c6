"""Keystores: real Ponos/DevKit files, EIP-2335 vectors, round trips, and corrupt files."""

from __future__ import annotations

import copy
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_keyfile import decode_keyfile_json

from hourglass_cli.crypto import bn254, ecdsa
from hourglass_cli.crypto.keystore import (
    LIGHT_SCRYPT,
    KdfParams,
    inspect_keystore,
    load_keystore,
    normalize_password,
    save_bn254_keystore,
    save_ecdsa_keystore,
)
from hourglass_cli.errors import KeystoreError, WrongPasswordError

INTEROP_FILES = {
    "ponos-aggregator-bn254.json": ("", "eip2335", "pubkey"),
    "ponos-executor-bn254.json": ("", "eip2335", "pubkey"),
    **{f"devkit-operator{i}-bn254.json": ("testpass", "devkit-v3", "publicKey") for i in range(1, 6)},
}
# DevKit encrypted ASCII text; Ponos reads those bytes as one big-endian integer (then mod r).
DEVKIT_PLAINTEXTS = {
    "devkit-operator1-bn254.json": (
        b"12248929636257230549931416853095037629726205319386239410403476017439825112537"
    ),
    "devkit-operator3-bn254.json": b"5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
}
PBKDF2_FAST = KdfParams.pbkdf2(1000)
SECRET_SCALAR = 0x2A5E_C2E7_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0123
PASSWORD = "correct horse battery staple"


def _assert_clean(exc: BaseException, *secrets: str) -> None:
    """No password or key material in any text the error can show."""
    text = " ".join([str(exc), repr(exc), str(getattr(exc, "hint", ""))]).lower()
    for secret in secrets:
        if secret:
            assert secret.lower() not in text


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(INTEROP_FILES))
def test_interop_keystore_decrypts_to_the_stored_public_key(interop_dir: Path, name: str) -> None:
    password, fmt, pub_field = INTEROP_FILES[name]
    path = interop_dir / "keystores" / name
    stored = json.loads(path.read_text())[pub_field].lower()
    key = load_keystore(path, password)  # the only decryption of this file in the suite
    assert key.curve == "bn254" and key.format == fmt
    assert key.public_key == stored
    sk = key.bn254_private_key()
    # independent derivation through the BN254 module, not the keystore's own check
    assert bn254.PrivateKey(sk.scalar).public_g2_bytes().hex() == stored
    if name in DEVKIT_PLAINTEXTS:
        assert sk.scalar == int.from_bytes(DEVKIT_PLAINTEXTS[name], "big") % bn254.R
    info = inspect_keystore(path)
    assert (info.format, info.curve, info.public_key, info.kdf) == (fmt, "bn254", stored, "scrypt")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ponos-executor-bn254.json", "devkit-operator2-bn254.json"])
def test_interop_wrong_password(interop_dir: Path, name: str) -> None:
    path = interop_dir / "keystores" / name
    with pytest.raises(WrongPasswordError) as info:
        load_keystore(path, "not-the-password")
    assert str(path) in str(info.value) and "wrong password" in str(info.value)
    assert "--password-file" in (info.value.hint or "")
    _assert_clean(info.value, "not-the-password")


# Official EIP-2335 test vectors (BLS12-381, but decryption is curve independent).
EIP2335_PASSWORD = "𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑"
EIP2335_SECRET = bytes.fromhex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")
EIP2335_SALT = "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"
EIP2335_PUBKEY = (
    "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07"
)


def _eip2335_vector(kdf: str) -> dict[str, Any]:
    if kdf == "scrypt":
        params = {"dklen": 32, "n": 262144, "p": 1, "r": 8, "salt": EIP2335_SALT}
        kdf_mod = {"function": "scrypt", "params": params}
        checksum = "d2217fe5f3e9a1e34581ef8a78f7c9928e436d36dacc5e846690a5581e8ea484"
        message = "06ae90d55fe0a6e9c5c3bc5b170827b2e5cce3929ed3f116c2811e6366dfe20f"
    else:
        kdf_mod = {
            "function": "pbkdf2",
            "params": {"dklen": 32, "c": 262144, "prf": "hmac-sha256", "salt": EIP2335_SALT},
        }
        checksum = "8a9f5d9912ed7e75ea794bc5a89bca5f193721d30868ade6f73043c6ea6febf1"
        message = "cee03fde2af33149775b7223e7845e4fb2c8ae1792e5f99fe9ecf474cc8c16ad"
    return {
        "crypto": {
            "kdf": {**kdf_mod, "message": ""},
            "checksum": {"function": "sha256", "params": {}, "message": checksum},
            "cipher": {
                "function": "aes-128-ctr",
                "params": {"iv": "264daa3f303d7259501c93d997d84fe6"},
                "message": message,
            },
        },
        "pubkey": EIP2335_PUBKEY,
        "path": "m/12381/60/0/0",
        "uuid": "1d85ae20-35c5-4611-98e8-aa14a633906f",
        "version": 4,
    }


def _write(tmp_path: Path, doc: Any, name: str = "ks.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("kdf", ["scrypt", "pbkdf2"])
def test_official_eip2335_vectors_decrypt(tmp_path: Path, kdf: str) -> None:
    path = _write(tmp_path, _eip2335_vector(kdf))
    key = load_keystore(path, EIP2335_PASSWORD, verify_pubkey=False)  # BLS12-381 pubkey: skip its check
    assert key.secret == EIP2335_SECRET


def test_bls12_381_pubkey_is_refused_before_any_kdf_work(tmp_path: Path) -> None:
    path = _write(tmp_path, _eip2335_vector("scrypt"))
    with pytest.raises(KeystoreError, match="48 bytes") as info:
        load_keystore(path, EIP2335_PASSWORD)
    assert "BLS12-381" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (EIP2335_PASSWORD, bytes.fromhex("7465737470617373776f7264f09f9491")),  # the EIP's own vector
        ("testpassword🔑", "testpassword🔑".encode()),
        ("a\x00b\x1fc\x7fd\x80e\x9ff\tg\nh", b"abcdefgh"),  # C0, DEL, C1 stripped
        ("caf\u00e9", b"cafe\xcc\x81"),  # NFKD decomposes é
        ("\u00a0x", b" x"),  # NBSP is compatibility-mapped to a space, not stripped
        ("", b""),
    ],
)
def test_normalize_password(raw: str, expected: bytes) -> None:
    assert normalize_password(raw) == expected


@pytest.mark.parametrize("kdf", [LIGHT_SCRYPT, PBKDF2_FAST], ids=["scrypt-light", "pbkdf2"])
def test_bn254_round_trip(tmp_path: Path, interop_dir: Path, kdf: KdfParams) -> None:
    sk = bn254.PrivateKey(SECRET_SCALAR)
    path = save_bn254_keystore(tmp_path / "keys" / "op.json", sk, PASSWORD, kdf=kdf, description="devnet op")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["version"] == 4 and doc["curveType"] == "bn254" and doc["description"] == "devnet op"
    assert doc["pubkey"] == sk.public_g2_bytes().hex() and doc["crypto"]["kdf"]["function"] == kdf.function
    # same shape as the Ponos files, so the Go stack reads ours
    ponos = json.loads((interop_dir / "keystores" / "ponos-executor-bn254.json").read_text())
    assert set(ponos) <= set(doc)
    for module in ("kdf", "checksum", "cipher"):
        assert set(doc["crypto"][module]) == set(ponos["crypto"][module])
    key = load_keystore(path, PASSWORD)
    assert key.bn254_private_key() == sk and key.public_key == doc["pubkey"]
    info = inspect_keystore(path)
    assert (info.format, info.curve, info.public_key) == ("eip2335", "bn254", doc["pubkey"])
    assert info.uuid == doc["uuid"]
    assert SECRET_SCALAR.to_bytes(32, "big").hex() not in repr(key) + str(key)
    with pytest.raises(WrongPasswordError):
        load_keystore(path, PASSWORD + "!")


def test_password_is_normalised_on_write_and_read(tmp_path: Path) -> None:
    sk = bn254.PrivateKey(7)
    path = save_bn254_keystore(tmp_path / "k.json", sk, EIP2335_PASSWORD, kdf=LIGHT_SCRYPT)
    assert load_keystore(path, "testpassword🔑").bn254_private_key() == sk


@pytest.mark.slow
def test_bn254_round_trip_standard_params(tmp_path: Path) -> None:
    sk = bn254.PrivateKey.generate()
    path = save_bn254_keystore(tmp_path / "std.json", sk, PASSWORD)
    params = json.loads(path.read_text())["crypto"]["kdf"]["params"]
    assert (params["n"], params["r"], params["p"], params["dklen"]) == (2**18, 8, 1, 32)
    assert load_keystore(path, PASSWORD).bn254_private_key() == sk


@pytest.mark.parametrize("kdf", [LIGHT_SCRYPT, PBKDF2_FAST], ids=["scrypt-light", "pbkdf2"])
def test_ecdsa_round_trip(tmp_path: Path, kdf: KdfParams) -> None:
    priv = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
    path = save_ecdsa_keystore(tmp_path / "ecdsa.json", priv, PASSWORD, kdf=kdf)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["version"] == 3 and doc["crypto"]["kdf"] == kdf.function
    # independent readers agree
    assert decode_keyfile_json(doc, PASSWORD.encode()) == priv
    assert bytes(Account.decrypt(doc, PASSWORD)) == priv
    key = load_keystore(path, PASSWORD)
    assert key.curve == "ecdsa" and key.format == "web3-v3"
    assert key.ecdsa_private_key() == priv and key.public_key == "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
    assert inspect_keystore(path).public_key == key.public_key
    assert priv.hex() not in repr(key)
    with pytest.raises(WrongPasswordError) as info:
        load_keystore(path, "wrong")
    assert str(path) in str(info.value)
    with pytest.raises(Exception, match="not ecdsa|not bn254"):
        key.bn254_private_key()


def test_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    path = save_bn254_keystore(tmp_path / "k.json", bn254.PrivateKey(5), PASSWORD, kdf=LIGHT_SCRYPT)
    with pytest.raises(KeystoreError, match="already exists"):
        save_bn254_keystore(path, bn254.PrivateKey(6), PASSWORD, kdf=LIGHT_SCRYPT)
    assert load_keystore(path, PASSWORD).bn254_private_key().scalar == 5
    save_bn254_keystore(path, bn254.PrivateKey(6), PASSWORD, kdf=LIGHT_SCRYPT, overwrite=True)
    assert load_keystore(path, PASSWORD).bn254_private_key().scalar == 6
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"]  # no temp files left behind


@pytest.fixture
def light_doc(tmp_path: Path) -> dict[str, Any]:
    sk = bn254.PrivateKey(SECRET_SCALAR)
    path = save_bn254_keystore(tmp_path / "src.json", sk, PASSWORD, kdf=LIGHT_SCRYPT)
    return json.loads(path.read_text())


def _mutate(doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    *parents, last = dotted.split(".")
    node = out
    for key in parents:
        node = node[key]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return out


_DELETE = object()


@pytest.mark.parametrize(
    ("dotted", "value", "needle"),
    [
        ("crypto", _DELETE, "'crypto'"),
        ("crypto.kdf.function", "argon2", "unsupported kdf"),
        ("crypto.cipher.function", "aes-256-gcm", "unsupported cipher"),
        ("crypto.checksum.function", "sha512", "checksum"),
        ("crypto.kdf.params.salt", "zz", "crypto.kdf.params.salt"),
        ("crypto.kdf.params.n", 3, "power of two"),
        ("crypto.kdf.params.n", 2**24, "1 GiB"),  # hostile cost refused before any work
        ("crypto.kdf.params", _DELETE, "crypto.kdf.params"),
        ("crypto.cipher.params.iv", "00", "crypto.cipher.params.iv"),
        ("crypto.cipher.message", 5, "crypto.cipher.message"),
        ("curveType", "bls381", "unsupported curveType"),
        ("pubkey", "0x12", "pubkey"),
        ("pubkey", "nothex", "pubkey"),
    ],
)
def test_malformed_bn254_keystores(
    tmp_path: Path, light_doc: dict[str, Any], dotted: str, value: Any, needle: str
) -> None:
    path = _write(tmp_path, _mutate(light_doc, dotted, value))
    with pytest.raises(KeystoreError) as info:
        load_keystore(path, PASSWORD)
    assert not isinstance(info.value, WrongPasswordError)
    assert str(path) in str(info.value) and needle in str(info.value)
    _assert_clean(info.value, PASSWORD, f"{SECRET_SCALAR:064x}", str(SECRET_SCALAR))


@pytest.mark.parametrize("field", ["crypto.cipher.message", "crypto.checksum.message"])
def test_tampered_ciphertext_or_checksum_fails_the_checksum(
    tmp_path: Path, light_doc: dict[str, Any], field: str
) -> None:
    *parents, last = field.split(".")
    node = light_doc
    for key in parents:
        node = node[key]
    node[last] = ("0" if node[last][0] != "0" else "1") + node[last][1:]
    path = _write(tmp_path, light_doc)
    with pytest.raises(WrongPasswordError) as info:
        load_keystore(path, PASSWORD)
    assert str(path) in str(info.value)
    _assert_clean(info.value, PASSWORD, f"{SECRET_SCALAR:064x}")


def test_swapped_public_key_is_detected(tmp_path: Path, light_doc: dict[str, Any]) -> None:
    light_doc["pubkey"] = bn254.PrivateKey(SECRET_SCALAR + 1).public_g2_bytes().hex()
    path = _write(tmp_path, light_doc)
    with pytest.raises(KeystoreError, match="does not match the stored public key") as info:
        load_keystore(path, PASSWORD)
    assert not isinstance(info.value, WrongPasswordError)
    _assert_clean(info.value, PASSWORD, f"{SECRET_SCALAR:064x}")
    # the check can be skipped only on purpose
    assert load_keystore(path, PASSWORD, verify_pubkey=False).bn254_private_key().scalar == SECRET_SCALAR


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"crypto": {"kdf": {"function": "scrypt"', "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"version": 3}', "'crypto'"),
        ('{"crypto": {"cipher": "aes-128-ctr"}}', "crypto.kdf"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: str, needle: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(KeystoreError, match=needle) as info:
        load_keystore(path, PASSWORD)
    assert str(path) in str(info.value)
    with pytest.raises(KeystoreError):
        inspect_keystore(path)


def test_a_file_cut_inside_a_string_reads_cleanly(tmp_path: Path) -> None:
    """Issue #12: json's "Unterminated string starting at" + our " at line" gave "… at at line 1"."""
    path = _write(tmp_path, '{"crypto": {"kdf": {"function": "scry')
    with pytest.raises(KeystoreError) as info:
        load_keystore(path, PASSWORD)
    assert "at at" not in str(info.value)
    assert str(info.value).endswith("not valid JSON (Unterminated string starting at: line 1, column 33)")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="no such keystore file"):
        load_keystore(tmp_path / "absent.json", PASSWORD)
    with pytest.raises(KeystoreError, match="cannot read"):
        load_keystore(tmp_path, PASSWORD)


def test_devkit_form_errors(tmp_path: Path, interop_dir: Path) -> None:
    doc = json.loads((interop_dir / "keystores" / "devkit-operator3-bn254.json").read_text())
    del doc["crypto"]["mac"]
    path = _write(tmp_path, doc)
    with pytest.raises(KeystoreError, match="'crypto.mac'"):
        load_keystore(path, "testpass")
    doc["crypto"]["mac"] = "00" * 32
    doc["crypto"]["kdfparams"]["n"] = 2**12  # cheap, and the MAC cannot match
    path = _write(tmp_path, doc)
    with pytest.raises(WrongPasswordError):
        load_keystore(path, "testpass")
    assert inspect_keystore(path).format == "devkit-v3"


def test_ecdsa_form_errors(tmp_path: Path) -> None:
    priv = bytes(range(1, 33))
    doc = json.loads(save_ecdsa_keystore(tmp_path / "e.json", priv, PASSWORD, kdf=LIGHT_SCRYPT).read_text())
    for dotted, value, needle in [
        ("crypto.ciphertext", _DELETE, "'crypto.ciphertext'"),
        ("crypto.kdf", "bcrypt", "unsupported kdf"),
        ("crypto.kdfparams.n", 2**30, "crypto.kdfparams.n"),
        ("version", 2, "'version' must be 3"),
    ]:
        path = _write(tmp_path, _mutate(doc, dotted, value), "bad.json")
        with pytest.raises(KeystoreError, match=needle) as info:
            load_keystore(path, PASSWORD)
        assert str(path) in str(info.value)
        _assert_clean(info.value, PASSWORD, priv.hex())
    path = _write(tmp_path, _mutate(doc, "address", "11" * 20), "addr.json")
    with pytest.raises(KeystoreError, match="stored 'address'"):
        load_keystore(path, PASSWORD)


def test_ecdsa_save_rejects_bad_keys_without_echoing_them(tmp_path: Path) -> None:
    with pytest.raises(Exception) as info:
        save_ecdsa_keystore(tmp_path / "x.json", b"\x00" * 32, PASSWORD, kdf=LIGHT_SCRYPT)
    _assert_clean(info.value, PASSWORD)
    assert not (tmp_path / "x.json").exists()
    assert ecdsa.address_of(bytes(range(1, 33)))  # sanity: a valid key works
