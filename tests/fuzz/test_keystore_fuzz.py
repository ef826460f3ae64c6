"""Fuzzing keystore parsing: the three formats we read (EIP-2335 BN254, DevKit's v3 BN254, Web3 v3 ECDSA).

A valid keystore of each format (light scrypt, so an example costs milliseconds) is mutated — a field anywhere
in the document replaced by a value of any JSON type, removed, or its hex cut or flipped; the text truncated;
random bytes; a wrong password. Loading must either give back exactly the original key (the mutation did not
matter) or raise a KeystoreError — never another exception, never a different key — and no message may hold
the password. `inspect_keystore` (no password) obeys the same rule.
"""

from __future__ import annotations

import copy
import json
import os
import string
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from hourglass_cli.crypto import bn254
from hourglass_cli.crypto._kdf import LIGHT_SCRYPT, aes_128_ctr, derive_key, normalize_password
from hourglass_cli.crypto.keystore import inspect_keystore, load_keystore, save_bn254_keystore, save_ecdsa_keystore
from hourglass_cli.errors import KeystoreError
from tests.fuzz.strategies import fuzz_settings, json_value, key_paths, truncations

pytestmark = [pytest.mark.fuzz]

PASSWORD = "fuzz-Pässword-☃-7c1e"
SECRET_SCALAR = 0x1234_5678_9ABC_DEF0_1122_3344_5566_7788_99AA_BBCC_DDEE_FF00_0102_0304_0506


def _devkit_v3(path: Path) -> None:
    """DevKit's older BN254 form: a geth v3 crypto block (keccak MAC) whose plaintext is the scalar's ASCII digits."""
    plaintext = str(SECRET_SCALAR).encode()
    salt, iv = os.urandom(32), os.urandom(16)
    params = {"dklen": 32, "n": 2**10, "p": 1, "r": 8, "salt": salt.hex()}
    dk = derive_key("scrypt", params, PASSWORD.encode(), str(path), "crypto.kdfparams")
    ciphertext = aes_128_ctr(dk[:16], iv, plaintext)
    public = bn254.PrivateKey(int.from_bytes(plaintext, "big") % bn254.R).public_g2_bytes().hex()
    path.write_text(json.dumps({
        "publicKey": public, "curveType": "bn254",
        "crypto": {"cipher": "aes-128-ctr", "ciphertext": ciphertext.hex(), "cipherparams": {"iv": iv.hex()},
                   "kdf": "scrypt", "kdfparams": params, "mac": keccak(dk[16:32] + ciphertext).hex()}}))


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], bytes]]:
    """format → (document, the secret it holds), each checked to load."""
    root = tmp_path_factory.mktemp("fuzz-keystores")
    save_bn254_keystore(root / "eip2335.json", bn254.PrivateKey(SECRET_SCALAR), PASSWORD, kdf=LIGHT_SCRYPT)
    save_ecdsa_keystore(root / "web3-v3.json", bytes.fromhex("4c" * 32), PASSWORD, kdf=LIGHT_SCRYPT)
    _devkit_v3(root / "devkit-v3.json")
    found = {}
    for name in ("eip2335", "web3-v3", "devkit-v3"):
        path = root / f"{name}.json"
        key = load_keystore(path, PASSWORD)
        assert key.format == name
        found[name] = (json.loads(path.read_text()), key.secret)
    assert normalize_password(PASSWORD)  # the password survives normalisation (so it is really used)
    return found


@st.composite
def mutated(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        paths = key_paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        old = parent[path[-1]]
        how = draw(st.sampled_from(["replace", "delete", "hex"]))
        if how == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif how == "hex" and isinstance(old, str):
            parent[path[-1]] = draw(truncations(old.encode())).decode("utf-8", "replace")
        else:
            parent[path[-1]] = draw(json_value)
    return doc


def _load(path: Path, password: str, original: bytes) -> None:
    try:
        key = load_keystore(path, password)
    except KeystoreError as exc:
        text = f"{exc} {getattr(exc, 'hint', '')}"
        assert PASSWORD not in text, text
        if password.startswith("pw-"):  # a password that cannot be in a message by chance
            assert password not in text, text
    else:
        assert key.secret == original, "a mutated keystore gave another key"
    try:
        inspect_keystore(path)
    except KeystoreError as exc:
        assert PASSWORD not in str(exc)


FORMATS = ["eip2335", "web3-v3", "devkit-v3"]


@fuzz_settings(150)
@given(data=st.data(), name=st.sampled_from(FORMATS))
def test_mutated_documents(originals: dict[str, tuple[dict[str, Any], bytes]], tmp_path_factory: Any,
                           data: st.DataObject, name: str) -> None:
    doc, secret = originals[name]
    path = tmp_path_factory.getbasetemp() / "fuzz-keystore.json"
    path.write_text(json.dumps(data.draw(mutated(doc))))
    _load(path, PASSWORD, secret)


@fuzz_settings(80)
@given(data=st.data(), name=st.sampled_from(FORMATS))
def test_truncated_or_random_files(originals: dict[str, tuple[dict[str, Any], bytes]], tmp_path_factory: Any,
                                   data: st.DataObject, name: str) -> None:
    doc, secret = originals[name]
    raw = data.draw(st.one_of(truncations(json.dumps(doc).encode()), st.binary(max_size=500),
                              st.sampled_from([b"", b"[]", b"null", b'"x"', b"{}", b"\xef\xbb\xbf{}", b"[" * 10000])))
    path = tmp_path_factory.getbasetemp() / "fuzz-keystore.json"
    path.write_bytes(raw)
    _load(path, PASSWORD, secret)


@fuzz_settings(30)
@given(name=st.sampled_from(FORMATS),
       password=st.one_of(st.text(max_size=40), st.text(string.ascii_letters + "☃é\u200b", min_size=8).map("pw-".__add__),
                          st.just(PASSWORD + " "), st.just(PASSWORD.upper()), st.just(PASSWORD[:-1])))
def test_wrong_passwords(originals: dict[str, tuple[dict[str, Any], bytes]], tmp_path_factory: Any, name: str,
                         password: str) -> None:
    doc, secret = originals[name]
    path = tmp_path_factory.getbasetemp() / "fuzz-keystore.json"
    path.write_text(json.dumps(doc))
    _load(path, password, secret)


def test_deeply_nested_json_is_a_keystore_error(tmp_path: Path) -> None:
    """Found by this fuzz: a file nested thousands deep raised RecursionError out of load_keystore."""
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000)
    with pytest.raises(KeystoreError, match="nested too deeply"):
        load_keystore(path, PASSWORD)
    with pytest.raises(KeystoreError, match="nested too deeply"):
        inspect_keystore(path)
