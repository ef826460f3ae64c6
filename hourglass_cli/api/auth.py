"""Who is calling: signed messages we issued, HS256 tokens (PyJWT), API keys, and a per-user rate limit.

Upstream's flow, with its gaps closed:

1. ``GetSignatureFormat{wallet}`` → the 8 lines the Ava SDK signs, plus a 9th, ``Nonce: <hex>``: a single-use
   server nonce stored with the message's hash. Upstream mints a token for any well-formed message, so the
   signer picks its own lifetime; we accept only messages we issued, once, before they expire.
2. ``GetKey{message, signature}``: the EIP-191 signature must recover the ``Wallet`` line (v 27/28 or 0/1), the
   chain id must be ours, the times must parse (``2006-01-02T15:04:05.000Z``) and the nonce be unused. The
   token (``sub`` = EIP-55 wallet, ``aud`` = [chain id], ``iss``, ``iat``, ``exp``) lives until the message's
   Expire At, cut to ``[api].max_token_lifetime``.
3. API keys (``hourglass api key create``): a JWT with ``roles`` and a ``jti`` recorded in the store; ``GetKey``
   with an API key as the signature (a signature containing ``.``) mints a wallet token — any wallet for an
   ``admin`` key, its own subject otherwise. Revoking the key also ends every token minted from it (they carry
   its id as ``akid``).
4. Every other RPC: the ``authkey`` metadata must be such a token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_hex_address, to_checksum_address

from hourglass_cli.api.store import ApiKeyRow, SqliteApiStore

AUTHENTICATION_ERROR = "User authentication error"
INVALID_AUTH_KEY = "User Auth key is invalid"
INVALID_API_KEY = "API key is invalid"
INVALID_SIGNATURE_FORMAT = "Unable to decode client's signature. Please check the message's format."
MALFORMED_EXPIRATION = "Malformed Expired Time"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
VERSION = "1"


class AuthError(Exception):
    """A refusal: `code` is the gRPC status name, `message` upstream's text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class User:
    """An authenticated caller."""

    address: str  # EIP-55
    roles: tuple[str, ...] = ()
    key_id: str = ""  # the API key the token came from, if any


def iso_ms(ts: float) -> str:
    """``2026-12-02T18:34:42.123Z``."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso_ms(text: str) -> float | None:
    if not _TIME_RE.match(text):
        return None
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _hash(message: str) -> str:
    return hashlib.sha256(message.encode()).hexdigest()


class Authenticator:
    """Issues messages, mints and verifies tokens; state (nonces, API keys) lives in the store."""

    def __init__(self, store: SqliteApiStore, *, secret: bytes, chain_id: int, issuer: str, max_lifetime: int,
                 message_lifetime: int, uri: str, clock=time.time) -> None:
        self.store = store
        self._secret = secret
        self.chain_id = chain_id
        self.issuer = issuer
        self.max_lifetime = max_lifetime
        self.message_lifetime = message_lifetime
        self.uri = uri
        self.clock = clock

    # -- signed messages ----------------------------------------------------------------------------------

    def signature_format(self, wallet: str) -> str:
        if not wallet:
            raise AuthError("INVALID_ARGUMENT", "Wallet address is required")
        if not is_hex_address(wallet):
            raise AuthError("INVALID_ARGUMENT", "Invalid Ethereum wallet address format")
        now = self.clock()
        nonce = secrets.token_hex(16)
        message = (f"Please sign the below text for ownership verification.\n\nURI: {self.uri}\n"
                   f"Chain ID: {self.chain_id}\nVersion: {VERSION}\nIssued At: {iso_ms(now)}\n"
                   f"Expire At: {iso_ms(now + self.message_lifetime)}\nWallet: {wallet}\nNonce: {nonce}")
        self.store.add_nonce(nonce, to_checksum_address(wallet), _hash(message), now, now + self.message_lifetime)
        return message

    def get_key(self, message: str, signature: str) -> str:
        """A token for the wallet of `message`, or AuthError with upstream's code and text."""
        lines = message.split("\n")
        if len(lines) < 8:
            raise AuthError("INVALID_ARGUMENT", "Invalid message format")
        fields: dict[str, str] = {}
        for line in lines:
            label, sep, value = line.strip().partition(":")
            if sep and label in ("Chain ID", "Version", "Issued At", "Expire At", "Wallet", "Nonce"):
                fields.setdefault(label, value.strip())
        if "Chain ID" not in fields:
            raise AuthError("INVALID_ARGUMENT", "Invalid message format: missing Chain ID")
        chain = fields["Chain ID"]
        if not chain.isdigit():
            raise AuthError("INVALID_ARGUMENT", "Invalid Chain ID format")
        if int(chain) != self.chain_id:
            raise AuthError("INVALID_ARGUMENT", f"Invalid chainId: requested chainId {chain} does not match "
                                                f"SmartWallet chainId {self.chain_id}")
        for label in ("Version", "Issued At"):
            if label not in fields:
                raise AuthError("INVALID_ARGUMENT", f"Invalid message format: missing {label}")
        if parse_iso_ms(fields["Issued At"]) is None:
            raise AuthError("INVALID_ARGUMENT", "Invalid Issued At format")
        if "Expire At" not in fields:
            raise AuthError("INVALID_ARGUMENT", "Invalid message format: missing Expire At")
        expire_at = parse_iso_ms(fields["Expire At"])
        if expire_at is None:
            raise AuthError("INVALID_ARGUMENT", "Invalid Expire At format")
        if "Wallet" not in fields:
            raise AuthError("INVALID_ARGUMENT", "Invalid message format: missing Wallet")
        if not is_hex_address(fields["Wallet"]):
            raise AuthError("INVALID_ARGUMENT", "Invalid wallet address format")
        wallet = to_checksum_address(fields["Wallet"])
        key_id = ""
        lifetime_cap = self.max_lifetime
        if "." in signature:
            api_key = self._verify_api_key(signature)
            if api_key is None or not ("admin" in api_key.roles or api_key.subject.lower() == wallet.lower()):
                raise AuthError("UNAUTHENTICATED", f"{AUTHENTICATION_ERROR}: {INVALID_API_KEY}")
            key_id = api_key.id
            lifetime_cap = min(lifetime_cap, max(0, int(api_key.expires_at - self.clock())))
        else:
            self._verify_signature(message, signature, wallet)
        now = self.clock()
        if expire_at < now:
            raise AuthError("UNAUTHENTICATED", MALFORMED_EXPIRATION)
        nonce = fields.get("Nonce", "")
        outcome = self.store.use_nonce(nonce, _hash(message), now) if nonce else "unknown"
        if outcome != "ok":
            reason = {"unknown": "the message was not issued by this server (get one from GetSignatureFormat)",
                      "mismatch": "the message was altered after GetSignatureFormat issued it",
                      "used": "the message was already used for a key (get a new one from GetSignatureFormat)",
                      "expired": "the message expired (get a new one from GetSignatureFormat)"}[outcome]
            raise AuthError("UNAUTHENTICATED", f"{INVALID_AUTH_KEY}: {reason}")
        exp = int(min(expire_at, now + lifetime_cap))
        claims = {"sub": wallet, "aud": [str(self.chain_id)], "iss": self.issuer, "iat": int(now), "exp": exp}
        if key_id:
            claims["akid"] = key_id
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def _verify_signature(self, message: str, signature: str, wallet: str) -> None:
        text = signature.removeprefix("0x")
        try:
            raw = bytearray(bytes.fromhex(text))
        except ValueError:
            raise AuthError("INVALID_ARGUMENT", INVALID_SIGNATURE_FORMAT) from None
        if len(raw) != 65:
            raise AuthError("INVALID_ARGUMENT", INVALID_SIGNATURE_FORMAT)
        if raw[64] in (0, 1):
            raw[64] += 27
        try:
            recovered = Account.recover_message(encode_defunct(text=message), signature=bytes(raw))
        except Exception:  # noqa: BLE001 - any failure to recover is a bad signature
            raise AuthError("UNAUTHENTICATED", INVALID_AUTH_KEY) from None
        if recovered != wallet:
            raise AuthError("UNAUTHENTICATED", INVALID_AUTH_KEY)

    # -- API keys -----------------------------------------------------------------------------------------

    def create_api_key(self, subject: str, roles: tuple[str, ...], lifetime: int, label: str = "") -> tuple[str, str]:
        """(key id, the key): a JWT the holder passes as GetKey's signature or as the authkey."""
        now = self.clock()
        key_id = "ak_" + secrets.token_hex(8)
        sub = to_checksum_address(subject) if is_hex_address(subject) else subject
        claims = {"sub": sub, "aud": [str(self.chain_id)], "iss": self.issuer, "iat": int(now),
                  "exp": int(now + lifetime), "roles": list(roles), "jti": key_id}
        self.store.add_api_key(ApiKeyRow(key_id, sub, roles, now, now + lifetime, None, label))
        return key_id, jwt.encode(claims, self._secret, algorithm="HS256")

    def _decode(self, token: str, *, audience: bool = True) -> dict:
        options = {"require": ["exp", "sub"], "verify_aud": audience}
        return jwt.decode(token, self._secret, algorithms=["HS256"], audience=str(self.chain_id) if audience else None,
                          options=options)

    def _verify_api_key(self, token: str) -> ApiKeyRow | None:
        try:
            claims = self._decode(token)
        except jwt.PyJWTError:
            return None
        key_id = claims.get("jti")
        row = self.store.api_key(key_id) if isinstance(key_id, str) else None
        if row is None or row.revoked_at is not None or row.expires_at < self.clock():
            return None
        return row

    # -- every RPC ----------------------------------------------------------------------------------------

    def verify(self, token: str | None) -> User:
        """The caller of an RPC from its ``authkey``; AuthError(UNAUTHENTICATED, "User authentication error: …")."""

        def refuse(detail: str) -> AuthError:
            return AuthError("UNAUTHENTICATED", f"{AUTHENTICATION_ERROR}: {detail}")

        if not token:
            raise refuse("missing auth header")
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "HS256":
                raise refuse(INVALID_AUTH_KEY)
            claims = self._decode(token, audience=False)
        except jwt.ExpiredSignatureError:
            raise refuse(f"{INVALID_AUTH_KEY}: the token expired (get a new one with GetKey)") from None
        except jwt.PyJWTError:
            raise refuse(INVALID_AUTH_KEY) from None
        aud = claims.get("aud")
        aud = [aud] if isinstance(aud, str) else aud
        if not isinstance(aud, list) or not aud:
            raise refuse(f"{INVALID_AUTH_KEY}: error getting audience or audience is empty")
        if aud[0] != str(self.chain_id):
            raise refuse(f"{INVALID_AUTH_KEY}: invalid chainId in audience")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not is_hex_address(subject):
            raise refuse(f"{INVALID_AUTH_KEY}: subject must be a valid EOA address")
        key_id = claims.get("jti") or claims.get("akid") or ""
        if key_id:
            row = self.store.api_key(key_id)
            if row is None or row.revoked_at is not None:
                raise refuse(f"{INVALID_AUTH_KEY}: its API key was revoked")
        roles = tuple(r for r in claims.get("roles", []) if isinstance(r, str)) if isinstance(
            claims.get("roles"), list) else ()
        return User(to_checksum_address(subject), roles, key_id)


class RateLimiter:
    """A token bucket per user: `rate` requests per second sustained, `burst` at once."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, who: str) -> bool:
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(who, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[who] = (tokens, now)
                return False
            self._buckets[who] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget idle users
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
            return True
