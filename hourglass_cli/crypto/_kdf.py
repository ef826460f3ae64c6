"""Keystore building blocks: KDF parameters and runs, AES-128-CTR, password normalisation, and
field access whose errors name the file and the field. Used by :mod:`hourglass_cli.crypto.keystore`."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from Crypto.Cipher import AES

from hourglass_cli.errors import KeystoreError

# Bounds on KDF work read from a file, so a hostile keystore cannot exhaust memory or CPU.
_MAX_SCRYPT_MEMORY = 1 << 30
_MAX_PBKDF2_ROUNDS = 10_000_000


@dataclass(frozen=True)
class KdfParams:
    """KDF settings for writing a keystore. Defaults are the EIP-2335/geth standard (scrypt 2^18, 8, 1)."""

    function: Literal["scrypt", "pbkdf2"] = "scrypt"
    n: int = 2**18  # scrypt cost
    r: int = 8  # scrypt block size
    p: int = 1  # scrypt parallelism
    c: int = 262_144  # pbkdf2 rounds
    dklen: int = 32

    @classmethod
    def standard(cls) -> KdfParams:
        """scrypt n=2^18, r=8, p=1: about 1.6 s and 256 MiB per decryption. Use for real keys."""
        return cls()

    @classmethod
    def light(cls) -> KdfParams:
        """scrypt n=2^12: milliseconds to open, so also cheap to brute force. Devnet keys only."""
        return cls(n=2**12)

    @classmethod
    def pbkdf2(cls, rounds: int = 262_144) -> KdfParams:
        """PBKDF2-HMAC-SHA256 with ``rounds`` iterations."""
        return cls(function="pbkdf2", c=rounds)


STANDARD_SCRYPT = KdfParams.standard()
LIGHT_SCRYPT = KdfParams.light()  # devnet only: not for keys that guard anything of value


def normalize_password(password: str) -> bytes:
    """EIP-2335 password bytes: NFKD, then drop C0 (0x00-0x1F), DEL and C1 (0x80-0x9F), UTF-8."""
    if not isinstance(password, str):
        raise KeystoreError("a keystore password must be a str")
    nfkd = unicodedata.normalize("NFKD", password)
    return "".join(ch for ch in nfkd if not (ord(ch) <= 0x1F or 0x7F <= ord(ch) <= 0x9F)).encode("utf-8")


# --- field access with messages that name the file and the field -------------------------------


def get_field(obj: dict[str, Any], key: str, dotted: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in obj:
        raise KeystoreError(f"{where}: missing field '{dotted}'")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise KeystoreError(f"{where}: field '{dotted}' has the wrong type")
    return value


def hex_field(obj: dict[str, Any], key: str, dotted: str, where: str, length: int | None = None) -> bytes:
    text = get_field(obj, key, dotted, where, str)
    text = text[2:] if text[:2] in ("0x", "0X") else text
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise KeystoreError(f"{where}: field '{dotted}' is not valid hex") from None
    if length is not None and len(raw) != length:
        raise KeystoreError(f"{where}: field '{dotted}' must be {length} bytes, got {len(raw)}")
    return raw


def int_field(obj: dict[str, Any], key: str, dotted: str, where: str, lo: int, hi: int) -> int:
    value = get_field(obj, key, dotted, where, int)
    if not lo <= value <= hi:
        raise KeystoreError(f"{where}: field '{dotted}' = {value} is outside {lo}..{hi}")
    return value


# --- KDF and cipher -----------------------------------------------------------------------------


def kdf_args(function: str, params: dict[str, Any], where: str, prefix: str) -> dict[str, Any]:
    """Parse and bound-check a file's KDF parameters (before any work is done)."""
    args: dict[str, Any] = {
        "salt": hex_field(params, "salt", f"{prefix}.salt", where),
        "dklen": int_field(params, "dklen", f"{prefix}.dklen", where, 32, 64),
    }
    if function == "scrypt":
        n = args["n"] = int_field(params, "n", f"{prefix}.n", where, 2, 1 << 24)
        r = args["r"] = int_field(params, "r", f"{prefix}.r", where, 1, 64)
        p = args["p"] = int_field(params, "p", f"{prefix}.p", where, 1, 64)
        if n & (n - 1):
            raise KeystoreError(f"{where}: field '{prefix}.n' must be a power of two")
        args["maxmem"] = 128 * r * (n + 2) + 128 * r * p + (1 << 20)  # OpenSSL's need, plus slack
        if args["maxmem"] > _MAX_SCRYPT_MEMORY:
            raise KeystoreError(f"{where}: scrypt parameters in '{prefix}' need more than 1 GiB of memory")
    elif function == "pbkdf2":
        args["c"] = int_field(params, "c", f"{prefix}.c", where, 1, _MAX_PBKDF2_ROUNDS)
        prf = get_field(params, "prf", f"{prefix}.prf", where, str)
        if prf != "hmac-sha256":
            raise KeystoreError(f"{where}: field '{prefix}.prf' is {prf!r}; only 'hmac-sha256' is supported")
    else:
        raise KeystoreError(f"{where}: unsupported kdf {function!r}; expected 'scrypt' or 'pbkdf2'")
    return args


def derive_key(function: str, params: dict[str, Any], password: bytes, where: str, prefix: str) -> bytes:
    """Run the file's KDF with bounds-checked parameters; returns the derived key (≥ 32 bytes)."""
    a = kdf_args(function, params, where, prefix)
    if function == "pbkdf2":
        return hashlib.pbkdf2_hmac("sha256", password, a["salt"], a["c"], a["dklen"])
    try:
        return hashlib.scrypt(
            password, salt=a["salt"], n=a["n"], r=a["r"], p=a["p"], dklen=a["dklen"], maxmem=a["maxmem"]
        )
    except (ValueError, MemoryError) as exc:
        raise KeystoreError(f"{where}: scrypt failed with the parameters in '{prefix}' ({exc})") from None


def aes_128_ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    # The IV is the whole 128-bit big-endian counter block, as in EIP-2335 and geth.
    return AES.new(key[:16], AES.MODE_CTR, nonce=b"", initial_value=iv).encrypt(data)


def kdf_params_dict(kdf: KdfParams, salt: bytes) -> dict[str, Any]:
    if kdf.function == "scrypt":
        return {"dklen": kdf.dklen, "n": kdf.n, "r": kdf.r, "p": kdf.p, "salt": salt.hex()}
    if kdf.function == "pbkdf2":
        return {"dklen": kdf.dklen, "c": kdf.c, "prf": "hmac-sha256", "salt": salt.hex()}
    raise KeystoreError(f"unsupported kdf {kdf.function!r}; expected 'scrypt' or 'pbkdf2'")
