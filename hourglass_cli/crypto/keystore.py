"""Encrypted key files: EIP-2335 v4 BN254 (Ponos), the older DevKit BN254 form, Web3 v3 ECDSA.

Formats read:
- ``eip2335``: ``crypto{kdf{function,params,message}, checksum{sha256}, cipher{aes-128-ctr}}`` plus
  ``pubkey`` (hex of the 128-byte G2 key), ``curveType: "bn254"``; the password is NFKD-normalised with
  control characters stripped; plaintext is the 32-byte big-endian scalar.
- ``devkit-v3``: a geth v3 ``crypto`` block (keccak256 MAC) plus ``publicKey`` and ``curveType``; the
  password is used as raw UTF-8 (as geth's ``DecryptDataV3``). The plaintext is ASCII text (decimal
  or hex digits) which Ponos, and so we, read as one big-endian integer reduced mod r.
- ``web3-v3``: a standard ECDSA keystore, decrypted and written with ``eth-keyfile`` (raw UTF-8 password).

Nothing here puts a password or key material into a message or repr.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from eth_utils import is_address, keccak, to_checksum_address

from hourglass_cli import safe_json
from hourglass_cli.crypto import ecdsa
from hourglass_cli.crypto._kdf import (
    LIGHT_SCRYPT,
    STANDARD_SCRYPT,
    KdfParams,
    aes_128_ctr,
    derive_key,
    get_field,
    hex_field,
    kdf_args,
    kdf_params_dict,
    normalize_password,
)

__all__ = [
    "LIGHT_SCRYPT", "STANDARD_SCRYPT", "KdfParams", "KeystoreInfo", "LoadedKey", "inspect_keystore",
    "load_keystore", "normalize_password", "save_bn254_keystore", "save_ecdsa_keystore",
]
from hourglass_cli.crypto.bn254 import R as BN254_R
from hourglass_cli.crypto.bn254 import PrivateKey as Bn254PrivateKey
from hourglass_cli.errors import CryptoError, KeystoreError, WrongPasswordError

Curve = Literal["bn254", "ecdsa"]
KeystoreFormat = Literal["eip2335", "devkit-v3", "web3-v3"]




@dataclass(frozen=True, repr=False, eq=False)
class LoadedKey:
    """A decrypted key. ``public_key`` is the G2 hex (bn254) or checksummed address (ecdsa)."""

    curve: Curve
    public_key: str
    path: Path
    format: KeystoreFormat
    secret: bytes = field(repr=False)  # 32-byte big-endian scalar / secp256k1 key

    def bn254_private_key(self) -> Bn254PrivateKey:
        """The BN254 signing key; CryptoError for an ECDSA keystore."""
        if self.curve != "bn254":
            raise CryptoError(f"{self.path}: is an {self.curve} keystore, not bn254")
        return Bn254PrivateKey.from_bytes(self.secret)

    def ecdsa_private_key(self) -> bytes:
        """The 32-byte secp256k1 key; CryptoError for a BN254 keystore."""
        if self.curve != "ecdsa":
            raise CryptoError(f"{self.path}: is a {self.curve} keystore, not ecdsa")
        return self.secret

    def __repr__(self) -> str:
        return f"LoadedKey(curve={self.curve!r}, public_key={self.public_key!r}, path={str(self.path)!r})"


@dataclass(frozen=True)
class KeystoreInfo:
    """What a keystore says about itself, read without the password."""

    path: Path
    format: KeystoreFormat
    curve: Curve
    public_key: str | None  # G2 hex for bn254, checksummed address for ecdsa (if the file has one)
    kdf: str
    uuid: str | None


def _wrong_password(where: str, password: str) -> WrongPasswordError:
    extra = " (an empty password was given)" if password == "" else ""
    return WrongPasswordError(f"{where}: wrong password — the keystore checksum does not match{extra}")


# --- reading ------------------------------------------------------------------------------------


def _read_json(path: str | os.PathLike[str]) -> tuple[dict[str, Any], str]:
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeystoreError(f"{where}: no such keystore file") from None
    except UnicodeDecodeError:
        raise KeystoreError(f"{where}: not a UTF-8 text file") from None
    except OSError as exc:
        raise KeystoreError(f"{where}: cannot read the keystore ({exc.strerror})") from None
    try:
        doc = safe_json.loads(text)
    except safe_json.TooDeepError:
        raise KeystoreError(f"{where}: not a keystore (JSON nested too deeply)") from None
    except json.JSONDecodeError as exc:
        detail = f"{exc.msg}: line {exc.lineno}, column {exc.colno}"  # msg may end in "at" ("… starting at")
        raise KeystoreError(f"{where}: not valid JSON ({detail})") from None
    if not isinstance(doc, dict):
        raise KeystoreError(f"{where}: a keystore is a JSON object")
    return doc, where


def _crypto(doc: dict[str, Any], where: str) -> dict[str, Any]:
    key = "crypto" if "crypto" in doc else "Crypto"  # early geth files capitalised it
    return get_field(doc, key, "crypto", where, dict)


def _detect(doc: dict[str, Any], where: str) -> tuple[KeystoreFormat, Curve]:
    crypto = _crypto(doc, where)
    curve = doc.get("curveType")
    if curve is not None and not isinstance(curve, str):
        raise KeystoreError(f"{where}: field 'curveType' has the wrong type")
    curve = curve.lower() if curve else None
    kdf = crypto.get("kdf")
    if isinstance(kdf, dict):
        fmt: KeystoreFormat = "eip2335"
    elif isinstance(kdf, str):
        if curve in (None, "ecdsa", "secp256k1"):
            return "web3-v3", "ecdsa"
        fmt = "devkit-v3"
    else:
        raise KeystoreError(f"{where}: field 'crypto.kdf' is missing or malformed")
    # A missing curveType on an EIP-2335 file is read as bn254; the pubkey check catches BLS12-381 files.
    if curve not in (None, "bn254"):
        raise KeystoreError(f"{where}: unsupported curveType {curve!r}; only bn254 and ECDSA are supported")
    return fmt, "bn254"


def _decrypt_eip2335(doc: dict[str, Any], password: str, where: str) -> bytes:
    crypto = _crypto(doc, where)
    kdf = get_field(crypto, "kdf", "crypto.kdf", where, dict)
    checksum = get_field(crypto, "checksum", "crypto.checksum", where, dict)
    cipher = get_field(crypto, "cipher", "crypto.cipher", where, dict)
    kdf_fn = get_field(kdf, "function", "crypto.kdf.function", where, str)
    kdf_params = get_field(kdf, "params", "crypto.kdf.params", where, dict)
    if get_field(checksum, "function", "crypto.checksum.function", where, str) != "sha256":
        raise KeystoreError(f"{where}: unsupported checksum function; expected 'sha256'")
    expected = hex_field(checksum, "message", "crypto.checksum.message", where, 32)
    if get_field(cipher, "function", "crypto.cipher.function", where, str) != "aes-128-ctr":
        raise KeystoreError(f"{where}: unsupported cipher; expected 'aes-128-ctr'")
    cipher_params = get_field(cipher, "params", "crypto.cipher.params", where, dict)
    iv = hex_field(cipher_params, "iv", "crypto.cipher.params.iv", where, 16)
    ciphertext = hex_field(cipher, "message", "crypto.cipher.message", where)
    dk = derive_key(kdf_fn, kdf_params, normalize_password(password), where, "crypto.kdf.params")
    if not hmac.compare_digest(hashlib.sha256(dk[16:32] + ciphertext).digest(), expected):
        raise _wrong_password(where, password)
    return aes_128_ctr(dk[:16], iv, ciphertext)


def _v3_parts(doc: dict[str, Any], where: str) -> tuple[str, dict[str, Any], bytes, bytes, bytes]:
    """Validate a geth v3 ``crypto`` block: (kdf, kdfparams, ciphertext, iv, mac)."""
    crypto = _crypto(doc, where)
    kdf_fn = get_field(crypto, "kdf", "crypto.kdf", where, str)
    params = get_field(crypto, "kdfparams", "crypto.kdfparams", where, dict)
    kdf_args(kdf_fn, params, where, "crypto.kdfparams")
    if get_field(crypto, "cipher", "crypto.cipher", where, str) != "aes-128-ctr":
        raise KeystoreError(f"{where}: unsupported cipher; expected 'aes-128-ctr'")
    ciphertext = hex_field(crypto, "ciphertext", "crypto.ciphertext", where)
    cipher_params = get_field(crypto, "cipherparams", "crypto.cipherparams", where, dict)
    iv = hex_field(cipher_params, "iv", "crypto.cipherparams.iv", where, 16)
    return kdf_fn, params, ciphertext, iv, hex_field(crypto, "mac", "crypto.mac", where, 32)


def _decrypt_v3(doc: dict[str, Any], password: str, where: str) -> bytes:
    kdf_fn, params, ciphertext, iv, mac = _v3_parts(doc, where)
    dk = derive_key(kdf_fn, params, password.encode("utf-8"), where, "crypto.kdfparams")
    if not hmac.compare_digest(keccak(dk[16:32] + ciphertext), mac):
        raise _wrong_password(where, password)
    return aes_128_ctr(dk[:16], iv, ciphertext)


def _address_field(doc: dict[str, Any], where: str) -> str | None:
    """The checksummed ``address`` of a v3 file, if it has one (geth writes it without 0x)."""
    value = doc.get("address")
    if not isinstance(value, str) or not value:
        return None
    addr = value if value.startswith(("0x", "0X")) else "0x" + value
    if not is_address(addr):
        raise KeystoreError(f"{where}: field 'address' is not a 20-byte hex address")
    return to_checksum_address(addr)


def _bn254_key(plaintext: bytes, stored: bytes | None, where: str) -> Bn254PrivateKey:
    # Ponos reads any plaintext as a big-endian integer (big.Int.SetBytes) and gnark's scalar
    # multiplication reduces it mod r. DevKit files hold ASCII text (decimal or hex digits), and
    # their stored public keys were made from those ASCII bytes read this way, not from the number
    # the text spells. Ponos' own EIP-2335 files hold the 32-byte scalar, which reads the same.
    scalar = int.from_bytes(plaintext, "big") % BN254_R
    if scalar == 0:
        raise KeystoreError(f"{where}: the decrypted secret is not a usable BN254 scalar")
    sk = Bn254PrivateKey(scalar)
    if stored is not None and not hmac.compare_digest(sk.public_g2_bytes(), stored):
        raise KeystoreError(
            f"{where}: the decrypted key does not match the stored public key",
            hint="the file is corrupt or was edited; restore it from a backup",
        )
    return sk


def load_keystore(path: str | os.PathLike[str], password: str, *, verify_pubkey: bool = True) -> LoadedKey:
    """Decrypt any supported keystore. ``verify_pubkey=False`` skips the stored-public-key check
    (only for curve-independent test vectors such as EIP-2335's BLS12-381 ones)."""
    doc, where = _read_json(path)
    fmt, curve = _detect(doc, where)
    if not isinstance(password, str):
        raise KeystoreError(f"{where}: the password must be a str")
    if curve == "ecdsa":
        secret = _decode_ecdsa(doc, password, where)
        return LoadedKey("ecdsa", ecdsa.address_of(secret), Path(path), fmt, secret)
    pub_field = "pubkey" if fmt == "eip2335" else "publicKey"
    stored = None
    if verify_pubkey:
        stored = hex_field(doc, pub_field, pub_field, where)
        if len(stored) != 128:
            raise KeystoreError(
                f"{where}: field '{pub_field}' is {len(stored)} bytes; a BN254 G2 public key is 128",
                hint="a 48-byte pubkey means a BLS12-381 (validator) keystore, which is not supported",
            )
    decrypt = _decrypt_eip2335 if fmt == "eip2335" else _decrypt_v3
    plaintext = decrypt(doc, password, where)
    sk = _bn254_key(plaintext, stored, where)
    return LoadedKey("bn254", sk.public_g2_bytes().hex(), Path(path), fmt, sk.to_bytes())


def _decode_ecdsa(doc: dict[str, Any], password: str, where: str) -> bytes:
    from eth_keyfile import decode_keyfile_json  # imported here: only ECDSA paths need it

    _v3_parts(doc, where)  # structure and KDF bounds first, for messages that name the field
    if doc.get("version") != 3:
        raise KeystoreError(f"{where}: field 'version' must be 3 for a Web3 Secret Storage keystore")
    try:
        secret = bytes(decode_keyfile_json(doc, password.encode("utf-8")))
    except Exception as exc:  # eth-keyfile raises ValueError/KeyError/AssertionError variously
        if "MAC mismatch" in str(exc):
            raise _wrong_password(where, password) from None
        raise KeystoreError(f"{where}: eth-keyfile could not decode it ({type(exc).__name__})") from None
    if len(secret) != 32:
        raise KeystoreError(f"{where}: the decrypted ECDSA key is {len(secret)} bytes, expected 32")
    stored = _address_field(doc, where)
    if stored is not None and stored != ecdsa.address_of(secret):
        raise KeystoreError(f"{where}: the decrypted key does not match the stored 'address'")
    return secret


def inspect_keystore(path: str | os.PathLike[str]) -> KeystoreInfo:
    """Format, curve and public identity of a keystore, without decrypting it."""
    doc, where = _read_json(path)
    fmt, curve = _detect(doc, where)
    crypto = _crypto(doc, where)
    kdf = crypto.get("kdf")
    kdf_name = kdf.get("function") if isinstance(kdf, dict) else kdf
    public: str | None = None
    if curve == "bn254":
        pub_field = "pubkey" if fmt == "eip2335" else "publicKey"
        public = hex_field(doc, pub_field, pub_field, where).hex()
    else:
        public = _address_field(doc, where)
    ident = doc.get("uuid", doc.get("id"))
    ident = ident if isinstance(ident, str) else None
    return KeystoreInfo(Path(path), fmt, curve, public, str(kdf_name), ident)


# --- writing ------------------------------------------------------------------------------------


def _write_atomic(path: str | os.PathLike[str], doc: dict[str, Any], overwrite: bool) -> Path:
    """Write via a 0600 temp file in the same directory, then link/rename into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # atomic and refuses to clobber an existing key
            except FileExistsError:
                raise KeystoreError(
                    f"{target}: already exists; refusing to overwrite a keystore",
                    hint="choose another path or pass overwrite=True",
                ) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def save_bn254_keystore(
    path: str | os.PathLike[str],
    sk: Bn254PrivateKey,
    password: str,
    *,
    kdf: KdfParams = STANDARD_SCRYPT,
    description: str | None = None,
    key_path: str = "",
    overwrite: bool = False,
) -> Path:
    """Write an EIP-2335 v4 keystore with ``curveType: "bn254"`` (the format Ponos reads)."""
    if not isinstance(sk, Bn254PrivateKey):
        raise KeystoreError("save_bn254_keystore needs a bn254.PrivateKey")
    salt, iv = os.urandom(32), os.urandom(16)
    params = kdf_params_dict(kdf, salt)
    dk = derive_key(kdf.function, params, normalize_password(password), str(path), "kdf")
    ciphertext = aes_128_ctr(dk[:16], iv, sk.to_bytes())
    doc: dict[str, Any] = {
        "crypto": {
            "kdf": {"function": kdf.function, "params": params, "message": ""},
            "checksum": {
                "function": "sha256",
                "params": {},
                "message": hashlib.sha256(dk[16:32] + ciphertext).hexdigest(),
            },
            "cipher": {"function": "aes-128-ctr", "params": {"iv": iv.hex()}, "message": ciphertext.hex()},
        },
        "pubkey": sk.public_g2_bytes().hex(),
        "path": key_path,
        "uuid": str(uuid.uuid4()),
        "version": 4,
        "curveType": "bn254",
    }
    if description is not None:
        doc["description"] = description
    return _write_atomic(path, doc, overwrite)


def save_ecdsa_keystore(
    path: str | os.PathLike[str],
    private_key: bytes,
    password: str,
    *,
    kdf: KdfParams = STANDARD_SCRYPT,
    overwrite: bool = False,
) -> Path:
    """Write a Web3 Secret Storage v3 keystore via eth-keyfile (which fixes scrypt r=8, p=1, dklen 32)."""
    from eth_keyfile import create_keyfile_json

    ecdsa.address_of(private_key)  # validates length and range without echoing the key
    if kdf.function == "scrypt" and (kdf.r, kdf.p, kdf.dklen) != (8, 1, 32):
        raise KeystoreError("eth-keyfile writes scrypt with r=8, p=1, dklen=32 only")
    if kdf.function not in ("scrypt", "pbkdf2"):
        raise KeystoreError(f"unsupported kdf {kdf.function!r}; expected 'scrypt' or 'pbkdf2'")
    work = kdf.n if kdf.function == "scrypt" else kdf.c
    doc = create_keyfile_json(bytes(private_key), password.encode("utf-8"), kdf=kdf.function, iterations=work)
    return _write_atomic(path, doc, overwrite)
